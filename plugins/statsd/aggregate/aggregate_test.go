package aggregate

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

// flush returns one flush as name → value.
func flush(t *testing.T, a *Aggregator, ts int64) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSuffix(string(a.Flush(ts)), "\n"), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("bad line %q", line)
		}
		if f[2] != strconv.FormatInt(ts, 10) {
			t.Fatalf("line %q: timestamp, want %d", line, ts)
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if _, dup := out[f[0]]; dup {
			t.Fatalf("duplicate name %q", f[0])
		}
		out[f[0]] = v
	}
	return out
}

func expect(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("missing %s (want %v)", k, w)
			continue
		}
		if math.Abs(g-w) > 1e-9*math.Max(1, math.Abs(w)) {
			t.Errorf("%s = %v, want %v", k, g, w)
		}
	}
}

func absent(t *testing.T, got map[string]float64, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, ok := got[n]; ok {
			t.Errorf("%s present, want absent", n)
		}
	}
}

func TestLegacyNamespace(t *testing.T) {
	a := New(DefaultConfig(), 2)
	s0, s1 := a.Shards()[0], a.Shards()[1]
	s0.AddPacket([]byte("hits:1|c\nhits:2|c|@0.5\nlat:10|ms\nlat:20|ms:30|ms\n"))
	s1.AddPacket([]byte("temp:21|g\ntemp:+4|g\nusers:a|s\nusers:b|s\nusers:a|s\nbad line\n\n"))
	got := flush(t, a, 1000)
	expect(t, got, map[string]float64{
		"stats.hits":                           0.5, // (1 + 4) / 10 s
		"stats_counts.hits":                    5,
		"stats.timers.lat.count":               3,
		"stats.timers.lat.count_ps":            0.3,
		"stats.timers.lat.lower":               10,
		"stats.timers.lat.upper":               30,
		"stats.timers.lat.sum":                 60,
		"stats.timers.lat.sum_squares":         1400,
		"stats.timers.lat.mean":                20,
		"stats.timers.lat.median":              20,
		"stats.timers.lat.std":                 math.Sqrt(200.0 / 3),
		"stats.timers.lat.count_90":            3,
		"stats.timers.lat.upper_90":            30,
		"stats.gauges.temp":                    25,
		"stats.sets.users.count":               2,
		"stats.statsd.packets_received":        0.2,
		"stats_counts.statsd.packets_received": 2,
		"stats_counts.statsd.metrics_received": 10,
		"stats_counts.statsd.bad_lines_seen":   1,
		"statsd.numStats":                      7, // 4 counters (3 own), 1 timer, 1 gauge, 1 set
	})
	for _, n := range []string{"stats.statsd.graphiteStats.calculationtime", "stats.statsd.processing_time"} {
		if _, ok := got[n]; !ok {
			t.Errorf("missing %s", n)
		}
	}

	// Next flush: counters stay at 0, timers report count 0, sets 0, gauges
	// keep their value, and the timestamp lag appears.
	got = flush(t, a, 1011)
	expect(t, got, map[string]float64{
		"stats_counts.hits":                 0,
		"stats.timers.lat.count":            0,
		"stats.timers.lat.count_ps":         0,
		"stats.gauges.temp":                 25,
		"stats.sets.users.count":            0,
		"stats.gauges.statsd.timestamp_lag": 1,
	})
	absent(t, got, "stats.timers.lat.upper", "stats.timers.lat.mean")
}

func TestModernNamespaceAndPrefixes(t *testing.T) {
	cfg := DefaultConfig()
	cfg.LegacyNamespace = false
	cfg.GlobalPrefix = "app"
	cfg.PrefixCounter = "c"
	cfg.PrefixTimer = ""
	cfg.GlobalSuffix = "sfx"
	cfg.PrefixStats = "agg"
	cfg.FlushCounts = false
	a := New(cfg, 1)
	a.Shards()[0].AddPacket([]byte("hits:4|c|#env:prod\nlat:5|ms\ntemp:1|g\nu:x|s"))
	got := flush(t, a, 50)
	expect(t, got, map[string]float64{
		"app.c.hits.rate.sfx;env=prod":        0.4,
		"app.lat.count.sfx":                   1,
		"app.gauges.temp.sfx":                 1,
		"app.sets.u.count.sfx":                1,
		"app.c.agg.packets_received.rate.sfx": 0.1,
		"app.agg.numStats.sfx":                7,
	})
	absent(t, got, "app.c.hits.count.sfx;env=prod")
	if _, ok := got["app.agg.graphiteStats.calculationtime.sfx"]; !ok {
		t.Errorf("no calculationtime in %v", got)
	}
	if _, ok := got["app.agg.processing_time.sfx"]; !ok {
		t.Errorf("no processing_time in %v", got)
	}
}

func TestGaugeDeltaRule(t *testing.T) {
	a := New(DefaultConfig(), 1)
	s := a.Shards()[0]
	s.AddPacket([]byte("g1:+5|g\ng2:10|g\ng2:-3|g\ng3:0|g\ng3:-2|g"))
	expect(t, flush(t, a, 10), map[string]float64{
		"stats.gauges.g1": 5, "stats.gauges.g2": 7, "stats.gauges.g3": -2})
	s.AddPacket([]byte("g1:+1|g\ng2:4|g\ng3:+2|g"))
	expect(t, flush(t, a, 20), map[string]float64{
		"stats.gauges.g1": 6, "stats.gauges.g2": 4, "stats.gauges.g3": 0})
	s.AddPacket([]byte("g3:+3|g"))
	expect(t, flush(t, a, 30), map[string]float64{"stats.gauges.g3": 3})
}

func TestPercentilesAndHistogram(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PercentThresholds = []float64{90, 50, -10, 99.5}
	cfg.Histograms = []Histogram{{Metric: "lat", Bins: []float64{5, 10.5, math.Inf(1)}}}
	a := New(cfg, 1)
	var b strings.Builder
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&b, "lat:%d|ms\n", i)
	}
	a.Shards()[0].AddPacket([]byte(b.String()))
	expect(t, flush(t, a, 10), map[string]float64{
		"stats.timers.lat.count_90":           9,
		"stats.timers.lat.upper_90":           9,
		"stats.timers.lat.sum_90":             45,
		"stats.timers.lat.mean_90":            5,
		"stats.timers.lat.sum_squares_90":     285,
		"stats.timers.lat.count_50":           5,
		"stats.timers.lat.upper_50":           5,
		"stats.timers.lat.count_top10":        1,
		"stats.timers.lat.lower_top10":        10,
		"stats.timers.lat.sum_top10":          10,
		"stats.timers.lat.count_99_5":         10,
		"stats.timers.lat.median":             5.5,
		"stats.timers.lat.histogram.bin_5":    4,
		"stats.timers.lat.histogram.bin_10_5": 6,
		"stats.timers.lat.histogram.bin_inf":  0,
	})
}

func TestCalculatedTimerMetrics(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PercentThresholds = []float64{90, 99.9}
	cfg.CalculatedTimerMetrics = []string{"count", "upper_percent", "mean"}
	a := New(cfg, 1)
	a.Shards()[0].AddPacket([]byte("t:1|ms\nt:2|ms\nt:3|ms"))
	got := flush(t, a, 10)
	expect(t, got, map[string]float64{"stats.timers.t.count": 3, "stats.timers.t.upper_90": 3, "stats.timers.t.mean": 2})
	// Etsy's filter maps upper_99_9 to upper_99_percent, which is unknown: dropped.
	absent(t, got, "stats.timers.t.upper_99_9", "stats.timers.t.lower", "stats.timers.t.count_ps", "stats.timers.t.count_90")
}

func TestDeleteIdle(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DeleteCounters, cfg.DeleteTimers, cfg.DeleteSets, cfg.DeleteGauges = true, true, true, true
	cfg.GaugesMaxTTL = 2
	a := New(cfg, 1)
	a.Shards()[0].AddPacket([]byte("c:1|c\nt:1|ms\ns:1|s\ng:1|g"))
	expect(t, flush(t, a, 10), map[string]float64{"stats_counts.c": 1, "stats.timers.t.count": 1, "stats.sets.s.count": 1, "stats.gauges.g": 1})
	got := flush(t, a, 20)
	absent(t, got, "stats_counts.c", "stats.timers.t.count", "stats.sets.s.count")
	expect(t, got, map[string]float64{"stats.gauges.g": 1, "stats_counts.statsd.packets_received": 0})
	got = flush(t, a, 30)
	absent(t, got, "stats.gauges.g")
}

func TestTagsDropped(t *testing.T) {
	cfg := DefaultConfig()
	cfg.KeepTags = false
	a := New(cfg, 1)
	a.Shards()[0].AddPacket([]byte("hits:1|c|#a:b\nhits:2|c|#c:d"))
	expect(t, flush(t, a, 10), map[string]float64{"stats_counts.hits": 3})
}

func TestIgnoredLines(t *testing.T) {
	a := New(DefaultConfig(), 1)
	a.Shards()[0].AddPacket([]byte("_e{3,4}:abc|defg\n_sc|svc|0\nx:1|h"))
	expect(t, flush(t, a, 10), map[string]float64{
		"stats_counts.statsd.ignored_lines_seen": 2,
		"stats_counts.statsd.bad_lines_seen":     0,
		"stats.timers.x.count":                   1,
	})
}

func TestFormatNumber(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 1: "1", -2.5: "-2.5", 0.1: "0.1", 1e21: "1e+21", 1.5e-7: "1.5e-7", 123456789: "123456789",
		1.0 / 3: "0.3333333333333333", math.Inf(1): "Infinity",
	} {
		if got := string(FormatNumber(nil, v)); got != want {
			t.Errorf("FormatNumber(%v) = %q, want %q", v, got, want)
		}
	}
	if cleanNumber(-99.9) != "top99_9" {
		t.Errorf("cleanNumber(-99.9) = %q", cleanNumber(-99.9))
	}
}

func TestZeroAllocsSteadyState(t *testing.T) {
	a := New(DefaultConfig(), 1)
	s := a.Shards()[0]
	pkt := []byte("app.hits:1|c\napp.lat:12|ms\napp.temp:+1|g\napp.u:7|s\napp.x:1|c|#env:prod")
	s.AddPacket(pkt)
	s.AddPacket(pkt)
	n := testing.AllocsPerRun(1000, func() { s.AddPacket(pkt) })
	if n != 0 {
		t.Fatalf("%v allocations per packet in steady state, want 0", n)
	}
}

func TestValidate(t *testing.T) {
	for _, mod := range []func(*Config){
		func(c *Config) { c.FlushInterval = 0 },
		func(c *Config) { c.PercentThresholds = []float64{0} },
		func(c *Config) { c.PercentThresholds = []float64{101} },
		func(c *Config) { c.Histograms = []Histogram{{Metric: "x", Bins: []float64{5, 1}}} },
		func(c *Config) { c.CalculatedTimerMetrics = []string{"p99"} },
		func(c *Config) { c.PrefixStats = "" },
	} {
		c := DefaultConfig()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("config %+v validated", c)
		}
	}
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func benchPacket(names, lines int) [][]byte { return benchPacketTags(names, lines, "") }

// benchPacketTags is benchPacket with tags (e.g. "|#env:prod,dc:eu") after
// every line.
func benchPacketTags(names, lines int, tags string) [][]byte {
	var pkts [][]byte
	for p := 0; p < names/lines+1; p++ {
		var b strings.Builder
		for i := 0; i < lines; i++ {
			n := (p*lines + i) % names
			switch n % 4 {
			case 0, 1:
				fmt.Fprintf(&b, "bench.app.counter%d:1|c%s\n", n, tags)
			case 2:
				fmt.Fprintf(&b, "bench.app.timer%d:%d.5|ms%s\n", n, n%1000, tags)
			case 3:
				fmt.Fprintf(&b, "bench.app.gauge%d:+%d|g%s\n", n, n%100, tags)
			}
		}
		pkts = append(pkts, []byte(b.String()))
	}
	return pkts
}

// BenchmarkAddPacket measures parsing and aggregating datagrams of 20
// lines (counters, timers, gauges) over 1,000 and 100,000 names; ns/line
// and allocs/op (per datagram) are the figures to read.
func BenchmarkAddPacket(b *testing.B) {
	for _, names := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("names=%d", names), func(b *testing.B) {
			benchAdd(b, benchPacket(names, 20), 20)
		})
	}
}

// BenchmarkAddPacketTagged is BenchmarkAddPacket with the same series
// untagged and with three DogStatsD tags sent out of carbon's order (so that
// every line is sanitised, normalised and sorted): the tagged rate's target
// is within 20 % of the untagged one.
func BenchmarkAddPacketTagged(b *testing.B) {
	for _, names := range []int{1000, 100000} {
		for _, c := range []struct{ label, tags string }{
			{"untagged", ""},
			{"tagged", "|#env:prod,dc:eu-1,host:web-042"},
		} {
			b.Run(fmt.Sprintf("names=%d/%s", names, c.label), func(b *testing.B) {
				benchAdd(b, benchPacketTags(names, 20, c.tags), 20)
			})
		}
	}
}

// benchAdd feeds pkts (of lines lines each) to one shard once, so every
// name is known, then measures AddPacket over them and reports ns per line.
func benchAdd(b *testing.B, pkts [][]byte, lines int) {
	s := New(DefaultConfig(), 1).Shards()[0]
	for _, p := range pkts {
		s.AddPacket(p)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.AddPacket(pkts[i%len(pkts)])
		if i%len(pkts) == len(pkts)-1 && s.timers.Len() > 0 {
			// A flush empties the timers' value lists; do that
			// without measuring a flush.
			b.StopTimer()
			for e := range s.timers.entries {
				t := s.timers.entries[e].val
				t.values = t.values[:0]
			}
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
}

// BenchmarkFlush reports the cost of one flush (merge of two shards, every
// derived metric, formatting) of 1,000 and 100,000 names.
func BenchmarkFlush(b *testing.B) {
	for _, names := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("names=%d", names), func(b *testing.B) {
			a := New(DefaultConfig(), 2)
			pkts := benchPacket(names, 20)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				for j, p := range pkts {
					a.Shards()[j%2].AddPacket(p)
				}
				b.StartTimer()
				a.Flush(int64(10 * (i + 1)))
			}
		})
	}
}

// BenchmarkFlushCounters reports the cost of one flush of counters only
// (the statsd bench's load; merge of two shards, formatting), 1,000 and
// 100,000 names.
func BenchmarkFlushCounters(b *testing.B) {
	for _, names := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("names=%d", names), func(b *testing.B) {
			a := New(DefaultConfig(), 2)
			var pkts [][]byte
			for p := 0; p < names/20; p++ {
				var sb strings.Builder
				for i := 0; i < 20; i++ {
					fmt.Fprintf(&sb, "bench.n%06d:1|c\n", p*20+i)
				}
				pkts = append(pkts, []byte(sb.String()))
			}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				for j, p := range pkts {
					a.Shards()[j%2].AddPacket(p)
				}
				b.StartTimer()
				a.Flush(int64(10 * (i + 1)))
			}
		})
	}
}

// BenchmarkAddCounters reports the cost of a counter line (the statsd
// bench's load) with 1,000 and 100,000 names, 20 lines per datagram.
func BenchmarkAddCounters(b *testing.B) {
	for _, names := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("names=%d", names), func(b *testing.B) {
			var pkts [][]byte
			for p := 0; p < names/20; p++ {
				var sb strings.Builder
				for i := 0; i < 20; i++ {
					fmt.Fprintf(&sb, "bench.n%06d:1|c\n", p*20+i)
				}
				pkts = append(pkts, []byte(sb.String()))
			}
			benchAdd(b, pkts, 20)
		})
	}
}

func TestTaggedSeries(t *testing.T) {
	cfg := DefaultConfig()
	cfg.LegacyNamespace = false
	a := New(cfg, 2)
	s0, s1 := a.Shards()[0], a.Shards()[1]
	// Tag order does not matter, across shards too; untagged is its own series.
	s0.AddPacket([]byte("req:1|c|#env:prod,dc:eu\nreq:2|c|#dc:eu,env:prod\nreq:10|c\nlat:5|ms|#env:prod"))
	s1.AddPacket([]byte("req:4|c|#env:prod,dc:eu,env:prod\nreq;dc=eu;env=prod:8|c\nlat:7|ms|#env:prod\nflag:1|g|#canary"))
	// Tags Graphite cannot keep: bad lines, and reported.
	s1.AddPacket([]byte("req:1|c|#env:\nreq:1|c|#:prod"))
	got := flush(t, a, 100)
	expect(t, got, map[string]float64{
		"stats.counters.req.count;dc=eu;env=prod":    15,
		"stats.counters.req.count":                   10,
		"stats.timers.lat.count;env=prod":            2,
		"stats.timers.lat.mean;env=prod":             6,
		"stats.timers.lat.upper_90;env=prod":         7,
		"stats.gauges.flag;canary=true":              1,
		"stats.counters.statsd.bad_lines_seen.count": 2,
	})
	absent(t, got, "stats.counters.req.count;env=prod;dc=eu", "stats.timers.lat.count")
	if n, ex := a.TakeBadTags(); n != 2 || !strings.Contains(ex, "empty") {
		t.Errorf("TakeBadTags = %d, %q", n, ex)
	}
	if n, _ := a.TakeBadTags(); n != 0 {
		t.Errorf("TakeBadTags not reset: %d", n)
	}
	// A tagged name whose file name would be too long is refused up front,
	// once, whatever the order of its tags.
	s0.AddPacket([]byte("long:1|c|#k:" + strings.Repeat("v", 240) + ",a:b\nlong:1|c|#a:b,k:" + strings.Repeat("v", 240)))
	got = flush(t, a, 110)
	for k := range got {
		if strings.Contains(k, "long") {
			t.Errorf("unstorable tagged name emitted: %.60s", k)
		}
	}
	if n, _ := a.TakeUnstorable(); n != 1 {
		t.Errorf("TakeUnstorable = %d, want 1", n)
	}
}

// TestTaggedKeyMemoBounded: the memo of normalised keys (the general
// path's tagged lines: here a sample rate) stops at its bound and empties when full.
func TestTaggedKeyMemoBounded(t *testing.T) {
	a := New(DefaultConfig(), 1)
	s := a.Shards()[0]
	n := memoEntries + 10
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "m%d:1|c|@1|#z:1,a:2\n", i)
		if b.Len() > 60000 {
			s.AddPacket([]byte(b.String()))
			b.Reset()
		}
	}
	s.AddPacket([]byte(b.String()))
	s.AddPacket([]byte(fmt.Sprintf("m%d:2|c|@1|#z:1,a:2\nm0:2|c|@1|#z:1,a:2", n-1))) // one past the memo, one in it
	if len(s.memo) != memoEntries {
		t.Errorf("memo holds %d keys, want the bound %d", len(s.memo), memoEntries)
	}
	got := flush(t, a, 10)
	expect(t, got, map[string]float64{
		"stats_counts.m0;a=2;z=1":                    3,
		fmt.Sprintf("stats_counts.m%d;a=2;z=1", n-1): 3,
		"stats_counts.m5;a=2;z=1":                    1,
	})
	if len(s.memo) != 0 {
		t.Errorf("full memo not emptied at the flush: %d", len(s.memo))
	}
}

// TestTagOrderOneSeries: the simple tagged lines of one series sent with
// their tags in different orders (kept under their raw keys in the shard)
// are one series at the flush: counters summed, timers' samples joined,
// a gauge's writes kept in order; bad tags stay bad lines on every line,
// and the series keeps merging in the following intervals.
func TestTagOrderOneSeries(t *testing.T) {
	cfg := DefaultConfig()
	cfg.LegacyNamespace = false
	a := New(cfg, 1)
	s := a.Shards()[0]
	for interval := int64(1); interval <= 2; interval++ {
		s.AddPacket([]byte("req:1|c|#env:prod,zone:a\nreq:2|c|#zone:a,env:prod\nreq:4|c|#zone:a,env:prod,zone:a\n" +
			"req;zone=a;env=prod:8|c\nreq:16|c|@1|#env:prod,zone:a\n" +
			"lat:5|ms|#zone:a,env:prod\nlat:7|ms|#env:prod,zone:a\n" +
			"g:5|g|#zone:a,env:prod\ng:+1|g|#env:prod,zone:a\n" +
			"bad:1|c|#env:\nbad:1|c|#env:\nbad:1|ms|#:a"))
		got := flush(t, a, 10*interval)
		expect(t, got, map[string]float64{
			"stats.counters.req.count;env=prod;zone=a":   31,
			"stats.timers.lat.count;env=prod;zone=a":     2,
			"stats.timers.lat.sum;env=prod;zone=a":       12,
			"stats.timers.lat.upper;env=prod;zone=a":     7,
			"stats.gauges.g;env=prod;zone=a":             6,
			"stats.counters.statsd.bad_lines_seen.count": 3,
		})
		absent(t, got, "stats.counters.req.count;zone=a;env=prod", "stats.timers.lat.count;zone=a;env=prod",
			"stats.counters.bad.count")
		for k := range got {
			if strings.Contains(k, "|#") {
				t.Errorf("raw key emitted: %s", k)
			}
		}
		if n, ex := a.TakeBadTags(); n != 3 || !strings.Contains(ex, "empty") {
			t.Errorf("interval %d: TakeBadTags = %d, %q", interval, n, ex)
		}
	}
}
