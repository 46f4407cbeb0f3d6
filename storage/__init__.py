"""Journal (storage layer): SQLModel tables, engine/session helpers; operations live in storage.repo."""

from storage.db import DEFAULT_URL, StorageError, init_db, make_engine, normalize_url, session_scope
from storage.models import (
    SCHEMA_VERSION,
    AuditLog,
    ChatSettings,
    Confirmation,
    FundingRecord,
    InstanceLock,
    OrderRecord,
    OutboxMessage,
    SchemaVersion,
    SignalRecord,
    TradeRecord,
)

__all__ = [
    "DEFAULT_URL",
    "SCHEMA_VERSION",
    "AuditLog",
    "ChatSettings",
    "Confirmation",
    "FundingRecord",
    "InstanceLock",
    "OrderRecord",
    "OutboxMessage",
    "SchemaVersion",
    "SignalRecord",
    "StorageError",
    "TradeRecord",
    "init_db",
    "make_engine",
    "normalize_url",
    "session_scope",
]
