package main

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// TestAgainstEtsyStatsd sends the recorded text sample to Etsy statsd
// itself and checks, in what its graphite backend flushes, that every gauge
// name passes its key rules unchanged and holds the last value sent.
func TestAgainstEtsyStatsd(t *testing.T) {
	// A fake carbon plays the graphite backend's destination.
	var mu sync.Mutex
	last := map[string]string{}
	badLines := 0.0 // the most bad lines statsd counted in one flush
	carbon := testutil.StartFakeCarbon(t, "", func(c net.Conn) {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Minute))
		testutil.ScanCarbonLines(c, func(name, value, _ string) {
			mu.Lock()
			defer mu.Unlock()
			last[name] = value
			if name == "stats_counts.statsd.bad_lines_seen" {
				v, _ := strconv.ParseFloat(value, 64)
				badLines = max(badLines, v)
			}
		})
	})

	_, addr := testutil.StartEtsyStatsd(t, carbon.Port(), 500, "graphite: { legacyNamespace: true },")
	_, port, _ := net.SplitHostPort(addr)

	code, _, stderr := runWithStdin(t, filepath.Join("testdata", "text.txt"), "-port", port)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := map[string]string{}
	for _, g := range gauges("mongotop.",
		"app.fs_chunks 120 20 100", "app.users 4 4 0", "local.oplog_rs 1 1 0", "admin.system_roles 0 0 0",
		"app.my_coll 2 1 1", "app._cmd_aggregate 7 7 0") {
		name, rest, _ := strings.Cut(g, ":")
		want["stats.gauges."+name] = strings.TrimSuffix(rest, "|g")
	}
	testutil.Eventually(t, 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for name, v := range want {
			if last[name] != v {
				return false
			}
		}
		return true
	}, "Etsy statsd never flushed the expected gauges; last values: %v", last)

	mu.Lock()
	defer mu.Unlock()
	if _, ok := last["stats_counts.statsd.bad_lines_seen"]; !ok {
		t.Errorf("no stats_counts.statsd.bad_lines_seen in the flushes")
	}
	if badLines != 0 {
		t.Errorf("Etsy statsd counted %v bad lines", badLines)
	}
	for name := range last {
		if strings.HasPrefix(name, "stats.gauges.mongotop.") {
			if _, ok := want[name]; !ok {
				t.Errorf("unexpected gauge %s", name)
			}
		}
	}
}
