// Package statsd is the Heka adapter of Dreamcatcher's statsd input,
// registered as DreamcatcherStatsdInput: it listens on UDP (and optionally
// TCP), feeds the datagrams to the aggregator (package aggregate, which uses
// the parser in package protocol), flushes every flush_interval seconds and
// injects the result as heka.statmetric messages through package statmetric.
// On stop it flushes what is pending, stamped with the next regular flush's
// time, so a final partial flush never overwrites the previous flush's
// whisper point.
package statsd

import (
	"fmt"
	"math"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/statmetric"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/statsd/aggregate"
	"github.com/mozilla-services/heka/message"
	"github.com/mozilla-services/heka/pipeline"
)

// PluginName is the name the input registers with Heka.
const PluginName = "DreamcatcherStatsdInput"

func init() {
	pipeline.RegisterPlugin(PluginName, func() interface{} { return new(Input) })
}

// HistogramConfig is one entry of the histogram option.
type HistogramConfig struct {
	Metric string        `toml:"metric"`
	Bins   []interface{} `toml:"bins"`
}

// Config is the TOML configuration; option names follow Etsy statsd's
// configuration keys in snake_case.
type Config struct {
	Address         string `toml:"address"`
	TCPAddress      string `toml:"tcp_address"`
	ReadBufferBytes int    `toml:"read_buffer_bytes"`
	MaxDatagramSize int    `toml:"max_datagram_size"`
	Readers         int    `toml:"readers"`
	MaxTCPConns     int    `toml:"max_tcp_connections"`
	TCPIdleTimeout  uint   `toml:"tcp_idle_timeout"`

	FlushInterval   uint   `toml:"flush_interval"`
	LegacyNamespace bool   `toml:"legacy_namespace"`
	GlobalPrefix    string `toml:"global_prefix"`
	PrefixCounter   string `toml:"prefix_counter"`
	PrefixTimer     string `toml:"prefix_timer"`
	PrefixGauge     string `toml:"prefix_gauge"`
	PrefixSet       string `toml:"prefix_set"`
	GlobalSuffix    string `toml:"global_suffix"`
	PrefixStats     string `toml:"prefix_stats"`

	PercentThresholds      []float64         `toml:"percent_thresholds"`
	Histogram              []HistogramConfig `toml:"histogram"`
	CalculatedTimerMetrics []string          `toml:"calculated_timer_metrics"`

	DeleteIdleStats bool   `toml:"delete_idle_stats"`
	DeleteCounters  *bool  `toml:"delete_counters"`
	DeleteTimers    *bool  `toml:"delete_timers"`
	DeleteGauges    *bool  `toml:"delete_gauges"`
	DeleteSets      *bool  `toml:"delete_sets"`
	GaugesMaxTTL    int    `toml:"gauges_max_ttl"`
	FlushCounts     bool   `toml:"flush_counts"`
	Tags            string `toml:"tags"`
}

// Input is the DreamcatcherStatsdInput plugin.
type Input struct {
	cfg    Config
	agg    *aggregate.Aggregator
	aggCfg aggregate.Config

	udp []*udpSocket
	tcp net.Listener

	stopOnce sync.Once
	stop     chan struct{}
	wg       sync.WaitGroup // readers and TCP connections

	connMu sync.Mutex
	conns  map[net.Conn]struct{}

	truncated atomic.Int64
	flushes   atomic.Int64
	nonFinite atomic.Int64 // aggregate lines refused as ±Inf/NaN
	// names refused because no file could hold them, and when that was
	// last logged (at most once a minute)
	unstorable        atomic.Int64
	lastUnstorableLog time.Time
	badTags           atomic.Int64
	lastBadTagLog     time.Time
}

// ConfigStruct returns the defaults: the listener's own, and Etsy's
// aggregation defaults from aggregate.DefaultConfig.
func (in *Input) ConfigStruct() interface{} { return DefaultConfig() }

// DefaultConfig returns the input's defaults; the aggregation options come
// from aggregate.DefaultConfig, the one place Etsy statsd's defaults live.
func DefaultConfig() *Config {
	a := aggregate.DefaultConfig()
	tags := "keep"
	if !a.KeepTags {
		tags = "drop"
	}
	return &Config{
		Address:         "127.0.0.1:8125",
		ReadBufferBytes: 32 << 20,
		MaxDatagramSize: 65535,
		MaxTCPConns:     1024,
		TCPIdleTimeout:  600,

		FlushInterval:          uint(a.FlushInterval),
		LegacyNamespace:        a.LegacyNamespace,
		GlobalPrefix:           a.GlobalPrefix,
		PrefixCounter:          a.PrefixCounter,
		PrefixTimer:            a.PrefixTimer,
		PrefixGauge:            a.PrefixGauge,
		PrefixSet:              a.PrefixSet,
		GlobalSuffix:           a.GlobalSuffix,
		PrefixStats:            a.PrefixStats,
		PercentThresholds:      a.PercentThresholds,
		CalculatedTimerMetrics: a.CalculatedTimerMetrics,
		GaugesMaxTTL:           a.GaugesMaxTTL,
		FlushCounts:            a.FlushCounts,
		Tags:                   tags,
	}
}

// aggregateConfig turns the TOML options into the aggregator's
// configuration, applying Etsy's delete_idle_stats defaults.
func aggregateConfig(c *Config) (aggregate.Config, error) {
	a := aggregate.DefaultConfig()
	a.FlushInterval = int(c.FlushInterval)
	a.LegacyNamespace = c.LegacyNamespace
	a.GlobalPrefix, a.PrefixCounter, a.PrefixTimer = c.GlobalPrefix, c.PrefixCounter, c.PrefixTimer
	a.PrefixGauge, a.PrefixSet, a.GlobalSuffix = c.PrefixGauge, c.PrefixSet, c.GlobalSuffix
	a.PrefixStats = c.PrefixStats
	a.PercentThresholds = c.PercentThresholds
	a.CalculatedTimerMetrics = c.CalculatedTimerMetrics
	a.GaugesMaxTTL = c.GaugesMaxTTL
	a.FlushCounts = c.FlushCounts
	pick := func(p *bool) bool {
		if p != nil {
			return *p
		}
		return c.DeleteIdleStats
	}
	a.DeleteCounters, a.DeleteTimers = pick(c.DeleteCounters), pick(c.DeleteTimers)
	a.DeleteGauges, a.DeleteSets = pick(c.DeleteGauges), pick(c.DeleteSets)
	switch c.Tags {
	case "keep", "":
		a.KeepTags = true
	case "drop":
		a.KeepTags = false
	default:
		return a, fmt.Errorf("tags must be \"keep\" or \"drop\", got %q", c.Tags)
	}
	for i, h := range c.Histogram {
		hc := aggregate.Histogram{Metric: h.Metric}
		for _, b := range h.Bins {
			f, err := aggregate.ParseBin(b)
			if err != nil {
				return a, fmt.Errorf("histogram[%d]: %w", i, err)
			}
			hc.Bins = append(hc.Bins, f)
		}
		a.Histograms = append(a.Histograms, hc)
	}
	if err := a.Validate(); err != nil {
		return a, err
	}
	return a, nil
}

// Init checks the configuration; sockets are opened in Run.
func (in *Input) Init(config interface{}) error {
	c := config.(*Config)
	if c.Address == "" {
		return fmt.Errorf("address must be set (host:port for UDP)")
	}
	if _, err := net.ResolveUDPAddr("udp", c.Address); err != nil {
		return fmt.Errorf("address %q: %w", c.Address, err)
	}
	if c.TCPAddress != "" {
		if _, err := net.ResolveTCPAddr("tcp", c.TCPAddress); err != nil {
			return fmt.Errorf("tcp_address %q: %w", c.TCPAddress, err)
		}
	}
	if c.MaxDatagramSize < 512 || c.MaxDatagramSize > 65535 {
		return fmt.Errorf("max_datagram_size must be in [512, 65535], got %d", c.MaxDatagramSize)
	}
	if c.ReadBufferBytes < 0 {
		return fmt.Errorf("read_buffer_bytes must not be negative")
	}
	if c.Readers <= 0 {
		c.Readers = runtime.GOMAXPROCS(0)
	}
	if c.Readers > 64 {
		return fmt.Errorf("readers must be at most 64, got %d", c.Readers)
	}
	if c.MaxTCPConns < 1 {
		return fmt.Errorf("max_tcp_connections must be at least 1")
	}
	ac, err := aggregateConfig(c)
	if err != nil {
		return err
	}
	in.cfg = *c
	in.aggCfg = ac
	in.agg = aggregate.New(ac, c.Readers)
	in.stop = make(chan struct{})
	return nil
}

// Run listens, aggregates and flushes until Stop; then it flushes what is
// pending and returns once the final messages have left the router's queue.
func (in *Input) Run(ir pipeline.InputRunner, h pipeline.PluginHelper) error {
	in.conns = map[net.Conn]struct{}{}
	disp := in.agg.NewDispatcher()

	udp, granted, err := listenUDP(in.cfg.Address, in.cfg.Readers, in.cfg.ReadBufferBytes)
	if err != nil {
		return err
	}
	in.udp = udp
	if in.cfg.ReadBufferBytes > 0 && granted[0] < in.cfg.ReadBufferBytes {
		ir.LogError(fmt.Errorf("the kernel capped the UDP receive buffer at %d bytes (read_buffer_bytes = %d): "+
			"raise it with `sysctl -w net.core.rmem_max=%d` (or run with CAP_NET_ADMIN)",
			granted[0], in.cfg.ReadBufferBytes, in.cfg.ReadBufferBytes))
	}
	if in.cfg.TCPAddress != "" {
		l, err := net.Listen("tcp", in.cfg.TCPAddress)
		if err != nil {
			in.closeUDP()
			return fmt.Errorf("listening on tcp %s: %w", in.cfg.TCPAddress, err)
		}
		in.tcp = l
		in.wg.Add(1)
		go in.acceptTCP(ir, l, disp)
	}
	coalesce := coalesceDelay(granted[0])
	for _, c := range udp {
		in.wg.Add(1)
		go in.readUDP(ir, c, disp.NewWriter(), coalesce)
	}
	msg := fmt.Sprintf("listening on udp %s (%d sockets, receive buffer %d bytes each)",
		udp[0].LocalAddr(), len(udp), granted[0])
	if in.tcp != nil {
		msg += fmt.Sprintf(" and tcp %s", in.tcp.Addr())
	}
	ir.LogMessage(msg)

	inj := statmetric.Injector{Runner: ir, Hostname: h.PipelineConfig().Hostname()}
	interval := time.Duration(in.cfg.FlushInterval) * time.Second
	next := time.Now().Truncate(interval).Add(interval)
	var lastTS int64
	statePath := h.PipelineConfig().Globals.PrependBaseDir("statsd-state." + ir.Name() + ".dump")
	// The first flush after a merged restore takes the kept slot exactly,
	// so it replaces the stop's final flush rather than landing beside it.
	mergedSlot := in.restoreState(ir, statePath, next.Unix())
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
			now := time.Now()
			ts := int64(math.Round(float64(now.UnixMilli()) / 1000))
			if mergedSlot != 0 {
				ts, mergedSlot = mergedSlot, 0
			}
			in.flush(ir, inj, ts)
			lastTS = ts
			next = next.Add(interval)
			for !next.After(now) { // a stalled process skips missed ticks
				next = next.Add(interval)
			}
			timer.Reset(time.Until(next))
		case <-in.stop:
			in.closeListeners()
			in.wg.Wait()
			disp.Close()
			in.closeUDP()
			// The final, partial interval belongs to the next regular
			// flush's slot: stamping it with that time keeps it from
			// overwriting the previous flush's point.
			ts := next.Unix()
			if lastTS > 0 {
				ts = lastTS + int64(in.cfg.FlushInterval)
			}
			st := in.agg.Snapshot()
			st.Slot = ts
			in.flush(ir, inj, ts)
			if err := aggregate.WriteState(statePath, st); err != nil {
				ir.LogError(fmt.Errorf("stop: the interval's aggregates were flushed but not kept for a restart: %w", err))
			}
			statmetric.WaitRouter(h, 5*time.Second)
			ir.LogMessage(fmt.Sprintf("final flush stamped %d done", ts))
			return nil
		}
	}
}

// restoreState takes up the state kept at the last stop. When this start's
// first flush (stamped about firstSlot) falls in the slot the stop's final
// flush was stamped with, that flush is replaced: the kept interval is
// merged into this one, so a quick restart loses no count. When the stop
// was longer, the final flush already holds the interval in its own slot and
// only the gauges are taken up. A damaged state file is refused, logged and
// moved aside; the start goes on.
// It returns the kept slot when the interval was merged, else 0.
func (in *Input) restoreState(ir pipeline.InputRunner, path string, firstSlot int64) int64 {
	st, err := aggregate.ReadState(path)
	if err != nil {
		if aside, merr := aggregate.MoveStateAside(path); merr != nil {
			ir.LogError(fmt.Errorf("refusing statsd state: %v; %v (remove it by hand)", err, merr))
		} else {
			ir.LogError(fmt.Errorf("refusing statsd state: %v; moved aside to %s, not restored", err, aside))
		}
		return 0
	}
	if st == nil {
		return 0
	}
	merged := int64(0)
	interval := int64(in.cfg.FlushInterval)
	d := firstSlot - st.Slot
	if st.Interval == int(interval) && d > -interval && 2*d < interval {
		in.agg.Restore(*st)
		merged = st.Slot
		ir.LogMessage(fmt.Sprintf("restored the statsd interval kept at stop (%d counters, %d timers, %d gauges, %d sets): merged into the flush at %d",
			len(st.Counters), len(st.Timers), len(st.Gauges), len(st.Sets), st.Slot))
	} else {
		in.agg.RestoreGauges(*st)
		ir.LogMessage(fmt.Sprintf("restored %d gauges kept at stop; the stop's last interval is in its own slot %d", len(st.Gauges), st.Slot))
	}
	if err := os.Remove(path); err != nil {
		ir.LogError(fmt.Errorf("statsd state %s restored but not removed: %w", path, err))
	}
	return merged
}

func (in *Input) flush(ir pipeline.InputRunner, inj statmetric.Injector, ts int64) {
	payload := in.agg.Flush(ts)
	in.flushes.Add(1)
	if n, name := in.agg.TakeUnstorable(); n > 0 {
		in.unstorable.Add(int64(n))
		if time.Since(in.lastUnstorableLog) >= time.Minute {
			ir.LogError(fmt.Errorf("flush at %d: refused %d metric names no whisper file can hold (empty part or too long; first: %q), counted as bad lines (%d so far)",
				ts, n, truncate(name, 120), in.unstorable.Load()))
			in.lastUnstorableLog = time.Now()
		}
	}
	if n, example := in.agg.TakeBadTags(); n > 0 {
		in.badTags.Add(n)
		if time.Since(in.lastBadTagLog) >= time.Minute {
			ir.LogError(fmt.Errorf("flush at %d: %d lines with tags Graphite cannot keep, counted as bad lines (first: %s; %d so far)",
				ts, n, example, in.badTags.Load()))
			in.lastBadTagLog = time.Now()
		}
	}
	if n, name := in.agg.TakeNonFinite(); n > 0 {
		in.nonFinite.Add(int64(n))
		ir.LogError(fmt.Errorf("flush at %d: %d aggregate values overflowed to ±Inf and were dropped (first: %s; %d so far)",
			ts, n, name, in.nonFinite.Load()))
	}
	if n := in.truncated.Swap(0); n > 0 {
		ir.LogError(fmt.Errorf("%d datagrams longer than max_datagram_size (%d bytes) were dropped",
			n, in.cfg.MaxDatagramSize))
	}
	_, dropped, err := inj.Inject(payload, time.Unix(ts, 0))
	if err != nil {
		ir.LogError(fmt.Errorf("flush at %d: %w", ts, err))
	}
	if dropped > 0 {
		ir.LogError(fmt.Errorf("flush at %d: %d metric lines longer than the maximum message size were dropped", ts, dropped))
	}
}

// drainTime bounds how long the readers keep taking queued datagrams after
// Stop.
const drainTime = 100 * time.Millisecond

// coalesceDelay is how long a reader pauses after a read that found the
// socket nearly empty, so that the next read takes a batch instead of one
// datagram and the reader does not wake up for every datagram. The pause is
// sized to the receive buffer: at 1,000,000 datagrams/s of about 1 KiB of
// kernel memory each, the buffer would fill in 1 ns per byte; the pause is
// half that, at most 2 ms, and none for buffers under 200 KiB.
func coalesceDelay(granted int) time.Duration {
	d := time.Duration(granted) / 2
	switch {
	case d > 2*time.Millisecond:
		return 2 * time.Millisecond
	case d < 100*time.Microsecond:
		return 0
	}
	return d
}

// readUDP reads one socket into the dispatcher until Stop, then takes what
// the socket still holds (bounded by drainTime) and returns.
func (in *Input) readUDP(ir pipeline.InputRunner, s *udpSocket, w *aggregate.Writer, coalesce time.Duration) {
	defer in.wg.Done()
	defer w.Flush()
	br, err := newBatchReader(s, in.cfg.MaxDatagramSize+1)
	if err != nil {
		ir.LogError(err)
		return
	}
	var lastErr, drainUntil time.Time
	full := 0 // full batches since the last Flush
	for {
		draining := !drainUntil.IsZero()
		if !draining && in.stopping() {
			drainUntil, draining = time.Now().Add(drainTime), true
		}
		if draining && time.Now().After(drainUntil) {
			return
		}
		n, err := br.read(!draining)
		if err != nil {
			if err == errNoData {
				if draining {
					return
				}
				continue
			}
			if isClosed(err) || draining {
				return
			}
			if time.Since(lastErr) > time.Minute {
				ir.LogError(fmt.Errorf("reading udp %s: %w", s.LocalAddr(), err))
				lastErr = time.Now()
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for i := 0; i < n; i++ {
			d, trunc := br.datagram(i)
			if trunc || len(d) > in.cfg.MaxDatagramSize {
				in.truncated.Add(1)
				continue
			}
			w.AddPacket(d)
		}
		// While full batches keep coming, chunks are handed on as they
		// fill (and all of them now and then); a short batch means the
		// socket is drained, so nothing is held back.
		if full++; n < batchSize || full >= 32 {
			w.Flush()
			full = 0
		}
		if coalesce > 0 && n < batchSize/4 && !draining {
			time.Sleep(coalesce)
		}
	}
}

func (in *Input) closeUDP() {
	for _, c := range in.udp {
		c.Close()
	}
}

func (in *Input) closeListeners() {
	// The UDP readers see Stop within pollInterval, take what their socket
	// still holds (closing it would discard that) and return; Run closes
	// the sockets after them.
	if in.tcp != nil {
		// Connections the kernel accepted but Accept has not returned yet
		// hold lines their clients consider sent: closing the listener
		// would reset them. A deadline lets acceptTCP take them first; it
		// closes the listener when the deadline passes.
		if dl, ok := in.tcp.(interface{ SetDeadline(time.Time) error }); !ok || dl.SetDeadline(time.Now().Add(stopGrace)) != nil {
			in.tcp.Close()
		}
	}
	in.connMu.Lock()
	for c := range in.conns {
		// Let a connection deliver what it already sent: its reader sees
		// EOF or the deadline shortly.
		_ = c.SetReadDeadline(time.Now().Add(stopGrace))
	}
	in.connMu.Unlock()
}

// stopGrace is how long a stop waits for TCP clients' lines already sent:
// queued connections are still accepted, open ones still read.
const stopGrace = 200 * time.Millisecond

func (in *Input) stopping() bool {
	select {
	case <-in.stop:
		return true
	default:
		return false
	}
}

// Stop makes Run flush and return.
func (in *Input) Stop() {
	in.stopOnce.Do(func() { close(in.stop) })
}

// ReportMsg adds the input's state to Heka's self-report.
func (in *Input) ReportMsg(msg *message.Message) error {
	if in.agg == nil {
		return nil
	}
	var packets, metrics, bad int64
	for _, s := range in.agg.Shards() {
		p, m, b, _ := s.Stats()
		packets += p
		metrics += m
		bad += b
	}
	message.NewInt64Field(msg, "PacketsThisInterval", packets, "count")
	message.NewInt64Field(msg, "MetricsThisInterval", metrics, "count")
	message.NewInt64Field(msg, "BadLinesThisInterval", bad, "count")
	message.NewInt64Field(msg, "Flushes", in.flushes.Load(), "count")
	message.NewInt64Field(msg, "DroppedNonFinite", in.nonFinite.Load(), "count")
	message.NewInt64Field(msg, "RefusedNames", in.unstorable.Load(), "count")
	message.NewInt64Field(msg, "BadTagLines", in.badTags.Load(), "count")
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
