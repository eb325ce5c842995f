"""An embedded, persistent Durable Task backend: a sidecar gRPC server on SQLite.

``SqliteSidecar`` speaks the ``TaskHubSidecarService`` protocol used by durabletask's
``TaskHubGrpcWorker``/``TaskHubGrpcClient`` (and durabletask-azuremanaged with
``secure_channel=False, token_credential=None``). Run it in-process, or as its own process
with ``python -m durable_workflows.sidecar --db PATH --port PORT``.
"""

from durable_workflows.sidecar.errors import SchemaVersionError, SidecarError
from durable_workflows.sidecar.schema import SCHEMA_VERSION
from durable_workflows.sidecar.server import SqliteSidecar

__all__ = ["SCHEMA_VERSION", "SchemaVersionError", "SidecarError", "SqliteSidecar"]
