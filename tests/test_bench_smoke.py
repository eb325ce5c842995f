"""The benchmark harness runs every scenario at its smallest size (shape only, no timings)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "bench" / "run.py"


def _load_run() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", RUN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return module


bench_run = _load_run()


def _available() -> list[str]:
    systems = ["floor"]
    if importlib.util.find_spec("durable_workflows.testing") is not None:
        systems.append("inprocess")
    if importlib.util.find_spec("durable_workflows.hosting.host") is not None:
        systems.append("library")
    if bench_run.PEER_PYTHON.exists():
        systems.append("peer")
    return systems


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_every_scenario_runs_at_the_smallest_size(tmp_path: Path) -> None:
    systems = _available()
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(RUN), "--smoke", "--systems", ",".join(systems), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| scenario | metric |" in proc.stdout

    report = json.loads(out.read_text())
    assert report["mode"] == "smoke"
    assert {"cpu", "cores", "python", "date"} <= report["machine"].keys()
    assert report["settings"]["reps"] == 1
    by_case = {(r["system"], r["scenario"], r["size"]): r for r in report["results"]}
    for system in systems:
        for scenario, sizes in bench_run.SIZES["smoke"].items():
            record = by_case[system, scenario, sizes[0]]
            if (system, scenario) == ("floor", "build"):
                assert record["status"].startswith("n/a"), record
                continue
            assert record["status"] == "ok", record
            assert record["values_s"] and all(v > 0 for v in record["values_s"])
            assert record["median_s"] > 0 and record["peak_rss_mb"] > 0
            assert "durabletask" in record["versions"]
            if scenario == "hitl":
                assert len(record["values_s"]) == sizes[0]
                assert record["p95_s"] >= record["median_s"]
            if scenario != "build":
                assert record["backend"]["kind"] in ("stock", "none")


def test_a_case_predicted_over_budget_is_skipped() -> None:
    previous = {"system": "peer", "scenario": "chain", "size": 500, "status": "ok", "median_s": 90}
    reason = bench_run.over_budget(previous, 2000, 300.0)
    assert reason is not None and reason.startswith("skipped: over budget")
    assert bench_run.over_budget({**previous, "median_s": 1.0}, 2000, 300.0) is None
    assert bench_run.over_budget({**previous, "status": reason}, 4000, 300.0) == (
        "skipped: over budget (size 500 was)"
    )


def test_the_table_shows_medians_ratios_and_statuses() -> None:
    records = [
        {"system": "floor", "scenario": "chain", "size": 50, "status": "ok", "median_s": 0.2,
         "peak_rss_mb": 40.0},
        {"system": "peer", "scenario": "chain", "size": 50, "status": "ok", "median_s": 0.5,
         "peak_rss_mb": 60.0},
        {"system": "library", "scenario": "chain", "size": 50, "status": "unavailable: no"},
    ]  # fmt: skip
    text = bench_run.table(records, ["library", "floor", "peer"])
    assert "| chain 50 | total s | unavailable | 0.2 | 0.5 | - | - | 2.50 |" in text
    assert "| chain 50 | per step ms | unavailable | 4 | 10 | - | - | 2.50 |" in text
