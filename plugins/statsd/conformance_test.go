package statsd_test

import (
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/statsd/protocol"
)

// The conformance test sends the same datagrams to Etsy statsd 0.9.0 (from
// npm, Graphite backend pointed at a TCP listener of the test) and to the
// real hekad with DreamcatcherStatsdInput, both flushing every second, and
// compares every metric name and value of the flush holding the datagrams
// (and of the flushes after it), in several configurations.

// graphiteSink accepts Etsy's Graphite connections: one connection per
// flush, each kept as name → value.
type graphiteSink struct {
	carbon  *testutil.FakeCarbon
	mu      sync.Mutex
	flushes []map[string]string
}

func newGraphiteSink(t *testing.T) *graphiteSink {
	s := &graphiteSink{}
	s.carbon = testutil.StartFakeCarbon(t, "", s.serve)
	return s
}

// serve keeps one connection's lines as one flush.
func (s *graphiteSink) serve(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	f := map[string]string{}
	testutil.ScanCarbonLines(c, func(name, value, _ string) { f[name] = value })
	s.mu.Lock()
	s.flushes = append(s.flushes, f)
	s.mu.Unlock()
}

func (s *graphiteSink) all() []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]string(nil), s.flushes...)
}

func (s *graphiteSink) port() int { return s.carbon.Port() }

// fileFlushes returns hekad's flushes in timestamp order.
func fileFlushes(t *testing.T, path string) []map[string]string {
	all, order := flushes(t, path)
	var out []map[string]string
	for _, ts := range order {
		out = append(out, all[ts])
	}
	return out
}

type scenario struct {
	name   string
	etsy   string // extra Etsy config entries (JS)
	hekad  string // the same options for DreamcatcherStatsdInput (TOML)
	follow int    // flushes after the batch flush to compare too
}

var scenarios = []scenario{
	{
		name: "legacy namespace, percentiles, histogram",
		etsy: `percentThreshold: [90, -10, 99.9, 50],
  histogram: [{metric: "t1", bins: [2, 5.5, 10, "inf"]}, {metric: "", bins: [100]}],`,
		hekad: `percent_thresholds = [90, -10, 99.9, 50]
histogram = [{metric = "t1", bins = [2, 5.5, 10, "inf"]}, {metric = "", bins = [100]}]`,
		follow: 2,
	},
	{
		name: "modern namespace, prefixes, suffix, calculated timer metrics",
		etsy: `percentThreshold: [95, -5],
  prefixStats: "mystats",
  flush_counts: false,
  calculatedTimerMetrics: ["count", "mean", "upper_percent", "sum_percent", "median", "histogram", "lower_percent"],
  histogram: [{metric: "t", bins: [3, "inf"]}],
  graphite: {legacyNamespace: false, globalPrefix: "gp", prefixCounter: "cnt", prefixTimer: "tmr",
    prefixGauge: "gg", prefixSet: "st", globalSuffix: "sfx"},`,
		hekad: `legacy_namespace = false
global_prefix = "gp"
prefix_counter = "cnt"
prefix_timer = "tmr"
prefix_gauge = "gg"
prefix_set = "st"
global_suffix = "sfx"
prefix_stats = "mystats"
flush_counts = false
percent_thresholds = [95, -5]
calculated_timer_metrics = ["count", "mean", "upper_percent", "sum_percent", "median", "histogram", "lower_percent"]
histogram = [{metric = "t", bins = [3, "inf"]}]`,
		follow: 1,
	},
	{
		name: "modern namespace defaults, delete idle stats, gauges TTL",
		etsy: `deleteIdleStats: true,
  gaugesMaxTTL: 2,
  graphite: {legacyNamespace: false},`,
		hekad: `legacy_namespace = false
delete_idle_stats = true
gauges_max_ttl = 2`,
		follow: 3,
	},
	{
		name: "legacy, keep counters, delete the rest individually",
		etsy: `deleteIdleStats: true,
  deleteCounters: false,
  deleteGauges: true,
  percentThreshold: 75,`,
		hekad: `delete_idle_stats = true
delete_counters = false
delete_gauges = true
percent_thresholds = [75]`,
		follow: 2,
	},
}

// batch returns the datagrams of one attempt; names carry the prefix p.
func batch(p string) []string {
	var timers []string
	for _, v := range []int{7, 3, 19, 1, 12, 5, 20, 8, 2, 15, 11, 4, 17, 6, 9, 14, 10, 18, 13, 16} {
		timers = append(timers, fmt.Sprintf("%st1:%d|ms", p, v))
	}
	return []string{
		strings.Join([]string{
			p + "c1:1|c", p + "c1:2|c|@0.5", p + "c2:3.5|c", p + "c3:-2|c", p + "c4:5|xyz",
			p + "c5:0x10|c", p + "c6:1|c|@0.1", p + "c7:2|c|@.25", p + "multi:1|c:2|c:320|ms", p + "c8:1e2|c",
		}, "\n"),
		strings.Join(timers, "\n") + "\n",
		strings.Join([]string{
			p + "t2:5|ms|@0.5", p + "t3:7|ms", p + "t4:1.5|ms:2.25|ms", p + "t5:0|ms", p + "t5:0.001|ms",
			p + "t6:1|ms|#tagged:yes",
		}, "\n"),
		// Tagged timers, counters, gauges and sets: derived names put their
		// suffix before the tags; tags are sorted as carbon sorts them; the
		// same name untagged is another series; a repeated key keeps its last
		// value; a "name" tag is dropped; a dot in a value stays in the value.
		strings.Join([]string{
			p + "tt:3|ms|#env:prod,dc:eu", p + "tt:9|ms|#env:prod,dc:eu", p + "tt:4|ms|#env:prod,dc:eu|#ignored:x",
			p + "tt:100|ms", p + "tc:2|c|#z:1,a-:2,a:3", p + "tc:1|c", p + "tg:7|g|#ver:1.2.3,host:h 1/x",
			p + "ts:m|s|#k:v", p + "ts:n|s|#k:v", p + "tdup:1|c|#a:1,b:2,a:3", p + "tname:1|c|#name:other,k:v",
			p + "tsemi;zz=1;aa=2:5|c", p + "tbare:1|c|#env:prod,canary",
		}, "\n"),
		strings.Join([]string{
			p + "g1:10|g", p + "g1:+5|g", p + "g1:-3|g", p + "g2:+4|g", p + "g3:0|g", p + "g3:-2|g",
			p + "g4:-7|g", p + "g5:3.25|g", p + "g5:+0.5|g",
		}, "\n"),
		strings.Join([]string{
			p + "s1:a|s", p + "s1:b|s", p + "s1:a|s", p + "s2:|s", p + "s3:1|s:1.0|s", p + "s4:x|s|@0.5",
		}, "\n"),
		strings.Join([]string{
			p + "tag:1|c|#env:prod,role", p + "tag:2|c|#env:prod,role", p + "tag2:5|g|#a:b:c,x;y",
			p + "san it/ize$:1|c", p + "uni\u00e9x\u00a0y:1|c", p + "sp  ace\t:2|c",
			p + "bad", p + "bad2:x|c", p + "bad3:-1|ms", p + "bad4:1|c|@x", p + "bad5:1|c|@-0.5", p + "bad6:|g",
			"", "", p + "marker:1|c",
		}, "\n") + "\n\n",
	}
}

// timing metrics differ between two processes; only their names are compared.
func timing(name string) bool {
	return strings.Contains(name, "processing_time") || strings.Contains(name, "calculationtime") ||
		strings.Contains(name, "timestamp_lag")
}

// etsyBackendOnly are the Graphite backend's own metrics about its TCP
// connection; Dreamcatcher does not send to Graphite itself.
func etsyBackendOnly(name string) bool {
	for _, s := range []string{".graphiteStats.last_exception", ".graphiteStats.last_flush",
		".graphiteStats.flush_time", ".graphiteStats.flush_length"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// carbonView is the flush as carbon 1.1.7 stores it: every name in carbon's
// normalised form (metricpath.Normalize, checked against carbon itself in
// internal/metricpath). Etsy sends a bare DogStatsD tag as ";tag", which
// carbon cannot parse; Dreamcatcher writes it as ";tag=true" (documented in
// docs/tags.md), so such a segment is rewritten so before normalising.
func carbonView(t *testing.T, f map[string]string) map[string]string {
	out := make(map[string]string, len(f))
	for k, v := range f {
		name, err := metricpath.Normalize(k)
		if err != nil && metricpath.IsTagged(k) {
			segs := strings.Split(k, ";")
			for i := 1; i < len(segs); i++ {
				if segs[i] != "" && !strings.Contains(segs[i], "=") {
					segs[i] += "=" + protocol.BareTagValue
				}
			}
			name, err = metricpath.Normalize(strings.Join(segs, ";"))
		}
		if err != nil {
			t.Errorf("Etsy sent %q, which carbon refuses: %v", k, err)
			continue
		}
		if _, dup := out[name]; dup {
			t.Errorf("two Etsy names are one carbon series %q", name)
		}
		out[name] = v
	}
	return out
}

func compareFlush(t *testing.T, label string, etsy, ours map[string]string) {
	t.Helper()
	etsy = carbonView(t, etsy)
	var names []string
	for k := range etsy {
		if !etsyBackendOnly(k) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		got, ok := ours[k]
		if !ok {
			t.Errorf("%s: %s = %s in Etsy statsd, missing in hekad", label, k, etsy[k])
			continue
		}
		if timing(k) {
			continue
		}
		e, err1 := strconv.ParseFloat(etsy[k], 64)
		g, err2 := strconv.ParseFloat(got, 64)
		if err1 != nil || err2 != nil || math.Abs(e-g) > 1e-9*math.Max(1, math.Abs(e)) {
			t.Errorf("%s: %s = %s in hekad, %s in Etsy statsd", label, k, got, etsy[k])
		}
	}
	var extra []string
	for k := range ours {
		if _, ok := etsy[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		t.Errorf("%s: %s = %s in hekad, missing in Etsy statsd", label, k, ours[k])
	}
}

// flushWithMarker returns the index of the flush where a name holding
// marker has a non-zero value, or -1.
func flushWithMarker(fl []map[string]string, marker string) int {
	for i, f := range fl {
		for k, v := range f {
			if strings.Contains(k, marker) && v != "0" {
				return i
			}
		}
	}
	return -1
}

// complete reports whether every packets_received value of the flush equals
// n (with flushInterval 1 the rate equals the count): the whole batch, and
// nothing else, landed in that flush.
func complete(f map[string]string, n int) bool {
	found := false
	for k, v := range f {
		if strings.Contains(k, "packets_received") {
			found = true
			if v != strconv.Itoa(n) {
				return false
			}
		}
	}
	return found
}

func TestConformanceWithEtsyStatsd(t *testing.T) {
	testutil.EtsyStatsd(t) // install once before the parallel subtests
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sink := newGraphiteSink(t)
			_, eaddr := testutil.StartEtsyStatsd(t, sink.port(), 1000, sc.etsy)
			h := startHekad(t, "flush_interval = 1\n"+sc.hekad, "")

			// Both must have flushed twice (Etsy's timestamp_lag gauge
			// appears from the second flush on).
			testutil.Eventually(t, 30*time.Second, func() bool {
				return len(sink.all()) >= 3 && len(fileFlushes(t, h.out)) >= 3
			}, "no flushes from both daemons")

			ec, err := net.Dial("udp", eaddr)
			if err != nil {
				t.Fatal(err)
			}
			defer ec.Close()
			hc, err := net.Dial("udp", h.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer hc.Close()

			for attempt := 1; attempt <= 4; attempt++ {
				// Send a third of a second after a whole second: both
				// daemons flush close to whole seconds.
				now := time.Now()
				time.Sleep(now.Truncate(time.Second).Add(1300 * time.Millisecond).Sub(now))
				p := fmt.Sprintf("k%d.", attempt)
				dgrams := batch(p)
				for _, d := range dgrams {
					for _, c := range []net.Conn{ec, hc} {
						_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
						if _, err := c.Write([]byte(d)); err != nil {
							t.Fatal(err)
						}
					}
				}
				marker := p + "marker"
				var ei, hi int
				var ef, hf []map[string]string
				testutil.Eventually(t, 30*time.Second, func() bool {
					ef, hf = sink.all(), fileFlushes(t, h.out)
					ei, hi = flushWithMarker(ef, marker), flushWithMarker(hf, marker)
					return ei >= 0 && hi >= 0 && len(ef) > ei+sc.follow && len(hf) > hi+sc.follow
				}, "attempt %d: the batch's flush (and %d after it) not seen in both", attempt, sc.follow)
				if !complete(ef[ei], len(dgrams)) || !complete(hf[hi], len(dgrams)) {
					t.Logf("attempt %d: the batch straddled a flush in one daemon; again", attempt)
					continue
				}
				t.Logf("attempt %d: comparing Etsy flushes of %d, %d… names with hekad's", attempt, len(ef[ei]), len(ef[ei+1]))
				for k := 0; k <= sc.follow; k++ {
					compareFlush(t, fmt.Sprintf("flush +%d", k), ef[ei+k], hf[hi+k])
				}
				if t.Failed() {
					t.Logf("Etsy flush:\n%s", dump(ef[ei]))
				}
				return
			}
			t.Fatal("no attempt landed whole in one flush of both daemons")
		})
	}
}

func dump(f map[string]string) string {
	var lines []string
	for k, v := range f {
		lines = append(lines, k+" "+v)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
