"""Finding what a ``durable-workflows`` command works on: ``MODULE[:ATTRIBUTE]`` targets."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import DurableWorkflowsError
from ..graph.builder import WorkflowBuilder
from ..graph.workflow import Workflow
from ..values.typing_utils import a_type

DEFAULT_ATTRIBUTES = ("workflow", "build_workflow")
"""Attributes tried, in order, when a target names only a module."""


class UsageError(DurableWorkflowsError):
    """The command line is wrong: the target cannot be found or an argument is malformed."""


def load_module(spec: str) -> ModuleType:
    """Import a dotted module name, or a ``.py`` file by path (its folder goes on sys.path)."""
    if spec.endswith(".py") or os.sep in spec or "/" in spec:
        path = Path(spec).resolve()
        if not path.is_file():
            raise UsageError(f"no such file: {spec}")
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        if module_spec is None or module_spec.loader is None:
            raise UsageError(f"cannot import {spec} as a Python module")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[path.stem] = module
        try:
            module_spec.loader.exec_module(module)
        except DurableWorkflowsError:
            raise
        except Exception as exc:
            raise TargetImportError(spec, exc) from exc
        return module
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(spec)
    except ModuleNotFoundError as exc:
        if exc.name and spec.startswith(exc.name):
            raise UsageError(f"no module named {spec!r} (from the current directory)") from exc
        raise TargetImportError(spec, exc) from exc
    except DurableWorkflowsError:
        raise
    except Exception as exc:
        raise TargetImportError(spec, exc) from exc


class TargetImportError(DurableWorkflowsError):
    """Importing a target's module raised: the message is the module's own traceback."""

    def __init__(self, spec: str, error: BaseException) -> None:
        report = traceback.TracebackException.from_exception(error)
        report.stack = traceback.StackSummary.from_list(
            [frame for frame in report.stack if not frame.filename.startswith(_MACHINERY)]
        )
        super().__init__(f"importing {spec} failed:\n" + "".join(report.format()).rstrip())


_MACHINERY = (
    str(Path(__file__).resolve().parent),
    str(Path(importlib.__file__ or "importlib").parent),
    "<frozen importlib",
)
"""Where the frames of this command and of the import system are: left out of reports."""


def load_target(target: str) -> Any:
    """The object `target` (``MODULE[:ATTRIBUTE]``) names; zero-argument functions are called."""
    module_spec, _, attribute = target.rpartition(":")
    if not module_spec or not attribute.replace(".", "").replace("_", "").isalnum():
        module_spec, attribute = target, ""
    module = load_module(module_spec)
    names = attribute.split(".") if attribute else _default_attribute(module, module_spec)
    obj: Any = module
    for name in names:
        if not hasattr(obj, name):
            raise UsageError(f"{module_spec!r} has no attribute {'.'.join(names)!r}")
        obj = getattr(obj, name)
    if callable(obj) and not isinstance(obj, (Workflow, WorkflowBuilder, type)):
        obj = obj()
    return obj


def _default_attribute(module: ModuleType, spec: str) -> list[str]:
    for name in DEFAULT_ATTRIBUTES:
        if hasattr(module, name):
            return [name]
    found = [k for k, v in vars(module).items() if isinstance(v, (Workflow, WorkflowBuilder))]
    if len(found) == 1:
        return found
    hint = f"one of {', '.join(found)}" if found else "the attribute holding the workflow"
    msg = f"{spec!r} has no `workflow` or `build_workflow`; name {hint}: {spec}:ATTRIBUTE"
    raise UsageError(msg)


def load_graph(target: str) -> Workflow | WorkflowBuilder:
    """A `Workflow` or `WorkflowBuilder` from `target`."""
    obj = load_target(target)
    if not isinstance(obj, (Workflow, WorkflowBuilder)):
        msg = f"{target!r} is {a_type(obj)}, not a Workflow or WorkflowBuilder"
        raise UsageError(msg + " (or a function returning one)")
    return obj


def load_workflow(target: str) -> Workflow:
    """A built `Workflow` from `target` (builders are built, raising their problems)."""
    graph = load_graph(target)
    return graph.build() if isinstance(graph, WorkflowBuilder) else graph


def parse_json(text: str, what: str) -> Any:
    """JSON from the command line, with a usage error naming `what` when it is malformed."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} is not valid JSON ({exc}): {text!r:.200}") from exc
