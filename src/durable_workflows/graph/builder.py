"""`WorkflowBuilder`: records nodes and edge groups; `build()` validates and compiles."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Sequence

from ..errors import WorkflowDefinitionError
from ..model.agent_nodes import AgentNode
from ..model.agent_protocol import WorkflowAgent
from ..model.edges import (
    Case,
    Condition,
    Default,
    EdgeGroup,
    FanInEdge,
    FanOutEdge,
    SingleEdge,
    SwitchCaseEdge,
    TimeoutEdge,
    condition_name,
)
from ..model.nodes import Node
from ..values.typing_utils import a_type
from .spec import GraphSpec
from .subworkflow import SubWorkflow
from .validation import validate
from .workflow import Workflow

NodeRef = Node | WorkflowAgent | Workflow | str
"""What edges accept: an executor, a request port, a delay, an agent, a built workflow (a
sub-workflow), or the id of one added earlier."""


class WorkflowBuilder:
    """Builds a `Workflow` graph.

    ```python
    workflow = (
        WorkflowBuilder(lookup, name="CancelOrder")
        .add_chain([lookup, cancel, send_email])
        .build()
    )
    ```
    Every method returns the builder. Problems are collected and raised together by `build()`.
    """

    def __init__(
        self,
        start: NodeRef,
        *,
        name: str,
        description: str | None = None,
        max_supersteps: int = 100,
        version: str | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.description = description
        self.max_supersteps = max_supersteps
        self._nodes: dict[str, Node] = {}
        self._duplicates: list[tuple[str, Node, Node]] = []
        self._unknown_refs: list[tuple[str, str]] = []
        self._groups: list[EdgeGroup] = []
        self._start = self._ref(start, "the start node")

    def add_node(self, node: Node | WorkflowAgent | Workflow) -> WorkflowBuilder:
        """Add a node without edges, so that edges can refer to it by id."""
        self._ref(node, "add_node")
        return self

    def add_edge(
        self,
        source: NodeRef,
        target: NodeRef,
        condition: Condition | None = None,
        *,
        label: str | None = None,
    ) -> WorkflowBuilder:
        """`source -> target`; with `condition`, only messages for which it is true pass."""
        src, dst = self._ref(source, "add_edge"), self._ref(target, "add_edge")
        self._groups.append(SingleEdge(self._group_id(), src, dst, condition, label))
        return self

    def add_fan_out_edge(self, source: NodeRef, targets: Sequence[NodeRef]) -> WorkflowBuilder:
        """Send each message of `source` to every target (they run in the same superstep)."""
        src = self._ref(source, "add_fan_out_edge")
        dsts = tuple(self._ref(t, "add_fan_out_edge") for t in targets)
        self._groups.append(FanOutEdge(self._group_id(), src, dsts))
        return self

    def add_fan_in_barrier_edge(
        self, sources: Sequence[NodeRef], target: NodeRef
    ) -> WorkflowBuilder:
        """`target` waits for one message from every source and gets them as a list."""
        srcs = tuple(self._ref(s, "add_fan_in_barrier_edge") for s in sources)
        dst = self._ref(target, "add_fan_in_barrier_edge")
        self._groups.append(FanInEdge(self._group_id(), srcs, dst))
        return self

    def add_switch_case_edge_group(
        self, source: NodeRef, cases: Sequence[Case | Default]
    ) -> WorkflowBuilder:
        """First-match routing: the first `Case` whose condition is true, else the `Default`."""
        src = self._ref(source, "add_switch_case_edge_group")
        branches: list[tuple[Condition, str, str]] = []
        defaults: list[tuple[int, str]] = []
        problems: list[str] = []
        for index, case in enumerate(cases):
            if isinstance(case, Default):
                defaults.append((index, self._ref(case.target, "Default")))
            elif isinstance(case, Case):
                target = self._ref(case.target, "Case")
                label = case.label or condition_name(case.condition)
                branches.append((case.condition, target, label))
            else:
                problems.append(f"item {index} is {a_type(case)}, not a Case or Default")
        if len(defaults) != 1:
            problems.append(f"it has {len(defaults)} Default branches; it needs exactly one")
        elif defaults[0][0] != len(cases) - 1:
            problems.append("its Default is not the last branch; move Default(...) to the end")
        default = defaults[0][1] if defaults else None
        group = SwitchCaseEdge(self._group_id(), src, tuple(branches), default, tuple(problems))
        self._groups.append(group)
        return self

    def add_timeout_edge(self, port: NodeRef, target: NodeRef) -> WorkflowBuilder:
        """When a request at `port` times out, `target` receives a `RequestTimedOut` message
        (instead of the run failing). The port needs a `timeout`."""
        src, dst = self._ref(port, "add_timeout_edge"), self._ref(target, "add_timeout_edge")
        self._groups.append(TimeoutEdge(self._group_id(), src, dst))
        return self

    def add_chain(self, nodes: Sequence[NodeRef]) -> WorkflowBuilder:
        """`a -> b -> c ...`: one edge between each consecutive pair."""
        for source, target in itertools.pairwise(nodes):
            self.add_edge(source, target)
        return self

    def build(self) -> Workflow:
        """Validate the graph (raising every problem at once) and compile it to a `Workflow`."""
        spec = self.spec()
        validate(spec)
        return Workflow(
            name=spec.name,
            description=spec.description,
            start=spec.start_id,
            max_supersteps=spec.max_supersteps,
            nodes=dict(spec.nodes),
            groups=spec.groups,
            version=spec.version,
        )

    def spec(self) -> GraphSpec:
        """The graph recorded so far, as validation and compilation read it."""
        return GraphSpec(
            name=self.name,
            description=self.description,
            start_id=self._start,
            max_supersteps=self.max_supersteps,
            nodes=dict(self._nodes),
            groups=tuple(self._groups),
            duplicates=tuple(self._duplicates),
            unknown_refs=tuple(self._unknown_refs),
            version=self.version,
        )

    # -- what rendering reads from a builder not yet built ----------------------------------

    @property
    def start_id(self) -> str:
        """The start node's id."""
        return self._start

    @property
    def nodes(self) -> dict[str, Node]:
        """The nodes in the order they were first referenced."""
        return dict(self._nodes)

    @property
    def groups(self) -> tuple[EdgeGroup, ...]:
        """The edge groups in declaration order."""
        return tuple(self._groups)

    def _repr_svg_(self) -> str | None:
        """Inline SVG in Jupyter, drawn without building (see `rendering.output.inline_svg`)."""
        from ..rendering.output import inline_svg

        return inline_svg(self)

    def _repr_html_(self) -> str | None:
        """None (the SVG shows), or an HTML note on what to install when graphviz is missing."""
        from ..rendering.output import inline_html

        return inline_html()

    def __repr__(self) -> str:
        return (
            f"WorkflowBuilder(name={self.name!r}, start={self._start!r}, "
            f"nodes={len(self._nodes)}, edge_groups={len(self._groups)}; not built)"
        )

    def _group_id(self) -> str:
        return f"g{len(self._groups)}"

    def _ref(self, obj: NodeRef, where: str) -> str:
        if isinstance(obj, str):
            if obj not in self._nodes:
                self._unknown_refs.append((obj, where))
            return obj
        node = _as_node(obj, where)
        existing = self._nodes.get(node.id)
        if existing is None:
            self._nodes[node.id] = node
        elif not _same(existing, node):
            self._duplicates.append((node.id, existing, node))
        return node.id


def _same(a: Node, b: Node) -> bool:
    if a is b:
        return True
    if isinstance(a, SubWorkflow) and isinstance(b, SubWorkflow):
        return a.workflow is b.workflow
    return isinstance(a, AgentNode) and isinstance(b, AgentNode) and a.agent is b.agent


def _as_node(obj: object, where: str) -> Node:
    if isinstance(obj, Node):
        return obj
    if isinstance(obj, WorkflowAgent):
        return AgentNode(obj)
    if isinstance(obj, Workflow):
        return SubWorkflow(obj)
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        msg = (
            f"{where}: function {obj.__qualname__!r} is not an executor; decorate it with "
            "@executor (or @executor(id=...))"
        )
        raise WorkflowDefinitionError(msg)
    if isinstance(obj, type):
        msg = f"{where}: got the class {obj.__qualname__}; pass an instance, e.g. {obj.__name__}()"
        raise WorkflowDefinitionError(msg)
    if isinstance(obj, WorkflowBuilder):
        msg = f"{where}: got a WorkflowBuilder; pass the built workflow (.build()) to use it as a node"
        raise WorkflowDefinitionError(msg)
    msg = f"{where}: {type(obj).__qualname__} is not an executor, request port, delay, agent or workflow"
    raise WorkflowDefinitionError(msg)
