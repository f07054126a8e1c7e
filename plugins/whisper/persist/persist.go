// Package persist writes cached points to Graphite whisper files with a
// pool of writers, in the manner of go-carbon's persister: each writer owns
// a fixed set of cache shards (so one file is never written by two writers
// at once), takes a shard's pending points and writes each metric with one
// multi-point update. Each writer keeps a bounded set of files open (least
// recently used out; see openFiles), each checked against its path before
// every update, and opens the others for their update only, relative to a
// bounded set of open folders. New
// files are limited per second; faults (disk full, permission denied,
// corrupt files) are logged rate-limited, counted and retried later with
// back-off while other metrics keep being written. Every path comes from
// internal/metricpath; folders are opened only beneath the data folder,
// symlinks included, and a metric file is never a symlink followed. It
// imports nothing of Heka.
package persist

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/whisperfile"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/whisper/cache"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/whisper/schema"
)

// Config configures a Persister.
type Config struct {
	Base                string // data folder; must exist
	Rules               *schema.Rules
	Writers             int // default 4
	MaxCreatesPerSecond int // 0: unlimited
	FolderPerm          os.FileMode
	FilePerm            os.FileMode
	MaxFuture           time.Duration // points further ahead are dropped
	Sparse              bool          // create sparse files
	RetryMin, RetryMax  time.Duration // back-off after a failed write (default 1s, 30s)
	Poll                time.Duration // idle writer poll interval (default 50ms)
	// PassInterval: when a writer's pass wrote a metric again less than
	// PassInterval after its previous update (points keep coming for it:
	// a backlog, a replay), the writer starts its next pass no sooner than
	// PassInterval after this one began, so such a metric's file is
	// written about once per PassInterval and the points arriving
	// meanwhile go into one update; the wait ends early once no point has
	// arrived for a quarter of PassInterval. A pass that wrote only metrics not
	// written that recently (a statsd flush arriving) is followed at once.
	// 0: never wait after a pass that wrote something.
	PassInterval time.Duration
	// OpenFiles: whisper files the writers keep open together (split
	// between them; at most half the open-file limit), so updating one
	// again skips its open, header read and close. 0: none kept.
	OpenFiles int
	Log       *RateLog
}

// Stats are cumulative counters since start, plus the cache size.
type Stats struct {
	PointsWritten  uint64 // points handed to a successful update
	Updates        uint64 // successful file updates
	Creates        uint64 // files created
	CreateErrors   uint64
	UpdateErrors   uint64 // failed opens/updates (points kept and retried)
	CorruptFiles   uint64 // updates refused because the file is corrupt
	DroppedBadName uint64 // points whose name cannot be a file under the data folder
	DroppedOutside uint64 // points whose path leads outside it through a symlink
	DroppedTooOld  uint64 // points older than the file's retention
	DroppedFuture  uint64 // points further in the future than allowed
	DroppedAtStop  uint64 // points not written when the stop timeout passed (dumped, or lost if no dump)
	WriteNanos     uint64 // time spent in file updates
	SchemaMismatch uint64 // existing files whose archives differ from their rule
	WaitingCreate  uint64 // metrics (now) waiting for their file to be created; their points count in the cache's size
}

type counters struct {
	pointsWritten, updates, creates, createErrors, updateErrors, corrupt,
	badName, outside, tooOld, future, atStop, writeNanos, mismatch atomic.Uint64
	waiting atomic.Uint64 // metrics waiting for their file to be created
}

// Persister runs the writers.
type Persister struct {
	cfg     Config
	cache   *cache.Cache
	c       counters
	limiter *limiter
	stop    chan struct{}
	wg      sync.WaitGroup
	writers []*writer
	baseFd  int // the data folder, open until Stop returns
	// openFiles: files the writers may keep open together; fileLimit: the
	// open-file limit it was bounded by (0: unknown).
	openFiles   int
	fileLimit   uint64
	limitRaised bool // the open-file limit was raised to fileLimit for openFiles
}

// New checks the configuration and returns a Persister for c.
func New(cfg Config, c *cache.Cache) (*Persister, error) {
	if cfg.Rules == nil || len(cfg.Rules.DefaultArchives) == 0 {
		return nil, errors.New("persist: no storage rules")
	}
	fi, err := os.Stat(cfg.Base)
	if err != nil {
		return nil, fmt.Errorf("persist: data folder: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("persist: data folder %s is not a folder", cfg.Base)
	}
	if cfg.Writers <= 0 {
		cfg.Writers = 4
	}
	if cfg.Writers > cache.Shards {
		cfg.Writers = cache.Shards
	}
	if cfg.FolderPerm == 0 {
		cfg.FolderPerm = 0o755
	}
	if cfg.FilePerm == 0 {
		cfg.FilePerm = 0o644
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = 30 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 50 * time.Millisecond
	}
	baseFd, err := unix.Open(cfg.Base, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("persist: opening data folder %s: %w", cfg.Base, err)
	}
	p := &Persister{cfg: cfg, cache: c, limiter: newLimiter(cfg.MaxCreatesPerSecond), stop: make(chan struct{}), baseFd: baseFd}
	filesPerWriter := 0
	if cfg.OpenFiles > 0 { // first: it may raise the open-file limit
		p.openFiles, p.fileLimit, p.limitRaised = fileBudget(cfg.OpenFiles)
		filesPerWriter = max(1, p.openFiles/cfg.Writers)
		p.openFiles = filesPerWriter * cfg.Writers
	}
	perWriter := max(16, folderBudget()/cfg.Writers)
	for w := 0; w < cfg.Writers; w++ {
		p.writers = append(p.writers, p.newWriter(w, perWriter, filesPerWriter))
	}
	return p, nil
}

// folderBudget is how many folder descriptors the writers may hold
// together: maxOpenFolders, or a quarter of the open-file limit if that
// is smaller.
func folderBudget() int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err == nil && lim.Cur/4 < maxOpenFolders {
		return int(lim.Cur / 4)
	}
	return maxOpenFolders
}

// OpenFiles returns how many whisper files the writers keep open at most
// (together), the process's open-file limit that bounded it (0: unknown,
// or no file kept open), and whether New raised that limit for them.
func (p *Persister) OpenFiles() (n int, limit uint64, raised bool) {
	return p.openFiles, p.fileLimit, p.limitRaised
}

// Start starts the writers.
func (p *Persister) Start() {
	for w := 0; w < p.cfg.Writers; w++ {
		p.wg.Add(1)
		go func(w int) {
			defer p.wg.Done()
			p.runWriter(p.writers[w])
		}(w)
	}
}

// deepBatch: once the metrics waiting hold this many points each on
// average, a writer stops waiting out the pass interval. An update of 64
// points costs about what one of a single point does (one pwrite of a
// run of slots), so waiting for still more would mostly hold memory: a
// burst larger than the writers can take then waits in updates of this
// size, not in the cache whole.
const deepBatch = 64

// runWriter runs wr's passes until Stop: at once after a pass that wrote
// something, no sooner than PassInterval after the last one began if it
// wrote a metric again within that interval (see Config.PassInterval)
// unless the cache is deep, and every Poll while idle.
func (p *Persister) runWriter(wr *writer) {
	for {
		began := time.Now()
		idle := !wr.pass(false)
		var until time.Time
		switch {
		case idle:
			until = time.Now().Add(p.cfg.Poll)
		case wr.hot:
			until = began.Add(p.cfg.PassInterval)
		}
		if !p.sleepUntil(until, !idle) {
			return
		}
	}
}

// sleepUntil waits until t (at once if it has passed). When batching (a
// hot pass's wait) it checks every Poll and ends the wait early once the
// cache has become deep, or once no point has arrived for a quarter of
// the pass interval: the points that made the pass hot have stopped
// coming (a flood or a replay has ended, a burst has been taken in), and
// waiting longer would only delay what the cache holds. Points that keep
// coming closer together than that are still gathered for the whole
// interval. It reports false when Stop was asked.
func (p *Persister) sleepUntil(t time.Time, batching bool) bool {
	quiet := p.cfg.PassInterval / 4
	lastAdded, quietSince := p.cache.Added(), time.Now()
	for {
		now := time.Now()
		if batching {
			if a := p.cache.Added(); a != lastAdded {
				lastAdded, quietSince = a, now
			}
		}
		d := t.Sub(now)
		if d <= 0 || (batching && (p.cache.Deep(deepBatch) || now.Sub(quietSince) >= max(quiet, p.cfg.Poll))) {
			select {
			case <-p.stop:
				return false
			default:
				return true
			}
		}
		if batching {
			d = min(d, p.cfg.Poll)
		}
		tm := time.NewTimer(d)
		select {
		case <-p.stop:
			tm.Stop()
			return false
		case <-tm.C:
		}
	}
}

// Stop stops the writers and writes out everything still cached, with no
// back-off, until the cache is empty or timeout has passed; new files are
// still made no faster than the create limit allows (a stop must not turn
// into an I/O storm: what is not written is kept for a dump, see
// Leftover). It returns the number of points it could not write.
func (p *Persister) Stop(timeout time.Duration) int64 {
	close(p.stop)
	p.wg.Wait()
	deadline := time.Now().Add(timeout)
	var wg sync.WaitGroup
	for w := 0; w < p.cfg.Writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			wr := p.writers[w]
			wr.deadline = deadline
			for time.Now().Before(deadline) {
				if wr.pass(true) {
					continue
				}
				if wr.waitHead == len(wr.waitQ) {
					return // nothing left for this writer
				}
				time.Sleep(min(p.cfg.Poll, time.Until(deadline))) // waiting for a create token
			}
		}(w)
	}
	wg.Wait()
	for _, wr := range p.writers {
		if wr.files != nil {
			wr.files.closeAll()
		}
		wr.dirs.closeAll()
	}
	_ = unix.Close(p.baseFd)
	left := p.cache.Size()
	if left > 0 {
		p.c.atStop.Add(uint64(left))
	}
	return left
}

// Leftover removes and returns, after Stop, every point Stop could not
// write: those still cached, those waiting for their file to be created
// and those whose write failed at stop. The caller keeps them (a dump).
func (p *Persister) Leftover() []cache.Batch {
	var out []cache.Batch
	for _, wr := range p.writers {
		for _, name := range wr.waitQ[wr.waitHead:] {
			b := wr.waiting[name]
			p.cache.Release(len(b.Points))
			out = append(out, *b)
		}
		p.c.waiting.Add(^uint64(len(wr.waitQ) - wr.waitHead - 1))
		wr.waitQ, wr.waitHead, wr.waiting = nil, 0, map[string]*cache.Batch{}
		for _, b := range wr.failed {
			p.cache.Release(len(b.Points))
			out = append(out, b)
		}
		wr.failed = nil
	}
	for s := 0; s < cache.Shards; s++ {
		out = p.cache.Take(s, out)
	}
	return out
}

// Stats returns the counters.
func (p *Persister) Stats() Stats {
	c := &p.c
	return Stats{
		PointsWritten: c.pointsWritten.Load(), Updates: c.updates.Load(), Creates: c.creates.Load(),
		CreateErrors: c.createErrors.Load(), UpdateErrors: c.updateErrors.Load(), CorruptFiles: c.corrupt.Load(),
		DroppedBadName: c.badName.Load(), DroppedOutside: c.outside.Load(), DroppedTooOld: c.tooOld.Load(),
		DroppedFuture: c.future.Load(), DroppedAtStop: c.atStop.Load(), WriteNanos: c.writeNanos.Load(),
		SchemaMismatch: c.mismatch.Load(), WaitingCreate: c.waiting.Load(),
	}
}

type retry struct {
	failures int
	at       time.Time
}

type writer struct {
	p      *Persister
	id     int
	batch  []cache.Batch
	retry  map[string]retry
	warned map[string]bool
	// seen holds, for each metric written in the last recheckAfter
	// seconds, when it was last written and last fully checked.
	seen map[string]seen
	// hot: the current pass wrote a metric again within PassInterval.
	hot       bool
	lastPrune int64
	// Metrics waiting for a create token, oldest first. They stay counted
	// in the cache's size (Hold) but out of its shards, so a long queue of
	// new metrics costs nothing per pass; points arriving for them meanwhile
	// are appended here.
	waiting  map[string]*cache.Batch
	waitQ    []string
	waitHead int
	deadline time.Time     // of the final write-out at stop
	failed   []cache.Batch // failed at stop (held in the cache's size), for Leftover
	wsp      whisperfile.Updater
	pts      []whisperfile.Point
	dirs     *folders
	files    *openFiles // nil: files are opened for each update
}

// recheckAfter is how long (seconds) a full check of a metric's file
// (its size, its archives against the rule) holds; within it only the
// header read by each update is checked.
const recheckAfter = 60

// seen is what a writer remembers of a metric it wrote.
type seen struct {
	checked int64 // Unix seconds of the last full check (0: none yet)
	written int64 // Unix nanoseconds of the last successful update
}

func (p *Persister) newWriter(id, maxFolders, maxFiles int) *writer {
	return &writer{p: p, id: id, retry: map[string]retry{}, warned: map[string]bool{}, seen: map[string]seen{},
		waiting: map[string]*cache.Batch{}, dirs: newFolders(p.cfg.Base, p.baseFd, maxFolders), files: newOpenFiles(maxFiles)}
}

// pass takes each of the writer's shards once and writes what it holds.
// final (at stop) ignores back-off and keeps what fails for Leftover.
// It reports whether anything was written or attempted.
func (w *writer) pass(final bool) bool {
	worked := false
	w.hot = false
	if now := time.Now(); now.Unix()-w.lastPrune > recheckAfter {
		w.lastPrune = now.Unix()
		old := now.Add(-recheckAfter * time.Second).UnixNano()
		for name, s := range w.seen {
			if s.written <= old {
				delete(w.seen, name)
			}
		}
	}
	if w.files != nil {
		w.files.closeIdle(time.Now().Add(-idleAfter).UnixNano())
	}
	// Metrics waiting for their file first, as far as the create limit allows.
	// late: the stop write-out's timeout has passed, or (regular passes)
	// stop was asked, so the final passes take over at once.
	late := func() bool {
		if final {
			return time.Now().After(w.deadline)
		}
		select {
		case <-w.p.stop:
			return true
		default:
			return false
		}
	}
	for w.waitHead < len(w.waitQ) && w.p.limiter.ready(time.Now()) && !late() {
		name := w.waitQ[w.waitHead]
		w.waitQ[w.waitHead] = ""
		w.waitHead++
		b := w.waiting[name]
		delete(w.waiting, name)
		w.p.c.waiting.Add(^uint64(0))
		w.p.cache.Release(len(b.Points))
		w.write(*b, final)
		worked = true
		yieldToInput()
	}
	if w.waitHead == len(w.waitQ) {
		w.waitQ, w.waitHead = w.waitQ[:0], 0
	} else if w.waitHead > 4096 && w.waitHead > len(w.waitQ)/2 {
		w.waitQ = append(w.waitQ[:0], w.waitQ[w.waitHead:]...)
		w.waitHead = 0
	}
	for s := w.id; s < cache.Shards; s += w.p.cfg.Writers {
		w.batch = w.p.cache.Take(s, w.batch[:0])
		for i := range w.batch {
			if late() {
				// What is left stays in the cache (counted) for the final passes.
				w.p.cache.Requeue(w.batch[i])
			} else if w.write(w.batch[i], final) {
				worked = true
				yieldToInput()
			}
			w.batch[i] = cache.Batch{}
		}
	}
	return worked
}

// yieldToInput lets the goroutines waiting for a CPU run before the
// writer's next update. A writer never blocks while it has metrics to
// write, and its system calls (open, pread, pwrite, close of a file in
// the page cache: microseconds) keep its CPU, so without this the input's
// goroutines, woken by a socket or a channel, waited for the writers'
// 10 ms time slices to end; each stage of the input then got the CPU
// only in turns with four writers, the cache's batches stayed at a point
// or two and every point cost a file open. Measured at 1,000,000 metrics ×
// 20 points sent back to back: 146,006 points/s drained without it,
// 800,105 with it (docs/performance.md). It costs well under a
// microsecond per update, nothing when no goroutine waits.
func yieldToInput() { runtime.Gosched() }

// write writes one metric's points; it reports whether it tried.
func (w *writer) write(b cache.Batch, final bool) bool {
	p := w.p
	now := time.Now()
	if wb, ok := w.waiting[b.Name]; ok {
		wb.Points = append(wb.Points, b.Points...)
		p.cache.Hold(len(b.Points))
		return false
	}
	if r, ok := w.retry[b.Name]; ok && !final && now.Before(r.at) {
		p.cache.Requeue(b)
		return false
	}
	dir, file, err := metricpath.Split(b.Name)
	if err != nil {
		p.c.badName.Add(uint64(len(b.Points)))
		p.cfg.Log.Log("name", "refused metric name, %d points dropped (%d so far): %v", len(b.Points), p.c.badName.Load(), err)
		return true
	}
	// A metric checked recently skips the file's size check and the
	// comparison with its rule.
	st := w.seen[b.Name]
	fresh := st.checked > now.Unix()-recheckAfter
	// Points too far in the future would overwrite valid data in the ring.
	maxTime := now.Add(p.cfg.MaxFuture).Unix()
	pts := b.Points[:0]
	for _, pt := range b.Points {
		if pt.Time() > maxTime {
			p.c.future.Add(1)
			continue
		}
		pts = append(pts, pt)
	}
	if len(pts) < len(b.Points) {
		p.cfg.Log.Log("future", "dropped %d points of %s more than %s in the future (%d dropped so far)",
			len(b.Points)-len(pts), b.Name, p.cfg.MaxFuture, p.c.future.Load())
	}
	b.Points = pts
	if len(pts) == 0 {
		return true
	}

	start := time.Now()
	err = w.update(dir, file, b, now, final, !fresh)
	p.c.writeNanos.Add(uint64(time.Since(start)))
	switch {
	case err == nil:
		delete(w.retry, b.Name)
		if !fresh {
			st.checked = now.Unix()
		}
		if now.UnixNano()-st.written < int64(p.cfg.PassInterval) {
			w.hot = true
		}
		st.written = now.UnixNano()
		w.seen[b.Name] = st
	case errors.Is(err, whisperfile.ErrSymlink):
		delete(w.seen, b.Name)
		p.c.outside.Add(uint64(len(b.Points)))
		p.cfg.Log.Log("outside", "refused %s: %v (never followed)", b.Name, err)
	case errors.Is(err, errOutside):
		delete(w.seen, b.Name)
		p.c.outside.Add(uint64(len(b.Points)))
		p.cfg.Log.Log("outside", "refused %s: %v (symlink?)", b.Name, err)
	case errors.Is(err, errCreateLimit):
		w.waiting[b.Name] = &b
		w.waitQ = append(w.waitQ, b.Name)
		p.c.waiting.Add(1)
		p.cache.Hold(len(b.Points))
		return false
	default:
		delete(w.seen, b.Name)
		if final {
			// Not retried in this stop; kept for the dump.
			w.failed = append(w.failed, b)
			p.cache.Hold(len(b.Points))
			p.cfg.Log.Log("stop", "at stop, %d points of %s not written (kept for the dump): %v", len(b.Points), b.Name, err)
			return true
		}
		r := w.retry[b.Name]
		r.failures++
		d := p.cfg.RetryMin << min(r.failures-1, 16)
		if d > p.cfg.RetryMax || d <= 0 {
			d = p.cfg.RetryMax
		}
		r.at = now.Add(d)
		w.retry[b.Name] = r
		p.cache.Requeue(b)
	}
	return true
}

func errOrNil(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

var errCreateLimit = errors.New("create limit reached")

// update writes b to the file in the folder dir (relative to the data
// folder), creating the file if needed. full (a metric not checked
// recently) also checks the file's size and compares its archives with
// the rule that now matches the metric.
func (w *writer) update(dir, file string, b cache.Batch, now time.Time, final, full bool) error {
	p := w.p
	pts := w.pts[:0]
	for _, pt := range b.Points {
		pts = append(pts, whisperfile.Point{Time: pt.Time(), Value: pt.Value()})
	}
	w.pts = pts
	// The full path only for messages and creation, not joined for every
	// update (path joins were a few per cent of the writers' CPU).
	path := func() string { return filepath.Join(p.cfg.Base, dir, file) }
	hdr, res, err := w.updateIn(b.Name, dir, file, pts, now.Unix(), full)
	if errors.Is(err, fs.ErrNotExist) {
		if !p.limiter.allow(now) {
			return errCreateLimit
		}
		if err := w.createFile(dir, file, path, p.cfg.Rules.Match(b.Name), now.Unix()); err != nil {
			p.c.createErrors.Add(1)
			p.cfg.Log.Log("create", "creating %s: %v (points kept, will retry)", path(), err)
			return err
		}
		p.c.creates.Add(1)
		full = false // made just now, by the rule
		hdr, res, err = w.updateIn(b.Name, dir, file, pts, now.Unix(), true)
	}
	switch {
	case errors.Is(err, whisperfile.ErrSymlink), errors.Is(err, errOutside):
		return err
	case errors.Is(err, whisperfile.ErrCorrupt):
		p.c.corrupt.Add(1)
		p.cfg.Log.Log("corrupt", "%v (points kept, will retry)", err)
		return err
	case err != nil:
		p.c.updateErrors.Add(1)
		p.cfg.Log.Log("update", "updating %s: %v (points kept, will retry)", path(), err)
		return err
	}
	if full && !w.warned[b.Name] {
		if rule, archives := p.cfg.Rules.MatchSchema(b.Name); !hdr.Archives.Equal(archives) {
			w.warned[b.Name] = true
			p.c.mismatch.Add(1)
			p.cfg.Log.Log("mismatch:"+b.Name, "%s keeps its archives %s; its rule [%s] now says %s (resize with whisper-resize.py to change it)",
				path(), hdr.Archives, rule, archives)
		}
	}
	p.c.tooOld.Add(uint64(res.TooOld))
	if res.TooOld > 0 {
		p.cfg.Log.Log("too_old", "dropped %d points of %s older than the file's retention (%d dropped so far)",
			res.TooOld, b.Name, p.c.tooOld.Load())
	}
	if res.Written > 0 {
		p.c.updates.Add(1)
		p.c.pointsWritten.Add(uint64(res.Written))
	}
	return nil
}

// updateIn updates the file in the folder dir (relative to the data
// folder) of the metric name with pts: through the file kept open for it,
// if any (and still the one the path names, see revalidateAfter), else
// opened for it, and then kept open. full (re)opens it, for the checks.
func (w *writer) updateIn(name, dir, file string, pts []whisperfile.Point, now int64, full bool) (*whisperfile.Header, whisperfile.Result, error) {
	if w.files == nil {
		d, err := w.dirs.get(dir, now)
		if err != nil {
			return nil, whisperfile.Result{}, err
		}
		return w.wsp.UpdateAt(d.fd, d.abs, file, pts, now, full)
	}
	f, err := w.writable(name, dir, file, now, full)
	if err != nil {
		return nil, whisperfile.Result{}, err
	}
	if f == nil { // no room to keep it open
		d, err := w.dirs.get(dir, now)
		if err != nil {
			return nil, whisperfile.Result{}, err
		}
		return w.wsp.UpdateAt(d.fd, d.abs, file, pts, now, full)
	}
	res, err := w.wsp.UpdateFile(f, file, pts, now)
	if err != nil {
		w.files.forget(name) // opened again next time
		return nil, res, err
	}
	return f.Header(), res, nil
}

// writable returns the metric name's file, kept open (checked against its
// path at most revalidateAfter ago) or opened now and kept; nil if it is
// not kept and there is no room to keep it.
func (w *writer) writable(name, dir, file string, now int64, full bool) (*whisperfile.Writable, error) {
	t := time.Now().UnixNano()
	if full {
		w.files.forget(name)
	} else if f := w.files.get(name, t, func(f *whisperfile.Writable) bool {
		d, err := w.dirs.get(dir, now)
		return err == nil && sameFile(d.fd, file, f)
	}); f != nil {
		return f, nil
	}
	if !w.files.room() {
		return nil, nil
	}
	d, err := w.dirs.get(dir, now)
	if err != nil {
		return nil, err
	}
	f, err := w.wsp.OpenWritable(d.fd, d.abs, file, full)
	if err != nil {
		return nil, err
	}
	w.files.add(name, f, t)
	return f, nil
}

// createFile creates the metric's file in the folder dir (relative to the
// data folder), atomically: the file is built under a temporary name in
// the same folder and linked into place, so a crash or a full disk never
// leaves a half-made file under a metric's name. It is made through the
// folder's descriptor (opened beneath the data folder, so no path is
// walked again); a folder that is missing, or was removed since it was
// opened, is made first and its path checked.
func (w *writer) createFile(dir, file string, path func() string, m schema.Match, now int64) error {
	tmp := ".tmp." + strconv.Itoa(os.Getpid()) + "." + strconv.Itoa(w.id) + "." + file
	for made := false; ; made = true {
		d, err := w.dirs.get(dir, now)
		if err == nil {
			err = createAt(d.fd, file, tmp, m, w.p.cfg.FilePerm, w.p.cfg.Sparse)
		}
		if made || !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		w.dirs.forget(dir)
		if err := w.makeFolders(path()); err != nil {
			return err
		}
	}
}

// makeFolders makes the folders of the file at path and checks that the
// path, now that they exist, stays inside the data folder.
func (w *writer) makeFolders(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), w.p.cfg.FolderPerm); err != nil {
		return fmt.Errorf("creating folder: %w", err)
	}
	if inside, err := metricpath.Within(w.p.cfg.Base, path); err != nil || !inside {
		return fmt.Errorf("path leads outside the data folder: %v", errOrNil(err))
	}
	return nil
}

// createAt makes the file name in the folder dirfd under the temporary
// name tmp in the same folder (replacing one left by a crash, never
// following a symlink there), linked into place. The file is in
// Graphite's format: the metadata (aggregation method, max retention,
// xFilesFactor, archive count), one (offset, seconds per point, points)
// entry per archive, then zeroed archives; it is made here rather than by
// go-whisper's Create, which leaks its file descriptor when a write fails
// (disk full).
func createAt(dirfd int, name, tmp string, m schema.Match, perm os.FileMode, sparse bool) error {
	open := func() (int, error) {
		return unix.Openat(dirfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	}
	fd, err := open()
	if errors.Is(err, unix.EEXIST) { // left by a crash
		_ = unix.Unlinkat(dirfd, tmp, 0)
		fd, err = open()
	}
	if err != nil {
		return &fs.PathError{Op: "create", Path: tmp, Err: err}
	}
	f := os.NewFile(uintptr(fd), tmp)
	if err := writeContents(f, m, perm, sparse); err != nil {
		_ = unix.Unlinkat(dirfd, tmp, 0)
		return err
	}
	err = unix.Linkat(dirfd, tmp, dirfd, name, 0)
	_ = unix.Unlinkat(dirfd, tmp, 0)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return &fs.PathError{Op: "link", Path: name, Err: err}
	}
	return nil // created, or another process made it meanwhile
}

// writeContents writes the new file f's header and zeroed archives, sets
// its permissions (the umask applied at open) and closes it.
func writeContents(f *os.File, m schema.Match, perm os.FileMode, sparse bool) (err error) {
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	hdr, size := whisperfile.EncodeHeader(m.Method, float32(m.XFilesFactor), m.Archives)
	if _, err := f.Write(hdr); err != nil {
		return err
	}
	if sparse {
		if err := f.Truncate(size); err != nil {
			return err
		}
	} else {
		left := size - int64(len(hdr))
		zeros := make([]byte, min(left, 64*1024)) // a file's archives, up to 64 KiB a write
		for left > 0 {
			n := min(left, int64(len(zeros)))
			if _, err := f.Write(zeros[:n]); err != nil {
				return err
			}
			left -= n
		}
	}
	return f.Chmod(perm)
}

// limiter is a token bucket of n creates per second (burst n).
type limiter struct {
	mu     sync.Mutex
	rate   float64
	tokens float64
	last   time.Time
}

func newLimiter(n int) *limiter {
	if n <= 0 {
		return nil
	}
	return &limiter{rate: float64(n), tokens: float64(n)}
}

// ready reports whether a create would be allowed now, without using it.
func (l *limiter) ready(now time.Time) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.tokens
	if !l.last.IsZero() {
		t += now.Sub(l.last).Seconds() * l.rate
	}
	return t >= 1
}

func (l *limiter) allow(now time.Time) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() {
		l.tokens += now.Sub(l.last).Seconds() * l.rate
		if l.tokens > l.rate {
			l.tokens = l.rate
		}
	}
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}
