"""A worker process for test_worker_crash: serves the crash workflows until killed.

Usage: python crash_worker.py <backend address>
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workflows import crash_workflow

from durable_workflows import DurableWorkflowHost


def main() -> None:
    address = sys.argv[1]
    workflows = [crash_workflow("CrashActivity"), crash_workflow("CrashPort", with_port=True)]
    with DurableWorkflowHost(workflows=workflows, connection_string=address, mode="worker"):
        print("ready", flush=True)
        while True:
            time.sleep(1)


if __name__ == "__main__":
    main()
