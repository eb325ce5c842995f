"""Validation of a `GraphSpec` (run by `build()`): every problem is collected, then raised once."""

from __future__ import annotations

import inspect
import re
from typing import Any

import networkx as nx

from ..errors import ValidationIssue, WorkflowValidationError
from ..model.edges import (
    EdgeGroup,
    FanInEdge,
    FanOutEdge,
    SingleEdge,
    SwitchCaseEdge,
    TimeoutEdge,
    group_targets,
)
from ..model.edges import group_sources as sources_of
from ..model.nodes import Node
from ..model.ports import RequestPort, timed_out_type
from ..values.serialization import json_problem
from ..values.typing_utils import a_type, is_assignable, short_name, union_members
from .spec import GraphSpec

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")

RESERVED_PREFIX = "_"
"""Internal orchestrations are named as if for a workflow whose name starts with this; no
workflow name can (NAME_PATTERN), so they never collide with a user's workflow."""


def validate(spec: GraphSpec) -> None:
    """Raise `WorkflowValidationError` listing every problem of the graph."""
    issues = collect_issues(spec)
    if issues:
        raise WorkflowValidationError(spec.name, issues)


def collect_issues(spec: GraphSpec) -> list[ValidationIssue]:
    """Every problem of the graph, in a stable order."""
    issues: list[ValidationIssue] = []
    issues += _check_settings(spec)
    issues += _check_ids(spec)
    issues += _check_groups(spec)
    issues += _check_timeout_edges(spec)
    graph = to_networkx(spec)
    issues += _check_reachability(spec, graph)
    issues += _check_types(spec)
    issues += _check_json_types(spec)
    issues += _check_fan_in_can_fire(spec, graph)
    return list(dict.fromkeys(issues))


def to_networkx(spec: GraphSpec) -> nx.MultiDiGraph:
    """A multigraph of the declared nodes; one edge per (group, source, target)."""
    nodes = spec.nodes
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(
        (source, target, group.id)
        for group in spec.groups
        for source in sources_of(group)
        for target in group_targets(group)
        if source in nodes and target in nodes
    )
    return graph


def _issue(code: str, message: str, *ids: str) -> ValidationIssue:
    return ValidationIssue(code=code, message=message, ids=ids)


def _check_settings(spec: GraphSpec) -> list[ValidationIssue]:
    issues = []
    if isinstance(spec.name, str) and spec.name.startswith(RESERVED_PREFIX):
        issues.append(
            _issue(
                "workflow-name",
                f"workflow name {spec.name!r} starts with {RESERVED_PREFIX!r}, which is "
                "reserved for durable_workflows' internal orchestrations; start it with a letter",
            )
        )
    elif not isinstance(spec.name, str) or not NAME_PATTERN.match(spec.name):
        issues.append(
            _issue(
                "workflow-name",
                f"workflow name {spec.name!r} is not a stable identifier: it must match "
                f"{NAME_PATTERN.pattern} (a letter, then letters, digits, '_' or '-', at most 63)",
            )
        )
    if spec.version is not None and (
        not isinstance(spec.version, str) or not VERSION_PATTERN.match(spec.version)
    ):
        issues.append(
            _issue(
                "workflow-version",
                f"workflow version {spec.version!r} is not a stable label: it must match "
                f"{VERSION_PATTERN.pattern} (a letter or digit, then letters, digits, '.', '_' "
                "or '-', at most 63), e.g. version=\"2\" or version=\"2024-06\"",
            )
        )
    max_steps = spec.max_supersteps
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        issues.append(
            _issue("max-supersteps", f"max_supersteps must be a positive int, got {max_steps!r}")
        )
    return issues


def _check_ids(spec: GraphSpec) -> list[ValidationIssue]:
    issues = [
        _issue(
            "duplicate-id",
            f"two different nodes use the id {node_id!r} ({_describe(first)} and "
            f"{_describe(other)}); give one of them another id",
            node_id,
        )
        for node_id, first, other in spec.duplicates
    ]
    issues += [
        _issue(
            "unknown-node",
            f"{where} refers to {node_id!r}, but no node with that id was added; pass the "
            "node object or add it first with add_node()",
            node_id,
        )
        for node_id, where in spec.unknown_refs
    ]
    return issues


def _describe(node: Node) -> str:
    return a_type(node)


def _check_groups(spec: GraphSpec) -> list[ValidationIssue]:
    issues = []
    for group in spec.groups:
        if isinstance(group, SwitchCaseEdge):
            issues += [
                _issue(
                    "switch-case",
                    f"switch-case group from {group.source!r}: {problem}",
                    group.source,
                )
                for problem in group.problems
            ]
            for condition, target, label in group.cases:
                issues += _check_condition(
                    condition,
                    f"case {label!r} of the switch-case group from {group.source!r} to {target!r}",
                    group.source,
                )
        elif isinstance(group, SingleEdge) and group.condition is not None:
            issues += _check_condition(
                group.condition,
                f"the condition of edge {group.source!r} -> {group.target!r}",
                group.source,
            )
        elif isinstance(group, FanOutEdge) and not group.targets:
            issues.append(
                _issue("empty-group", f"fan-out from {group.source!r} has no targets", group.source)
            )
        elif isinstance(group, FanInEdge):
            if len(group.sources) < 1:
                issues.append(
                    _issue(
                        "empty-group", f"fan-in to {group.target!r} has no sources", group.target
                    )
                )
            repeated = sorted({s for s in group.sources if group.sources.count(s) > 1})
            if repeated:
                issues.append(
                    _issue(
                        "fan-in-duplicate-source",
                        f"fan-in to {group.target!r} lists {', '.join(map(repr, repeated))} more "
                        "than once; list each source once",
                        group.target,
                        *repeated,
                    )
                )
    return issues


def _check_timeout_edges(spec: GraphSpec) -> list[ValidationIssue]:
    issues = []
    for group in spec.groups:
        if not isinstance(group, TimeoutEdge) or group.source not in spec.nodes:
            continue
        node = spec.nodes[group.source]
        if not isinstance(node, RequestPort):
            problem = f"{group.source!r} is a {node.kind}, not a request port; only a port's requests time out"
        elif node.timeout is None:
            problem = (
                f"port {group.source!r} has no timeout; give it one, e.g. "
                f"RequestPort({group.source!r}, ..., timeout=timedelta(hours=1))"
            )
        else:
            continue
        message = f"timeout edge {group.source!r} -> {group.target!r}: {problem}"
        issues.append(_issue("timeout-edge", message, group.source))
    return issues


def _check_condition(condition: Any, where: str, node_id: str) -> list[ValidationIssue]:
    call = getattr(condition, "__call__", None)  # noqa: B004 - also inspect callable objects
    if not callable(condition):
        return [_issue("condition", f"{where} is not callable", node_id)]
    if inspect.iscoroutinefunction(condition) or inspect.iscoroutinefunction(call):
        return [
            _issue(
                "async-condition",
                f"{where} is async; conditions run inside the durable orchestrator and must be "
                "plain, deterministic functions. Make it a regular `def`, and move I/O into an "
                "executor that returns what the condition needs",
                node_id,
            )
        ]
    return []


def _check_reachability(spec: GraphSpec, graph: nx.MultiDiGraph) -> list[ValidationIssue]:
    start = spec.start_id
    if start not in spec.nodes:
        return [_issue("start", f"the start node {start!r} is not part of the graph", start)]
    reachable = nx.descendants(graph, start) | {start}
    return [
        _issue(
            "unreachable",
            f"{node_id!r} is not reachable from the start node {start!r}; add an edge into "
            "it or remove it",
            node_id,
        )
        for node_id in spec.nodes
        if node_id not in reachable
    ]


def _check_types(spec: GraphSpec) -> list[ValidationIssue]:
    issues = []
    nodes = spec.nodes
    for group in spec.groups:
        for source in sources_of(group):
            for target in group_targets(group):
                if source not in nodes or target not in nodes:
                    continue
                sent = nodes[source].output_types
                accepted = nodes[target].input_types
                if isinstance(group, TimeoutEdge):
                    port = nodes[source]
                    if not isinstance(port, RequestPort):
                        continue  # reported by _check_timeout_edges
                    sent = (timed_out_type(port),)
                if isinstance(group, FanInEdge):
                    sent = tuple(list[t] for t in sent)  # type: ignore[valid-type]
                if not any(is_assignable(s, a) for s in sent for a in accepted):
                    issues.append(_type_issue(group, source, target, sent, accepted))
    return issues


def _check_json_types(spec: GraphSpec) -> list[ValidationIssue]:
    issues = []
    for node in spec.nodes.values():
        declared = (*node.input_types, *node.output_types, *node.yield_types)
        for tp in dict.fromkeys(m for t in declared for m in union_members(t)):
            problem = json_problem(tp)
            if problem is not None:
                issues.append(
                    _issue(
                        "unserializable-type",
                        f"{node.kind} {node.id!r} declares {short_name(tp)}, whose values cannot "
                        f"travel between processes as JSON ({problem}); use a pydantic model, "
                        "dataclass or JSON type (str, int, float, bool, None, and lists, tuples "
                        "and dicts of those) instead",
                        node.id,
                    )
                )
    return issues


def _type_issue(
    group: EdgeGroup, source: str, target: str, sent: tuple[Any, ...], accepted: tuple[Any, ...]
) -> ValidationIssue:
    sent_names = " | ".join(short_name(t) for t in sent) or (
        "nothing (it returns None and takes no WorkflowContext[...])"
    )
    accepted_names = " | ".join(short_name(t) for t in accepted)
    extra = ""
    if isinstance(group, FanInEdge):
        extra = " (a fan-in target receives a list of its sources' messages)"
    if isinstance(group, TimeoutEdge):
        extra = " (a timeout edge delivers the port's timed-out requests)"
    return _issue(
        "type-mismatch",
        f"edge {source!r} -> {target!r}: {source!r} sends {sent_names}, but {target!r} accepts "
        f"{accepted_names}{extra}; change one of the annotations",
        source,
        target,
    )


def _check_fan_in_can_fire(spec: GraphSpec, graph: nx.MultiDiGraph) -> list[ValidationIssue]:
    start = spec.start_id
    if start not in graph:
        return []
    issues = []
    switches = [g for g in spec.groups if isinstance(g, SwitchCaseEdge)]
    for group in spec.groups:
        if not isinstance(group, FanInEdge):
            continue
        sources = [s for s in group.sources if s in graph]
        for source in sources:
            if source != start and not _reachable_without(graph, start, source, group.target):
                issues.append(
                    _issue(
                        "fan-in-never-fires",
                        f"fan-in barrier into {group.target!r} can never fire: its source "
                        f"{source!r} is only reached through {group.target!r} itself",
                        group.target,
                        source,
                    )
                )
        for switch in switches:
            required = {s: _required_branch(graph, start, switch, s) for s in sources}
            for i, a in enumerate(sources):
                for b in sources[i + 1 :]:
                    ta, tb = required[a], required[b]
                    if ta is not None and tb is not None and ta != tb:
                        issues.append(
                            _issue(
                                "fan-in-never-fires",
                                f"fan-in barrier into {group.target!r} can never fire: its sources "
                                f"{a!r} and {b!r} lie on different cases ({ta!r} and {tb!r}) of the "
                                f"switch-case group from {switch.source!r}, so only one of them runs",
                                group.target,
                                a,
                                b,
                            )
                        )
    return issues


def _reachable_without(graph: nx.MultiDiGraph, start: str, node: str, removed: str) -> bool:
    if removed == start:
        return node == start
    view = nx.restricted_view(graph, [removed], [])
    return bool(nx.has_path(view, start, node))


def _required_branch(
    graph: nx.MultiDiGraph, start: str, switch: SwitchCaseEdge, node: str
) -> str | None:
    """The single branch target of `switch` every path to `node` takes (None if not unique).

    A switch inside a loop can take different branches on different passes, so it constrains
    nothing there.
    """
    if switch.source not in graph or node == start:
        return None
    targets = [t for t in dict.fromkeys(switch.targets) if t in graph]
    if any(nx.has_path(graph, t, switch.source) for t in targets):
        return None
    needed = []
    for target in targets:
        others = [(switch.source, t, switch.id) for t in targets if t != target]
        view = nx.restricted_view(graph, [], others)
        if not nx.has_path(view, start, node):
            continue
        needed.append(target)
    return needed[0] if len(needed) == 1 and _only_via_switch(graph, start, switch, node) else None


def _only_via_switch(graph: nx.MultiDiGraph, start: str, switch: SwitchCaseEdge, node: str) -> bool:
    edges = [(switch.source, t, switch.id) for t in dict.fromkeys(switch.targets) if t in graph]
    view = nx.restricted_view(graph, [], edges)
    return node != switch.source and not nx.has_path(view, start, node)
