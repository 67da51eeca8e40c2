"""Sales out: an outbox of order events and the sender that delivers them to outbound
webhooks, GA4, Meta and TikTok (API.md "Sales out")."""
