package aggregate

import (
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
	"hash/maphash"
	"math"
	"slices"
	"strings"
	"time"
)

type timerState struct {
	values []float64
	count  float64
}

// Aggregator holds the state kept between flushes (counters, timers,
// gauges, sets, as Etsy's stats.js does) and its shards. Flush must not be
// called concurrently with itself; shards may be fed concurrently with it.
type Aggregator struct {
	cfg    Config
	shards []*Shard
	seed   maphash.Seed // the shards' and their Dispatcher's hash seed

	counters map[string]float64
	timers   map[string]*timerState
	gauges   map[string]float64
	gaugeTTL map[string]int
	sets     map[string]map[string]struct{}

	lastTS int64 // timestamp of the previous flush, 0 before the first

	// names
	counterNS, countsNS, timerNS, gaugeNS, setNS, suffix string
	numStatsName, calcTimeName, procTimeName             string
	packetsName, metricsName, badName, ignoredName       string
	lagName                                              string
	pcts                                                 []pctName
	bins                                                 [][]string
	filter                                               map[string]bool

	unstorable     int             // keys refused since the last TakeUnstorable
	unstorableName string          // the first of them
	nonFinite      int             // lines refused in the last Flush as ±Inf or NaN
	badTags        int64           // lines refused for their tags since the last TakeBadTags
	badTagExample  string          // the first of them, with the reason
	nonFiniteName  string          // the first of them
	refused        map[string]bool // namespace + "\x00" + key refused in this merge

	out     []byte
	cum     []float64
	cumSq   []float64
	nowFunc func() time.Time
}

type pctName struct {
	pct                            float64
	count, mean, bound, sum, sumSq string
}

// New returns an aggregator with n shards (at least 1). cfg must have been
// validated.
func New(cfg Config, n int) *Aggregator {
	if n < 1 {
		n = 1
	}
	a := &Aggregator{
		cfg:      cfg,
		counters: map[string]float64{},
		timers:   map[string]*timerState{},
		gauges:   map[string]float64{},
		gaugeTTL: map[string]int{},
		sets:     map[string]map[string]struct{}{},
		nowFunc:  time.Now,
		seed:     maphash.MakeSeed(),
	}
	for i := 0; i < n; i++ {
		a.shards = append(a.shards, newShard(cfg.KeepTags, a.seed))
	}
	ns := func(parts ...string) string {
		var keep []string
		for _, p := range parts {
			if p != "" {
				keep = append(keep, p)
			}
		}
		if len(keep) == 0 {
			return ""
		}
		return strings.Join(keep, ".") + "."
	}
	if cfg.GlobalSuffix != "" {
		a.suffix = "." + cfg.GlobalSuffix
	}
	ps := cfg.PrefixStats
	if cfg.LegacyNamespace {
		a.counterNS, a.countsNS = "stats.", "stats_counts."
		a.timerNS, a.gaugeNS, a.setNS = "stats.timers.", "stats.gauges.", "stats.sets."
		a.numStatsName = ps + ".numStats"
		a.calcTimeName = "stats." + ps + ".graphiteStats.calculationtime"
		a.procTimeName = "stats." + ps + ".processing_time"
	} else {
		g := cfg.GlobalPrefix
		a.counterNS = ns(g, cfg.PrefixCounter)
		a.countsNS = a.counterNS
		a.timerNS = ns(g, cfg.PrefixTimer)
		a.gaugeNS = ns(g, cfg.PrefixGauge)
		a.setNS = ns(g, cfg.PrefixSet)
		a.numStatsName = ns(g) + ps + ".numStats"
		a.calcTimeName = ns(g) + ps + ".graphiteStats.calculationtime"
		a.procTimeName = ns(g) + ps + ".processing_time"
	}
	a.packetsName = ps + ".packets_received"
	a.metricsName = ps + ".metrics_received"
	a.badName = ps + ".bad_lines_seen"
	a.ignoredName = ps + ".ignored_lines_seen"
	a.lagName = ps + ".timestamp_lag"
	// Etsy creates its own counters at start-up, so they appear from the
	// first flush.
	a.counters[a.packetsName] = 0
	a.counters[a.metricsName] = 0
	a.counters[a.badName] = 0

	for _, p := range cfg.PercentThresholds {
		c := cleanNumber(p)
		bound := "lower_"
		if p > 0 {
			bound = "upper_"
		}
		a.pcts = append(a.pcts, pctName{pct: p, count: ".count_" + c, mean: ".mean_" + c,
			bound: "." + bound + c, sum: ".sum_" + c, sumSq: ".sum_squares_" + c})
	}
	for _, h := range cfg.Histograms {
		var names []string
		for _, b := range h.Bins {
			s := "inf"
			if !math.IsInf(b, 1) {
				s = strings.Replace(string(FormatNumber(nil, b)), ".", "_", 1)
			}
			names = append(names, "bin_"+s)
		}
		a.bins = append(a.bins, names)
	}
	if len(cfg.CalculatedTimerMetrics) > 0 {
		a.filter = map[string]bool{}
		for _, m := range cfg.CalculatedTimerMetrics {
			a.filter[m] = true
		}
	}
	return a
}

// Shards returns the shards, for the readers.
func (a *Aggregator) Shards() []*Shard { return a.shards }

// appendName builds Etsy's graphite name: namespace + the key's name part
// + rest, then the global suffix, then the key's ";tags" part.
func (a *Aggregator) appendName(dst []byte, namespace, key, rest string) []byte {
	name, tags := key, ""
	if i := strings.IndexByte(key, ';'); i >= 0 {
		name, tags = key[:i], key[i:]
	}
	dst = append(dst, namespace...)
	dst = append(dst, name...)
	dst = append(dst, rest...)
	dst = append(dst, a.suffix...)
	return append(dst, tags...)
}

func (a *Aggregator) line(namespace, key, rest string, v float64, ts []byte) {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		// An aggregate that overflowed (1e308|c twice): no store can keep
		// it. Refused and counted; TakeNonFinite reports it.
		if a.nonFinite == 0 {
			a.nonFiniteName = string(a.appendName(nil, namespace, key, rest))
		}
		a.nonFinite++
		return
	}
	a.out = a.appendName(a.out, namespace, key, rest)
	a.out = append(a.out, ' ')
	a.out = FormatNumber(a.out, v)
	a.out = append(a.out, ' ')
	a.out = append(a.out, ts...)
	a.out = append(a.out, '\n')
}

// keepTimer applies calculated_timer_metrics: Etsy strips a trailing
// "_<digits>" or "_top<digits>" to "_percent" before looking the name up.
func (a *Aggregator) keepTimer(stat string) bool {
	if a.filter == nil {
		return true
	}
	i := len(stat)
	for i > 0 && stat[i-1] >= '0' && stat[i-1] <= '9' {
		i--
	}
	if i < len(stat) {
		j := i
		if strings.HasSuffix(stat[:j], "top") {
			j -= 3
		}
		if j > 0 && stat[j-1] == '_' {
			stat = stat[:j-1] + "_percent"
		}
	}
	return a.filter[stat]
}

// storableOnce is storable for the keys of the merge (counters, timers),
// where the raw keys of one tagged series (see Shard.addTagged) each bring
// the same normalised key: a key refused is refused, and counted, once per
// merge.
func (a *Aggregator) storableOnce(namespace, key string) bool {
	if len(a.refused) > 0 && a.refused[namespace+"\x00"+key] { // refusals are rare: no string built for most keys
		return false
	}
	if a.storable(namespace, key) {
		return true
	}
	id := namespace + "\x00" + key
	if a.refused == nil {
		a.refused = map[string]bool{}
	}
	a.refused[id] = true
	return false
}

// mergeTimer moves the values of one timer key of a shard (k its
// normalised key; raw keys of one series merge here) into the aggregator's
// timer and resets them.
func (a *Aggregator) mergeTimer(k string, tp **timerAcc) {
	t := *tp
	g := a.timers[k]
	if g == nil && !a.storableOnce(a.timerNS, k) {
		t.values, t.count, t.touched = t.values[:0], 0, false
		return
	}
	if g == nil {
		g = &timerState{}
		a.timers[k] = g
	}
	g.values = append(g.values, t.values...)
	g.count += t.count
	if cap(t.values) > 1<<16 {
		t.values = nil
	} else {
		t.values = t.values[:0]
	}
	t.count, t.touched = 0, false
}

// merge moves the shards' interval data into the aggregator.
func (a *Aggregator) merge() {
	clear(a.refused)
	for _, s := range a.shards {
		s.mu.Lock()
		s.counters.sweep(func(k string, v *float64) {
			if _, ok := a.counters[k]; ok || a.storableOnce(a.counterNS, k) {
				a.counters[k] += *v
			}
			*v = 0
		})
		s.timers.sweep(a.mergeTimer)
		// A gauge key untouched this interval is dropped; its series'
		// accumulator, untouched too, is dropped below.
		s.gaugeKeys.sweep(func(string, **gaugeAcc) {})
		for k, g := range s.gauges {
			if !g.touched {
				delete(s.gauges, k)
				continue
			}
			if _, ok := a.gauges[k]; !ok && !a.storable(a.gaugeNS, k) {
				*g = gaugeAcc{}
				continue
			}
			if g.set {
				a.gauges[k] = g.base
			} else {
				a.gauges[k] += g.delta
			}
			if a.cfg.DeleteGauges {
				a.gaugeTTL[k] = a.cfg.GaugesMaxTTL
			}
			*g = gaugeAcc{}
		}
		for k, st := range s.sets {
			if !st.touched {
				delete(s.sets, k)
				continue
			}
			g := a.sets[k]
			if g == nil && !a.storable(a.setNS, k) {
				clear(st.members)
				st.touched = false
				continue
			}
			if g == nil {
				g = make(map[string]struct{}, len(st.members))
				a.sets[k] = g
			}
			for m := range st.members {
				g[m] = struct{}{}
			}
			clear(st.members)
			st.touched = false
		}
		a.counters[a.packetsName] += float64(s.packets)
		a.counters[a.metricsName] += float64(s.metrics)
		a.counters[a.badName] += float64(s.bad)
		if s.ignored > 0 {
			a.counters[a.ignoredName] += float64(s.ignored)
		}
		if s.badTags > 0 {
			if a.badTags == 0 {
				a.badTagExample = s.badTagExample
			}
			a.badTags += s.badTags
			s.badTags, s.badTagExample = 0, ""
		}
		s.packets, s.metrics, s.bad, s.ignored = 0, 0, 0, 0
		s.resetMemo()
		s.mu.Unlock()
	}
}

// Flush merges what the shards received, computes every derived metric
// with timestamp ts (Unix seconds) and returns them as carbon plaintext
// lines. The returned slice is reused by the next Flush. Afterwards
// counters, timers and sets are reset (or deleted) as Etsy does.
func (a *Aggregator) Flush(ts int64) []byte {
	a.nonFinite, a.nonFiniteName = 0, ""
	interval := float64(a.cfg.FlushInterval)
	if a.lastTS > 0 {
		a.gauges[a.lagName] = float64(ts-a.lastTS) - interval
	}
	a.lastTS = ts
	a.merge()

	tsb := FormatNumber(make([]byte, 0, 20), float64(ts))
	a.out = a.out[:0]
	numStats := 0

	// Etsy measures processing_time around process_metrics (rates and timer
	// statistics) and calculationtime around the graphite backend's
	// formatting; here both happen in one pass, so the whole pass is
	// processing_time and the formatting of the remaining lines is
	// calculationtime.
	start := a.nowFunc()
	for k, v := range a.counters {
		if a.cfg.LegacyNamespace {
			a.line(a.counterNS, k, "", v/interval, tsb)
			if a.cfg.FlushCounts {
				a.line(a.countsNS, k, "", v, tsb)
			}
		} else {
			a.line(a.counterNS, k, ".rate", v/interval, tsb)
			if a.cfg.FlushCounts {
				a.line(a.counterNS, k, ".count", v, tsb)
			}
		}
		numStats++
	}
	for k, t := range a.timers {
		a.timerLines(k, t, interval, tsb)
		numStats++
	}
	for k, v := range a.gauges {
		a.line(a.gaugeNS, k, "", v, tsb)
		numStats++
	}
	for k, s := range a.sets {
		a.line(a.setNS, k, ".count", float64(len(s)), tsb)
		numStats++
	}
	processing := a.nowFunc().Sub(start)
	calcStart := a.nowFunc()
	a.line("", a.numStatsName, "", float64(numStats), tsb)
	calc := a.nowFunc().Sub(calcStart) + processing
	a.line("", a.calcTimeName, "", float64(calc.Milliseconds()), tsb)
	a.line("", a.procTimeName, "", float64(processing.Milliseconds()), tsb)

	a.clear()
	// A gauge that overflowed stays so until set again: drop it now, so it
	// is refused once, not at every flush.
	for k, v := range a.gauges {
		if math.IsInf(v, 0) || math.IsNaN(v) {
			delete(a.gauges, k)
			delete(a.gaugeTTL, k)
		}
	}
	return a.out
}

// nameMargin is room kept for what a flush appends to a key's name (".rate",
// ".upper_99", ".sum_squares_99", ".histogram.bin_…", the global suffix).
const nameMargin = 48

// storable reports whether a new key's names can ever be stored as whisper
// files (metricpath's rules: no empty component, nothing too long). A key
// that cannot is refused here, once per interval it is received, counted
// as a bad line: it never enters the kept state, so it is not emitted at
// every flush only to be refused by the output.
//
// A tagged key's names are kept in one file each under _tagged/: its name
// part must pass the plain rules too, and the tagged file name (dots
// written as _DOT_, 5 bytes) must leave nameMargin bytes for the suffixes.
func (a *Aggregator) storable(namespace, key string) bool {
	name, tags := key, ""
	if i := strings.IndexByte(key, ';'); i >= 0 {
		name, tags = key[:i], key[i:]
	}
	full := namespace + name + a.suffix + ".x"
	_, _, err := metricpath.Split(full)
	ok := err == nil && len(full)+len(tags)+nameMargin <= metricpath.MaxName
	if ok && tags != "" {
		_, file, err := metricpath.Split(full + tags)
		ok = err == nil && len(file)+nameMargin <= metricpath.MaxComponent
	}
	if ok {
		return true
	}
	a.counters[a.badName]++
	if a.unstorable == 0 {
		a.unstorableName = name
	}
	a.unstorable++
	return false
}

// TakeBadTags returns how many lines were refused since the last call for a
// tag Graphite cannot keep (empty key or value), counted as bad lines, and
// the first one with its reason.
func (a *Aggregator) TakeBadTags() (int64, string) {
	n, ex := a.badTags, a.badTagExample
	a.badTags, a.badTagExample = 0, ""
	return n, ex
}

// TakeUnstorable returns how many keys were refused since the last call
// because no whisper file could hold their names, and the first one.
func (a *Aggregator) TakeUnstorable() (int, string) {
	n, name := a.unstorable, a.unstorableName
	a.unstorable, a.unstorableName = 0, ""
	return n, name
}

// TakeNonFinite returns how many lines the last Flush refused because their
// value overflowed to ±Inf (or was NaN), and the first one's name.
func (a *Aggregator) TakeNonFinite() (int, string) {
	n, name := a.nonFinite, a.nonFiniteName
	a.nonFinite, a.nonFiniteName = 0, ""
	return n, name
}

func (a *Aggregator) timerLines(key string, t *timerState, interval float64, ts []byte) {
	// stat is ".name": the name with its separating dot.
	emit := func(stat string, v float64) {
		if a.keepTimer(stat[1:]) {
			a.line(a.timerNS, key, stat, v, ts)
		}
	}
	count := len(t.values)
	if count == 0 {
		emit(".count", 0)
		emit(".count_ps", 0)
		return
	}
	values := t.values
	slices.Sort(values)
	a.cum = a.cum[:0]
	a.cumSq = a.cumSq[:0]
	min, max := values[0], values[count-1]
	c, cs := 0.0, 0.0
	for i, v := range values {
		if i == 0 {
			c, cs = v, v*v
		} else {
			c += v
			cs += v * v
		}
		a.cum = append(a.cum, c)
		a.cumSq = append(a.cumSq, cs)
	}
	sum, sumSq, mean, bound := min, min*min, min, max
	for _, p := range a.pcts {
		n := count
		if count > 1 {
			n = int(math.Floor(math.Abs(p.pct)/100*float64(count) + 0.5))
			if n == 0 {
				continue
			}
			if p.pct > 0 {
				bound = values[n-1]
				sum = a.cum[n-1]
				sumSq = a.cumSq[n-1]
			} else {
				bound = values[count-n]
				// Etsy reads index -1 here when n == count and gets NaN;
				// the sum of all values is what it means.
				before, beforeSq := 0.0, 0.0
				if count-n-1 >= 0 {
					before, beforeSq = a.cum[count-n-1], a.cumSq[count-n-1]
				}
				sum = a.cum[count-1] - before
				sumSq = a.cumSq[count-1] - beforeSq
			}
			mean = sum / float64(n)
		}
		emit(p.count, float64(n))
		emit(p.mean, mean)
		emit(p.bound, bound)
		emit(p.sum, sum)
		emit(p.sumSq, sumSq)
	}
	sum = a.cum[count-1]
	sumSq = a.cumSq[count-1]
	mean = sum / float64(count)
	diffs := 0.0
	for _, v := range values {
		diffs += (v - mean) * (v - mean)
	}
	mid := count / 2
	median := values[mid]
	if count%2 == 0 {
		median = (values[mid-1] + values[mid]) / 2
	}
	emit(".std", math.Sqrt(diffs/float64(count)))
	emit(".upper", max)
	emit(".lower", min)
	emit(".count", t.count)
	emit(".count_ps", t.count/interval)
	emit(".sum", sum)
	emit(".sum_squares", sumSq)
	emit(".mean", mean)
	emit(".median", median)

	for hi, h := range a.cfg.Histograms {
		if !strings.Contains(key, h.Metric) {
			continue
		}
		if a.keepTimer("histogram") {
			i := 0
			for bi, b := range h.Bins {
				freq := 0
				for ; i < count && (math.IsInf(b, 1) || values[i] < b); i++ {
					freq++
				}
				a.line(a.timerNS, key, ".histogram."+a.bins[hi][bi], float64(freq), ts)
			}
		}
		break
	}
}

// clear resets the interval state after a flush, as Etsy's clear_metrics.
func (a *Aggregator) clear() {
	for k := range a.counters {
		if a.cfg.DeleteCounters {
			if strings.Contains(k, "packets_received") || strings.Contains(k, "metrics_received") ||
				strings.Contains(k, "bad_lines_seen") {
				a.counters[k] = 0
			} else {
				delete(a.counters, k)
			}
		} else {
			a.counters[k] = 0
		}
	}
	for k, t := range a.timers {
		if a.cfg.DeleteTimers {
			delete(a.timers, k)
		} else {
			if cap(t.values) > 1<<16 {
				t.values = nil
			} else {
				t.values = t.values[:0]
			}
			t.count = 0
		}
	}
	for k, s := range a.sets {
		if a.cfg.DeleteSets {
			delete(a.sets, k)
		} else if len(s) > 0 {
			a.sets[k] = map[string]struct{}{}
		}
	}
	if a.cfg.DeleteGauges {
		for k := range a.gaugeTTL {
			a.gaugeTTL[k]--
			if a.gaugeTTL[k] < 1 {
				delete(a.gauges, k)
				delete(a.gaugeTTL, k)
			}
		}
	}
}

// Len reports how many names the aggregator keeps: counters, timers,
// gauges, sets.
func (a *Aggregator) Len() (counters, timers, gauges, sets int) {
	return len(a.counters), len(a.timers), len(a.gauges), len(a.sets)
}
