"""workspaces: members, invitations, branded domains; workspace_id on every tenant table

Revision ID: 5a7e0c1d2b3f
Revises: 3c8e51a7d2f4
Create Date: 2026-12-04 04:40:00.000000

An upgraded installation puts everything it holds in one default workspace (id 1), its users
become members (admins owners, the others editors), and its keys keep working there.

SQLite rebuilds each table (env.py turns foreign keys off while migrating, so the rebuild cannot
cascade); the column's default 1 stays there (dropping it would be a second rebuild).
PostgreSQL adds the column in place and drops the default, so a row written without a workspace
is refused there.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '5a7e0c1d2b3f'
down_revision: str | None = '3c8e51a7d2f4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXED = ("campaigns", "links", "link_preview_images", "order_sources", "orders", "order_events",
           "webhook_deliveries", "outbound_destinations", "outbox_events", "outbox_deliveries",
           "order_signals", "customer_clicks", "api_keys")
UNINDEXED = ("clicks", "click_rollups", "link_rollups")  # read by campaign, never by workspace alone

# (table, old columns, new columns) of the unique keys that now hold workspace_id or domain
UNIQUES = (
    ("campaigns", ["slug"], ["workspace_id", "slug"]),
    ("links", ["slug"], ["domain", "slug"]),
    ("links", ["campaign_id", "coupon_code"], ["workspace_id", "campaign_id", "coupon_code"]),
    ("orders", ["source_id", "external_id"], ["workspace_id", "source_id", "external_id"]),
    ("order_events", ["order_id", "refund_id"], ["workspace_id", "order_id", "refund_id"]),
    ("outbox_events", ["event_id"], ["workspace_id", "event_id"]),
    ("outbox_deliveries", ["destination_id", "dedupe_key"], ["workspace_id", "destination_id", "dedupe_key"]),
)
ROLLUP_KEYS = {
    "click_rollups": (["hours", "starts_at", "campaign_id"], ["hours", "starts_at", "workspace_id", "campaign_id"]),
    "link_rollups": (["hours", "starts_at", "campaign_id", "link_id", "channel", "app"],
                     ["hours", "starts_at", "workspace_id", "campaign_id", "link_id", "channel", "app"]),
}


def _uq(table: str, columns: list[str]) -> str:
    return f"uq_{table}_{'_'.join(columns)}"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _swap_keys(table: str, old: dict, new: dict) -> None:
    """old/new: {"uniques": [[cols]...], "pk": [cols] | None}."""
    def apply(ops, *table_arg: str) -> None:  # op needs the table's name, a batch knows it
        for columns in old["uniques"]:
            ops.drop_constraint(_uq(table, columns), *table_arg, type_="unique")
        if old["pk"]:
            ops.drop_constraint(f"pk_{table}", *table_arg, type_="primary")
        if new["pk"]:
            ops.create_primary_key(f"pk_{table}", *table_arg, new["pk"])
        for columns in new["uniques"]:
            ops.create_unique_constraint(_uq(table, columns), *table_arg, columns)

    if _sqlite():
        with op.batch_alter_table(table, recreate="always") as batch:
            apply(batch)
    else:
        apply(op, table)


def _keys(table: str, which: int) -> dict:
    uniques = [u[1 + which] for u in UNIQUES if u[0] == table]
    pk = ROLLUP_KEYS[table][which] if table in ROLLUP_KEYS else None
    return {"uniques": uniques, "pk": pk}


def upgrade() -> None:
    op.create_table(
        'workspaces',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('slug', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('reporting_currency', sa.String(length=3), nullable=True),
        sa.Column('timezone', sa.String(length=64), nullable=True),
        sa.Column('attribution_window_days', sa.Integer(), nullable=True),
        sa.Column('allowed_destination_hosts', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_workspaces')),
        sa.UniqueConstraint('slug', name=op.f('uq_workspaces_slug')),
    )
    op.execute(sa.text(
        "INSERT INTO workspaces (id, slug, name, created_at) VALUES (1, 'default', 'Default', CURRENT_TIMESTAMP)"))
    if not _sqlite():
        op.execute("SELECT setval(pg_get_serial_sequence('workspaces', 'id'), 1)")

    op.create_table(
        'members',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=8), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('workspace_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_members_user_id_users'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_members_workspace_id_workspaces'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('workspace_id', 'user_id', name=op.f('pk_members')),
    )
    op.create_index(op.f('ix_members_user_id'), 'members', ['user_id'], unique=False)
    op.create_table(
        'invitations',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('role', sa.String(length=8), nullable=False),
        sa.Column('invited_by', sa.Integer(), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('workspace_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['invited_by'], ['users.id'], name=op.f('fk_invitations_invited_by_users'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_invitations_workspace_id_workspaces'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('workspace_id', 'token_hash', name=op.f('pk_invitations')),
    )
    op.create_index(op.f('ix_invitations_token_hash'), 'invitations', ['token_hash'], unique=False)
    op.create_table(
        'domains',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('host', sa.String(length=253), nullable=False),
        sa.Column('root_redirect', sa.String(length=2048), nullable=True),
        sa.Column('not_found_redirect', sa.String(length=2048), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('workspace_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_domains_workspace_id_workspaces'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_domains')),
        sa.UniqueConstraint('host', name=op.f('uq_domains_host')),
    )
    op.create_index(op.f('ix_domains_workspace_id'), 'domains', ['workspace_id'], unique=False)

    op.execute(sa.text(
        "INSERT INTO members (workspace_id, user_id, role, created_at) "
        "SELECT 1, id, CASE WHEN is_admin THEN 'owner' ELSE 'editor' END, CURRENT_TIMESTAMP FROM users"))

    for table in (*INDEXED, *UNINDEXED):
        column = sa.Column('workspace_id', sa.Integer(), nullable=False, server_default='1')
        fk = dict(constraint_name=f'fk_{table}_workspace_id_workspaces', referent_table='workspaces',
                  local_cols=['workspace_id'], remote_cols=['id'], ondelete='CASCADE')
        if _sqlite():  # one rebuild per table (foreign keys are off while migrating: env.py)
            with op.batch_alter_table(table, recreate="always") as batch:
                batch.add_column(column)
                batch.create_foreign_key(**{k: v for k, v in fk.items() if k != "source_table"})
        else:
            op.add_column(table, column)
            op.create_foreign_key(source_table=table, **fk)
            op.alter_column(table, 'workspace_id', server_default=None)
        if table in INDEXED:
            op.create_index(f'ix_{table}_workspace_id', table, ['workspace_id'], unique=False)
    for table in ("campaigns", "links"):
        op.add_column(table, sa.Column('domain', sa.String(length=253), nullable=False, server_default=''))
    op.add_column('users', sa.Column('timezone', sa.String(length=64), nullable=True))
    for name, kind in (('last_delivery_at', sa.DateTime(timezone=True)), ('last_refused_at', sa.DateTime(timezone=True)),
                       ('last_refused_reason', sa.String(length=200))):
        op.add_column('order_sources', sa.Column(name, kind, nullable=True))

    for table in dict.fromkeys([u[0] for u in UNIQUES] + list(ROLLUP_KEYS)):
        _swap_keys(table, _keys(table, 0), _keys(table, 1))

    # The roll-ups of every click so far, keyed by workspace now. The sketch format and the
    # bucketing are the application's (the recorder keeps these rows from now on), so this step
    # uses its code (which writes today's schema: a later migration that changes the roll-ups'
    # key moves this call there).
    from clicktrail.reports import rollups

    rollups.rebuild(op.get_bind())


def downgrade() -> None:
    # Back to one installation: only the first workspace's rows can live in the 0.1 schema.
    for table in ("clicks", "click_rollups", "link_rollups", "order_signals", "outbox_deliveries", "outbox_events",
                  "order_events", "webhook_deliveries", "orders", "order_sources", "link_preview_images",
                  "links", "campaigns", "outbound_destinations", "customer_clicks", "api_keys"):
        op.execute(sa.text(f"DELETE FROM {table} WHERE workspace_id <> 1"))
    for table in dict.fromkeys([u[0] for u in UNIQUES] + list(ROLLUP_KEYS)):
        _swap_keys(table, _keys(table, 1), _keys(table, 0))
    for table in ("campaigns", "links"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('domain')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('timezone')
    with op.batch_alter_table('order_sources') as batch:
        for name in ('last_delivery_at', 'last_refused_at', 'last_refused_reason'):
            batch.drop_column(name)
    for table in (*INDEXED, *UNINDEXED):
        if table in INDEXED:
            op.drop_index(f'ix_{table}_workspace_id', table_name=table)
        with op.batch_alter_table(table) as batch:
            if not _sqlite():
                batch.drop_constraint(f'fk_{table}_workspace_id_workspaces', type_='foreignkey')
            batch.drop_column('workspace_id')
    op.drop_index(op.f('ix_domains_workspace_id'), table_name='domains')
    op.drop_table('domains')
    op.drop_index(op.f('ix_invitations_token_hash'), table_name='invitations')
    op.drop_table('invitations')
    op.drop_index(op.f('ix_members_user_id'), table_name='members')
    op.drop_table('members')
    op.drop_table('workspaces')
