"""Every ORM statement of a request sees and changes only the caller's workspace.

The auth dependency (workspaces/subject.py) calls `enter(session, workspace_id)` once; from then
on an ORM SELECT, UPDATE or DELETE on any `Tenant` table gets `workspace_id = :id` added, and a new
`Tenant` row (flushed, or an ORM `insert(Model)`) is stamped with it. Statements run on the
connection itself (Core) are not seen here: they name the workspace themselves. No route or service filters by hand, so a new one cannot
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
    if state.is_insert:
        _stamp_insert(state, workspace_id)
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the parent row was scoped already
    state.statement = state.statement.options(
        with_loader_criteria(Tenant, lambda cls: cls.workspace_id == workspace_id, include_aliases=True)
    )


def _stamp_insert(state: ORMExecuteState, workspace_id: int) -> None:
    """An ORM `insert(Model)` of a tenant table gets the workspace like a flushed row does."""
    table = getattr(state.statement, "table", None)
    if table is None or "workspace_id" not in table.c or table.name == "workspaces":
        return
    params = state.parameters
    if isinstance(params, list) and params:
        state.parameters = [p if "workspace_id" in p else {**p, "workspace_id": workspace_id} for p in params]
    elif isinstance(params, dict) and params:
        if "workspace_id" not in params:
            state.parameters = {**params, "workspace_id": workspace_id}
    elif not getattr(state.statement, "_multi_values", ()):
        given = {getattr(k, "key", k) for k in (getattr(state.statement, "_values", None) or {})}
        if "workspace_id" not in given:
            state.statement = state.statement.values(workspace_id=workspace_id)


@event.listens_for(Session, "before_flush")
def _stamp_new_rows(session: Session, _context: Any, _instances: Any) -> None:
    workspace_id = session.info.get(_KEY)
    if workspace_id is None:
        return
    for obj in session.new:
        if isinstance(obj, Tenant) and getattr(obj, "workspace_id", None) is None:
            obj.workspace_id = workspace_id
