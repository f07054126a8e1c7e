package whisper_test

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
	gowhisper "github.com/lomik/go-whisper"
)

// TestProjectStatsdToWhisper: statsd over UDP → the real hekad with the
// project's DreamcatcherStatsdInput and this output → .wsp files whose
// archives, xFilesFactor, aggregation method, timestamps and values read
// back identically with go-whisper and with Graphite's whisper.py, and hold
// the values statsd's rules give. SIGTERM: the statsd input's final flush
// (stamped with the next slot) is on disk too.
func TestProjectStatsdToWhisper(t *testing.T) {
	testutil.RequireWhisperPy(t)
	h := testutil.NewHekad(t)
	base := h.Whisper
	cfg := h.WriteConfig(fmt.Sprintf(`[DreamcatcherStatsdInput]
address = %q
flush_interval = 1
[DreamcatcherWhisperOutput]
base_path = %q
default_retentions = "1s:10m,10s:1h"
self_metrics = ""
[[DreamcatcherWhisperOutput.schemas]]
name = "gauges"
pattern = "^stats\\.gauges\\."
retentions = "1s:5m,1m:1h"
`, h.Addr(), base))
	p := h.Start(cfg, "listening on udp")
	addr := h.Addr()
	testutil.SendUDP(t, addr, "s.hits:1|c\ns.hits:2|c\ns.hits:3|c|@0.5\ns.rt:10|ms\ns.rt:20|ms\ns.rt:30|ms\ns.rt:40|ms\ns.temp:21|g")

	count := wsp(base, "stats_counts.s.hits") // Etsy's default legacy namespace
	testutil.Eventually(t, 20*time.Second, func() bool {
		return exists(count) && exists(wsp(base, "stats.timers.s.rt.upper")) && goWhisperSum(t, count) == 9
	}, "counter total 9 never on disk")
	// Later flushes: another counter increment and a new gauge value.
	testutil.SendUDP(t, addr, "s.hits:4|c\ns.temp:22|g")
	testutil.Eventually(t, 20*time.Second, func() bool { return goWhisperSum(t, count) == 13 }, "second increment not on disk")
	p.StopClean(syscall.SIGTERM, 60*time.Second)
	if !strings.Contains(p.Output(), "final flush stamped") {
		t.Errorf("no final statsd flush in the log")
	}

	type want struct {
		method   string
		xff      float64
		archives string
		values   []float64 // values that must appear in archive 0
	}
	files := map[string]want{
		"stats_counts.s.hits":        {"sum", 0, "1:600,10:360", []float64{9, 4}},
		"stats.s.hits":               {"average", 0.5, "1:600,10:360", []float64{9, 4}},
		"stats.timers.s.rt.lower":    {"min", 0.1, "1:600,10:360", []float64{10}},
		"stats.timers.s.rt.upper":    {"max", 0.1, "1:600,10:360", []float64{40}},
		"stats.timers.s.rt.upper_90": {"max", 0.1, "1:600,10:360", []float64{40}},
		"stats.timers.s.rt.mean":     {"average", 0.5, "1:600,10:360", []float64{25}},
		"stats.timers.s.rt.count":    {"sum", 0, "1:600,10:360", []float64{4}},
		"stats.timers.s.rt.sum":      {"sum", 0, "1:600,10:360", []float64{100}},
		"stats.gauges.s.temp":        {"last", 0, "1:300,60:60", []float64{21, 22}},
	}
	for name, w := range files {
		path := wsp(base, name)
		py := testutil.ReadWhisperPy(t, path, 0, 0)
		var arch []string
		for _, a := range py.Archives {
			arch = append(arch, fmt.Sprintf("%d:%d", a.SecondsPerPoint, a.Points))
		}
		if py.AggregationMethod != w.method || float32(py.XFilesFactor) != float32(w.xff) || strings.Join(arch, ",") != w.archives {
			t.Errorf("%s: whisper.py says %s xff %v archives %v; want %s %v %s", name, py.AggregationMethod, py.XFilesFactor, arch, w.method, w.xff, w.archives)
		}
		db, err := gowhisper.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var garch []string
		for _, r := range db.Retentions() {
			garch = append(garch, fmt.Sprintf("%d:%d", r.SecondsPerPoint(), r.NumberOfPoints()))
		}
		if !strings.EqualFold(db.AggregationMethod(), py.AggregationMethod) || float64(db.XFilesFactor()) != py.XFilesFactor ||
			strings.Join(garch, ",") != strings.Join(arch, ",") {
			t.Errorf("%s: go-whisper header %s %v %v differs from whisper.py's", name, db.AggregationMethod(), db.XFilesFactor(), garch)
		}
		// Every point of the finest archive, both readers: same timestamps and values.
		step := db.Retentions()[0].SecondsPerPoint()
		var minTS, maxTS int64 = math.MaxInt64, 0
		for k := range py.Archives[0].Values {
			ts, _ := strconv.ParseInt(k, 10, 64)
			minTS, maxTS = min(minTS, ts), max(maxTS, ts)
		}
		if maxTS == 0 {
			t.Errorf("%s: no point", name)
			db.Close()
			continue
		}
		// go-whisper's Fetch does not reach past now; the final flush may
		// be stamped a second ahead.
		for time.Now().Unix() <= maxTS {
			time.Sleep(100 * time.Millisecond)
		}
		ts, err := db.Fetch(int(minTS)-step, int(maxTS))
		db.Close()
		if err != nil || ts == nil {
			t.Fatalf("%s: go-whisper fetch: %v", name, err)
		}
		got := map[string]float64{}
		for _, pt := range ts.Points() {
			if !math.IsNaN(pt.Value) {
				got[strconv.Itoa(pt.Time)] = pt.Value
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(py.Archives[0].Values) {
			t.Errorf("%s: go-whisper points %v, whisper.py %v", name, got, py.Archives[0].Values)
		}
		for _, v := range w.values {
			found := false
			for _, x := range py.Archives[0].Values {
				found = found || x == v
			}
			if !found {
				t.Errorf("%s: no point %v in %v", name, v, py.Archives[0].Values)
			}
		}
	}
	// The final flush (next slot, stamped past the last regular flush) holds
	// the gauge: its newest point is the latest value.
	py := testutil.ReadWhisperPy(t, wsp(base, "stats.gauges.s.temp"), 0, 0)
	var newest int64
	for k := range py.Archives[0].Values {
		ts, _ := strconv.ParseInt(k, 10, 64)
		newest = max(newest, ts)
	}
	if v := py.Archives[0].Values[strconv.FormatInt(newest, 10)]; v != 22 {
		t.Errorf("newest gauge point %v, want 22", v)
	}
}
