"""Packaging: the installed metadata, the optional `azure` extra, and the set-up script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from importlib.metadata import metadata, requires, version
from pathlib import Path

import durable_workflows

ROOT = Path(__file__).resolve().parent.parent


def test_the_version_is_written_once_and_read_from_the_metadata() -> None:
    installed = version("durable_workflows")
    assert durable_workflows.__version__ == installed
    assert f'\nversion = "{installed}"\n' in (ROOT / "pyproject.toml").read_text()
    assert f'"{installed}"' not in (ROOT / "src/durable_workflows/__init__.py").read_text()


def test_the_metadata_names_the_license_and_classifiers() -> None:
    meta = metadata("durable_workflows")
    assert meta["License-Expression"] == "MIT"
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert "LICENSE" in (meta.get_all("License-File") or [])
    classifiers = meta.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    assert "Programming Language :: Python :: 3.10" in classifiers
    assert meta["Requires-Python"] == ">=3.10"


def _requirements() -> dict[str, set[str]]:
    """Requirement names by extra ('' for the core install)."""
    found: dict[str, set[str]] = {}
    for line in requires("durable_workflows") or []:
        spec, _, marker = line.partition(";")
        name = spec.split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip().lower()
        extra = marker.split("extra ==")[-1].strip().strip("'\"") if "extra" in marker else ""
        found.setdefault(extra, set()).add(name)
    return found


def test_the_scheduler_client_is_an_extra_and_dev_has_every_extra() -> None:
    extras = _requirements()
    assert "durabletask-azuremanaged" not in extras[""]
    assert "azure-identity" not in extras[""]
    assert "durabletask-azuremanaged" in extras["azure"]
    assert {"mkdocs", "mkdocs-material", "mkdocstrings"} <= extras["docs"]
    for extra in ("azure", "docs", "agents"):
        assert extras[extra] <= extras["dev"], extra


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_importing_the_package_does_not_import_the_scheduler_client() -> None:
    done = _python(
        """
        import sys
        import durable_workflows, durable_workflows.cli.main, durable_workflows.hosting.factories
        print(sorted(m for m in sys.modules if m.startswith(("durabletask.azuremanaged", "azure"))))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_scheduler_connection_without_the_extra_names_the_extra() -> None:
    done = _python(
        """
        import sys
        sys.modules["durabletask.azuremanaged"] = None  # as if the extra were not installed
        from durable_workflows import DurableWorkflowsError
        from durable_workflows.hosting.factories import create_client, create_worker
        cs = "Endpoint=http://localhost:8080;TaskHub=default;Authentication=None"
        for make in (create_client, create_worker):
            try:
                make(cs)
            except DurableWorkflowsError as exc:
                print(exc)
        print(type(create_client("localhost:4001")).__name__)  # a plain sidecar still works
        """
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3
    for line in lines[:2]:
        assert "needs the `azure` extra (durabletask-azuremanaged)" in line
        assert "pip install -e '.[azure]'" in line
    assert lines[2] == "TaskHubGrpcClient"


def _fake_python(path: Path, major_minor: str) -> Path:
    """A stand-in interpreter that reports `major_minor` and can do nothing else."""
    major, minor = major_minor.split(".")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "#!/bin/sh\n"
        f"# Python {major_minor}: answers the version check, fails at everything else\n"
        f'case "$2" in *version_info*) exit {int((int(major), int(minor)) < (3, 10))};; esac\n'
        "exit 3\n"
    )
    path.chmod(0o755)
    return path


def test_the_setup_script_rebuilds_a_venv_of_an_unsupported_python(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts/_bootstrap.sh", tmp_path / "scripts/_bootstrap.sh")
    (tmp_path / "scripts/test.sh").write_text('. "$(dirname "$0")/_bootstrap.sh"\n')
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    _fake_python(tmp_path / ".venv/bin/python", "3.8")
    old_python = _fake_python(tmp_path / "py38/python3.8", "3.8")
    env = {**os.environ, "PYTHON": str(old_python)}
    done = subprocess.run(
        ["sh", "scripts/test.sh"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "The .venv was made with an unsupported or missing Python; rebuilding it" in done.stderr
    assert "needs Python 3.10 or later" in done.stderr and "PYTHON=python3.12 sh scripts/test.sh" in done.stderr
    assert not (tmp_path / ".venv").exists()
