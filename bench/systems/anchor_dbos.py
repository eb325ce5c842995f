"""Anchor: DBOS Transact on its SQLite system database, the same scenario shapes.

Runs with bench/.venv-dbos/bin/python (bench/setup_anchors.sh).

    chain N       a workflow of N @DBOS.step calls (x + 1 each)
    fanout W      a workflow: one step, W child workflows started with DBOS.start_workflow
                  (one step each), gathered with get_result, then a step summing them
    hitl          a workflow waits in DBOS.recv, then one step; timed from DBOS.send to
                  get_result returning
    throughput R  R one-step workflows started back to back, then awaited one after another

Variant settings: ``sqlite`` = "default" (as shipped: rollback journal, synchronous=FULL) or
"wal-normal" (WAL + synchronous=NORMAL on every connection: the sidecar's durability level);
``poll`` = the notification polling interval in seconds (DBOS's default 1.0; on SQLite
``recv`` is woken only by that polling thread).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
import threading
import time
from typing import Any

from _anchor import HITL_IDLE_GAP_S, Anchor, main
from dbos import DBOS, DBOSConfig

_waiting = threading.Event()


@DBOS.step()
def inc(x: int) -> int:
    return x + 1


@DBOS.step()
def total(xs: list[int]) -> int:
    return sum(xs)


@DBOS.workflow()
def chain_wf(n: int) -> int:
    x = 0
    for _ in range(n):
        x = inc(x)
    return x


@DBOS.workflow()
def child_wf(x: int) -> int:
    return inc(x)


@DBOS.workflow()
def fanout_wf(w: int) -> int:
    x = inc(0)
    handles = [DBOS.start_workflow(child_wf, x) for _ in range(w)]
    return total([h.get_result() for h in handles])


@DBOS.workflow()
def hitl_wf() -> int:
    _waiting.set()  # readiness for the untimed wait below (in-process only)
    x = DBOS.recv("approve", timeout_seconds=120)
    return inc(x)


@DBOS.workflow()
def single_wf(x: int) -> int:
    return inc(x)


class Dbos(Anchor):
    packages = ("dbos", "sqlalchemy")

    def start(self, cases: list[tuple[str, int]]) -> None:
        self.tmp = tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP"))
        self.db = os.path.join(self.tmp.name, "dbos.sqlite")
        config: DBOSConfig = {"name": "bench", "system_database_url": f"sqlite:///{self.db}",
                              "log_level": "WARNING"}
        poll = self.variant.get("poll")
        if poll is not None:
            config["notification_listener_polling_interval_sec"] = float(poll)
        mode = self.variant.get("sqlite", "default")
        if mode == "wal-normal":
            import sqlalchemy as sa

            with sqlite3.connect(self.db) as conn:  # WAL is persistent in the file
                conn.execute("PRAGMA journal_mode=WAL")

            @sa.event.listens_for(sa.engine.Engine, "connect")
            def _normal(dbapi_conn: Any, _: Any) -> None:
                dbapi_conn.execute("PRAGMA synchronous=NORMAL")

        self.details["backend"] = {"kind": f"dbos-sqlite-{mode}", "file": True,
                                   "poll_s": poll if poll is not None else "default (1.0)"}
        DBOS(config=config)
        DBOS.launch()
        logging.getLogger("dbos").setLevel(logging.WARNING)

    def stop(self) -> None:
        DBOS.destroy(destroy_registry=False)
        self.tmp.cleanup()

    def chain(self, n: int) -> None:
        assert DBOS.start_workflow(chain_wf, n).get_result() == n

    def fanout(self, w: int) -> None:
        assert DBOS.start_workflow(fanout_wf, w).get_result() == 2 * w

    def hitl(self) -> float:
        _waiting.clear()
        handle = DBOS.start_workflow(hitl_wf)
        assert _waiting.wait(30)
        time.sleep(HITL_IDLE_GAP_S)
        t0 = time.perf_counter()
        DBOS.send(handle.get_workflow_id(), 1, "approve")
        assert handle.get_result() == 2
        return time.perf_counter() - t0

    def throughput(self, runs: int) -> None:
        handles = [DBOS.start_workflow(single_wf, i) for i in range(runs)]
        for i, handle in enumerate(handles):
            assert handle.get_result() == i + 1


if __name__ == "__main__":
    main("dbos", Dbos)
