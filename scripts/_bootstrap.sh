# Sourced by scripts/demo.sh and scripts/test.sh: a virtualenv with the package and its
# dev extra in .venv, and the system tools below when they are missing and apt can install them.
# PYTHON=/path/to/python3.X picks the interpreter (default: python3); it must be 3.10 or later.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
SUPPORTED='import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'
if [ -e .venv ] && ! .venv/bin/python -c "$SUPPORTED" >/dev/null 2>&1; then
    echo "The .venv was made with an unsupported or missing Python; rebuilding it with $PY." >&2
    rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
    if ! "$PY" -c "$SUPPORTED" >/dev/null 2>&1; then
        echo "error: durable_workflows needs Python 3.10 or later; '$PY' is not." >&2
        echo "Point PYTHON at one, e.g.: PYTHON=python3.12 sh $0" >&2
        exit 1
    fi
    "$PY" -m venv .venv
fi
STAMP=.venv/.installed-$(.venv/bin/python -c 'import hashlib,sys;print(hashlib.sha1(sys.stdin.buffer.read()).hexdigest()[:12])' < pyproject.toml)
if [ ! -f "$STAMP" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[dev]"
    touch "$STAMP"
fi
# System tools the suite and the demo use: graphviz's `dot` (SVG rendering; graphviz-pure from the
# dev extra stands in without it), curl (the HTTP doc's transcripts) and chromium (the dashboard's
# browser tests; only for the test suite, which sets WANT_BROWSER=1). Installed with apt when
# missing and we are root; otherwise the tests that need them skip.
missing=""
command -v dot >/dev/null 2>&1 || missing="$missing graphviz"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
[ -z "${WANT_BROWSER:-}" ] || command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "Installing$missing with apt-get..." >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null) \
            || echo "warning: could not install$missing; the tests that need them will be skipped" >&2
    else
        echo "warning:$missing missing (install with your package manager); the tests that need them will be skipped" >&2
    fi
fi
