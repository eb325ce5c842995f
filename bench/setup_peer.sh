#!/bin/sh
# Creates bench/.venv-peer with the peer system (c), agent-framework-durabletask (a
# pre-release), in a venv of its own so its pre-release pins cannot disturb .venv.
# The engine packages are pinned to the main venv's versions so both run the same SDK.
set -eu
cd "$(dirname "$0")"
PY=${PYTHON:-../.venv/bin/python}
ENGINE="durabletask==1.12.0 durabletask-azuremanaged==1.12.0 grpcio==1.85.1 protobuf==7.36.2"
if [ ! -x .venv-peer/bin/python ]; then
    # A venv from the main venv's base interpreter, not from the venv itself.
    BASE=$("$PY" -c 'import sys; print(sys.base_prefix)')/bin/python3
    "$BASE" -m venv .venv-peer
fi
.venv-peer/bin/python -m pip install --quiet --upgrade pip
# --pre pulls a protobuf release candidate; the engine pins bring it back to stable.
.venv-peer/bin/python -m pip install --quiet --pre agent-framework-durabletask $ENGINE
.venv-peer/bin/python -m pip check
.venv-peer/bin/python -c 'import agent_framework_durabletask, importlib.metadata as m; print("peer ready:", m.version("agent-framework-durabletask"))'
