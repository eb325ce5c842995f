"""Random valid workflows with every construct the library has (hypothesis strategies).

`workflow_specs()` draws a `WorkflowSpec`, a plain description that `build()` turns into a
`Workflow`; `workflows()` draws built workflows. Messages are `Trace` models: every node
appends its id to the path, so a message says where it has been. Nodes are class, function and
async function executors, request ports and agents; they use shared state, outputs, custom
events, extra and targeted sends and halts; edges are single (with or without a condition),
fan-out, switch-case, fan-in barriers and self-loops; executors have retry policies and
timeouts, ports timeouts and timeout routes (P8); class executors ask with `request_info` and
answer in a response handler (P11); delays hold messages for a few minutes (C2); sub-workflows
(a chain, with a request port or a delay in the middle) run as child runs (W1). Each construct
can be switched off.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Literal

from hypothesis import strategies as st
from pydantic import BaseModel

from ..errors import WorkflowValidationError
from ..graph.builder import WorkflowBuilder
from ..graph.subworkflow import SubWorkflow
from ..graph.workflow import Workflow
from ..model.agent_nodes import AgentNode
from ..model.agent_protocol import AgentResponse
from ..model.context import WorkflowContext
from ..model.delays import Delay
from ..model.edges import Case, Default
from ..model.executors import Executor, executor, handler
from ..model.nodes import Node
from ..model.policies import RetryPolicy
from ..model.ports import RequestPort, RequestTimedOut
from ..model.requests import response_handler

NodeKind = Literal["class", "function", "async", "port", "agent", "delay", "workflow"]
SubKind = Literal["plain", "port", "delay"]
GroupKind = Literal["edges", "fan-out", "switch"]

LOOP_LIMIT = 6
"""A self-loop sends a message back while its path is shorter than this."""

HALT_AT = 5
"""A halting node requests a halt when it sees a path this long."""


class Trace(BaseModel):
    """The message of generated workflows: the ids of the nodes it went through."""

    path: list[str]


def even_length(trace: Trace) -> bool:
    return len(trace.path) % 2 == 0


def long_path(trace: Trace) -> bool:
    return len(trace.path) >= 3


def mentions_n1(trace: Trace) -> bool:
    return any("n1" in step for step in trace.path)


def text_weight_odd(trace: Trace) -> bool:
    return sum(len(step) for step in trace.path) % 2 == 1


def below_loop_limit(trace: Trace) -> bool:
    return len(trace.path) < LOOP_LIMIT


CONDITIONS: tuple[Callable[[Trace], bool], ...] = (
    even_length,
    long_path,
    mentions_n1,
    text_weight_odd,
)
"""The conditions edges and switch cases draw from (by index)."""


@dataclass(frozen=True)
class NodeSpec:
    """One node of a generated workflow."""

    kind: NodeKind = "class"
    extra: bool = False
    """Sends a second message when the incoming path has odd length."""
    target: int | None = None
    """Sends that second message only to this successor (``target_id``)."""
    halt: bool = False
    """Requests a halt when it sees a path of `HALT_AT` steps or more."""
    retry: bool = False
    timeout: bool = False
    timeout_route: bool = False
    """A port's timed-out requests go to a terminal ``n{i}.expired`` node (P8)."""
    minutes: int = 1
    """A delay's duration."""
    sub: SubKind = "plain"
    """What a sub-workflow has between its two executors."""
    asks: bool = False
    """A class executor that also asks (`ctx.request_info`) when the path length is a multiple
    of three, and sends the answer on from its response handler (P11)."""


@dataclass(frozen=True)
class GroupSpec:
    """An outgoing edge group of `source`: single edges, a fan-out or a switch-case."""

    kind: GroupKind
    source: int
    targets: tuple[int, ...]
    conditions: tuple[int | None, ...] = ()
    """Per target, an index into `CONDITIONS` or None (unconditional / the switch default)."""


@dataclass(frozen=True)
class WorkflowSpec:
    """A drawn workflow: nodes ``n0`` (the start) .. ``n{k}``, groups, barriers and loops."""

    nodes: tuple[NodeSpec, ...]
    declaration_order: tuple[int, ...]
    groups: tuple[GroupSpec, ...] = ()
    fan_ins: tuple[tuple[tuple[int, ...], int], ...] = ()
    loops: tuple[int, ...] = ()
    """Nodes with a conditional edge to themselves."""
    name: str = "Generated"
    max_supersteps: int = 100

    @property
    def size(self) -> int:
        return len(self.nodes)

    def build(self) -> Workflow:
        """The workflow (raises `WorkflowValidationError` for an invalid combination)."""
        chains = [
            _make(i, spec, self._successors(i), self.name) for i, spec in enumerate(self.nodes)
        ]
        builder = WorkflowBuilder(chains[0][0], name=self.name, max_supersteps=self.max_supersteps)
        for i in self.declaration_order:
            builder.add_node(chains[i][0])
            if len(chains[i]) > 1:
                builder.add_chain(chains[i])
        ins = [chain[0] for chain in chains]
        outs = [chain[-1] for chain in chains]
        for group in self.groups:
            source, targets = outs[group.source], [ins[t] for t in group.targets]
            conditions = [None if c is None else CONDITIONS[c] for c in group.conditions]
            if group.kind == "edges":
                for target, condition in zip(targets, conditions, strict=True):
                    builder.add_edge(source, target, condition)
            elif group.kind == "fan-out":
                builder.add_fan_out_edge(source, targets)
            else:
                cases: list[Case | Default] = [
                    Case(CONDITIONS[c or 0], t)
                    for t, c in zip(targets[:-1], group.conditions[:-1], strict=True)
                ]
                builder.add_switch_case_edge_group(source, [*cases, Default(targets[-1])])
        for sources, joined in self.fan_ins:
            builder.add_fan_in_barrier_edge([outs[s] for s in sources], ins[joined])
        for i in self.loops:
            builder.add_edge(outs[i], ins[i], below_loop_limit)
        for i, spec in enumerate(self.nodes):
            if spec.timeout_route:
                builder.add_timeout_edge(ins[i], _expired(f"n{i}"))
        return builder.build()

    def _successors(self, i: int) -> list[str]:
        found = [f"n{t}" for g in self.groups if g.source == i for t in g.targets]
        return found + [f"n{i}" for loop in self.loops if loop == i]


def _step(
    node_id: str, spec: NodeSpec, trace: Trace, ctx: WorkflowContext[Trace, str], target: str | None
) -> Trace:
    """What every generated executor does: state, an output, an event, maybe more sends."""
    seen = ctx.get_state("last", "nobody")
    ctx.set_state("last", node_id)
    ctx.set_state(f"count:{node_id}", ctx.get_state(f"count:{node_id}", 0) + 1)
    ctx.yield_output(f"{node_id} saw {seen}")
    ctx.add_event({"node": node_id, "length": len(trace.path)})
    out = Trace(path=[*trace.path, node_id])
    if spec.extra and len(trace.path) % 2 == 1:
        ctx.send_message(Trace(path=[*out.path, "extra", node_id]), target_id=target)
    if spec.asks and len(trace.path) % 3 == 0:
        ctx.request_info(Trace(path=[*out.path, "asks"]), response_type=Trace)
    if spec.halt and len(trace.path) >= HALT_AT:
        ctx.request_halt()
    return out


def _joined(batch: list[Trace]) -> Trace:
    """A fan-in batch as one trace (keeps the longest path, so self-loops still end)."""
    longest = max(batch, key=lambda t: len(t.path))
    return Trace(path=[*longest.path, "[" + "|".join("/".join(t.path) for t in batch) + "]"])


class TraceNode(Executor):
    """The class executor of generated workflows (a handler for a trace and for a batch)."""

    def __init__(self, id: str, spec: NodeSpec, target: str | None = None) -> None:
        super().__init__(id, retry=_retry(spec), timeout=_timeout(spec))
        self.spec = spec
        self.target = target

    @handler
    def on_trace(self, trace: Trace, ctx: WorkflowContext[Trace, str]) -> Trace:
        return _step(self.id, self.spec, trace, ctx, self.target)

    @handler
    def on_batch(self, batch: list[Trace], ctx: WorkflowContext[Trace, str]) -> Trace:
        return _step(self.id, self.spec, _joined(batch), ctx, self.target)


class AskingTraceNode(TraceNode):
    """A `TraceNode` that asks, and answers in its response handler."""

    @response_handler
    def on_answer(self, asked: Trace, answer: Trace, ctx: WorkflowContext[Trace, str]) -> Trace:
        ctx.yield_output(f"{self.id} got {'/'.join(answer.path)}")
        return Trace(path=[*asked.path, *answer.path])


def _sub_workflow(name: str, sub: SubKind) -> Workflow:
    """A small child workflow: enter -> [a port or a delay] -> leave, over traces."""

    @executor(id="enter")
    def enter(trace: Trace) -> Trace:
        return Trace(path=[*trace.path, f"{name}.enter"])

    @executor(id="leave")
    def leave(trace: Trace) -> Trace:
        return Trace(path=[*trace.path, f"{name}.leave"])

    middle: list[Node] = []
    if sub == "port":
        middle = [RequestPort("ask", request_type=Trace, response_type=Trace, timeout=timedelta(days=1))]
    elif sub == "delay":
        middle = [Delay("wait", timedelta(minutes=2), message_type=Trace)]
    return WorkflowBuilder(enter, name=name).add_chain([enter, *middle, leave]).build()


def _make(i: int, spec: NodeSpec, successors: list[str], workflow_name: str) -> list[Node]:
    """Node `n{i}`: one node, or for an agent the chain prompt -> agent -> reply."""
    node_id = f"n{i}"
    target = None
    if spec.target is not None and successors:
        target = successors[spec.target % len(successors)]
    if spec.kind == "class":
        return [(AskingTraceNode if spec.asks else TraceNode)(node_id, spec, target)]
    if spec.kind == "port":
        timeout = timedelta(days=1) if spec.timeout else None
        return [RequestPort(node_id, request_type=Trace, response_type=Trace, timeout=timeout)]
    if spec.kind == "agent":
        return _agent_chain(node_id)
    if spec.kind == "delay":
        return [Delay(node_id, timedelta(minutes=spec.minutes), message_type=Trace)]
    if spec.kind == "workflow":
        return [SubWorkflow(_sub_workflow(f"{workflow_name}_{node_id}", spec.sub), id=node_id)]
    return [_function(node_id, spec, target)]


def _expired(port_id: str) -> Node:
    @executor(id=f"{port_id}.expired")
    def expired(timed_out: RequestTimedOut[Trace]) -> Trace:
        return Trace(path=[*timed_out.request.path, f"{timed_out.request_id} timed out"])

    return expired


def _function(node_id: str, spec: NodeSpec, target: str | None) -> Node:
    def run(message: Trace | list[Trace], ctx: WorkflowContext[Trace, str]) -> Trace:
        trace = _joined(message) if isinstance(message, list) else message
        return _step(node_id, spec, trace, ctx, target)

    async def run_async(message: Trace | list[Trace], ctx: WorkflowContext[Trace, str]) -> Trace:
        return run(message, ctx)

    func = run_async if spec.kind == "async" else run
    return executor(id=node_id, retry=_retry(spec), timeout=_timeout(spec))(func)


def _agent_chain(node_id: str) -> list[Node]:
    """An agent between two adapters: ``n{i}`` (trace -> prompt), ``n{i}-agent``, ``n{i}.reply``.

    Its stand-in model answers with the prompt, the path as JSON, so runs stay deterministic.
    """
    from ..agents import Agent, DeterministicChatClient

    @executor(id=node_id)
    def prompt(message: Trace | list[Trace]) -> str:
        trace = _joined(message) if isinstance(message, list) else message
        return json.dumps([*trace.path, node_id])

    @executor(id=f"{node_id}.reply")
    def reply(response: AgentResponse[str]) -> Trace:
        return Trace(path=json.loads(response.text))

    model = DeterministicChatClient(lambda messages, _format: messages[-1].content)
    agent = Agent(f"{node_id}-agent", "Repeat the message.", model)
    return [prompt, AgentNode(agent), reply]


def _retry(spec: NodeSpec) -> RetryPolicy | None:
    return RetryPolicy(max_attempts=2, first_retry_interval=timedelta(seconds=1)) if spec.retry else None


def _timeout(spec: NodeSpec) -> timedelta | None:
    return timedelta(minutes=5) if spec.timeout else None


@dataclass(frozen=True)
class _Options:
    kinds: tuple[NodeKind, ...]
    loops: bool
    halts: bool
    targeted: bool
    policies: bool
    fan_ins: bool
    timeout_routes: bool
    asks: bool


def workflow_specs(
    *,
    min_nodes: int = 2,
    max_nodes: int = 7,
    ports: bool = True,
    agents: bool = True,
    loops: bool = True,
    halts: bool = True,
    targeted: bool = True,
    policies: bool = True,
    fan_ins: bool = True,
    timeout_routes: bool = True,
    asks: bool = True,
    delays: bool = True,
    subworkflows: bool = True,
) -> st.SearchStrategy[WorkflowSpec]:
    """Random workflow descriptions (`WorkflowSpec`); see `workflows` for the constructs."""
    kinds: tuple[NodeKind, ...] = ("class", "function", "async")
    if ports:
        kinds += ("port",)
    if agents:
        kinds += ("agent",)
    if delays:
        kinds += ("delay",)
    if subworkflows:
        kinds += ("workflow",)
    options = _Options(kinds, loops, halts, targeted, policies, fan_ins, timeout_routes, asks)
    return _specs(min_nodes, max_nodes, options)


@st.composite
def _specs(draw: st.DrawFn, min_nodes: int, max_nodes: int, options: _Options) -> WorkflowSpec:
    size = draw(st.integers(min_nodes, max_nodes))
    parents = [draw(st.integers(0, j - 1)) for j in range(1, size)]
    children: dict[int, list[int]] = defaultdict(list)
    for j, parent in enumerate(parents, start=1):
        children[parent].append(j)
    groups = []
    for source in range(size):
        targets = list(children[source])
        later = list(range(source + 1, size))
        if bool(later) and draw(st.booleans()):
            targets.append(draw(st.sampled_from(later)))  # a second route to some node
        if not targets:
            continue
        kind: GroupKind = draw(st.sampled_from(["edges", "fan-out", "switch"]))
        conditions = [draw(st.none() | st.integers(0, len(CONDITIONS) - 1)) for _ in targets]
        if kind == "edges":
            # keep the tree edges unconditional often enough that most of the graph runs
            conditions = [c if draw(st.booleans()) else None for c in conditions]
        groups.append(GroupSpec(kind, source, tuple(targets), tuple(conditions)))
    fan_ins: list[tuple[tuple[int, ...], int]] = []
    if options.fan_ins and size >= 3 and draw(st.booleans()):
        target = draw(st.integers(2, size - 1))
        sources = draw(st.lists(st.integers(0, target - 1), min_size=2, max_size=target, unique=True))
        fan_ins.append((tuple(sources), target))
    barrier_targets = {target for _, target in fan_ins}
    nodes = [NodeSpec(kind=_kind(draw, i, i in barrier_targets, options)) for i in range(size)]
    has_successor = {g.source for g in groups} | {s for f in fan_ins for s in f[0]}
    loops = tuple(
        i
        for i, node in enumerate(nodes)
        if options.loops and node.kind in ("class", "function", "async") and draw(st.booleans())
    )
    nodes = [_behaviour(draw, node, i in has_successor, options) for i, node in enumerate(nodes)]
    order = draw(st.permutations(list(range(1, size))))
    return WorkflowSpec(tuple(nodes), (0, *order), tuple(groups), tuple(fan_ins), loops)


def _kind(draw: st.DrawFn, i: int, barrier_target: bool, options: _Options) -> NodeKind:
    if i == 0:
        return "class"
    held = ("port", "delay", "workflow")
    kinds = [k for k in options.kinds if not (barrier_target and k in held)]
    return draw(st.sampled_from(kinds))  # (these take a trace, not a barrier's list)


def _behaviour(draw: st.DrawFn, node: NodeSpec, sends: bool, options: _Options) -> NodeSpec:
    if node.kind == "delay":
        return replace(node, minutes=draw(st.integers(1, 3)))
    if node.kind == "workflow":
        subs: list[SubKind] = ["plain", "delay"]
        if "port" in options.kinds:
            subs.append("port")
        return replace(node, sub=draw(st.sampled_from(subs)))
    if node.kind in ("port", "agent"):
        timeout = options.policies and node.kind == "port" and draw(st.booleans())
        route = timeout and options.timeout_routes and draw(st.booleans())
        return replace(node, timeout=timeout, timeout_route=route)
    extra = sends and draw(st.booleans())
    target = draw(st.none() | st.integers(0, 3)) if extra and options.targeted else None
    halt = options.halts and draw(st.integers(0, 5)) == 0
    retry = options.policies and draw(st.booleans())
    timeout = options.policies and draw(st.booleans())
    asks = options.asks and node.kind == "class" and draw(st.integers(0, 2)) == 0
    return NodeSpec(node.kind, extra, target, halt, retry, timeout, asks=asks)


def workflows(
    *,
    min_nodes: int = 2,
    max_nodes: int = 7,
    ports: bool = True,
    agents: bool = True,
    loops: bool = True,
    halts: bool = True,
    targeted: bool = True,
    policies: bool = True,
    fan_ins: bool = True,
    timeout_routes: bool = True,
    asks: bool = True,
    delays: bool = True,
    subworkflows: bool = True,
) -> st.SearchStrategy[Workflow]:
    """Random valid workflows over `Trace` messages (every construct unless switched off).

    Start them with ``Trace(path=["in"])``; answer their ports with any `Trace`. Graphs the
    builder refuses (a barrier over two cases of one switch-case, B7) are drawn again.
    """
    specs = workflow_specs(
        min_nodes=min_nodes,
        max_nodes=max_nodes,
        ports=ports,
        agents=agents,
        loops=loops,
        halts=halts,
        targeted=targeted,
        policies=policies,
        fan_ins=fan_ins,
        timeout_routes=timeout_routes,
        asks=asks,
        delays=delays,
        subworkflows=subworkflows,
    )
    return specs.map(build_or_none).filter(lambda w: w is not None)  # type: ignore[return-value]


def build_or_none(spec: WorkflowSpec) -> Workflow | None:
    """`spec.build()`, or None when the builder refuses the graph (a barrier that never fires)."""
    try:
        return spec.build()
    except WorkflowValidationError as exc:
        if {issue.code for issue in exc.issues} == {"fan-in-never-fires"}:
            return None
        raise
