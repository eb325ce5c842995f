"""Anchor: LangGraph with its durable SQLite checkpointer (langgraph-checkpoint-sqlite).

Runs with bench/.venv-langgraph/bin/python (bench/setup_anchors.sh).

    chain N       a StateGraph of N nodes in a row, each x + 1
    fanout W      a source node (x + 1), a conditional edge returning W Send("work", ...),
                  work nodes appending x + 1 to a list (operator.add reducer), a join node
                  summing it
    hitl          node "ask" calls interrupt(), node "after" adds 1; timed from
                  invoke(Command(resume=1)) to its return
    throughput R  R one-node runs (distinct thread ids) on a 6-thread pool sharing one
                  SqliteSaver (LangGraph has no run scheduler: not quite the same semantic)

Every run has its own thread id on one SqliteSaver file (WAL). Variant settings:
``durability`` = "async" (LangGraph's default: checkpoints written off the critical path) or
"sync"; ``synchronous`` = SQLite's pragma for the saver's connection (unset: FULL).
"""

from __future__ import annotations

import operator
import os
import sqlite3
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, TypedDict

from _anchor import HITL_IDLE_GAP_S, Anchor, main
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send, interrupt


class State(TypedDict, total=False):
    x: int
    xs: Annotated[list[int], operator.add]
    total: int


def _inc(state: State) -> dict[str, Any]:
    return {"x": state["x"] + 1}


def chain_graph(n: int) -> StateGraph:
    g = StateGraph(State)
    for i in range(n):
        g.add_node(f"s{i}", _inc)
    g.add_edge(START, "s0")
    for i in range(n - 1):
        g.add_edge(f"s{i}", f"s{i + 1}")
    g.add_edge(f"s{n - 1}", END)
    return g


def fanout_graph(w: int) -> StateGraph:
    g = StateGraph(State)
    g.add_node("src", _inc)
    g.add_node("work", lambda s: {"xs": [s["x"] + 1]})
    g.add_node("sink", lambda s: {"total": sum(s["xs"])})
    g.add_edge(START, "src")
    g.add_conditional_edges("src", lambda s: [Send("work", {"x": s["x"]}) for _ in range(w)],
                            ["work"])
    g.add_edge("work", "sink")
    g.add_edge("sink", END)
    return g


def _ask(state: State) -> dict[str, Any]:
    return {"x": interrupt({"approve": state["x"]})}


def hitl_graph() -> StateGraph:
    g = StateGraph(State)
    g.add_node("ask", _ask)
    g.add_node("after", _inc)
    g.add_edge(START, "ask")
    g.add_edge("ask", "after")
    g.add_edge("after", END)
    return g


class LangGraph(Anchor):
    packages = ("langgraph", "langgraph-checkpoint-sqlite")

    def start(self, cases: list[tuple[str, int]]) -> None:
        self.tmp = tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP"))
        self.db = os.path.join(self.tmp.name, "lg.sqlite")
        self.conn = sqlite3.connect(self.db, check_same_thread=False)
        synchronous = self.variant.get("synchronous")
        if synchronous:
            self.conn.execute(f"PRAGMA synchronous={synchronous}")
        self.durability = self.variant.get("durability", "async")
        self.details["backend"] = {"kind": "langgraph-sqlitesaver", "file": True,
                                   "durability": self.durability,
                                   "synchronous": synchronous or "default (FULL)"}
        self.saver = SqliteSaver(self.conn)
        builders = {"chain": chain_graph, "fanout": fanout_graph,
                    "hitl": lambda _: hitl_graph(), "throughput": lambda _: chain_graph(1)}
        self.graphs = {(sc, n): builders[sc](n).compile(checkpointer=self.saver)
                       for sc, n in cases}

    def stop(self) -> None:
        self.conn.close()
        self.tmp.cleanup()

    def _config(self, limit: int = 25) -> dict[str, Any]:
        return {"configurable": {"thread_id": uuid.uuid4().hex}, "recursion_limit": limit}

    def chain(self, n: int) -> None:
        out = self.graphs["chain", n].invoke({"x": 0}, self._config(n + 10),
                                             durability=self.durability)
        assert out["x"] == n, out

    def fanout(self, w: int) -> None:
        out = self.graphs["fanout", w].invoke({"x": 0, "xs": []}, self._config(),
                                              durability=self.durability)
        assert out["total"] == 2 * w, out

    def hitl(self) -> float:
        graph = next(g for (sc, _), g in self.graphs.items() if sc == "hitl")
        config = self._config()
        first = graph.invoke({"x": 0}, config, durability=self.durability)
        assert "__interrupt__" in first, first
        time.sleep(HITL_IDLE_GAP_S)
        t0 = time.perf_counter()
        out = graph.invoke(Command(resume=1), config, durability=self.durability)
        elapsed = time.perf_counter() - t0
        assert out["x"] == 2, out
        return elapsed

    def throughput(self, runs: int) -> None:
        graph = self.graphs["throughput", runs]

        def one(i: int) -> None:
            out = graph.invoke({"x": i}, self._config(), durability=self.durability)
            assert out["x"] == i + 1

        with ThreadPoolExecutor(6) as pool:
            list(pool.map(one, range(runs)))


if __name__ == "__main__":
    main("langgraph", LangGraph)
