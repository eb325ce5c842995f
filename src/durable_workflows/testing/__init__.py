"""Testing your workflows (docs/testing.md).

The in-process runner (the reference semantics), hypothesis strategies for inputs, responses
and whole workflows, `check_workflow`, the durable oracle, time skipping, and replaying a
recorded history against new code. The hypothesis-based helpers need the ``testing`` extra
(``pip install -e '.[testing]'``) and are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..durable.replay import NondeterminismError, ReplayReport, replay
from ..sidecar.clock import VirtualClock
from .oracle import DurableMismatchError, assert_durable_matches_in_process
from .runner import NO_RESPONSE, InProcessResult, InProcessRunner, run_in_process
from .scripted import run_scripted

if TYPE_CHECKING:
    from .check import WorkflowCheckError, check_workflow
    from .graphs import Trace, WorkflowSpec, workflow_specs, workflows
    from .strategies import NoStrategyError, inputs_for, responses_for, values_for

_LAZY = {
    "NoStrategyError": "strategies",
    "Trace": "graphs",
    "WorkflowCheckError": "check",
    "WorkflowSpec": "graphs",
    "check_workflow": "check",
    "inputs_for": "strategies",
    "responses_for": "strategies",
    "values_for": "strategies",
    "workflow_specs": "graphs",
    "workflows": "graphs",
}
"""Names whose modules import hypothesis: loaded when first used."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DurableMismatchError",
    "InProcessResult",
    "InProcessRunner",
    "NO_RESPONSE",
    "NoStrategyError",
    "NondeterminismError",
    "ReplayReport",
    "Trace",
    "VirtualClock",
    "WorkflowCheckError",
    "WorkflowSpec",
    "assert_durable_matches_in_process",
    "check_workflow",
    "inputs_for",
    "replay",
    "responses_for",
    "run_in_process",
    "run_scripted",
    "values_for",
    "workflow_specs",
    "workflows",
]
