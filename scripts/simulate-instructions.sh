#!/usr/bin/env bash
# What-if's instructions per recorded decision, counted by callgrind: unlike wall time, the count
# repeats exactly on a shared machine, so it shows what a change to the engine or the reader
# saved. Two histories of different sizes (made by simulate-bench.sh on SQLite, one run each)
# cancel the cost of starting. Needs valgrind. Usage: scripts/simulate-instructions.sh [SMALL] [LARGE]
set -euo pipefail
cd "$(dirname "$0")/.."
small=${1:-10000}
large=${2:-30000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=${CARGO_TARGET_DIR:-target}/release/aftercare
sed -e 's/^version = "1.0.0"/version = "1.1.0-draft"/' \
  -e '/^id = "guarantee-paid-repair"/,/^when/ s/^allow = \["paid_repair"\]/deny = ["paid_repair"]/' \
  policies/imask.toml >"$work/imask.toml"
count() { # N: instructions of `policy simulate` over N recorded decisions
  RUNS=1 KEEP="$work/sim$1.db" scripts/simulate-bench.sh "" "$1" >/dev/null
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" --policies policies \
    --db "sqlite://$work/sim$1.db" policy simulate "$work/imask.toml" 2>&1 |
    grep -oP 'Collected : \K[0-9]+'
}
a=$(count "$small")
b=$(count "$large")
echo "policy simulate: $(( (b - a) / (large - small) )) instructions per recorded decision" \
  "(callgrind, $small and $large decisions: $a and $b)"
