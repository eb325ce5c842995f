"""Test helpers: the in-process runner (the reference semantics) and a local OpenAI server."""

from .runner import InProcessResult, InProcessRunner, run_in_process

__all__ = ["InProcessResult", "InProcessRunner", "run_in_process"]
