# Sourced by scripts/demo.sh and scripts/test.sh: a virtualenv with the package and its
# dev extra in .venv, and the system tools below when they are missing and apt can install them.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
STAMP=.venv/.installed-$(cat pyproject.toml | "$PY" -c 'import hashlib,sys;print(hashlib.sha1(sys.stdin.buffer.read()).hexdigest()[:12])')
if [ ! -f "$STAMP" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[dev]"
    touch "$STAMP"
fi
# System tools the suite and the demo use: graphviz's `dot` (SVG rendering; graphviz-pure from the
# dev extra stands in without it), curl (the HTTP doc's transcripts) and chromium (the dashboard's
# browser tests). Installed with apt when missing and we are root; otherwise those tests skip.
missing=""
command -v dot >/dev/null 2>&1 || missing="$missing graphviz"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "Installing$missing with apt-get..." >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null) \
            || echo "warning: could not install$missing; the tests that need them will be skipped" >&2
    else
        echo "warning:$missing missing (install with your package manager); the tests that need them will be skipped" >&2
    fi
fi
