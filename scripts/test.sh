#!/bin/sh
# Runs the whole test suite: lint, type check, import contracts, the docs site, then pytest. Installs what it needs first.
WANT_BROWSER=1
. "$(dirname "$0")/_bootstrap.sh"
.venv/bin/ruff check src tests examples bench scripts
.venv/bin/mypy
.venv/bin/lint-imports --no-cache --no-logo
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet
set +e
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$#" = "0" ] && [ "$rc" = "0" ]; then
    # The host's worker and client use the in-process transport by default; run the durable
    # suite over the loopback gRPC transport too (docs/hosting.md, "Transport").
    DURABLE_WORKFLOWS_TRANSPORT=grpc .venv/bin/python -m pytest -q \
        tests/durable tests/reliability tests/hosting tests/agents/test_durable_agents.py
    rc=$?
fi
set -e
# Exit code 5 means "no tests collected": not a failure.
[ "$rc" = "5" ] && rc=0
exit "$rc"
