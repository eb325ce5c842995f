"""Test helpers: the in-process runner (the reference semantics) and a local OpenAI server."""

from .runner import NO_RESPONSE, InProcessResult, InProcessRunner, run_in_process

__all__ = ["InProcessResult", "InProcessRunner", "NO_RESPONSE", "run_in_process"]
