// Package whisper is the thin Heka adapter of the project's whisper output:
// it registers DreamcatcherWhisperOutput (and Heka's stock name
// WhisperOutput), reads the configuration, moves the points of matched
// messages (carbon plaintext payload lines, or numeric message fields) into
// the cache, runs the writers, writes the cache out on stop and emits the
// output's own metrics as heka.statmetric messages. The work is done by the
// Heka-free packages schema, cache and persist.
package whisper

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/carbon/plaintext"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/statmetric"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/whisper/cache"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/whisper/dump"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/whisper/persist"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/whisper/schema"
	"github.com/mozilla-services/heka/message"
	"github.com/mozilla-services/heka/pipeline"
)

// PluginName is the name the output registers with Heka; StockPluginName
// is the second name it takes, Heka's own WhisperOutput's (whose files
// Graphite cannot read), so Heka configs work unchanged.
const (
	PluginName      = "DreamcatcherWhisperOutput"
	StockPluginName = "WhisperOutput"
)

func init() {
	pipeline.RegisterPlugin(PluginName, func() interface{} { return new(Output) })
	pipeline.RegisterPlugin(StockPluginName, func() interface{} { return new(Output) })
}

// Output is the Heka output plugin.
type Output struct {
	conf       *Config
	pConfig    *pipeline.PipelineConfig
	base       string
	rules      *schema.Rules
	folderPerm os.FileMode
	filePerm   os.FileMode

	linesIn   atomic.Uint64 // points accepted from messages
	badLines  atomic.Uint64
	badFields atomic.Uint64
	messages  atomic.Uint64
}

// ConfigStruct returns the defaults for Heka to decode the section into.
func (o *Output) ConfigStruct() interface{} { return DefaultConfig() }

// SetPipelineConfig gives access to Heka's globals (base_dir, hostname).
func (o *Output) SetPipelineConfig(pc *pipeline.PipelineConfig) { o.pConfig = pc }

// Init checks the configuration and prepares the data folder.
func (o *Output) Init(config interface{}) error {
	conf := config.(*Config)
	o.conf = conf
	var err error
	if o.rules, err = conf.Rules(); err != nil {
		return err
	}
	if o.folderPerm, err = Perm("folder_perm", conf.FolderPerm); err != nil {
		return err
	}
	if o.filePerm, err = Perm("file_perm", conf.FilePerm); err != nil {
		return err
	}
	if conf.Writers <= 0 || conf.Writers > cache.Shards {
		return fmt.Errorf("writers must be 1 to %d", cache.Shards)
	}
	if conf.MaxCachePoints < 0 || conf.MaxCreatesPerSecond < 0 {
		return fmt.Errorf("max_cache_points and max_creates_per_second must not be negative")
	}
	if conf.OpenFiles > 1<<20 {
		return fmt.Errorf("open_files must be 0 to %d, got %d", 1<<20, conf.OpenFiles)
	}
	if conf.WriteIntervalMs > 60_000 {
		return fmt.Errorf("write_interval_ms must be 0 to 60000, got %d", conf.WriteIntervalMs)
	}
	if conf.SelfMetrics != "" && conf.SelfMetricsInterval == 0 {
		return fmt.Errorf("self_metrics_interval must be at least 1 second")
	}
	o.base = conf.BasePath
	if o.pConfig != nil {
		o.base = o.pConfig.Globals.PrependBaseDir(conf.BasePath)
	}
	if o.base, err = filepath.Abs(o.base); err != nil {
		return fmt.Errorf("base_path: %w", err)
	}
	if err := os.MkdirAll(o.base, o.folderPerm); err != nil {
		return fmt.Errorf("base_path %s cannot be created: %w", o.base, err)
	}
	probe, err := os.CreateTemp(o.base, ".write-check-*")
	if err != nil {
		return fmt.Errorf("base_path %s is not writable: %w", o.base, err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// openFilesNote says how many files the writers keep open, for the start
// message.
func openFilesNote(p *persist.Persister, asked uint) string {
	n, limit, raised := p.OpenFiles()
	note := ""
	if raised {
		note = ", raised for them"
	}
	switch {
	case asked == 0:
		return "no file kept open (open_files = 0)"
	case uint64(asked) > limit/2 && limit > 0:
		return fmt.Sprintf("keeping up to %d files open (open_files = %d, bounded to half the open-file limit %d%s; raise the hard limit, ulimit -Hn or systemd's LimitNOFILE, for more)", n, asked, limit, note)
	}
	return fmt.Sprintf("keeping up to %d files open (open-file limit %d%s)", n, limit, note)
}

// Run moves points from matched messages into the cache until Heka closes
// the input channel, then writes the cache out.
func (o *Output) Run(or pipeline.OutputRunner, h pipeline.PluginHelper) error {
	conf := o.conf
	logs := persist.NewRateLog(time.Duration(conf.LogInterval)*time.Second, func(f string, a ...interface{}) {
		or.LogError(fmt.Errorf(f, a...))
	})
	c := cache.New(conf.MaxCachePoints)
	p, err := persist.New(persist.Config{
		Base: o.base, Rules: o.rules, Writers: conf.Writers, MaxCreatesPerSecond: conf.MaxCreatesPerSecond,
		FolderPerm: o.folderPerm, FilePerm: o.filePerm, MaxFuture: time.Duration(conf.MaxFuture) * time.Second,
		Sparse: conf.SparseCreate, PassInterval: time.Duration(conf.WriteIntervalMs) * time.Millisecond,
		OpenFiles: int(conf.OpenFiles), Log: logs,
	}, c)
	if err != nil {
		return err
	}
	dumpPath := o.dumpPath(or.Name())
	o.restore(or, c, dumpPath)
	p.Start()
	or.LogMessage(fmt.Sprintf("writing whisper files under %s with %d writers, %s", o.base, conf.Writers, openFilesNote(p, conf.OpenFiles)))

	stopSelf := make(chan struct{})
	var selfWG sync.WaitGroup
	if conf.SelfMetrics != "" {
		selfWG.Add(1)
		go func() {
			defer selfWG.Done()
			o.selfMetrics(or, h, c, p, stopSelf)
		}()
	}

	var buf []byte
	for pack := range or.InChan() {
		buf = o.process(pack.Message, c, buf, logs)
		or.UpdateCursor(pack.QueueCursor)
		pack.Recycle(nil)
	}

	close(stopSelf)
	waitTimeout(&selfWG, 2*time.Second)
	timeout := time.Duration(conf.FlushTimeout) * time.Second
	cached := c.Size()
	or.LogMessage(fmt.Sprintf("stopping: writing out %d cached points (timeout %s)", cached, timeout))
	began := time.Now()
	if left := p.Stop(timeout); left > 0 {
		o.keep(or, p.Leftover(), dumpPath, timeout)
	} else {
		st := p.Stats()
		or.LogMessage(fmt.Sprintf("stopped: cache written out in %s (%d points written since start, %d dropped at stop)",
			time.Since(began).Round(time.Millisecond), st.PointsWritten, st.DroppedAtStop))
	}
	return nil
}

// dumpPath is where the points not written at stop are kept: under Heka's
// base_dir, one file per output section ("" without Heka's globals).
func (o *Output) dumpPath(name string) string {
	if o.pConfig == nil {
		return ""
	}
	return o.pConfig.Globals.PrependBaseDir("whisper-cache." + name + ".dump")
}

// restore puts the points of the last stop's dump back in the cache and
// removes the dump. A dump that is damaged, of an unknown version or made
// for another data folder is refused with one log line and moved aside;
// the start goes on.
func (o *Output) restore(or pipeline.OutputRunner, c *cache.Cache, path string) {
	if path == "" {
		return
	}
	dump.RemoveStale(path)
	batches, err := dump.Read(path, o.base)
	if err != nil {
		aside, merr := dump.MoveAside(path)
		if merr != nil {
			or.LogError(fmt.Errorf("refusing cache dump: %v; %v (remove it by hand)", err, merr))
			return
		}
		or.LogError(fmt.Errorf("refusing cache dump: %v; moved aside to %s, its points are not restored", err, aside))
		return
	}
	if batches == nil {
		return
	}
	points := 0
	for _, b := range batches {
		points += len(b.Points)
		c.Requeue(b)
	}
	if err := os.Remove(path); err != nil {
		or.LogError(fmt.Errorf("cache dump %s restored but not removed: %w", path, err))
	}
	or.LogMessage(fmt.Sprintf("restored %d points of %d metrics from the cache dump %s", points, len(batches), path))
}

// keep writes the points not written at stop to the dump for the next start.
func (o *Output) keep(or pipeline.OutputRunner, rest []cache.Batch, path string, timeout time.Duration) {
	points := 0
	for _, b := range rest {
		points += len(b.Points)
	}
	if path == "" {
		or.LogError(fmt.Errorf("stop: %d cached points of %d metrics could not be written within flush_timeout %s and are lost (no base_dir)",
			points, len(rest), timeout))
		return
	}
	if err := dump.Write(path, o.base, rest); err != nil {
		or.LogError(fmt.Errorf("stop: %d cached points of %d metrics could not be written within flush_timeout %s and are lost: %w",
			points, len(rest), timeout, err))
		return
	}
	or.LogMessage(fmt.Sprintf("stop: %d cached points of %d metrics not written within flush_timeout %s: kept in %s, written after the next start",
		points, len(rest), timeout, path))
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// process adds a message's points to the cache. Carbon plaintext payload
// lines are used when the payload holds any; otherwise numeric fields are
// (named as the metric, with the "timestamp" field or the message time).
func (o *Output) process(m *message.Message, c *cache.Cache, buf []byte, logs *persist.RateLog) []byte {
	o.messages.Add(1)
	now := time.Now().Unix()
	payload := m.GetPayload()
	if strings.TrimSpace(payload) != "" {
		buf = append(buf[:0], payload...)
		plaintext.Lines(buf, func(line []byte) {
			pt, err := plaintext.ParseLine(line)
			if err != nil {
				o.badLines.Add(1)
				logs.Log("line", "bad metric line %q: %v", truncate(string(line)), err)
				return
			}
			if pt.Timestamp < 0 {
				pt.Timestamp = now
			}
			if c.Add(pt.Name, pt.Timestamp, pt.Value) {
				o.linesIn.Add(1)
			} else {
				o.logCacheFull(c, logs)
			}
		})
		return buf
	}
	ts := m.GetTimestamp() / 1e9
	for _, f := range m.GetFields() {
		if f.GetName() == "timestamp" {
			if v, ok := number(f.GetValue()); ok && v > 0 {
				ts = int64(v)
			}
		}
	}
	for _, f := range m.GetFields() {
		name := f.GetName()
		if name == "timestamp" {
			continue
		}
		v, ok := number(f.GetValue())
		if !ok {
			o.badFields.Add(1)
			logs.Log("field", "field %q is not a number", truncate(name))
			continue
		}
		buf = append(buf[:0], name...)
		if c.Add(buf, ts, v) {
			o.linesIn.Add(1)
		} else {
			o.logCacheFull(c, logs)
		}
	}
	return buf
}

// logCacheFull logs (rate-limited) that points are refused by a full cache.
func (o *Output) logCacheFull(c *cache.Cache, logs *persist.RateLog) {
	logs.Log("cache_full", "cache full (max_cache_points = %d, the disk is not keeping up): points dropped, %d so far",
		o.conf.MaxCachePoints, c.DroppedFull())
}

func number(v interface{}) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case int64:
		f = float64(x)
	case float64:
		f = x
	case int32:
		f = float64(x)
	case int:
		f = float64(x)
	default:
		return 0, false
	}
	return f, !math.IsNaN(f) && !math.IsInf(f, 0)
}

func truncate(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// selfMetrics injects the output's own metrics every interval as one
// heka.statmetric message. They are emitted on a timer, never in answer to
// a message, so at most one message per interval enters the pipeline: no
// loop can grow. The message goes to the router directly (Heka's
// OutputRunner.Inject refuses messages the output itself matches), from
// this goroutine, so the output's message loop never waits on the router.
func (o *Output) selfMetrics(or pipeline.OutputRunner, h pipeline.PluginHelper, c *cache.Cache, p *persist.Persister, stop chan struct{}) {
	prefix := o.conf.SelfMetrics
	host := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, h.Hostname())
	prefix = strings.TrimSuffix(strings.ReplaceAll(prefix, "{hostname}", host), ".")
	interval := time.Duration(o.conf.SelfMetricsInterval) * time.Second
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var prev snapshot
	for {
		select {
		case <-stop:
			return
		case t := <-tick.C:
			cur := o.snapshot(c, p)
			payload := cur.lines(prefix, prev, interval, t.Unix())
			prev = cur
			chunks, _ := statmetric.Chunks(payload, statmetric.MaxPayload())
			for _, chunk := range chunks {
				pack, err := h.PipelinePack(0)
				if err != nil {
					or.LogError(fmt.Errorf("self metrics: %w", err))
					break
				}
				pack.Message.SetType(statmetric.Type)
				pack.Message.SetLogger(or.Name())
				pack.Message.SetPayload(string(chunk))
				if err := h.PipelineConfig().Router().Inject(pack); err != nil {
					or.LogError(fmt.Errorf("self metrics: %w", err))
				}
			}
		}
	}
}

type snapshot struct {
	in, badLines, badFields, messages uint64
	cache                             cache.Stats
	p                                 persist.Stats
}

func (o *Output) snapshot(c *cache.Cache, p *persist.Persister) snapshot {
	return snapshot{in: o.linesIn.Load(), badLines: o.badLines.Load(), badFields: o.badFields.Load(),
		messages: o.messages.Load(), cache: c.Stats(), p: p.Stats()}
}

// lines renders the metrics: counters as the change over the interval,
// sizes as they are now.
func (s snapshot) lines(prefix string, prev snapshot, interval time.Duration, ts int64) []byte {
	var b []byte
	add := func(name string, v float64) { b = plaintext.AppendLine(b, prefix+"."+name, v, ts) }
	d := func(cur, old uint64) float64 { return float64(cur - old) }
	add("messages", d(s.messages, prev.messages))
	add("points_received", d(s.in, prev.in))
	add("bad_lines", d(s.badLines+s.badFields, prev.badLines+prev.badFields))
	add("cache.points", float64(s.cache.Points))
	add("cache.metrics", float64(s.cache.Metrics+int64(s.p.WaitingCreate)))
	add("cache.waiting_create", float64(s.p.WaitingCreate))
	add("points_written", d(s.p.PointsWritten, prev.p.PointsWritten))
	add("updates", d(s.p.Updates, prev.p.Updates))
	add("creates", d(s.p.Creates, prev.p.Creates))
	add("errors.create", d(s.p.CreateErrors, prev.p.CreateErrors))
	add("errors.update", d(s.p.UpdateErrors, prev.p.UpdateErrors))
	add("errors.corrupt", d(s.p.CorruptFiles, prev.p.CorruptFiles))
	add("dropped.cache_full", d(s.cache.DroppedFull, prev.cache.DroppedFull))
	add("dropped.bad_name", d(s.p.DroppedBadName, prev.p.DroppedBadName))
	add("dropped.outside", d(s.p.DroppedOutside, prev.p.DroppedOutside))
	add("dropped.too_old", d(s.p.DroppedTooOld, prev.p.DroppedTooOld))
	add("dropped.future", d(s.p.DroppedFuture, prev.p.DroppedFuture))
	writeMs := float64(s.p.WriteNanos-prev.p.WriteNanos) / 1e6
	add("write_time_ms", writeMs)
	if u := s.p.Updates - prev.p.Updates; u > 0 {
		add("update_time_us", writeMs*1000/float64(u))
	}
	return b
}
