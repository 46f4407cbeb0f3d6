"""The journal's instance lock: owner ids ``host:pid:tag``; a dead holder on this host is taken over at once."""

from __future__ import annotations

import logging
import os
import re
import socket
import uuid
from datetime import timedelta

from sqlalchemy.engine import Engine

from storage.db import session_scope
from storage.runtime import acquire_lock, lock_holder, release_lock
from tradebot.timeutil import utcnow

log = logging.getLogger("storage.lock")
LOCK_NAME = "bot"  # the one instance lock's row
LOCK_STALE = timedelta(seconds=90)  # a holder on another host (or one we cannot check) is stale after this
_MINTED: set[str] = set()  # owners created by this process (several apps in one process: tests, demo)


def host_id() -> str:
    """This machine as the lock sees it: the hostname, plus the PID namespace when there is one (containers)."""
    try:
        ns = re.sub(r"\D", "", os.readlink("/proc/self/ns/pid"))
    except OSError:
        ns = ""
    name = socket.gethostname()
    return f"{name}#{ns}" if ns else name


def new_owner() -> str:
    owner = f"{host_id()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    _MINTED.add(owner)
    return owner


def parse_owner(owner: str) -> tuple[str, int] | None:
    """(host, pid) of an owner id, or None when it is not ``host:pid:tag``."""
    parts = owner.split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def holder_is_dead(owner: str) -> bool:
    """True only when ``owner`` ran on this host and its process is gone; False when alive or unsure."""
    parsed = parse_owner(owner)
    if parsed is None or parsed[0] != host_id() or parsed[1] <= 0:
        return False
    pid = parsed[1]
    if pid == os.getpid():  # our pid but not our owner id: an earlier process that had this pid (container restart)
        return owner not in _MINTED
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: alive, owned by another user
        return False
    return False


def take_lock(db: Engine, owner: str) -> str | None:
    """None when the lock is ours; else a sentence naming the live holder."""
    now = utcnow()  # the wall clock
    with session_scope(db) as s:
        if acquire_lock(session=s, name=LOCK_NAME, owner=owner, now=now, stale_after=LOCK_STALE):
            return None
        holder = lock_holder(session=s, name=LOCK_NAME)
        if holder is not None and holder_is_dead(holder.owner):
            # release only if the dead process still holds it, then take it (one transaction: a racing restart
            # that loses sees our fresh heartbeat and is refused)
            release_lock(session=s, name=LOCK_NAME, owner=holder.owner)
            if acquire_lock(session=s, name=LOCK_NAME, owner=owner, now=now, stale_after=LOCK_STALE):
                log.warning("took over the instance lock from %s: that process is no longer running", holder.owner)
                return None
            holder = lock_holder(session=s, name=LOCK_NAME)
    who = f"{holder.owner} (heartbeat {holder.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC)" if holder else "another process"
    return (f"Another bot instance is running on this database: {who}. Stop it first (a holder on this host "
            f"that is no longer running is replaced at once; from another host, wait "
            f"{int(LOCK_STALE.total_seconds())} s after it died).")
