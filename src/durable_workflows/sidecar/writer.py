"""Group commit: engine transactions are written to SQLite outside the engine lock.

The engine stages each transaction's statements under its lock and queues them in the
`Writer`; an RPC then waits for its `Ticket` before answering. The first waiter commits
everything queued (it becomes the leader), others wait for it. Transactions that queue up
during a commit share the next SQLite transaction, and disk I/O never holds the engine lock.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from durable_workflows.sidecar.errors import SidecarError

log = logging.getLogger("durable_workflows.sidecar")

Op = tuple[str, Sequence[Any], bool]
"""A staged statement: SQL, parameters (a list of parameter rows if ``many``), ``many``."""


class Waker(Protocol):
    """Told once a transaction is durable: a `threading.Event`, or anything with `set`."""

    def set(self) -> None:
        """Wake the waiter."""


class TransactionFailedError(SidecarError):
    """A state change could not be written; it was rolled back and may be retried."""


class Ticket:
    """The outcome of one staged transaction."""

    __slots__ = ("_done", "error", "reclaim", "wake")

    def __init__(self, wake: list[Waker], reclaim: bool = False) -> None:
        self._done = threading.Event()
        self.error: BaseException | None = None
        self.wake = wake
        """Events to set once the transaction is durable (state waiters)."""
        self.reclaim = reclaim
        """Whether the transaction freed many pages (a purge): see `reclaim_free_pages`."""

    def done(self) -> bool:
        """Whether the outcome is known."""
        return self._done.is_set()

    def raise_if_failed(self) -> None:
        """Raise `TransactionFailedError` if the transaction was rolled back."""
        if self.error is not None:
            raise TransactionFailedError(f"the change was not saved: {self.error}")

    def finish(self, error: BaseException | None) -> None:
        """Record the outcome and release waiters."""
        self.error = error
        self._done.set()
        if error is None:
            for event in self.wake:
                event.set()


class Writer:
    """Commits queued transactions in order, grouping those that wait together."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._cv = threading.Condition()
        self._queue: list[tuple[list[Op], Ticket]] = []
        self._busy = False
        self.broken = False
        """Set when a commit failed; later transactions fail until `recover`."""
        self.last: Ticket | None = None
        """The most recently submitted transaction."""

    def submit(self, ops: list[Op], wake: list[Waker], reclaim: bool = False) -> Ticket:
        """Queue one transaction's statements (`reclaim`: then shrink the file if worth it)."""
        ticket = Ticket(wake, reclaim)
        with self._cv:
            self._queue.append((ops, ticket))
            self.last = ticket
        return ticket

    def commit(self, ticket: Ticket) -> None:
        """Make ``ticket`` durable: commit the queue ourselves, or wait for the committer."""
        self._drain(ticket.done)

    def flush(self) -> None:
        """Commit everything submitted so far."""
        self._drain(lambda: False)

    def recover(self) -> None:
        """After a failure: fail what is queued, then accept new transactions again."""
        self.flush()
        self.broken = False

    def _drain(self, done: Callable[[], bool]) -> None:
        while True:
            with self._cv:
                while self._busy:
                    self._cv.wait()
                if done() or not self._queue:
                    return
                batch, self._queue = self._queue, []
                self._busy = True
            error: BaseException | None = TransactionFailedError("the commit was interrupted")
            try:
                if self.broken:
                    error = TransactionFailedError("an earlier change failed to be saved")
                else:
                    error = self._commit(batch)
            finally:
                for _, ticket in batch:
                    ticket.finish(error)
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()

    def _commit(self, batch: list[tuple[list[Op], Ticket]]) -> BaseException | None:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for ops, _ in batch:
                    self._apply(ops)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        except Exception as exc:
            log.exception("failed to write %d transaction(s); rolled back", len(batch))
            self.broken = True
            return exc
        if any(ticket.reclaim for _, ticket in batch):
            try:
                reclaim_free_pages(self._conn)
            except sqlite3.Error:
                log.warning("could not give free pages back to the file system", exc_info=True)
        return None

    def _apply(self, ops: list[Op]) -> None:
        for sql, params, many in ops:
            if many:
                self._conn.executemany(sql, params)
            else:
                self._conn.execute(sql, params)


RECLAIM_SHARE = 4
"""Free pages are given back once more than 1/RECLAIM_SHARE of the file is free..."""
RECLAIM_KEEP = 10
"""...keeping 1/RECLAIM_KEEP of the file free for the inserts that follow."""


def reclaim_free_pages(conn: sqlite3.Connection) -> int:
    """Shrink a database in incremental auto-vacuum mode when much of it is free (after
    purges); returns the pages given back. Below the threshold freed pages are reused."""
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:  # 2: INCREMENTAL
        return 0
    free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    total = int(conn.execute("PRAGMA page_count").fetchone()[0])
    if free * RECLAIM_SHARE <= total:
        return 0
    pages = free - total // RECLAIM_KEEP
    # executescript steps the pragma to its end; execute() would free one page
    conn.executescript(f"PRAGMA incremental_vacuum({pages});")
    return pages
