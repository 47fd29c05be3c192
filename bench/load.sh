#!/usr/bin/env bash
# Load test of the running release binary over HTTPS on loopback (issue 3, docs/performance.md).
# Needs: a release build (cargo build --release -p gatehouse-server), wrk (apt-get install wrk),
# python3 and /usr/bin/time.
# Usage: bench/load.sh [seconds per endpoint] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${2:-32}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/gatehouse}
DIR=$(mktemp -d)
export GATEHOUSE_DATA_DIR=$DIR GATEHOUSE_HTTPS_ADDR=127.0.0.1:9443 GATEHOUSE_HTTP_ADDR="" GATEHOUSE_LOG_LEVEL=warn
export GATEHOUSE_PUBLIC_URL=https://localhost:9443
BASE=https://localhost:9443
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT

"$BIN" tenant create bench --json >/dev/null
CREDS=$("$BIN" client create --tenant bench --name bench --type confidential --grant client_credentials --scope "api" --json)
ID=$(printf '%s' "$CREDS" | python3 -c 'import json,sys;print(json.load(sys.stdin)["client_id"])')
SECRET=$(printf '%s' "$CREDS" | python3 -c 'import json,sys;print(json.load(sys.stdin)["client_secret"])')
AUTH=$(printf '%s:%s' "$ID" "$SECRET" | base64 -w0)

"$BIN" serve 2>"$DIR/serve.log" &
SERVER=$!
for _ in $(seq 1 100); do curl -skf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
TOKEN=$(curl -sk -u "$ID:$SECRET" -d grant_type=client_credentials "$BASE/tenants/bench/token" | python3 -c 'import json,sys;print(json.load(sys.stdin)["access_token"])')

# Besides wrk's figures, CPU time per request of the server (by thread) and of wrk itself:
# on a shared 2-core box these are steadier than requests/s.
run() {
  local name=$1; shift
  echo "== $name"
  bench/cpu.py snapshot "$SERVER" >"$DIR/cpu0.json"
  /usr/bin/time -f "%U %S" -o "$DIR/wrk.time" wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$@" >"$DIR/wrk.out"
  bench/cpu.py snapshot "$SERVER" >"$DIR/cpu1.json"
  grep -E "Requests/sec|^ +50%|^ +99%|Non-2xx|Socket errors" "$DIR/wrk.out"
  local n
  n=$(grep -oE "^ +[0-9]+ requests in" "$DIR/wrk.out" | grep -oE "[0-9]+")
  bench/cpu.py report "$DIR/cpu0.json" "$DIR/cpu1.json" "$n"
  awk -v n="$n" '{ printf "   wrk CPU per request: %.1f µs\n", ($1 + $2) * 1e6 / n }' "$DIR/wrk.time"
}
[ -n "${ONLY_TOKEN:-}" ] || run "https ceiling: GET /healthz (constant JSON)" "$BASE/healthz"
[ -n "${ONLY_TOKEN:-}" ] || run "discovery" "$BASE/tenants/bench/.well-known/openid-configuration"
[ -n "${ONLY_TOKEN:-}" ] || run "jwks" "$BASE/tenants/bench/jwks"
BODY="grant_type=client_credentials" AUTH=$AUTH run "token (client_credentials)" -s bench/post.lua "$BASE/tenants/bench/token"
BODY="token=$TOKEN" AUTH=$AUTH run "introspection" -s bench/post.lua "$BASE/tenants/bench/introspect"
"$BIN" audit verify
