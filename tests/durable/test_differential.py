"""Differential: the same run durably and in process.

Random workflows from the public `durable_workflows.testing.workflows` strategy (every construct),
compared by the public oracle `assert_durable_matches_in_process`, with every request answered,
or with some left to time out (timeout routes, the virtual clock) and answers sent as named
events; typed values (tuples, sets,
dicts, lists, bare or declared) through chains, fan-out/fan-in and loops that continue-as-new;
and chains of agents fed by agents.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from durable_workflows import (
    AgentNode,
    AgentResponse,
    DurableWorkflowHost,
    WaitingForInputEvent,
    WorkflowBuilder,
    WorkflowContext,
    executor,
)
from durable_workflows.agents import Agent, ChatMessage, DeterministicChatClient
from durable_workflows.graph.workflow import Workflow
from durable_workflows.hosting.embedded import EmbeddedBackend
from durable_workflows.testing import (
    NO_RESPONSE,
    Trace,
    assert_durable_matches_in_process,
    workflows,
)
from durable_workflows.testing.graphs import GroupSpec, NodeSpec, WorkflowSpec, build_or_none
from reliability._types_helpers import assert_same

_names = itertools.count()


def answer(request: WaitingForInputEvent) -> Trace:
    return Trace(path=["answer", request.request_id])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workflow=workflows(max_nodes=6))
def test_durable_matches_in_process(workflow: Workflow) -> None:
    asyncio.run(assert_durable_matches_in_process(workflow, Trace(path=["in"]), responses=answer))


def answer_or_wait(request: WaitingForInputEvent) -> Any:
    """Answers requests whose path has an even length; the others wait for their deadline."""
    if len(request.request.path) % 2:
        return NO_RESPONSE
    return Trace(path=["answer", request.request_id])


def _has_deadlines(workflow: Workflow) -> bool:
    timeouts = any(port.timeout is not None for port in workflow.ports.values())
    return timeouts or any(node.kind == "delay" for node in workflow.nodes.values())


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(workflow=workflows(max_nodes=6, agents=False).filter(_has_deadlines))
def test_durable_matches_in_process_when_time_passes(workflow: Workflow) -> None:
    """P8, P10, C1, C2: requests left unanswered time out, and delays fire, at the same point of
    both runs (the durable one on a virtual clock); named events answer like send_response."""
    asyncio.run(
        assert_durable_matches_in_process(
            workflow, Trace(path=["in"]), responses=answer_or_wait, named_events=True
        )
    )


def _node(kind: str, **fields: Any) -> NodeSpec:
    base: dict[str, Any] = {"extra": False, "target": None, "halt": False, "retry": False}
    base |= {"timeout": False, "timeout_route": False, "minutes": 1, "sub": "plain", "asks": False}
    return NodeSpec(kind=kind, **{**base, **fields})  # type: ignore[arg-type]


def test_child_runs_of_one_superstep_wait_at_the_same_time_as_in_process() -> None:
    """W3/C2 (a once-flaky example): two child runs with a 2-minute delay each, started in the
    superstep that also starts a parent delay due a minute after them; the superstep ends when
    both children's delays end (at the same time), before the parent's delay fires."""
    edges = lambda source, *targets: GroupSpec("edges", source, targets, (None,) * len(targets))  # noqa: E731
    spec = WorkflowSpec(
        nodes=(
            _node("class", halt=True, asks=True),
            _node("class", halt=True, asks=True),
            _node("delay"),
            _node("port"),
            _node("workflow", sub="delay"),
            _node("delay", minutes=3),
        ),
        declaration_order=(0, 1, 2, 3, 4, 5),
        groups=(edges(0, 1), edges(1, 2, 3, 2), edges(2, 4, 5), edges(4, 5)),
        fan_ins=(),
        loops=(),
        name="ChildDelays",
        max_supersteps=100,
    )
    workflow = build_or_none(spec)
    assert workflow is not None
    asyncio.run(
        assert_durable_matches_in_process(
            workflow, Trace(path=["in"]), responses=answer_or_wait, named_events=True
        )
    )


@pytest.fixture(scope="module")
def backend() -> Iterator[EmbeddedBackend]:
    with EmbeddedBackend() as running:
        yield running


# -- typed values: tuples, sets, frozensets, dicts (any keys) and lists, bare or declared ---------

_ints = st.integers(-1000, 1000)
_words = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF), max_size=6)
_floats = st.floats(allow_nan=False, allow_infinity=False, width=32)
_hashable = st.one_of(_ints, _words, st.booleans(), st.tuples(_ints, _words))
_anything = st.recursive(
    st.one_of(st.none(), _ints, _floats, _words, st.booleans()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.frozensets(_hashable, max_size=3),
        st.sets(_hashable, max_size=3),
        st.dictionaries(_words, inner, max_size=3),
        st.dictionaries(_ints, inner, max_size=3),
    ),
    max_leaves=8,
)

TYPED_VALUES: list[tuple[Any, st.SearchStrategy[Any]]] = [
    (tuple[int, str], st.tuples(_ints, _words)),
    (tuple[int, ...], st.lists(_ints, max_size=4).map(tuple)),
    (set[int], st.sets(_ints, max_size=4)),
    (frozenset[str], st.frozensets(_words, max_size=4)),
    (dict[str, int], st.dictionaries(_words, _ints, max_size=4)),
    (dict[int, str], st.dictionaries(_ints, _words, max_size=4)),
    (list[tuple[int, str]], st.lists(st.tuples(_ints, _words), max_size=3)),
    (dict[str, set[int]], st.dictionaries(_words, st.sets(_ints, max_size=3), max_size=3)),
    (list[float], st.lists(_floats, max_size=3)),
    (dict, st.dictionaries(_words, _anything, max_size=3)),
    (list, st.lists(_anything, max_size=3)),
    (tuple, st.lists(_anything, max_size=3).map(tuple)),
    (Any, _anything),
]


def _typed_node(node_id: str, tp: Any, state_from: str | None) -> Any:
    """Yields its message, publishes it as an event, stores it, and returns it (its message to
    its successors, or an output at the end of the graph)."""

    def node(x: Any, ctx: WorkflowContext[Any, Any]) -> Any:
        ctx.yield_output(x)
        ctx.add_event(x)
        ctx.set_state(node_id, x)
        if state_from is not None:
            ctx.yield_output(ctx.get_state(state_from))
        return x

    node.__annotations__ = {"x": tp, "ctx": WorkflowContext[None, tp], "return": tp}
    return executor(id=node_id)(node)


def _typed_join(tp: Any) -> Any:
    def join(xs: Any, ctx: WorkflowContext[Any, Any]) -> Any:
        ctx.yield_output(xs)
        return xs[-1]

    join.__annotations__ = {"xs": list[tp], "ctx": WorkflowContext[None, list[tp]], "return": tp}
    return executor(id="join")(join)


def _typed_loop(tp: Any, rounds: int) -> Any:
    """Sends its message to itself `rounds` times (across continue-as-new), keeping it in state."""

    def loop(x: Any, ctx: WorkflowContext[Any, Any]) -> None:
        n = ctx.get_state("rounds", 0) + 1
        ctx.set_state("rounds", n)
        ctx.set_state("carried", (x, n))
        if n < rounds:
            ctx.send_message(x)
        else:
            ctx.yield_output(ctx.get_state("carried")[0])

    loop.__annotations__ = {"x": tp, "ctx": WorkflowContext[tp, tp], "return": None}
    return executor(id="loop")(loop)


@st.composite
def typed_specs(draw: st.DrawFn) -> dict[str, Any]:
    tp, values = draw(st.sampled_from(TYPED_VALUES))
    return {
        "type": tp,
        "value": draw(values),
        "chain": draw(st.integers(1, 3)),
        "fan": draw(st.booleans()),
        "rounds": draw(st.sampled_from([0, 1, 3, 30])),
    }


def build_typed(spec: dict[str, Any]) -> Workflow:
    tp = spec["type"]
    chain = [
        _typed_node(f"c{i}", tp, f"c{i - 1}" if i else None) for i in range(spec["chain"])
    ]
    builder = WorkflowBuilder(chain[0], name=f"DiffTyped{next(_names)}", max_supersteps=40)
    builder.add_chain(chain) if len(chain) > 1 else None
    last = chain[-1]
    if spec["fan"]:
        left, right = _typed_node("left", tp, None), _typed_node("right", tp, last.id)
        join = _typed_join(tp)
        builder.add_fan_out_edge(last, [left, right]).add_fan_in_barrier_edge([left, right], join)
        last = join
    if spec["rounds"]:
        loop = _typed_loop(tp, spec["rounds"])
        builder.add_edge(last, loop).add_edge(loop, loop)
    return builder.build()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=typed_specs())
def test_typed_values_durable_match_in_process(backend: EmbeddedBackend, spec: dict[str, Any]) -> None:
    """J6: whatever the declared container type, the value, the graph shape and continue-as-new,
    a durable run has the in-process run's status, result, outputs and events, types included."""
    workflow = build_typed(spec)
    with DurableWorkflowHost(workflows=[workflow], connection_string=backend.address) as host:
        outcome = assert_same(host, workflow, spec["value"])
    assert outcome.status == "completed"


# -- agent-to-agent chains ------------------------------------------------------------------


class Gist(BaseModel):
    words: int
    head: str


class Flag(BaseModel):
    raised: bool
    why: Gist


FORMATS: list[type[BaseModel] | None] = [None, Gist, Flag]


def _answer(messages: list[ChatMessage], response_format: type[BaseModel] | None) -> Any:
    """A deterministic model: the answer depends on the whole conversation and the format."""
    last = messages[-1].content
    gist = Gist(words=len(last.split()), head=last[:12])
    if response_format is Gist:
        return gist
    if response_format is Flag:
        return Flag(raised=len(messages) % 2 == 0, why=gist)
    return f"turn {len(messages)}: {last[:20]}"


@executor(id="summary")
def summary(response: AgentResponse[Any], ctx: WorkflowContext[None, Any]) -> None:
    ctx.yield_output((response.agent_name, response.value, response.thread_id))


@st.composite
def agent_chains(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "formats": draw(st.lists(st.sampled_from(FORMATS), min_size=2, max_size=4)),
        "sessions": draw(st.lists(st.sampled_from(["run", "node", "call"]), min_size=4, max_size=4)),
        "repeat": draw(st.booleans()),
        "summary": draw(st.booleans()),
        "text": draw(st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF), max_size=30)),
    }


def build_agent_chain(spec: dict[str, Any]) -> Workflow:
    tag = next(_names)
    nodes: list[Any] = []
    for i, response_format in enumerate(spec["formats"]):
        agent = Agent(
            f"DiffAgent{tag}x{i}",
            f"Agent {i} of a chain.",
            DeterministicChatClient(_answer),
            response_format=response_format,
        )
        nodes.append(AgentNode(agent, session=spec["sessions"][i]))
    if spec["repeat"]:  # the first agent again, later in the chain: a second turn on its thread
        nodes.append(AgentNode(nodes[0].agent, id="again", session=spec["sessions"][0]))
    if spec["summary"]:
        nodes.append(summary)
    builder = WorkflowBuilder(nodes[0], name=f"DiffAgents{tag}")
    return builder.add_chain(nodes).build()


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=agent_chains())
def test_agent_chains_durable_match_in_process(backend: EmbeddedBackend, spec: dict[str, Any]) -> None:
    """J6, D6: agents fed by agents (typed responses included) answer the same durably as
    in-process: same outputs, values and thread ids, same events."""
    workflow = build_agent_chain(spec)
    with DurableWorkflowHost(workflows=[workflow], connection_string=backend.address) as host:
        outcome = assert_same(host, workflow, spec["text"])
    assert outcome.status == "completed"
