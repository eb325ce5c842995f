"""Per-call structured output across processes: a pydantic class travels as its import path.

The caller sends ``{"module": ..., "qualname": ...}``; the worker running the turn imports the
class to request its schema and validate the reply. So a per-call `response_format` must be
defined at module level in a module the worker can import (the caller's own module usually is).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from pydantic import BaseModel

from ..errors import DurableWorkflowsError


class ResponseFormatError(DurableWorkflowsError, TypeError):
    """A per-call `response_format` cannot be sent to, or found by, the worker."""


def format_ref(model: type[BaseModel] | None) -> dict[str, str] | None:
    """The import path of `model` (``None`` for no per-call format)."""
    if model is None:
        return None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        msg = f"response_format must be a pydantic model class, not {model!r}"
        raise ResponseFormatError(msg)
    if "<locals>" in model.__qualname__ or "[" in model.__qualname__:
        msg = (
            f"response_format {model.__qualname__} cannot be imported by a worker: define the "
            "class at module level (not inside a function, not a parametrized generic)"
        )
        raise ResponseFormatError(msg)
    return {"module": model.__module__, "qualname": model.__qualname__}


def resolve_format(ref: Any) -> type[BaseModel] | None:
    """The class `ref` names (``None`` for no per-call format); raises `ResponseFormatError`."""
    if ref is None:
        return None
    module_name, qualname = str(ref.get("module")), str(ref.get("qualname"))
    where = f"{module_name}.{qualname}"
    try:
        found: Any = sys.modules.get(module_name) or importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        msg = (
            f"the worker cannot import response_format {where} ({exc}); define it in a module "
            "that the worker process imports too"
        )
        raise ResponseFormatError(msg) from exc
    if not (isinstance(found, type) and issubclass(found, BaseModel)):
        msg = f"response_format {where} is not a pydantic model class in the worker"
        raise ResponseFormatError(msg)
    return found
