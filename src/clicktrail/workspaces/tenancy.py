"""Every ORM statement of a request sees and changes only the caller's workspace.

The auth dependency (workspaces/subject.py) calls `enter(session, workspace_id)` once; from then
on an ORM SELECT, UPDATE or DELETE on any `Tenant` table gets `workspace_id = :id` added, and a new
`Tenant` row is stamped with it at flush. No route or service filters by hand, so a new one cannot
forget. Background work (the recorder, the outbox sender, the redirect's cache) runs in sessions
that never enter a workspace, and sees every row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from clicktrail.workspaces.models import Tenant

_KEY = "workspace_id"
ALL_WORKSPACES = "all_workspaces"  # execution option: this one statement looks across workspaces


def enter(session: AsyncSession | Session, workspace_id: int) -> None:
    session.info[_KEY] = workspace_id


def leave(session: AsyncSession | Session) -> None:
    session.info.pop(_KEY, None)


def current(session: AsyncSession | Session) -> int | None:
    return session.info.get(_KEY)


def require_current(session: AsyncSession | Session) -> int:
    workspace_id = current(session)
    if workspace_id is None:
        raise RuntimeError("this needs a session scoped to a workspace (tenancy.enter)")
    return workspace_id


@event.listens_for(Session, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    workspace_id = state.session.info.get(_KEY)
    if workspace_id is None or state.execution_options.get(ALL_WORKSPACES):
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the parent row was scoped already
    state.statement = state.statement.options(
        with_loader_criteria(Tenant, lambda cls: cls.workspace_id == workspace_id, include_aliases=True)
    )


@event.listens_for(Session, "before_flush")
def _stamp_new_rows(session: Session, _context: Any, _instances: Any) -> None:
    workspace_id = session.info.get(_KEY)
    if workspace_id is None:
        return
    for obj in session.new:
        if isinstance(obj, Tenant) and getattr(obj, "workspace_id", None) is None:
            obj.workspace_id = workspace_id
