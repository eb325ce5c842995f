#!/bin/sh
# Profiles chain runs with py-spy (pip install py-spy), attached after the warm-up:
#   bench/profile_chain.sh OUT.txt RUNS [profile_chain.py run options, e.g. --transport grpc]
# then: .venv/bin/python bench/profile_chain.py classify OUT.txt
set -eu
cd "$(dirname "$0")/.."
out=$1 runs=$2
shift 2
fifo=$(mktemp -u)
mkfifo "$fifo"
.venv/bin/python bench/profile_chain.py run "$runs" "$@" > "$fifo" &
target=$!
exec 3< "$fifo"
read -r _ pid <&3
.venv/bin/py-spy record --gil --threads --nonblocking -r 1000 -f raw -o "$out" --pid "$pid" >/dev/null 2>&1 &
spy=$!
cat <&3
wait "$target"
wait "$spy" || true
rm -f "$fifo"
