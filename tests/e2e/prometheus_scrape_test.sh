#!/usr/bin/env bash
# A real Prometheus scrapes a real music-server: the provider emulator, music-server with
# metrics.listen on a loopback port, and Debian's `prometheus` (temp dir, 1 s scrape interval,
# the shipped alert rules loaded) on a free loopback port. A song is created and run to SUCCEEDED
# with musicctl; then Prometheus' HTTP API is queried until the expected series appear (bounded).
# Usage: prometheus_scrape_test.sh MUSIC_SERVER PROVIDER_EMULATOR MUSICCTL ALERTS_YML
set -euo pipefail
server_bin=$1 emulator_bin=$2 musicctl=$3 alerts=$4
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/*.log; do echo "--- $f" >&2; tail -n 40 "$f" >&2; done
  exit 1
}
wait_for() {  # wait_for FILE PATTERN: a line of FILE matches PATTERN within 20 s
  for _ in $(seq 400); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  fail "timed out waiting for '$2' in $1"
}

export KIE_API_KEY=prometheus-test-key
# The server refuses to start without a callback token secret (README "Callbacks").
export MUSIC_CALLBACK_SECRET="prometheus_scrape_test-callback-secret-$RANDOM$RANDOM"
"$emulator_bin" --port 0 --port_file "$work/emulator.port" --task_duration_ms 500 \
  >"$work/emulator.log" 2>&1 &
pids+=($!)
wait_for "$work/emulator.log" listening
cat >"$work/config.json" <<JSON
{"listen": "127.0.0.1:0", "database": {"path": "$work/music.db"},
 "callbacks": {"listen": "127.0.0.1:0"}, "tasks": {"poll_interval_seconds": 0.5},
 "metrics": {"listen": "127.0.0.1:0"},
 "providers": {"kie": {"base_url": "http://127.0.0.1:$(cat "$work/emulator.port")"}}}
JSON
"$server_bin" --config "$work/config.json" >"$work/server.log" 2>&1 &
pids+=($!)
wait_for "$work/server.log" "metrics on port"
port=$(sed -nE 's/.*\(port ([0-9]+)\).*/\1/p' "$work/server.log" | head -1)
metrics_port=$(sed -nE 's/.*metrics on port ([0-9]+).*/\1/p' "$work/server.log" | head -1)
curl -sf "http://127.0.0.1:$metrics_port/metrics" >"$work/first-scrape.txt" ||
  fail "GET /metrics on port $metrics_port"
grep -q "^# TYPE music_store_commits_total counter" "$work/first-scrape.txt" ||
  fail "no music_store_commits_total on /metrics: $(cat "$work/first-scrape.txt")"

cp "$alerts" "$work/alerts.yml"
cat >"$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["$work/alerts.yml"]
scrape_configs:
  - job_name: music-server
    static_configs:
      - targets: ["127.0.0.1:$metrics_port"]
YML

# A free loopback port for Prometheus: try a few random ones (the web listener says which
# failed); port 0 would work but Prometheus does not report the port it got.
prom_port=
for _ in 1 2 3 4 5; do
  candidate=$((20000 + RANDOM % 40000))
  prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$candidate" >"$work/prometheus.log" 2>&1 &
  prom_pid=$!
  for _ in $(seq 200); do
    if grep -q "Server is ready to receive web requests" "$work/prometheus.log"; then
      prom_port=$candidate
      break
    fi
    kill -0 "$prom_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -n "$prom_port" ]; then pids+=("$prom_pid"); break; fi
  kill -TERM "$prom_pid" 2>/dev/null || true
  wait "$prom_pid" 2>/dev/null || true
done
[ -n "$prom_port" ] || fail "prometheus did not start"
grep -q "Completed loading of configuration file" "$work/prometheus.log" ||
  fail "prometheus did not load its configuration (alert rules)"

"$musicctl" create --server "127.0.0.1:$port" --prompt "a calm piano piece" \
  --request_id "prom-$RANDOM" --watch >"$work/musicctl.log" 2>&1 ||
  fail "musicctl create --watch: $(cat "$work/musicctl.log")"
grep -q SUCCEEDED "$work/musicctl.log" || fail "the task did not succeed"

# query EXPR: until Prometheus returns a non-empty vector whose first value is >= 1 (30 s).
query() {
  local expr=$1 answer=
  for _ in $(seq 60); do
    answer=$(curl -sf -G "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$expr") ||
      answer=
    if [ -n "$answer" ] &&
       jq -e '.status == "success" and (.data.result | length) > 0 and
              (.data.result[0].value[1] | tonumber) >= 1' <<<"$answer" >/dev/null; then
      echo "ok: $expr = $(jq -r '.data.result[0].value[1]' <<<"$answer")"
      return 0
    fi
    sleep 0.5
  done
  fail "no series for $expr (last answer: $answer)"
}

query 'music_rpc_requests_total{method="/music.v1.MusicService/CreateMusic",code="OK"}'
query 'music_rpc_duration_seconds_count{method="/music.v1.MusicService/WatchTask"}'
query 'music_tasks_created_total{kind="music",provider="kie"}'
query 'music_tasks_ended_total{kind="music",provider="kie",state="succeeded",code="OK"}'
query 'music_task_duration_seconds_count{state="succeeded"}'
query 'music_provider_requests_total{provider="kie",endpoint="submit",outcome="OK"}'
query 'music_http_queue_wait_seconds_count{provider="kie"}'
query 'music_ledger_reserved_micros_total{currency="CREDITS"}'
query 'music_store_commits_total'
# The gauges exist (their values may be 0 by now): `count` of the series is >= 1.
query 'count(music_watch_streams)'
query 'count(music_engine_oldest_due_age_seconds)'
# The shipped rules were loaded and evaluated.
answer=$(curl -sf "http://127.0.0.1:$prom_port/api/v1/rules") || fail "GET /api/v1/rules"
jq -e '[.data.groups[].rules[]] | length >= 5' <<<"$answer" >/dev/null ||
  fail "the alert rules are not loaded: $answer"
echo "PASS"
