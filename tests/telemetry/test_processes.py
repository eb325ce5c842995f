"""One trace per run across processes, and nothing at all without OpenTelemetry installed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry import trace

from durable_workflows import DurableWorkflowHost
from durable_workflows.sidecar import SqliteSidecar

from .conftest import Telemetry
from .flows import CROSS

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent


def test_a_run_started_here_and_executed_by_another_process_is_one_trace(
    telemetry: Telemetry, tmp_path: Path
) -> None:
    spans_file = tmp_path / "worker-spans.jsonl"
    with SqliteSidecar() as sidecar:
        worker = subprocess.Popen(
            [sys.executable, str(HERE / "otel_worker.py"), sidecar.address, str(spans_file)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"

            async def main() -> tuple[int, int]:
                async with DurableWorkflowHost(
                    workflows=[CROSS], connection_string=sidecar.address, mode="client"
                ) as host:
                    with trace.get_tracer("tests").start_as_current_span("caller") as caller:
                        run = await host.client.run(CROSS, 1)
                    assert await run.wait_for_completion(timeout=60) == 20
                    context = caller.get_span_context()
                    return context.trace_id, context.span_id

            trace_id, _ = asyncio.run(main())
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
    (start,) = [s for s in telemetry.finished() if s.name == "workflow.start OtelCross"]
    remote = [json.loads(line) for line in spans_file.read_text().splitlines()]
    mine = {s["name"]: s for s in remote if s["name"].startswith("workflow.")}
    assert set(mine) == {
        "workflow.run OtelCross",
        "workflow.superstep 1",
        "workflow.superstep 2",
        "workflow.executor first",
        "workflow.executor second",
    }
    assert {s["trace_id"] for s in mine.values()} == {trace_id}
    run = mine["workflow.run OtelCross"]
    assert run["parent_id"] == start.context.span_id
    assert mine["workflow.superstep 1"]["parent_id"] == run["span_id"]
    assert mine["workflow.executor second"]["parent_id"] == mine["workflow.superstep 2"]["span_id"]


def test_without_opentelemetry_runs_work_and_nothing_is_traced(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import asyncio, json, sys
        sys.modules["opentelemetry"] = None  # not installed: every import of it fails
        from durable_workflows import DurableWorkflowHost
        from durable_workflows.durable import telemetry
        from flows import CROSS

        async def main():
            async with DurableWorkflowHost(workflows=[CROSS]) as host:
                run = await host.client.run(CROSS, 2)
                result = await run.wait_for_completion(timeout=60)
                state = await host.client.durable_client.get_orchestration_state(run.run_id)
                return result, json.loads(state.serialized_input)

        result, payload = asyncio.run(main())
        assert result == 30, result
        assert telemetry.otel() is None and telemetry._checked
        assert "trace" not in payload and "started_at" not in payload, payload
        assert not any(m.startswith("opentelemetry.") for m in sys.modules), "imported"
        print("ok")
        """
    )
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_without_a_provider_nothing_is_recorded_until_one_is_set() -> None:
    script = textwrap.dedent(
        """
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.trace import TracerProvider
        from durable_workflows.durable.telemetry import otel

        assert otel() is None, "the API's proxies record nothing: no spans are made"
        metrics.set_meter_provider(MeterProvider())
        assert otel() is not None, "a meter provider alone turns the metrics on"
        trace.set_tracer_provider(TracerProvider())
        assert otel() is not None
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
