#!/usr/bin/env bash
# Runs each fuzz target (package:FuzzName) for a short time.
# Go's fuzzer sometimes ends a run that found nothing with a bare "context
# deadline exceeded" when -fuzztime expires while a worker is busy (for
# example minimising a new interesting input). Such a run is repeated once.
# A real failure is never hidden: the fuzzer writes the failing input to
# testdata/fuzz, so the repeat replays it as a seed and fails again.
set -uo pipefail
fuzztime=$1; shift
for t in "$@"; do
  pkg=${t%%:*}; name=${t##*:}
  for attempt in 1 2; do
    echo "fuzz $pkg $name ($fuzztime)"
    out=$(go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" "$pkg" 2>&1)
    rc=$?
    echo "$out" | tail -n 4
    [ $rc -eq 0 ] && break
    if [ $attempt -eq 1 ] && ! grep -q "Failing input written" <<<"$out" &&
       grep -q "context deadline exceeded" <<<"$out"; then
      echo "fuzz: $name stopped on the fuzzer's own deadline with no failing input; running it once more"
      continue
    fi
    echo "$out"
    exit 1
  done
done
