#!/bin/sh
# Runs the main job: the demo workflow on the embedded backend. Installs what it needs first.
. "$(dirname "$0")/_bootstrap.sh"
exec .venv/bin/python examples/expense_reimbursement.py "$@"
