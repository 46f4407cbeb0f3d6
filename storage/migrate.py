"""Journal schema migrations (Alembic): upgrade at start, refuse a journal newer than the code, new revisions.

Developers: after changing a table in ``storage/models.py``, run
``python -m storage revision "what changed"``; it autogenerates ``storage/migrations/versions/NNNN_*.py``
against a scratch SQLite journal at the current head. Review the file, then commit it with the model change.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine

from tradebot.errors import TradebotError

SCRIPT_LOCATION = str(Path(__file__).parent / "migrations")
BASELINE = "0001"  # the schema of the first release (create_all + a schemaversion row, before Alembic)
VERSION_TABLE = "journal_alembic_version"  # not alembic's default: Optuna keeps its own alembic_version
_PG_LOCK_KEY = 0x7472_6164_6562_6F74 & 0x7FFF_FFFF_FFFF_FFFF  # "tradebot": one migrator at a time


class MigrationError(TradebotError):
    """The journal cannot be migrated by this code (newer than the code, or unknown)."""


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.attributes["connection"] = connection
    cfg.attributes["version_table"] = VERSION_TABLE
    return cfg


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "storage/migrations/versions is empty"
    return head


def current_revision(engine: Engine) -> str | None:
    """The journal's revision, or None for an empty or pre-Alembic journal."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Bring the journal to the head revision in one transaction; returns the head.

    An empty database gets every revision from the start; a journal of the first release (tables but no
    ``journal_alembic_version``) is stamped as the baseline first. A revision this code does not know means the
    journal was written by a newer release: :class:`MigrationError`, nothing touched.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # two processes starting at once: the second waits
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        cfg = _config(conn)
        script = ScriptDirectory.from_config(cfg)
        current = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()
        if current is None and "schemaversion" in inspect(conn).get_table_names():
            command.stamp(cfg, BASELINE)
        elif current is not None and current not in {s.revision for s in script.walk_revisions()}:
            raise MigrationError(
                f"the journal is at schema revision {current}, newer than this code knows (newest "
                f"{script.get_current_head()}): it was written by a newer release of the bot; upgrade the bot "
                f"(or point DATABASE_URL at another journal)"
            )
        command.upgrade(cfg, "head")
    return head_revision()


def new_revision(message: str) -> None:
    """Autogenerate a revision from the difference between the models and a journal at head."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        with engine.begin() as conn:
            command.upgrade(_config(conn), "head")
            script = ScriptDirectory.from_config(_config(conn))
            number = len(list(script.walk_revisions())) + 1
            command.revision(_config(conn), message=message, autogenerate=True, rev_id=f"{number:04d}")
        engine.dispose()

