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

// storageConfig: DreamcatcherCarbonInput → FileOutput, a stand-in for a
// storage node (the cluster test uses the whisper output).
func storageConfig(dir, addr, out string) string {
	return inputConfig(dir, addr, out, "self_metrics_interval = 0")
}

// edgeConfig: statsd aggregated locally (Heka's stock StatsdInput and
// StatAccumInput, flushing every second) → DreamcatcherCarbonOutput.
func edgeConfig(dir string, statsdPort int, relay string, extra string) string {
	return fmt.Sprintf(`
[hekad]
base_dir = %q

[StatsdInput]
address = "127.0.0.1:%d"

[StatAccumInput]
ticker_interval = 1
emit_in_fields = false

[DreamcatcherCarbonOutput]
address = %q
self_metrics = "edge.{hostname}"
%s
`, filepath.Join(dir, "base"), statsdPort, relay,
		withDefaults(extra, "reconnect_min_ms = 50", "reconnect_max_ms = 200", "self_metrics_interval = 1"))
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
	bin := testutil.Binary(t, "hekad")
	dir := t.TempDir()
	relay := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	statsdPort := testutil.FreePort(t)
	statsd := fmt.Sprintf("127.0.0.1:%d", statsdPort)

	out1 := filepath.Join(dir, "storage1.txt")
	cfg1 := testutil.WriteFile(t, filepath.Join(dir, "s1"), "hekad.toml", storageConfig(filepath.Join(dir, "s1"), relay, out1))
	storage := testutil.Start(t, bin, "-config", cfg1)
	storage.WaitOutput("Input started: DreamcatcherCarbonInput", 15*time.Second)

	edgeCfg := testutil.WriteFile(t, filepath.Join(dir, "edge"), "hekad.toml", edgeConfig(filepath.Join(dir, "edge"), statsdPort, relay, ""))
	edge := testutil.Start(t, bin, "-config", edgeCfg)
	edge.WaitOutput("Input started: StatsdInput", 15*time.Second)

	testutil.SendUDP(t, statsd, "edge.before:5|c\nedge.temp:21|g")
	testutil.Eventually(t, 20*time.Second, func() bool {
		return valueSeen(out1, "stats.counters.edge.before.count") && valueSeen(out1, "stats.gauges.edge.temp")
	}, "edge flush never reached the storage node")
	testutil.Eventually(t, 20*time.Second, func() bool {
		return strings.Contains(readAll(out1), "\nedge.") && strings.Contains(readAll(out1), ".sent ")
	}, "the output's own metrics never arrived")

	// Storage node down: the edge keeps aggregating and buffers.
	if code := storage.Stop(syscall.SIGTERM, 15*time.Second); code != 0 {
		t.Fatalf("storage exit %d", code)
	}
	testutil.SendUDP(t, statsd, "edge.during:7|c")
	edge.WaitOutput("cannot connect to "+relay, 20*time.Second)

	out2 := filepath.Join(dir, "storage2.txt")
	cfg2 := testutil.WriteFile(t, filepath.Join(dir, "s2"), "hekad.toml", storageConfig(filepath.Join(dir, "s2"), relay, out2))
	storage2 := testutil.Start(t, bin, "-config", cfg2)
	storage2.WaitOutput("Input started: DreamcatcherCarbonInput", 15*time.Second)
	testutil.Eventually(t, 30*time.Second, func() bool {
		return valueSeen(out2, "stats.counters.edge.during.count")
	}, "the flush made while the storage node was down was not delivered after it came back")
	edge.WaitOutput("connected to "+relay, 10*time.Second)

	if code := edge.Stop(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("edge exit %d", code)
	}
	if code := storage2.Stop(syscall.SIGTERM, 15*time.Second); code != 0 {
		t.Fatalf("storage exit %d", code)
	}
}

func readAll(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// TestEdgeStopsWithRelayDown: with nothing listening, a stopping edge gives
// up after stop_timeout, says how much it dropped, and exits cleanly.
func TestEdgeStopsWithRelayDown(t *testing.T) {
	bin := testutil.Binary(t, "hekad")
	dir := t.TempDir()
	statsdPort := testutil.FreePort(t)
	relay := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	cfg := testutil.WriteFile(t, dir, "hekad.toml", edgeConfig(dir, statsdPort, relay, "stop_timeout = 1"))
	edge := testutil.Start(t, bin, "-config", cfg)
	edge.WaitOutput("Input started: StatsdInput", 15*time.Second)
	testutil.SendUDP(t, fmt.Sprintf("127.0.0.1:%d", statsdPort), "x:1|c")
	edge.WaitOutput("cannot connect to "+relay, 20*time.Second)
	start := time.Now()
	if code := edge.Stop(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("edge exit %d", code)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("stop took %s with stop_timeout = 1", took)
	}
	if !strings.Contains(edge.Output(), "not sent within 1s") {
		t.Errorf("no drop report in the log:\n%s", edge.Output())
	}
}

// TestCarbonOutputConfigErrors: bad settings stop hekad with a clear message.
func TestCarbonOutputConfigErrors(t *testing.T) {
	bin := testutil.Binary(t, "hekad")
	for _, c := range []struct{ extra, want string }{
		{"buffer_bytes = 10", "buffer_bytes"},
		{"reconnect_min_ms = 100\nreconnect_max_ms = 10", "reconnect_min_ms"},
		{"adress = \"x\"", "adress"},
	} {
		dir := t.TempDir()
		cfg := testutil.WriteFile(t, dir, "hekad.toml", edgeConfig(dir, testutil.FreePort(t), "127.0.0.1:1", c.extra))
		code, out := testutil.Run(t, 15*time.Second, bin, "-config", cfg)
		if code == 0 || !strings.Contains(out, c.want) || !strings.Contains(out, "DreamcatcherCarbonOutput") {
			t.Errorf("%s: exit %d, output:\n%s", c.extra, code, out)
		}
	}
}
