"""Workflows shared by the durable tests (module-level so worker subprocesses can import them)."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel

from durable_workflows import (
    Delay,
    Executor,
    RequestPort,
    WorkflowBuilder,
    WorkflowContext,
    executor,
    handler,
    response_handler,
)
from durable_workflows.graph.workflow import Workflow
from durable_workflows.model.nodes import Node


def chain(name: str) -> Workflow:
    @executor(id="double")
    def double(x: int) -> int:
        return x * 2

    @executor(id="inc")
    def inc(x: int) -> int:
        return x + 1

    @executor(id="fmt")
    def fmt(x: int) -> str:
        return f"v={x}"

    return WorkflowBuilder(double, name=name).add_chain([double, inc, fmt]).build()


def loop(name: str, limit: int, max_supersteps: int = 1000) -> Workflow:
    """A self-edge loop: one superstep per value 1..limit; outputs every 10th value and the sum."""

    @executor(id="step")
    def step(x: int, ctx: WorkflowContext[int, int]) -> None:
        total = (ctx.get_state("total") or 0) + x
        ctx.set_state("total", total)
        if x % 10 == 0:
            ctx.yield_output(x)
        if x < limit:
            ctx.send_message(x + 1)
        else:
            ctx.yield_output(total)

    return (
        WorkflowBuilder(step, name=name, max_supersteps=max_supersteps)
        .add_edge(step, step, lambda x: x <= limit)
        .build()
    )


def parallel_ports(name: str) -> Workflow:
    """start -> fan-out to ports `first` and `second` -> fan-in `join` ("+"-joined answers)."""

    @executor(id="start")
    def start(x: int) -> int:
        return x

    p1 = RequestPort("first", request_type=int, response_type=str)
    p2 = RequestPort("second", request_type=int, response_type=str)

    @executor(id="join")
    def join(answers: list[str]) -> str:
        return "+".join(answers)

    return (
        WorkflowBuilder(start, name=name)
        .add_fan_out_edge(start, [p1, p2])
        .add_fan_in_barrier_edge([p1, p2], join)
        .build()
    )


def _count(kind: str) -> None:
    directory = os.environ.get("DW_CRASH_COUNT_DIR")
    if directory:
        with (Path(directory) / kind).open("a") as f:
            f.write("x\n")


def crash_workflow(name: str = "CrashFlow", with_port: bool = False) -> Workflow:
    """step1 -> [approve port] -> step2 (slow) -> step3; steps count executions in files."""

    @executor(id="step1")
    def step1(x: int) -> int:
        _count("step1")
        return x + 1

    @executor(id="step2")
    def step2(x: int) -> int:
        _count("step2")
        time.sleep(float(os.environ.get("DW_CRASH_STEP2_SLEEP", "2")))
        return x * 10

    @executor(id="step3")
    def step3(x: int) -> str:
        _count("step3")
        return f"done {x}"

    @executor(id="gate")
    def gate(ok: bool) -> int:
        return 1 if ok else 0

    builder = WorkflowBuilder(step1, name=name)
    if with_port:
        port = RequestPort("approve", request_type=int, response_type=bool)
        builder.add_chain([step1, port, gate, step2, step3])
    else:
        builder.add_chain([step1, step2, step3])
    return builder.build()


class Approval(BaseModel):
    approved: bool
    feedback: str = ""


def approval_flow() -> Workflow:
    @executor(id="draft")
    def draft(text: str) -> str:
        return text

    approval = RequestPort("Approval", request_type=str, response_type=Approval)
    second = RequestPort("Second", request_type=str, response_type=str)

    @executor(id="after")
    def after(a: Approval) -> str:
        return "yes" if a.approved else f"no: {a.feedback}"

    return WorkflowBuilder(draft, name="Named").add_chain([draft, approval, after, second]).build()


def two_open() -> Workflow:
    @executor(id="split")
    def split(x: str) -> str:
        return x

    @executor(id="a")
    def a(x: str) -> str:
        return x + "a"

    @executor(id="b")
    def b(x: str) -> str:
        return x + "b"

    ask = RequestPort("ask", request_type=str, response_type=int)
    return (
        WorkflowBuilder(split, name="TwoOpen")
        .add_fan_out_edge(split, [a, b])
        .add_edge(a, ask)
        .add_edge(b, ask)
        .build()
    )


class Budget(BaseModel):
    amount: int


class Reviewer(Executor):
    """Asks (ctx.request_info) for an approval, and for a long text a budget too."""

    @handler
    async def review(self, text: str, ctx: WorkflowContext[str, str]) -> None:
        ctx.yield_output(f"asking about {text}")
        await ctx.request_info(text, response_type=bool)
        if len(text) > 5:
            ctx.request_info(Budget(amount=len(text)), response_type=int)

    @response_handler
    def on_review(self, original: str, approved: bool) -> str:
        return f"{original}: {'approved' if approved else 'rejected'}"

    @response_handler
    def on_budget(self, original: Budget, granted: int) -> str:
        return f"budget {granted}/{original.amount}"


def asking_flow(name: str = "Asking") -> Workflow:
    """start -> reviewer (asks with request_info) -> publish."""

    @executor(id="start")
    def start(text: str) -> str:
        return text

    @executor(id="publish")
    def publish(verdict: str) -> str:
        return f"published {verdict}"

    reviewer = Reviewer("reviewer")
    return WorkflowBuilder(start, name=name).add_chain([start, reviewer, publish]).build()


def delayed(name: str, duration: timedelta) -> Workflow:
    """start -> Delay -> finish."""

    @executor(id="start")
    def start(x: int) -> int:
        return x + 1

    @executor(id="finish")
    def finish(x: int) -> str:
        return f"done {x}"

    hold = Delay("hold", duration, message_type=int)
    return WorkflowBuilder(start, name=name).add_chain([start, hold, finish]).build()


def sub_child_asking(name: str) -> Workflow:
    """int -> port 'ask' (int -> str) -> 'says'."""

    @executor(id="prep")
    def prep(x: int, ctx: WorkflowContext[int, str]) -> int:
        ctx.yield_output(f"prep {x}")
        return x

    ask = RequestPort("ask", request_type=int, response_type=str)

    @executor(id="says")
    def says(answer: str) -> str:
        return f"said {answer}"

    return WorkflowBuilder(prep, name=name).add_chain([prep, ask, says]).build()


def sub_child_failing(name: str) -> Workflow:
    @executor(id="boom")
    def boom(x: int) -> int:
        raise ValueError(f"kaput {x}")

    return WorkflowBuilder(boom, name=name).build()


def sub_parent(child: Workflow | Node, name: str) -> Workflow:
    """begin -> child -> collect."""

    @executor(id="begin")
    def begin(x: int) -> int:
        return x

    @executor(id="collect")
    def collect(x: int | str) -> str:
        return f"got {x}"

    return WorkflowBuilder(begin, name=name).add_chain([begin, child, collect]).build()


def three_deep(name: str) -> Workflow:
    """name -> Mid -> Inner (asks): a request three levels down."""

    @executor(id="mid_in")
    def mid_in(x: int) -> int:
        return x + 1

    middle = (
        WorkflowBuilder(mid_in, name=f"{name}Mid")
        .add_chain([mid_in, sub_child_asking(f"{name}Inner")])
        .build()
    )
    outer = sub_parent(middle, f"{name}Outer")
    return sub_parent(outer, name)
