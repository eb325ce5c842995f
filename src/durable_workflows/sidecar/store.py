"""Reading and writing sidecar state in SQLite; writes are staged, then committed by the `Writer`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from durable_workflows.sidecar.errors import SidecarError
from durable_workflows.sidecar.model import (
    TERMINAL_STATUSES,
    Activity,
    Delayed,
    Entity,
    HistoryEvent,
    Instance,
    LockRequest,
    Message,
    ParentRef,
    pb,
)
from durable_workflows.sidecar.schema import open_database
from durable_workflows.sidecar.writer import Op, Ticket, Waker, Writer

_ID_TABLES = ("messages", "delayed", "activities", "lock_requests")
_TERMINAL = sorted(TERMINAL_STATUSES)
_IS_TERMINAL = f"status IN ({', '.join(str(s) for s in _TERMINAL)})"


def _event_bytes(event: HistoryEvent) -> bytes:
    data: bytes = event.SerializeToString()
    return data


def _parse_event(data: bytes) -> HistoryEvent:
    event = pb.HistoryEvent()
    event.ParseFromString(data)
    return event


def _tags_json(tags: dict[str, str]) -> str | None:
    return json.dumps(tags) if tags else None


def _parse_tags(text: str | None) -> dict[str, str]:
    return dict(json.loads(text)) if text else {}


@dataclass
class Snapshot:
    """Everything loaded from the database at start-up."""

    instances: dict[str, Instance] = field(default_factory=dict)
    entities: dict[str, Entity] = field(default_factory=dict)
    activities: dict[int, Activity] = field(default_factory=dict)
    delayed: dict[int, Delayed] = field(default_factory=dict)
    lock_requests: list[LockRequest] = field(default_factory=list)


class Store:
    """The SQLite database. Writes are staged under the engine lock and committed through
    the `Writer`; reads commit what is queued first."""

    def __init__(self, path: str, *, synchronous: str = "NORMAL") -> None:
        self._lock_file = None if path == ":memory:" else _lock_exclusively(path + ".lock")
        try:
            self._conn = open_database(path, synchronous=synchronous)
        except BaseException:
            if self._lock_file is not None:
                self._lock_file.close()
            raise
        self._ids = {table: self._max_id(table) for table in _ID_TABLES}
        self._ops: list[Op] = []
        self._reclaim = False
        self._writer = Writer(self._conn)

    def close(self) -> None:
        """Write what is queued, close the connection and release the file lock."""
        self._writer.flush()
        self._conn.close()
        if self._lock_file is not None:
            self._lock_file.close()

    def _max_id(self, table: str) -> int:
        row = self._conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?",
                                 (table,)).fetchone()
        return int(row[0]) if row else 0

    def _new_id(self, table: str) -> int:
        """Allocate a row id; ids only grow, even when a transaction fails."""
        self._ids[table] += 1
        return self._ids[table]

    def _stage(self, sql: str, params: Sequence[Any] = (), many: bool = False) -> None:
        self._ops.append((sql, params, many))

    def submit(self, wake: list[Waker]) -> Ticket:
        """Queue the staged statements as one transaction; ``wake`` is set once durable."""
        ops, self._ops = self._ops, []
        reclaim, self._reclaim = self._reclaim, False
        return self._writer.submit(ops, wake, reclaim)

    def discard(self) -> None:
        """Drop the statements staged by a transaction that failed in the engine."""
        self._ops = []
        self._reclaim = False

    @property
    def broken(self) -> bool:
        """Whether a commit failed and the engine must reload before changing anything."""
        return self._writer.broken

    @property
    def last_ticket(self) -> Ticket | None:
        """The most recently submitted transaction."""
        return self._writer.last

    def commit(self, ticket: Ticket) -> None:
        """Make ``ticket`` durable (committing the queue if nobody else is); see `Writer`."""
        self._writer.commit(ticket)
        ticket.raise_if_failed()

    def flush(self) -> None:
        """Commit everything submitted so far."""
        self._writer.flush()

    def recover(self) -> None:
        """Fail queued transactions after a failed commit, then accept new ones."""
        self._writer.recover()

    # -- instances and history -------------------------------------------------------------

    def save_instance(self, inst: Instance) -> None:
        """Insert or replace the instance's row (not its history or inbox)."""
        parent = inst.parent
        self._stage(
            "INSERT OR REPLACE INTO instances VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                inst.instance_id, inst.name, inst.version, inst.status, inst.execution_id,
                inst.input, inst.output, inst.custom_status, inst.created_at, inst.updated_at,
                inst.completed_at,
                None if inst.failure is None else inst.failure.SerializeToString(),
                _tags_json(inst.tags),
                parent.instance_id if parent else None,
                parent.execution_id if parent else None,
                parent.task_id if parent else None,
                inst.history_len,
            ),
        )

    def delete_instance(self, instance_id: str) -> None:
        """Remove the instance and everything that belongs to it."""
        for sql in (
            "DELETE FROM instances WHERE instance_id = ?",
            "DELETE FROM history WHERE instance_id = ?",
            "DELETE FROM messages WHERE kind = 'o' AND target = ?",
            "DELETE FROM delayed WHERE kind = 'o' AND target = ?",
            "DELETE FROM activities WHERE instance_id = ?",
        ):
            self._stage(sql, (instance_id,))

    def append_history(self, instance_id: str, start: int, events: list[HistoryEvent]) -> None:
        """Store ``events`` at positions ``start``, ``start + 1``, ..."""
        self._stage(
            "INSERT INTO history VALUES (?,?,?)",
            [(instance_id, start + i, _event_bytes(e)) for i, e in enumerate(events)],
            many=True,
        )

    def request_reclaim(self) -> None:
        """Once the transaction being staged commits, give free pages back to the file
        system if many are free."""
        self._reclaim = True

    def load_instance(self, instance_id: str) -> Instance | None:
        """The stored row of an instance (finished instances live only here), or None."""
        self._writer.flush()
        row = self._conn.execute(
            "SELECT * FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
        return None if row is None else _instance_from_row(row)

    def finished_instances(self, statuses: Iterable[int] = (), *,
                           created: tuple[float | None, float | None] = (None, None),
                           completed: tuple[float | None, float | None] = (None, None),
                           prefix: str = "") -> list[Instance]:
        """Finished instances with one of ``statuses`` (any terminal one if empty), created
        and completed in the half-open windows given, whose id starts with ``prefix``."""
        wanted = [s for s in _TERMINAL if not statuses or s in set(statuses)]
        if not wanted:
            return []
        sql = f"SELECT * FROM instances WHERE status IN ({', '.join('?' * len(wanted))})"
        params: list[Any] = list(wanted)
        for column, (low, high) in (("created_at", created), ("completed_at", completed)):
            if low is not None:
                sql, params = sql + f" AND {column} >= ?", [*params, low]
            if high is not None:
                sql, params = sql + f" AND {column} < ?", [*params, high]
        if prefix:
            sql, params = sql + " AND substr(instance_id, 1, ?) = ?", [*params, len(prefix), prefix]
        self._writer.flush()
        return [_instance_from_row(row) for row in self._conn.execute(sql, params)]

    def finished_children(self, instance_id: str) -> list[str]:
        """Ids of the finished sub-orchestrations of an instance."""
        self._writer.flush()
        rows = self._conn.execute(
            f"SELECT instance_id FROM instances WHERE parent_instance_id = ? AND {_IS_TERMINAL}",
            (instance_id,))
        return [row[0] for row in rows]

    def replace_history(self, instance_id: str, events: list[HistoryEvent]) -> None:
        """Replace the whole stored history (continue-as-new, rewind)."""
        self._stage("DELETE FROM history WHERE instance_id = ?", (instance_id,))
        self.append_history(instance_id, 0, events)

    def load_history(self, instance_id: str) -> list[HistoryEvent]:
        """Read the stored history in order."""
        self._writer.flush()
        rows = self._conn.execute(
            "SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,)
        )
        return [_parse_event(row[0]) for row in rows]

    # -- inbox messages and delayed messages -----------------------------------------------

    def add_message(self, kind: str, target: str, event: HistoryEvent) -> int:
        """Append an event to an inbox; returns its row id (the inbox order)."""
        rowid = self._new_id("messages")
        self._stage("INSERT INTO messages VALUES (?,?,?,?)",
                    (rowid, kind, target, _event_bytes(event)))
        return rowid

    def delete_messages(self, rowids: Iterable[int]) -> None:
        """Remove consumed inbox messages."""
        self._stage("DELETE FROM messages WHERE id = ?", [(r,) for r in rowids], many=True)

    def add_delayed(self, fire_at: float, kind: str, target: str, execution_id: str | None,
                    event: HistoryEvent) -> int:
        """Store an event to deliver at ``fire_at``; returns its row id."""
        rowid = self._new_id("delayed")
        self._stage("INSERT INTO delayed VALUES (?,?,?,?,?,?)",
                    (rowid, fire_at, kind, target, execution_id, _event_bytes(event)))
        return rowid

    def delete_delayed(self, rowid: int) -> None:
        """Remove a delivered or cancelled delayed message."""
        self._stage("DELETE FROM delayed WHERE id = ?", (rowid,))

    # -- activities ------------------------------------------------------------------------

    def add_activity(self, instance_id: str, execution_id: str, name: str, task_id: int,
                     input: str | None, version: str | None, tags: dict[str, str]) -> int:
        """Store a scheduled activity; returns its id."""
        activity_id = self._new_id("activities")
        self._stage("INSERT INTO activities VALUES (?,?,?,?,?,?,?,?)",
                    (activity_id, instance_id, execution_id, name, task_id, input, version,
                     _tags_json(tags)))
        return activity_id

    def delete_activity(self, activity_id: int) -> None:
        """Remove a finished or abandoned activity."""
        self._stage("DELETE FROM activities WHERE id = ?", (activity_id,))

    # -- entities and locks ----------------------------------------------------------------

    def save_entity(self, entity: Entity) -> None:
        """Insert or replace the entity's row."""
        self._stage(
            "INSERT OR REPLACE INTO entities VALUES (?,?,?,?,?)",
            (entity.entity_id, entity.state, entity.updated_at, entity.locked_by,
             entity.lock_owner),
        )

    def delete_entity(self, entity_id: str) -> None:
        """Remove an entity and its inbox."""
        self._stage("DELETE FROM entities WHERE entity_id = ?", (entity_id,))
        self._stage("DELETE FROM messages WHERE kind = 'e' AND target = ?", (entity_id,))
        self._stage("DELETE FROM delayed WHERE kind = 'e' AND target = ?", (entity_id,))

    def add_lock_request(self, critical_section_id: str, owner: str, lock_set: list[str],
                         barrier: int) -> int:
        """Store a lock request waiting to be granted; returns its id."""
        rowid = self._new_id("lock_requests")
        self._stage("INSERT INTO lock_requests VALUES (?,?,?,?,?)",
                    (rowid, critical_section_id, owner, json.dumps(lock_set), barrier))
        return rowid

    def delete_lock_request(self, rowid: int) -> None:
        """Remove a granted or cancelled lock request."""
        self._stage("DELETE FROM lock_requests WHERE id = ?", (rowid,))

    # -- loading ---------------------------------------------------------------------------

    def load(self) -> Snapshot:
        """Read the state the engine keeps in memory: everything but finished instances."""
        self._writer.flush()
        snap = Snapshot()
        for row in self._conn.execute(f"SELECT * FROM instances WHERE NOT {_IS_TERMINAL}"):
            inst = _instance_from_row(row)
            snap.instances[inst.instance_id] = inst
        for inst in snap.instances.values():
            inst.history = self.load_history(inst.instance_id)
            inst.history_len = len(inst.history)
        for row in self._conn.execute("SELECT * FROM entities"):
            snap.entities[row[0]] = Entity(row[0], row[1], row[2], row[3], row[4])
        for rowid, kind, target, data in self._conn.execute(
            "SELECT id, kind, target, event FROM messages ORDER BY id"
        ):
            msg = Message(rowid, _parse_event(data))
            if kind == "o" and target in snap.instances:
                snap.instances[target].inbox.append(msg)
            elif kind == "e":
                snap.entities.setdefault(target, Entity(target)).inbox.append(msg)
        for row in self._conn.execute("SELECT * FROM activities"):
            snap.activities[row[0]] = Activity(
                row[0], row[1], row[2], row[3], row[4], row[5], row[6], _parse_tags(row[7])
            )
        for rowid, fire_at, kind, target, execution_id, data in self._conn.execute(
            "SELECT * FROM delayed"
        ):
            snap.delayed[rowid] = Delayed(
                rowid, fire_at, kind, target, execution_id, _parse_event(data)
            )
        for rowid, cs_id, owner, lock_set, barrier in self._conn.execute(
            "SELECT * FROM lock_requests ORDER BY id"
        ):
            snap.lock_requests.append(
                LockRequest(rowid, cs_id, owner, json.loads(lock_set), barrier))
        return snap


def _lock_exclusively(path: str) -> IO[str]:
    """Hold an exclusive lock on ``path`` so only one sidecar serves a database at a time."""
    handle = open(path, "a+")  # noqa: SIM115 - kept open for the sidecar's lifetime
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no protection
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise SidecarError(
            f"database {path[:-5]!r} is in use by another sidecar") from None
    return handle


def _instance_from_row(row: Any) -> Instance:
    (instance_id, name, version, status, execution_id, input_, output, custom_status,
     created_at, updated_at, completed_at, failure, tags, parent_id, parent_exec,
     parent_task, history_len) = row
    failure_msg = None
    if failure is not None:
        failure_msg = pb.TaskFailureDetails()
        failure_msg.ParseFromString(failure)
    return Instance(
        instance_id=instance_id, name=name, status=status, execution_id=execution_id,
        created_at=created_at, updated_at=updated_at, version=version, input=input_,
        output=output, custom_status=custom_status, completed_at=completed_at,
        failure=failure_msg, tags=_parse_tags(tags),
        parent=None if parent_id is None else ParentRef(parent_id, parent_exec, parent_task),
        history=None, history_len=history_len,
    )

