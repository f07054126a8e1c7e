#!/usr/bin/env bash
# Runs the whole system on the default config: hekad (statsd on UDP
# 127.0.0.1:8125, whisper files under ./data/whisper) and whisperserver
# (http://127.0.0.1:8080). Ctrl-C stops both cleanly (SIGTERM, flushing first)
# and the script exits 0 when both stopped cleanly. The terminal is quiet by
# default: HEKAD_FLAGS=-verbose brings back Heka's per-section "Loading"
# lines, WHISPERSERVER_ACCESS_LOG=true a line per request.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${HEKAD_CONFIG:-hekad.toml.example}
WHISPER_DIR=${WHISPER_DIR:-data/whisper}
LISTEN=${LISTEN:-127.0.0.1:8080}
BIN=${BIN:-./bin}
mkdir -p "$WHISPER_DIR"

pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  status=0
  for p in "${pids[@]}"; do wait "$p" || status=$?; done
  exit "$status"
}
trap stop INT TERM EXIT

"$BIN/hekad" ${HEKAD_FLAGS:-} -config "$CONFIG" &
pids+=($!)
if [ -x "$BIN/whisperserver" ]; then
  "$BIN/whisperserver" -whisper-dir "$WHISPER_DIR" -listen "$LISTEN" &
  pids+=($!)
  echo "run: whisperserver on http://$LISTEN/"
fi
echo "run: hekad with $CONFIG; send a metric: echo 'hello.world:1|c' | nc -u -w1 127.0.0.1 8125"
wait -n
