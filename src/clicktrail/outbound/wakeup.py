"""Wakes this process's sender when a transaction that wrote deliveries commits, so an order is
on its way in milliseconds rather than at the next poll. Senders in other processes find the
rows at their next poll (`outbound_send_interval`)."""

from __future__ import annotations

import asyncio

_events: set[asyncio.Event] = set()


def register(event: asyncio.Event) -> None:
    _events.add(event)


def unregister(event: asyncio.Event) -> None:
    _events.discard(event)


def notify() -> None:
    for event in _events:
        event.set()
