"""External event payloads reach the orchestrator as raw text, so that it judges them itself.

durabletask decodes an event's JSON while it replays history; a malformed payload would raise
there and fail the run before the orchestrator sees it. Workers created by this library use
`EventDataConverter`, which hands payloads asked for as `RawEventData` over undecoded.
"""

from __future__ import annotations

from typing import Any

from durabletask.serialization import JsonDataConverter


class RawEventData:
    """Marker type: ``wait_for_external_event(name, data_type=RawEventData)`` gets raw text."""


class EventDataConverter(JsonDataConverter):
    """durabletask's JSON converter, except that `RawEventData` payloads stay raw text."""

    def deserialize(self, data: str | None, target_type: type | None = None) -> Any:
        if target_type is RawEventData:
            return data
        return super().deserialize(data, target_type)
