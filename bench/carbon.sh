#!/usr/bin/env bash
# Carbon plaintext throughput (issue 8): the carbon receiver's Go benchmarks,
# then lines/s through one forwarding hop on 127.0.0.1 — the project's hekad
# (DreamcatcherCarbonInput → DreamcatcherCarbonOutput) next to carbon-c-relay
# (Debian package, the reference; skipped if absent).
# Usage: bench/carbon.sh [LINES] [CONNECTIONS] [NAMES]
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-2000000}
conns=${2:-4}
names=${3:-10000}

echo "== Go benchmarks"
go test -run '^$' -bench . -benchmem -benchtime 2s ./plugins/carbon/receiver | grep -E '^Benchmark'

echo "== one hop, end to end"
go build -o bin/ ./cmd/hekad
go run ./bench/carbon -hekad bin/hekad -lines "$lines" -conns "$conns" -names "$names"
