"""Fixtures of the dashboard's browser tests: `durable-workflows serve` as a real process on a
free port, and Debian's headless Chromium driven by Playwright (no browser download).

Screenshots go to test-output/dashboard/ (gitignored); docs/images/ keeps copies of some.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "dashboard"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000


class Served:
    """A running ``durable-workflows serve`` process and its base URL."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url

    def stop(self) -> None:
        """SIGTERM by pid, then SIGKILL if it has not stopped within 20 s."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def serve(*args: str, env: dict[str, str] | None = None) -> Served:
    """Start ``durable-workflows serve ARGS --port 0`` and wait for the URL it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "durable_workflows.cli", "serve", *args, "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r" on (http://127\.0\.0\.1:\d+)", line)
        if match:
            return Served(process, match.group(1))
    Served(process, "").stop()
    raise AssertionError(f"serve printed no URL: {''.join(lines)}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's package), or a skip saying why there is none. Per module:
    Playwright's sync API holds an asyncio loop on this thread while it is open, which would
    break `asyncio.run` in the tests of other modules."""
    if not Path(CHROMIUM).exists():
        pytest.skip(
            "chromium is not installed: scripts/_bootstrap.sh installs it with apt-get when run "
            "as root (apt-get install chromium)"
        )
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[dev]'")
    expect.set_options(timeout=TIMEOUT_MS)  # assertions wait as long as actions (a busy CI host)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page; the test fails if the page throws a JavaScript error."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as test-output/dashboard/<name>.png."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
