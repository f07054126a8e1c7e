package whisper_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/whisperfile"
	gowhisper "github.com/lomik/go-whisper"
)

// goWhisperSum is the sum of the finest archive's points, read with
// github.com/lomik/go-whisper.
func goWhisperSum(t *testing.T, path string) float64 {
	t.Helper()
	sum, _ := goWhisperSumCount(t, path)
	return sum
}

// goWhisperSumCount also returns the number of points.
func goWhisperSumCount(t *testing.T, path string) (float64, int) {
	t.Helper()
	db, err := gowhisper.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := int(time.Now().Unix())
	ts, err := db.Fetch(now-db.Retentions()[0].MaxRetention()+1, now)
	if err != nil || ts == nil {
		t.Fatalf("fetch %s: %v", path, err)
	}
	sum, n := 0.0, 0
	for _, v := range ts.Values() {
		if !math.IsNaN(v) {
			sum += v
			n++
		}
	}
	return sum, n
}

func wsp(base, name string) string {
	return filepath.Join(base, strings.ReplaceAll(name, ".", "/")+".wsp")
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// sumArchive0 is the sum of every point of the finest archive, read with
// Graphite's whisper.py, and the number of points.
func sumArchive0(t *testing.T, path string) (float64, int, testutil.WhisperPy) {
	t.Helper()
	py := testutil.ReadWhisperPy(t, path, 0, 0)
	sum := 0.0
	for _, v := range py.Archives[0].Values {
		sum += v
	}
	return sum, len(py.Archives[0].Values), py
}

// TestStockHekaStatsdConfig runs Heka's stock statsd → whisper configuration
// unchanged on the project's hekad: StatsdInput, StatAccumInput with a 1 s
// tick and WhisperOutput with Heka's keys. Graphite's whisper.py must read
// the archives Heka's config asked for and the right values.
func TestStockHekaStatsdConfig(t *testing.T) {
	testutil.RequireWhisperPy(t)
	h := testutil.NewHekad(t)
	base := h.Whisper
	cfg := h.WriteConfig(h.StockStatsd() + fmt.Sprintf(`
[WhisperOutput]
base_path = %q
message_matcher = "Type == 'heka.statmetric'"
default_archive_info = [[0,1,600],[0,600,144],[0,3600,168]]
`, base))
	p := h.Start(cfg, "Input started: StatsdInput")
	testutil.SendUDP(t, h.Addr(),
		"app.hits:1|c\napp.hits:2|c\napp.hits:3|c|@0.5",
		"app.latency:10|ms\napp.latency:20|ms\napp.latency:30|ms",
		"app.temp:21|g")

	count := wsp(base, "stats.counters.app.hits.count")
	testutil.Eventually(t, 20*time.Second, func() bool {
		if !exists(count) || !exists(wsp(base, "stats.timers.app.latency.upper")) {
			return false
		}
		sum, _, _ := sumArchive0(t, count)
		return sum == 9
	}, "counter total 9 never read back from %s", count)

	_, _, py := sumArchive0(t, count)
	if len(py.Archives) != 3 || py.Archives[0].SecondsPerPoint != 1 || py.Archives[0].Points != 600 ||
		py.Archives[1].SecondsPerPoint != 600 || py.Archives[1].Points != 144 ||
		py.Archives[2].SecondsPerPoint != 3600 || py.Archives[2].Points != 168 {
		t.Errorf("archives %+v", py.Archives)
	}
	if py.AggregationMethod != "sum" || py.XFilesFactor != 0 {
		t.Errorf("count: method %s xff %v, want sum 0", py.AggregationMethod, py.XFilesFactor)
	}
	now := time.Now().Unix()
	for name, want := range map[string]float64{
		"stats.timers.app.latency.lower": 10, "stats.timers.app.latency.upper": 30,
		"stats.timers.app.latency.sum": 60, "stats.timers.app.latency.mean": 20, "stats.timers.app.latency.count": 3,
	} {
		py := testutil.ReadWhisperPy(t, wsp(base, name), now-300, now) // well inside the 600 s archive
		found := false
		for _, v := range py.Archives[0].Values {
			if v == want {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no point %v in %v", name, want, py.Archives[0].Values)
		}
		if py.Fetch == nil || py.Fetch.Step != 1 {
			t.Errorf("%s: whisper.fetch %+v", name, py.Fetch)
		}
	}
	// A gauge keeps its value at every flush; its method is last.
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, n, _ := sumArchive0(t, wsp(base, "stats.gauges.app.temp"))
		return n >= 2
	}, "gauge written at fewer than 2 flushes")
	gsum, n, gpy := sumArchive0(t, wsp(base, "stats.gauges.app.temp"))
	if gsum != 21*float64(n) || gpy.AggregationMethod != "last" {
		t.Errorf("gauge: %d points summing to %v, method %s", n, gsum, gpy.AggregationMethod)
	}
	p.StopClean(syscall.SIGTERM, 30*time.Second)
	if !strings.Contains(p.Output(), "cache written out") {
		t.Errorf("no final write-out in the log:\n%s", p.Output())
	}
}

// TestFieldsMessages: StatAccumInput emitting stats as message fields only
// (emit_in_fields) is stored the same way.
func TestFieldsMessages(t *testing.T) {
	h := testutil.NewHekad(t)
	base := h.Whisper
	// The keys after StockStatsd belong to its [StatAccumInput].
	cfg := h.WriteConfig(h.StockStatsd() + fmt.Sprintf(`emit_in_payload = false
emit_in_fields = true
[DreamcatcherWhisperOutput]
base_path = %q
default_retentions = "1s:10m,1m:1d"
self_metrics = ""
`, base))
	p := h.Start(cfg, "Input started: StatsdInput")
	testutil.SendUDP(t, h.Addr(), "f.hits:5|c\nf.hits:6|c")
	count := wsp(base, "stats.counters.f.hits.count")
	testutil.Eventually(t, 20*time.Second, func() bool {
		h, err := whisperfile.ReadHeaderFile(count)
		return err == nil && h.Archives.String() == "1:600,60:1440"
	}, "no %s", count)
	testutil.Eventually(t, 10*time.Second, func() bool {
		return goWhisperSum(t, count) == 11
	}, "field counter total never 11")
	p.Stop(syscall.SIGTERM, 30*time.Second)
}

// TestGraphiteConfFiles: pointed at Graphite's storage-schemas.conf and
// storage-aggregation.conf, new files get the archives, aggregation and
// xFilesFactor those files say (first match wins), read back by whisper.py.
func TestGraphiteConfFiles(t *testing.T) {
	testutil.RequireWhisperPy(t)
	h := testutil.NewHekad(t)
	dir, base := h.Dir, h.Whisper
	schemas := testutil.WriteFile(t, dir, "storage-schemas.conf", `
# first match wins
[timers]
pattern = ^stats\.timers\.
retentions = 1s:5m,10s:1h

[everything]
pattern = .*
retentions = 1s:2m,1m:1d
`)
	aggs := testutil.WriteFile(t, dir, "storage-aggregation.conf", `
[upper]
pattern = \.upper$
xFilesFactor = 0.25
aggregationMethod = max

[all]
pattern = .*
xFilesFactor = 0.7
aggregationMethod = average
`)
	cfg := h.WriteConfig(h.StockStatsd() + fmt.Sprintf(`[DreamcatcherWhisperOutput]
base_path = %q
storage_schemas_file = %q
storage_aggregation_file = %q
self_metrics = ""
`, base, schemas, aggs))
	p := h.Start(cfg, "Input started: StatsdInput")
	testutil.SendUDP(t, h.Addr(), "g.hits:1|c\ng.rt:5|ms")
	files := map[string]struct {
		archives, method string
		xff              float64
	}{
		"stats.timers.g.rt.upper":     {"1:300,10:360", "max", 0.25},
		"stats.timers.g.rt.lower":     {"1:300,10:360", "average", 0.7}, // the file's [all] comes before statsd's rules
		"stats.counters.g.hits.count": {"1:120,60:1440", "average", 0.7},
	}
	testutil.Eventually(t, 20*time.Second, func() bool {
		for name := range files {
			if !exists(wsp(base, name)) {
				return false
			}
		}
		return true
	}, "files not created")
	for name, w := range files {
		py := testutil.ReadWhisperPy(t, wsp(base, name), 0, 0)
		var arch []string
		for _, a := range py.Archives {
			arch = append(arch, fmt.Sprintf("%d:%d", a.SecondsPerPoint, a.Points))
		}
		if strings.Join(arch, ",") != w.archives || py.AggregationMethod != w.method || float32(py.XFilesFactor) != float32(w.xff) {
			t.Errorf("%s: %v %s %v, want %s %s %v", name, arch, py.AggregationMethod, py.XFilesFactor, w.archives, w.method, w.xff)
		}
	}
	p.Stop(syscall.SIGTERM, 30*time.Second)
}
