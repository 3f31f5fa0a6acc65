#!/usr/bin/env bash
# Instructions per decision for each seed's corpus, counted by callgrind: unlike wall time, the
# count repeats exactly on a shared machine. Two runs with different round counts cancel the
# cost of loading. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release -p aftercare-policy --example decide_loop
bin=target/release/examples/decide_loop
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 | grep -oP 'Collected : \K[0-9]+'; }
for id in imkey imask imiki cryptki maintenance; do
  cases=$(find "policies/cases/$id" -name '*.toml' | wc -l)
  small=$(count "$id" 10)
  large=$(count "$id" 110)
  echo "$id: $(( (large - small) / (100 * cases) )) instructions per decision ($cases cases)"
done
