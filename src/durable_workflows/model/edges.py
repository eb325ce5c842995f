"""Edge groups: how a message sent by a node reaches other nodes.

Groups are kept as they were declared; routing (in `engine`) walks a node's groups in
declaration order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Condition = Callable[[Any], bool]


def condition_name(condition: Condition | None) -> str:
    """A readable name for a condition (its function name, or 'lambda')."""
    if condition is None:
        return ""
    name = getattr(condition, "__name__", type(condition).__name__)
    return "lambda" if name == "<lambda>" else name


@dataclass(frozen=True)
class Case:
    """A switch-case branch: `target` receives the message when `condition(message)` is true."""

    condition: Condition
    target: Any
    label: str | None = None
    """Shown on diagrams; defaults to the condition's name."""


@dataclass(frozen=True)
class Default:
    """The switch-case branch taken when no `Case` matched. Exactly one, last."""

    target: Any


@dataclass(frozen=True)
class SingleEdge:
    """`source -> target`, delivered when `condition` is absent or true."""

    id: str
    source: str
    target: str
    condition: Condition | None = None
    label: str | None = None


@dataclass(frozen=True)
class FanOutEdge:
    """`source -> every target`, each getting the same message."""

    id: str
    source: str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class FanInEdge:
    """A barrier: `target` gets a list, one message from each source in declaration order."""

    id: str
    sources: tuple[str, ...]
    target: str


@dataclass(frozen=True)
class SwitchCaseEdge:
    """First-match routing: the first true case's target, else the default target."""

    id: str
    source: str
    cases: tuple[tuple[Condition, str, str], ...]
    """(condition, target, label) in declaration order."""
    default: str | None
    problems: tuple[str, ...] = field(default=())
    """Declaration problems found when the group was added, reported by `build()`."""

    @property
    def targets(self) -> tuple[str, ...]:
        """All targets, cases first, then the default."""
        tail = (self.default,) if self.default is not None else ()
        return tuple(target for _, target, _ in self.cases) + tail


@dataclass(frozen=True)
class TimeoutEdge:
    """`port -> target` for the port's requests that time out (a `RequestTimedOut` message)."""

    id: str
    source: str
    target: str


EdgeGroup = SingleEdge | FanOutEdge | FanInEdge | SwitchCaseEdge | TimeoutEdge


def group_sources(group: EdgeGroup) -> tuple[str, ...]:
    """The nodes whose messages the group routes."""
    if isinstance(group, FanInEdge):
        return group.sources
    return (group.source,)


def group_targets(group: EdgeGroup) -> tuple[str, ...]:
    """The nodes the group can deliver to."""
    if isinstance(group, (SingleEdge, TimeoutEdge)):
        return (group.target,)
    if isinstance(group, FanInEdge):
        return (group.target,)
    return group.targets
