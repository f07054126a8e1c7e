#!/usr/bin/env bash
# Benchmarks of the collectors (issue 7): mongotop-statsd's parser and whole
# pipeline, and one full host collection. Usage: bench/collectors.sh [SAMPLES]
#   SAMPLES  text-form samples (10 namespaces each) piped through the real
#            binary (default 20000, i.e. 220,000 lines)
set -euo pipefail
cd "$(dirname "$0")/.."
samples=${1:-20000}

echo "== Go benchmarks"
go test -run '^$' -bench . -benchtime 2s ./collectors/mongotop ./plugins/host/collect | grep -E '^Benchmark'

echo "== mongotop-statsd end to end: $samples samples of 10 namespaces, -print to /dev/null"
go build -o bin/ ./cmd/mongotop-statsd
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk -v n="$samples" 'BEGIN {
  for (s = 0; s < n; s++) {
    print "                    ns    total    read    write    2026-11-25T09:44:37Z"
    for (i = 0; i < 10; i++) printf "        app.fs.chunks%d    %dms    20ms    100ms\n", i, s % 1000
    print ""
  }
}' > "$tmp/in.txt"
lines=$(wc -l < "$tmp/in.txt")
start=$(date +%s.%N)
bin/mongotop-statsd -print -v < "$tmp/in.txt" > /dev/null
end=$(date +%s.%N)
awk -v l="$lines" -v s="$start" -v e="$end" 'BEGIN { printf "%d lines in %.2f s: %.0f lines/s\n", l, e - s, l / (e - s) }'
