#!/bin/sh
# Runs the main job: the expense-approval demo workflow on the embedded backend (a durable file,
# expense_demo.db), served over HTTP with its dashboard; the URL is printed. Installs what it
# needs first. Extra arguments go to `durable-workflows serve` (e.g. --port 8080).
# `sh scripts/demo.sh --console` runs the same workflow in the terminal instead (prompts).
. "$(dirname "$0")/_bootstrap.sh"
if [ "${1:-}" = "--console" ]; then
    shift
    exec .venv/bin/python examples/expense_reimbursement.py "$@"
fi
exec .venv/bin/durable-workflows serve examples/expense_reimbursement.py --db expense_demo.db "$@"
