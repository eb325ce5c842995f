#!/bin/sh
# Creates the anchor systems' venvs for bench/run.py, each of its own so their dependencies
# cannot disturb .venv: bench/.venv-dbos (DBOS Transact on SQLite) and bench/.venv-langgraph
# (LangGraph with its SQLite checkpointer). Versions are pinned to the ones docs/benchmarks.md
# reports.
set -eu
cd "$(dirname "$0")"
PY=${PYTHON:-../.venv/bin/python}
BASE=$("$PY" -c 'import sys; print(sys.base_prefix)')/bin/python3
make_venv() {
    if [ ! -x "$1/bin/python" ]; then
        "$BASE" -m venv "$1"
    fi
    "$1/bin/python" -m pip install --quiet --upgrade pip
}
make_venv .venv-dbos
.venv-dbos/bin/python -m pip install --quiet "dbos==3.4.0"
.venv-dbos/bin/python -c 'import importlib.metadata as m; print("dbos ready:", m.version("dbos"))'
make_venv .venv-langgraph
.venv-langgraph/bin/python -m pip install --quiet "langgraph==1.2.24" "langgraph-checkpoint-sqlite==3.1.2"
.venv-langgraph/bin/python -c 'import importlib.metadata as m; print("langgraph ready:", m.version("langgraph"), m.version("langgraph-checkpoint-sqlite"))'
