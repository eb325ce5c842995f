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
set -e
# Exit code 5 means "no tests collected": not a failure.
[ "$rc" = "5" ] && rc=0
exit "$rc"
