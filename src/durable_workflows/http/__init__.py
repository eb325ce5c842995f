"""The HTTP API: workflows and agents served over HTTP (the ``http`` extra).

```python
from durable_workflows.http import create_app

app = create_app(host, api_key="...")   # an ASGI app; run it with uvicorn
```
or, from the command line, ``durable-workflows serve TARGET...`` (see docs/http.md).
"""

from __future__ import annotations

import importlib.util

from ..errors import DurableWorkflowsError


class MissingDependencyError(DurableWorkflowsError, ImportError):
    """An optional dependency is not installed; the message says which extra provides it."""


_missing = [name for name in ("fastapi", "uvicorn") if importlib.util.find_spec(name) is None]
if _missing:
    raise MissingDependencyError(
        f"the HTTP API needs {' and '.join(_missing)}: pip install -e '.[http]' "
        "in a clone of durable_workflows"
    )

from .app import DEFAULT_MAX_BODY_BYTES, create_app  # noqa: E402
from .errors import (  # noqa: E402
    AgentTurnFailedError,
    AuthenticationError,
    BackendUnavailableError,
    BadRequestError,
    ConflictError,
    HttpApiError,
    NotFoundError,
    PayloadTooLargeError,
)
from .server import serve  # noqa: E402

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "AgentTurnFailedError",
    "AuthenticationError",
    "BackendUnavailableError",
    "BadRequestError",
    "ConflictError",
    "HttpApiError",
    "MissingDependencyError",
    "NotFoundError",
    "PayloadTooLargeError",
    "create_app",
    "serve",
]
