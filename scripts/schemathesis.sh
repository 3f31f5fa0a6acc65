#!/usr/bin/env bash
# The API against its own OpenAPI document: schemathesis (PyPI) generates requests from
# /api/openapi.json against the real server on a loopback port (the demo's data, an admin
# token of every scope) and fails on any server error, undocumented status or content type,
# or a response that does not match its schema. Bounded: a few hundred examples per
# operation phase, three minutes at most. Usage: scripts/schemathesis.sh [BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/aftercare}
command -v schemathesis >/dev/null || pip install --quiet --disable-pip-version-check schemathesis
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
"$bin" --policies policies --db "sqlite://$work/st.db" demo --bind "127.0.0.1:$port" \
  --mail-dir "$work/mail" --evidence-dir "$work/evidence" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.5
done
token=$("$bin" --db "sqlite://$work/st.db" token create --email admin@demo.test --name schemathesis \
  --scope cases:read --scope cases:write --scope refunds:write --scope registry:write \
  --scope customers:read --scope audit:read --scope webhooks:write --scope metrics:read | sed -n 2p)
# Erasing customers is left out: it would erase the data the other operations test against.
timeout 180 schemathesis run "http://127.0.0.1:$port/api/openapi.json" \
  -H "Authorization: Bearer $token" \
  --phases examples,coverage,fuzzing --max-examples 40 --seed 20261129 \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --exclude-path-regex 'erase' --no-color
if grep -qi "panicked" "$work/server.log"; then
  echo "the server panicked:" >&2
  grep -i -A5 "panicked" "$work/server.log" >&2
  exit 1
fi
