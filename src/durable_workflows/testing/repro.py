"""Writing a failing example down as a ready-to-paste pytest test.

Values become Python expressions (models and dataclasses as constructor calls, enums as
members), with the imports they need. Objects defined at module level (the workflow, an
invariant function) are imported from where they live; anything else gets a placeholder.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel

from ..graph.workflow import Workflow


class Source:
    """Collects the imports a piece of generated code needs."""

    def __init__(self) -> None:
        self.imports: dict[str, set[str]] = {}
        self.modules: set[str] = set()
        self.missing: set[str] = set()
        """Names used but not importable (defined inside a function): the user defines them."""

    def name(self, obj: Any) -> str | None:
        """An importable name for a module-level object (class, function, workflow), or None."""
        module, qualname = _home(obj)
        if module is None or qualname is None:
            return None
        top = qualname.split(".")[0]
        self.imports.setdefault(module, set()).add(top)
        return qualname

    def value(self, value: Any) -> str:
        """A Python expression for `value`."""
        if value is None or isinstance(value, (bool, int, str)):
            return repr(value)
        if isinstance(value, float):
            return repr(value) if value == value and abs(value) != float("inf") else f"float({str(value)!r})"
        if isinstance(value, list):
            return "[" + ", ".join(self.value(v) for v in value) + "]"
        if isinstance(value, tuple):
            inner = ", ".join(self.value(v) for v in value)
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{self.value(k)}: {self.value(v)}" for k, v in value.items()) + "}"
        if isinstance(value, enum.Enum):
            return f"{self._class(type(value))}.{value.name}"
        if isinstance(value, BaseModel):
            fields = {name: getattr(value, name) for name in type(value).model_fields}
            return self._call(type(value), fields)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init}
            return self._call(type(value), fields)
        return self._repr(value)

    def header(self) -> str:
        """The import lines, sorted."""
        lines = [f"import {module}" for module in sorted(self.modules)]
        lines += [
            f"from {module} import {', '.join(sorted(names))}"
            for module, names in sorted(self.imports.items())
        ]
        if self.missing:
            lines.append(f"# fill in (not importable or not printable): {', '.join(sorted(self.missing))}")
        return "\n".join(lines)

    def _call(self, cls: type, fields: dict[str, Any]) -> str:
        args = ", ".join(f"{name}={self.value(v)}" for name, v in fields.items())
        return f"{self._class(cls)}({args})"

    def _class(self, cls: type) -> str:
        meta = getattr(cls, "__pydantic_generic_metadata__", None) or {}
        origin = meta.get("origin")
        if origin is not None:  # AgentResponse[str]: import AgentResponse, write its name
            self.name(origin)
            for arg in meta.get("args", ()):
                if isinstance(arg, type) and arg.__module__ != "builtins":
                    self.name(arg)
            return cls.__name__
        found = self.name(cls)
        if found is None:
            self.missing.add(cls.__qualname__)
            return cls.__name__
        return found

    def _repr(self, value: Any) -> str:
        text = repr(value)
        cls = type(value)
        if text.startswith("<"):  # no constructor-like repr: leave a placeholder
            self.missing.add(f"a {cls.__qualname__} value for the `...`")
            return "..."

        if text.startswith(cls.__module__ + "."):
            self.modules.add(cls.__module__)
        elif text.startswith(cls.__name__ + "("):
            self.name(cls)
        return text


def _home(obj: Any) -> tuple[str | None, str | None]:
    """(module, qualified name) where `obj` can be imported from, if it can."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if module and qualname and "<" not in qualname:
        found = sys.modules.get(module)
        target: Any = found
        for part in qualname.split("."):
            target = getattr(target, part, None)
        if target is obj:
            return module, qualname
    return _find_global(obj)


def _find_global(obj: Any) -> tuple[str | None, str | None]:
    """A module-level name bound to `obj` (e.g. a workflow): on the call stack first, then in
    any imported module (so a script's ``from flows import *`` still points at ``flows``)."""
    found: tuple[str | None, str | None] = (None, None)
    for frame_info in inspect.stack()[2:]:
        module = frame_info.frame.f_globals.get("__name__")
        name = _bound_name(frame_info.frame.f_globals, obj)
        if name is not None and module in sys.modules:
            found = (module, name)
            break
    if found[0] in (None, "__main__"):
        for module, loaded in list(sys.modules.items()):
            name = _bound_name(getattr(loaded, "__dict__", {}), obj)
            if name is not None and module != "__main__":
                return module, name
    return found


def _bound_name(namespace: dict[str, Any], obj: Any) -> str | None:
    return next((k for k, v in namespace.items() if v is obj and not k.startswith("_")), None)


def reproduction(
    workflow: Workflow,
    message: Any,
    answers: Sequence[Sequence[tuple[str, Any]]],
    *,
    reason: str,
    assertion: str,
    invariant: Callable[..., Any] | None = None,
) -> str:
    """A pytest test that replays `message` and `answers` on `workflow` and fails like it did.

    `assertion` is the check that failed, written over `result` (and `message`); it may name
    ``{invariant}`` for the invariant's importable name.
    """
    source = Source()
    source.imports["durable_workflows.testing"] = {"run_scripted"}
    flow = source.name(workflow)
    check = source.name(invariant) if invariant is not None else None
    lines = [f"    message = {source.value(message)}"]
    if flow is None:
        lines.insert(0, f"    workflow = ...  # the workflow {workflow.name!r} you checked")
        flow = "workflow"
    batches = ",\n".join(
        "        [" + ", ".join(f"({source.value(r)}, {source.value(v)})" for r, v in batch) + "]"
        for batch in answers
    )
    lines.append(f"    result = run_scripted({flow}, message, [\n{batches}\n    ])" if answers
                 else f"    result = run_scripted({flow}, message)")
    if "{invariant}" in assertion:
        if check is None:
            assertion = "# the invariant failed here (it is not importable: paste its check)"
        else:
            assertion = assertion.replace("{invariant}", check)
    lines.append(f"    {assertion}")
    name = re.sub(r"\W", "_", workflow.name.lower())
    why = "\n".join(f"    # {line}" for line in reason.splitlines()[:5])
    body = "\n".join(lines)
    return (
        f"{source.header()}\n\n\ndef test_{name}_counterexample() -> None:\n"
        f"    # found by check_workflow:\n{why}\n{body}\n"
    )
