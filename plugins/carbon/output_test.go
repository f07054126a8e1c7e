package carbon_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// startStorage starts h as a storage node: DreamcatcherCarbonInput on
// h.Port → FileOutput to out, a stand-in for a storage node (the cluster
// test uses the whisper output).
func startStorage(h *testutil.Hekad, out string) *testutil.Proc {
	return h.Start(h.WriteConfig(inputSections(h.Addr(), out, "self_metrics_interval = 0")),
		"Input started: DreamcatcherCarbonInput")
}

// edgeConfig writes h's config as an edge: statsd aggregated locally (Heka's
// stock StatsdInput on h.Port and StatAccumInput, flushing every second) →
// DreamcatcherCarbonOutput forwarding to relay.
func edgeConfig(h *testutil.Hekad, relay string, extra string) string {
	return h.WriteConfig(h.StockStatsd() + fmt.Sprintf(`emit_in_fields = false

[DreamcatcherCarbonOutput]
address = %q
self_metrics = "edge.{hostname}"
%s
`, relay, withDefaults(extra, "reconnect_min_ms = 50", "reconnect_max_ms = 200", "self_metrics_interval = 1")))
}

// valueSeen reports whether out holds name with a value other than "0".
func valueSeen(out, name string) bool {
	b, _ := os.ReadFile(out)
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == name && f[1] != "0" && f[1] != "0.000000" {
			return true
		}
	}
	return false
}

// TestEdgeForwarding drives two real hekads: an edge aggregating statsd and
// forwarding its flushes with DreamcatcherCarbonOutput, and a storage hekad
// receiving them with DreamcatcherCarbonInput. The storage node is stopped
// and started again: flushes made meanwhile are buffered and delivered.
func TestEdgeForwarding(t *testing.T) {
	s1, s2, edgeH := testutil.NewHekad(t), testutil.NewHekad(t), testutil.NewHekad(t)
	s2.Port = s1.Port // the second storage node comes back on the same address
	relay, statsd := s1.Addr(), edgeH.Addr()

	out1 := filepath.Join(s1.Dir, "storage1.txt")
	storage := startStorage(s1, out1)
	edge := edgeH.Start(edgeConfig(edgeH, relay, ""), "Input started: StatsdInput")

	testutil.SendUDP(t, statsd, "edge.before:5|c\nedge.temp:21|g")
	testutil.Eventually(t, 20*time.Second, func() bool {
		return valueSeen(out1, "stats.counters.edge.before.count") && valueSeen(out1, "stats.gauges.edge.temp")
	}, "edge flush never reached the storage node")
	testutil.Eventually(t, 20*time.Second, func() bool {
		return strings.Contains(readAll(out1), "\nedge.") && strings.Contains(readAll(out1), ".sent ")
	}, "the output's own metrics never arrived")

	// Storage node down: the edge keeps aggregating and buffers.
	storage.StopClean(syscall.SIGTERM, 15*time.Second)
	testutil.SendUDP(t, statsd, "edge.during:7|c")
	edge.WaitOutput("cannot connect to "+relay, 20*time.Second)

	out2 := filepath.Join(s2.Dir, "storage2.txt")
	storage2 := startStorage(s2, out2)
	testutil.Eventually(t, 30*time.Second, func() bool {
		return valueSeen(out2, "stats.counters.edge.during.count")
	}, "the flush made while the storage node was down was not delivered after it came back")
	edge.WaitOutput("connected to "+relay, 10*time.Second)

	edge.StopClean(syscall.SIGTERM, 20*time.Second)
	storage2.StopClean(syscall.SIGTERM, 15*time.Second)
}

func readAll(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// TestEdgeStopsWithRelayDown: with nothing listening, a stopping edge gives
// up after stop_timeout, says how much it dropped, and exits cleanly.
func TestEdgeStopsWithRelayDown(t *testing.T) {
	h := testutil.NewHekad(t)
	relay := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	edge := h.Start(edgeConfig(h, relay, "stop_timeout = 1"), "Input started: StatsdInput")
	testutil.SendUDP(t, h.Addr(), "x:1|c")
	edge.WaitOutput("cannot connect to "+relay, 20*time.Second)
	start := time.Now()
	edge.StopClean(syscall.SIGTERM, 20*time.Second)
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("stop took %s with stop_timeout = 1", took)
	}
	if !strings.Contains(edge.Output(), "not sent within 1s") {
		t.Errorf("no drop report in the log:\n%s", edge.Output())
	}
}

// TestCarbonOutputConfigErrors: bad settings stop hekad with a clear message.
func TestCarbonOutputConfigErrors(t *testing.T) {
	for _, c := range []struct{ extra, want string }{
		{"buffer_bytes = 10", "buffer_bytes"},
		{"reconnect_min_ms = 100\nreconnect_max_ms = 10", "reconnect_min_ms"},
		{"adress = \"x\"", "adress"},
	} {
		h := testutil.NewHekad(t)
		code, out := h.Run(edgeConfig(h, "127.0.0.1:1", c.extra), 15*time.Second)
		if code == 0 || !strings.Contains(out, c.want) || !strings.Contains(out, "DreamcatcherCarbonOutput") {
			t.Errorf("%s: exit %d, output:\n%s", c.extra, code, out)
		}
	}
}
