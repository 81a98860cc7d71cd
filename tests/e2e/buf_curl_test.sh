#!/usr/bin/env bash
# Calls the real music-server binaries the way a grpcurl user would: `buf curl` with no proto
# files, through server reflection; then drives the task to SUCCEEDED against the emulator.
# Usage: buf_curl_test.sh MUSIC_SERVER PROVIDER_EMULATOR BUF
set -euo pipefail
server_bin=$1 emulator_bin=$2 buf=$3
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$work"/*.log; do echo "--- $f" >&2; cat "$f" >&2; done; exit 1; }
wait_for() {
  for _ in $(seq 200); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  fail "timed out waiting for '$2' in $1"
}

export KIE_API_KEY=buf-curl-test-key
# The server refuses to start without a callback token secret (README "Callbacks").
export MUSIC_CALLBACK_SECRET="buf_curl_test-callback-secret-$RANDOM$RANDOM"
"$emulator_bin" --port 0 --port_file "$work/emulator.port" --task_duration_ms 500 \
  >"$work/emulator.log" 2>&1 &
pids+=($!)
wait_for "$work/emulator.log" listening
cat >"$work/config.json" <<JSON
{"listen": "127.0.0.1:0", "database": {"path": "$work/music.db"},
 "callbacks": {"listen": "127.0.0.1:0"}, "tasks": {"poll_interval_seconds": 0.5},
 "providers": {"kie": {"base_url": "http://127.0.0.1:$(cat "$work/emulator.port")"}}}
JSON
"$server_bin" --config "$work/config.json" >"$work/server.log" 2>&1 &
pids+=($!)
wait_for "$work/server.log" "music-server listening"
port=$(sed -nE 's/.*\(port ([0-9]+)\).*/\1/p' "$work/server.log" | head -1)
url="http://127.0.0.1:$port"
curl_grpc() { "$buf" curl --protocol grpc --http2-prior-knowledge "$@"; }

# Reflection lists the service and its methods.
curl_grpc --list-methods "$url" >"$work/methods.out" 2>&1 || fail "list-methods: $(cat "$work/methods.out")"
grep -q "music.v1.MusicService/CreateMusic" "$work/methods.out" || fail "CreateMusic not listed"
grep -q "music.v1.MusicService/WatchTask" "$work/methods.out" || fail "WatchTask not listed"
grep -q "music.v1.BillingService/CheckLedger" "$work/methods.out" || fail "BillingService not listed"
grep -q "music.v1.ReconciliationService/Reconcile" "$work/methods.out" ||
  fail "ReconciliationService not listed"

# CreateMusic with JSON, no proto files at hand.
curl_grpc "$url/music.v1.MusicService/CreateMusic" \
  -d '{"prompt": "a calm piano piece", "requestId": "buf-curl-1"}' >"$work/create.json" 2>&1 ||
  fail "CreateMusic: $(cat "$work/create.json")"
task_id=$(sed -nE 's/.*"taskId": *"([^"]+)".*/\1/p' "$work/create.json" | head -1)
[ -n "$task_id" ] || fail "no taskId in $(cat "$work/create.json")"
grep -q '"TASK_STATE_PENDING"' "$work/create.json" || fail "new task not PENDING"

# Invalid input comes back as INVALID_ARGUMENT naming the field.
if curl_grpc "$url/music.v1.MusicService/CreateMusic" -d '{"prompt": ""}' >"$work/bad.out" 2>&1; then
  fail "empty prompt accepted"
fi
grep -qi "invalid_argument" "$work/bad.out" || fail "no invalid_argument: $(cat "$work/bad.out")"
grep -q "prompt" "$work/bad.out" || fail "field not named: $(cat "$work/bad.out")"

# The task finishes.
for _ in $(seq 100); do
  curl_grpc "$url/music.v1.MusicService/GetTask" -d "{\"taskId\": \"$task_id\"}" >"$work/get.json" 2>&1 || true
  grep -q '"TASK_STATE_SUCCEEDED"' "$work/get.json" && break
  sleep 0.1
done
grep -q '"TASK_STATE_SUCCEEDED"' "$work/get.json" || fail "task did not succeed: $(cat "$work/get.json")"
grep -q '"audioUrl"' "$work/get.json" || fail "no audio URL"

# The task was reserved and settled: its ledger rows list, and the ledger checks out (an empty
# JSON object: no violations).
curl_grpc "$url/music.v1.BillingService/ListBillingTransactions" -d '{}' >"$work/ledger.json" 2>&1 ||
  fail "ListBillingTransactions: $(cat "$work/ledger.json")"
grep -q "btx_${task_id}_SETTLE" "$work/ledger.json" || fail "no SETTLE: $(cat "$work/ledger.json")"
curl_grpc "$url/music.v1.BillingService/CheckLedger" -d '{}' >"$work/check.json" 2>&1 ||
  fail "CheckLedger: $(cat "$work/check.json")"
grep -q "violations" "$work/check.json" && fail "ledger violations: $(cat "$work/check.json")"

# Health service answers SERVING.
curl_grpc "$url/grpc.health.v1.Health/Check" -d '{}' >"$work/health.json" 2>&1 || fail "health: $(cat "$work/health.json")"
grep -q SERVING "$work/health.json" || fail "not serving: $(cat "$work/health.json")"

# SIGTERM stops the server cleanly.
kill -TERM "${pids[1]}"
wait "${pids[1]}" || fail "server exit code $?"
grep -q "music-server: stopped" "$work/server.log" || fail "no clean stop"
echo "buf curl through reflection: OK (task $task_id succeeded)"
