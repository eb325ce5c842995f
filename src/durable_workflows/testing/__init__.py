"""Test helpers: the in-process runner (the reference semantics) and a local OpenAI server."""

from ..sidecar.clock import VirtualClock
from .runner import InProcessResult, InProcessRunner, run_in_process

__all__ = ["InProcessResult", "InProcessRunner", "VirtualClock", "run_in_process"]
