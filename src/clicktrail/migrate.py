"""Applying and reverting the schema with Alembic, from the CLI, `serve` and the tests."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config

# The top-level migrations/ of a checkout, installed as the package `clicktrail.migrations`
# (pyproject.toml maps it), so the same lookup works from a wheel and an editable install.
MIGRATIONS_DIR = Path(str(files("clicktrail.migrations")))


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option(
        "file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s"
    )
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema to `revision`. Call from synchronous code: Alembic runs its own loop."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)
