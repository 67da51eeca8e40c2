"""The `Authorization: Bearer <api key>` guard for the JSON API: it resolves the key to its
workspace and role and scopes the request to it (workspaces/subject.py)."""

from __future__ import annotations

from clicktrail.workspaces.subject import READ_METHODS, SubjectDep, api_subject, needs, writes_need

require_api_key = api_subject

__all__ = ["READ_METHODS", "SubjectDep", "api_subject", "needs", "require_api_key", "writes_need"]
