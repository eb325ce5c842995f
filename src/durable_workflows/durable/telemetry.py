"""OpenTelemetry traces and metrics of runs (the optional ``otel`` extra; docs/telemetry.md).

Spans: ``workflow.start <name>`` (the client scheduling a run), ``workflow.run <name>`` (the
whole run), ``workflow.superstep <n>``, ``workflow.executor <node>`` (one activity attempt),
``workflow.agent_turn <agent>`` (a turn without tools), ``workflow.agent_step <agent>`` (one
model call of a tool-using turn) and ``workflow.tool_call <tool>``. The start span's context travels in the orchestrator input
and a superstep's in every activity and entity input, so a run is one trace across processes.
Orchestrator spans are started and ended only when not replaying, so a replay emits nothing
twice; a span opened by another process (or before a restart) is re-created at its end with
its start time. Metrics: the counters ``durable_workflows.runs.started`` / ``.completed`` /
``.failed`` and the histogram ``durable_workflows.step.duration`` (seconds per executor
attempt, agent turn or step, and tool call). Without ``opentelemetry`` installed every function here does nothing.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from .seam import OrchestrationSeam

SCOPE = "durable_workflows"
MAX_OPEN_SPANS = 10_000
"""Spans of unfinished runs and supersteps kept in this process (oldest dropped first)."""

_METRIC_KEYS = ("workflow.name", "workflow.node_id", "workflow.agent", "workflow.tool")

Carrier = dict[str, str]
"""A W3C trace context (``traceparent``, maybe ``tracestate``) as it travels in inputs."""


class _Otel:
    """The OpenTelemetry API and this library's tracer and instruments."""

    def __init__(self) -> None:
        from opentelemetry import context, metrics, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.context, self.trace, self.metrics = context, trace, metrics
        try:
            from opentelemetry.metrics._internal import _ProxyMeterProvider
        except ImportError:  # pragma: no cover - a newer API: count every meter provider as set
            self._proxy_meters: type | None = None
        else:
            self._proxy_meters = _ProxyMeterProvider
        self.propagator = TraceContextTextMapPropagator()
        self.tracer = trace.get_tracer(SCOPE)
        meter = metrics.get_meter(SCOPE)
        self.started = meter.create_counter(
            "durable_workflows.runs.started", unit="{run}", description="Runs started"
        )
        self.completed = meter.create_counter(
            "durable_workflows.runs.completed", unit="{run}", description="Runs completed"
        )
        self.failed = meter.create_counter(
            "durable_workflows.runs.failed", unit="{run}", description="Runs failed"
        )
        self.step_duration = meter.create_histogram(
            "durable_workflows.step.duration",
            unit="s",
            description="Duration of one executor activity attempt or agent turn",
        )

    def configured(self) -> bool:
        """Whether a tracer or meter provider has been set (the defaults are proxies)."""
        return not isinstance(self.trace.get_tracer_provider(), self.trace.ProxyTracerProvider) or (
            self._proxy_meters is None
            or not isinstance(self.metrics.get_meter_provider(), self._proxy_meters)
        )

    def parent(self, carrier: Any) -> Any:
        """The context a carrier describes (None: a new trace)."""
        return self.propagator.extract(carrier) if isinstance(carrier, dict) else None

    def inject(self, span: Any) -> Carrier | None:
        """The carrier of `span` (None when it is not recorded)."""
        if not span.get_span_context().is_valid:
            return None
        carrier: Carrier = {}
        self.propagator.inject(carrier, self.trace.set_span_in_context(span))
        return carrier or None

    def end(self, span: Any, error: tuple[str, str] | None) -> None:
        if error is not None:
            message, error_type = error
            span.add_event(
                "exception", {"exception.type": error_type, "exception.message": message}
            )
            span.set_status(self.trace.Status(self.trace.StatusCode.ERROR, message))
        span.end()


_api: _Otel | None = None
_checked = False
_import_lock = threading.Lock()
_open: OrderedDict[tuple[str, str], Any] = OrderedDict()
_open_lock = threading.Lock()
_attempts: OrderedDict[str, int] = OrderedDict()


def otel() -> _Otel | None:
    """The OpenTelemetry API, imported on first use; None when it is not installed or when
    neither a tracer provider nor a meter provider is set (the API's defaults record nothing,
    and spans and attempt counting cost a chain step about a tenth of its time)."""
    global _api, _checked
    if not _checked:
        with _import_lock:
            if not _checked:
                try:
                    _api = _Otel()
                except ImportError:
                    _api = None
                _checked = True
    return _api if _api is not None and _api.configured() else None


def _keep(key: tuple[str, str], span: Any) -> None:
    with _open_lock:
        _open[key] = span
        while len(_open) > MAX_OPEN_SPANS:
            _open.popitem(last=False)


def _take(key: tuple[str, str]) -> Any:
    with _open_lock:
        return _open.pop(key, None)


def _nanos(moment: datetime | str | None) -> int | None:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return None if moment is None else int(moment.timestamp() * 1e9)


@contextmanager
def starting(workflow: str, version: str, run_id: str) -> Iterator[Carrier | None]:
    """Around scheduling a run: a ``workflow.start`` span (a child of the caller's current
    span, if any). Yields the carrier to store in the run's input (None: no tracing)."""
    api = otel()
    if api is None:
        yield None
        return
    attributes = {"workflow.name": workflow, "workflow.version": version, "workflow.run_id": run_id}
    with api.tracer.start_as_current_span(
        f"workflow.start {workflow}", attributes=attributes
    ) as span:
        yield api.inject(span)


class RunTelemetry:
    """The spans and counters of one run, driven by the orchestrator (one per episode)."""

    def __init__(
        self, workflow: str, version: str, seam: OrchestrationSeam, payload: dict[str, Any]
    ) -> None:
        self._api = otel()
        self._seam = seam
        self._payload = payload
        self._begun: dict[int, datetime] = {}
        self._attributes = {"workflow.name": workflow, "workflow.version": version}

    def _live(self) -> bool:
        return self._api is not None and not self._seam.is_replaying

    def _key(self, what: str) -> tuple[str, str]:
        return (self._seam.instance_id, what)

    def _attrs(self, **extra: Any) -> dict[str, Any]:
        return {**self._attributes, "workflow.run_id": self._seam.instance_id, **extra}

    def _run_context(self) -> Any:
        assert self._api is not None
        with _open_lock:
            span = _open.get(self._key("run"))
        if span is not None:
            return self._api.trace.set_span_in_context(span)
        return self._api.parent(self._payload.get("trace"))

    def run_started(self) -> None:
        """The run's first step: open its span and count it."""
        if self._api is None:
            return
        self._payload.setdefault("started_at", self._seam.now.isoformat())
        if self._seam.is_replaying:
            return
        name = self._attributes["workflow.name"]
        span = self._api.tracer.start_span(
            f"workflow.run {name}",
            context=self._api.parent(self._payload.get("trace")),
            attributes=self._attrs(),
        )
        _keep(self._key("run"), span)
        self._api.started.add(1, self._attributes)

    def superstep_started(self, superstep: int) -> Carrier | None:
        """Open a superstep's span; returns the carrier its activities and entity calls get."""
        if self._api is None:
            return None
        self._begun[superstep] = self._seam.now
        if self._seam.is_replaying:
            return None
        span = self._api.tracer.start_span(
            f"workflow.superstep {superstep}",
            context=self._run_context(),
            attributes=self._attrs(**{"workflow.superstep": superstep}),
        )
        _keep(self._key(f"superstep {superstep}"), span)
        return self._api.inject(span)

    def superstep_finished(self, superstep: int, error: tuple[str, str] | None = None) -> None:
        """End a superstep's span (with the error that ended it, if one did)."""
        if not self._live():
            return
        assert self._api is not None
        span = _take(self._key(f"superstep {superstep}")) or self._api.tracer.start_span(
            f"workflow.superstep {superstep}",
            context=self._run_context(),
            attributes=self._attrs(**{"workflow.superstep": superstep}),
            start_time=_nanos(self._begun.get(superstep)),
        )
        self._api.end(span, error)

    def run_finished(self, error: tuple[str, str] | None, superstep: int | None = None) -> None:
        """End the run's span and count the outcome; `superstep`: one that ended it unfinished."""
        if not self._live():
            return
        assert self._api is not None
        if superstep is not None and superstep in self._begun:
            self.superstep_finished(superstep, error)
        name = self._attributes["workflow.name"]
        span = _take(self._key("run")) or self._api.tracer.start_span(
            f"workflow.run {name}",
            context=self._api.parent(self._payload.get("trace")),
            attributes=self._attrs(),
            start_time=_nanos(self._payload.get("started_at")),
        )
        self._api.end(span, error)
        (self._api.completed if error is None else self._api.failed).add(1, self._attributes)


@contextmanager
def step_span(
    kind: str, name: str, payload: Mapping[str, Any], attributes: dict[str, Any]
) -> Iterator[None]:
    """Around one executor attempt (``kind="executor"``), agent turn (``"agent_turn"``), model
    call of a tool-using turn (``"agent_step"``) or tool call (``"tool_call"``): a span, current
    while it runs, whose parent is the carrier in `payload`; records an escaping error and the
    step duration."""
    api = otel()
    if api is None:
        yield
        return
    if kind == "executor":
        attributes = {**attributes, "workflow.attempt": _attempt(payload, attributes)}
    span = api.tracer.start_span(
        f"workflow.{kind} {name}", context=api.parent(payload.get("trace")), attributes=attributes
    )
    started = time.perf_counter()
    outcome = "completed"
    try:
        with api.trace.use_span(span, end_on_exit=False, record_exception=False):
            yield
    except BaseException as exc:
        outcome = "failed"
        span.record_exception(exc)
        span.set_status(api.trace.Status(api.trace.StatusCode.ERROR, str(exc)))
        raise
    finally:
        span.end()
        metric = {k: v for k, v in attributes.items() if k in _METRIC_KEYS}
        api.step_duration.record(
            time.perf_counter() - started, {**metric, "workflow.step": kind, "outcome": outcome}
        )


def _attempt(payload: Mapping[str, Any], attributes: dict[str, Any]) -> int:
    """Which attempt at this invocation this is, as far as this process has seen."""
    text = json.dumps(
        [
            attributes.get("workflow.run_id"),
            attributes.get("workflow.superstep"),
            attributes.get("workflow.node_id"),
            payload.get("message"),
        ],
        sort_keys=True,
    )
    key = hashlib.sha256(text.encode()).hexdigest()
    with _open_lock:
        count = _attempts.pop(key, 0) + 1
        _attempts[key] = count
        while len(_attempts) > MAX_OPEN_SPANS:
            _attempts.popitem(last=False)
    return count
