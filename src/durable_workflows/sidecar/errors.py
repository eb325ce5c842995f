"""Errors raised by the SQLite sidecar."""

from __future__ import annotations

from durable_workflows.errors import DurableWorkflowsError


class SidecarError(DurableWorkflowsError):
    """A problem with the embedded Durable Task sidecar."""


class SchemaVersionError(SidecarError):
    """The database was written by a newer, incompatible version of the sidecar."""


class InstanceNotFoundError(SidecarError, LookupError):
    """No orchestration instance has the requested id."""


class InstanceExistsError(SidecarError):
    """An orchestration instance with that id exists and may not be replaced."""


class InstanceStateError(SidecarError):
    """The operation is not allowed in the instance's current status."""
