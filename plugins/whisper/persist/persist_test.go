package persist

import (
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/whisperfile"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/whisper/cache"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/whisper/schema"
	gowhisper "github.com/lomik/go-whisper"
)

type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) logf(f string, a ...interface{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(f, a...))
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func rules(t testing.TB, retentions string) *schema.Rules {
	t.Helper()
	def, err := schema.ParseRetentions(retentions)
	if err != nil {
		t.Fatal(err)
	}
	return &schema.Rules{Aggregations: schema.StatsdAggregations(), DefaultArchives: def, DefaultXFF: 0.5, DefaultMethod: schema.Average}
}

func start(t testing.TB, base string, r *schema.Rules, mod func(*Config)) (*Persister, *cache.Cache, *logBuf) {
	t.Helper()
	lb := &logBuf{}
	cfg := Config{Base: base, Rules: r, Writers: 2, MaxFuture: 10 * time.Minute,
		RetryMin: 100 * time.Millisecond, RetryMax: 500 * time.Millisecond, OpenFiles: 4096, Log: NewRateLog(0, lb.logf)}
	if mod != nil {
		mod(&cfg)
	}
	c := cache.New(0)
	p, err := New(cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	t.Cleanup(func() {
		select {
		case <-p.stop:
		default:
			p.Stop(5 * time.Second)
		}
	})
	return p, c, lb
}

// TestWriteReadBack writes statsd-style metrics and reads the files back
// with go-whisper and with Graphite's whisper.py: archives, xFilesFactor,
// aggregation method, timestamps and values, including roll-ups.
func TestWriteReadBack(t *testing.T) {
	testutil.RequireWhisperPy(t)
	base := t.TempDir()
	p, c, lb := start(t, base, rules(t, "10s:1h,1m:1d"), nil)
	now := time.Now().Unix()
	t0 := now - now%60 - 120 // two full minutes ago
	type want struct {
		method string
		xff    float64
		values []float64 // at t0, t0+10 … t0+50
		rollup float64   // the 1m archive's value at t0
	}
	metrics := map[string]want{
		"stats.counters.app.hits.count": {"sum", 0, []float64{1, 2, 3, 4, 5, 6}, 21},
		"stats.timers.app.rt.lower":     {"min", 0.1, []float64{5, 3, 9, 4, 8, 7}, 3},
		"stats.timers.app.rt.upper_90":  {"max", 0.1, []float64{5, 3, 9, 4, 8, 7}, 9},
		"stats.gauges.app.queue":        {"last", 0, []float64{5, 3, 9, 4, 8, 7}, 7},
		"stats.timers.app.rt.mean":      {"average", 0.5, []float64{1, 2, 3, 4, 5, 6}, 3.5},
	}
	for name, w := range metrics {
		for i, v := range w.values {
			c.Add([]byte(name), t0+int64(10*i), v)
		}
	}
	testutil.Eventually(t, 20*time.Second, func() bool { return p.Stats().PointsWritten == 30 }, "points written: %+v", p.Stats())
	for name, w := range metrics {
		path := filepath.Join(base, strings.ReplaceAll(name, ".", "/")+".wsp")
		py := testutil.ReadWhisperPy(t, path, t0-1, t0+59)
		if py.AggregationMethod != w.method || float32(py.XFilesFactor) != float32(w.xff) || len(py.Archives) != 2 ||
			py.Archives[0].SecondsPerPoint != 10 || py.Archives[0].Points != 360 ||
			py.Archives[1].SecondsPerPoint != 60 || py.Archives[1].Points != 1440 {
			t.Errorf("%s: whisper.py header %+v", name, py)
			continue
		}
		for i, v := range w.values {
			ts := strconv.FormatInt(t0+int64(10*i), 10)
			if got, ok := py.Archives[0].Values[ts]; !ok || got != v {
				t.Errorf("%s at %s: whisper.py %v (%v), want %v", name, ts, got, ok, v)
			}
		}
		if got := py.Archives[1].Values[strconv.FormatInt(t0, 10)]; math.Abs(got-w.rollup) > 1e-9 {
			t.Errorf("%s: 1m roll-up %v, want %v", name, got, w.rollup)
		}
		if py.Fetch == nil || py.Fetch.Step != 10 || len(py.Fetch.Values) != 6 {
			t.Errorf("%s: whisper.fetch %+v", name, py.Fetch)
		} else {
			for i, v := range w.values {
				if py.Fetch.Values[i] == nil || *py.Fetch.Values[i] != v {
					t.Errorf("%s: whisper.fetch value %d = %v, want %v", name, i, py.Fetch.Values[i], v)
				}
			}
		}
		// go-whisper reads the same.
		db, err := gowhisper.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := db.Fetch(int(t0-1), int(t0+59))
		db.Close()
		if err != nil || ts.Step() != 10 || len(ts.Values()) != 6 {
			t.Fatalf("%s: go-whisper fetch %v, %v", name, ts, err)
		}
		for i, v := range w.values {
			if ts.Values()[i] != v {
				t.Errorf("%s: go-whisper value %d = %v, want %v", name, i, ts.Values()[i], v)
			}
		}
		if !strings.EqualFold(db.AggregationMethod(), w.method) || db.XFilesFactor() != float32(w.xff) {
			t.Errorf("%s: go-whisper method %s", name, db.AggregationMethod())
		}
	}
	st := p.Stats()
	if st.Creates != 5 || st.UpdateErrors != 0 || st.CreateErrors != 0 {
		t.Errorf("stats %+v\n%s", st, lb)
	}
}

// TestDuplicateFutureOld: the last point for a slot wins; points too far in
// the future or older than the retention are dropped and counted.
func TestDuplicateFutureOld(t *testing.T) {
	testutil.RequireWhisperPy(t)
	base := t.TempDir()
	p, c, _ := start(t, base, rules(t, "10s:1h"), nil)
	now := time.Now().Unix()
	slot := now - now%10 - 30
	c.Add([]byte("d"), slot, 1)
	c.Add([]byte("d"), slot+3, 2) // same 10 s slot, arrives last: wins
	c.Add([]byte("d"), now+3600, 9)
	c.Add([]byte("d"), now-7200, 9)
	c.Add([]byte("d"), now+60, 5) // near future (a final statsd flush): kept
	testutil.Eventually(t, 20*time.Second, func() bool {
		st := p.Stats()
		return st.PointsWritten == 3 && st.DroppedFuture == 1 && st.DroppedTooOld == 1
	}, "stats %+v", p.Stats())
	py := testutil.ReadWhisperPy(t, filepath.Join(base, "d.wsp"), 0, 0)
	vals := py.Archives[0].Values
	if vals[strconv.FormatInt(slot, 10)] != 2 || len(vals) != 2 {
		t.Errorf("values %v, want slot %d = 2 and the near-future point", vals, slot)
	}
}

// TestBadNamesAndSymlinks: names that are not paths under the data folder,
// and a symlink leading out of it, are refused and counted; nothing is
// written outside.
func TestBadNamesAndSymlinks(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, "data")
	outside := filepath.Join(root, "outside")
	for _, d := range []string{base, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(base, "escape")); err != nil {
		t.Fatal(err)
	}
	p, c, lb := start(t, base, rules(t, "10s:1h"), nil)
	now := time.Now().Unix()
	bad := []string{"..", "a..b", "../outside/x", "a/../../x", "..\\x", "x\x00y", ".hidden", "a.", "", strings.Repeat("z", 300)}
	for _, n := range bad {
		c.Add([]byte(n), now, 1)
	}
	c.Add([]byte("escape.x"), now, 1)
	c.Add([]byte("escape.deeper.y"), now, 1)
	c.Add([]byte("good.one"), now, 1)
	testutil.Eventually(t, 20*time.Second, func() bool {
		st := p.Stats()
		return st.DroppedBadName == uint64(len(bad)) && st.DroppedOutside == 2 && st.PointsWritten == 1
	}, "stats %+v\n%s", p.Stats(), lb)
	err := filepath.Walk(outside, func(path string, fi os.FileInfo, err error) error { // before the swap below
		if path != outside {
			t.Errorf("written outside the data folder: %s", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(base, "good", "one.wsp")); err != nil {
		t.Error(err)
	}
	// A file written once, then swapped for a symlink leading out: refused
	// at once, even within the time a full path check is trusted.
	victim := filepath.Join(outside, "victim.wsp")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(base, "good", "one.wsp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(base, "good", "one.wsp")); err != nil {
		t.Fatal(err)
	}
	c.Add([]byte("good.one"), now+1, 2)
	testutil.Eventually(t, 20*time.Second, func() bool { return p.Stats().DroppedOutside == 3 }, "stats %+v", p.Stats())
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("file outside the data folder modified through a symlink")
	}
}

// TestFaultsRetried: a corrupt file and a file where a folder should be
// are logged, counted and retried; other metrics keep being written; once
// the fault is repaired the kept points land.
func TestFaultsRetried(t *testing.T) {
	base := t.TempDir()
	corrupt := filepath.Join(base, "bad", "corrupt.wsp")
	if err := os.MkdirAll(filepath.Dir(corrupt), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(corrupt, []byte(strings.Repeat("\xff", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	// "blocked" is a plain file, so blocked/x.wsp cannot be created.
	if err := os.WriteFile(filepath.Join(base, "blocked"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, c, lb := start(t, base, rules(t, "10s:1h"), nil)
	now := time.Now().Unix()
	c.Add([]byte("bad.corrupt"), now-20, 1)
	c.Add([]byte("blocked.x"), now-20, 2)
	for i := 0; i < 50; i++ {
		c.Add([]byte(fmt.Sprintf("ok.m%d", i)), now-20, 3)
	}
	testutil.Eventually(t, 20*time.Second, func() bool {
		st := p.Stats()
		return st.PointsWritten == 50 && st.CorruptFiles >= 2 && st.CreateErrors+st.UpdateErrors >= 2
	}, "stats %+v\n%s", p.Stats(), lb)
	if c.Size() != 2 {
		t.Errorf("cache holds %d points, want the 2 failing ones kept", c.Size())
	}
	for _, want := range []string{"corrupt whisper file", "blocked"} {
		if !strings.Contains(lb.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, lb)
		}
	}
	// Repair both; the kept points are written on a later retry.
	if err := os.Remove(corrupt); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(base, "blocked")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, func() bool { return p.Stats().PointsWritten == 52 }, "stats %+v", p.Stats())
}

// TestSchemaMismatchKeepsFile: an existing file keeps its archives and the
// difference is logged once.
func TestSchemaMismatchKeepsFile(t *testing.T) {
	base := t.TempDir()
	path := filepath.Join(base, "old.wsp")
	r := gowhisper.NewRetention(60, 100)
	db, err := gowhisper.Create(path, gowhisper.Retentions{&r}, gowhisper.Sum, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	p, c, lb := start(t, base, rules(t, "10s:1h"), nil)
	now := time.Now().Unix()
	c.Add([]byte("old"), now-120, 1)
	testutil.Eventually(t, 20*time.Second, func() bool { return p.Stats().PointsWritten == 1 }, "stats %+v", p.Stats())
	c.Add([]byte("old"), now-60, 2)
	testutil.Eventually(t, 20*time.Second, func() bool { return p.Stats().PointsWritten == 2 }, "stats %+v", p.Stats())
	h, err := whisperfile.ReadHeaderFile(path)
	if err != nil || h.Archives.String() != "60:100" || h.Method != schema.Sum {
		t.Fatalf("header %+v, %v", h, err)
	}
	if n := strings.Count(lb.String(), "keeps its archives 60:100"); n != 1 || p.Stats().SchemaMismatch != 1 {
		t.Errorf("mismatch logged %d times:\n%s", n, lb)
	}
}

// TestCreateLimit: new files are created at most N per second; points of
// metrics waiting for their file stay cached, none is lost.
func TestCreateLimit(t *testing.T) {
	base := t.TempDir()
	p, c, _ := start(t, base, rules(t, "10s:1h"), func(cfg *Config) { cfg.MaxCreatesPerSecond = 20 })
	now := time.Now().Unix()
	for i := 0; i < 60; i++ {
		c.Add([]byte(fmt.Sprintf("n.m%d", i)), now-10, 1)
	}
	began := time.Now()
	testutil.Eventually(t, 30*time.Second, func() bool { return p.Stats().Creates == 60 }, "stats %+v", p.Stats())
	// 20 burst + 20/s: at least ~2 s for 60 files. Checked as a lower bound only.
	if el := time.Since(began); el < 1500*time.Millisecond {
		t.Errorf("60 files created in %s with a limit of 20/s", el)
	}
	if p.Stats().PointsWritten != 60 {
		t.Errorf("stats %+v", p.Stats())
	}
}

// TestStopKeepsCreateLimitAndLeftover: Stop writes existing files at once
// but makes new files no faster than the create limit; what it could not
// write before its timeout (waiting for creation, or failing) is handed
// out whole by Leftover, and the cache is empty afterwards.
func TestStopKeepsCreateLimitAndLeftover(t *testing.T) {
	base := t.TempDir()
	// "blocked" is a plain file: metrics below it can never be written.
	if err := os.WriteFile(filepath.Join(base, "blocked"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, c, _ := start(t, base, rules(t, "10s:1h"), func(cfg *Config) { cfg.MaxCreatesPerSecond = 20 })
	now := time.Now().Unix()
	const n = 200
	for i := 0; i < n; i++ {
		c.Add([]byte(fmt.Sprintf("s.m%d", i)), now, float64(i))
	}
	c.Add([]byte("blocked.x"), now, 7)
	left := p.Stop(1500 * time.Millisecond)
	st := p.Stats()
	if left == 0 || st.Creates >= n {
		t.Fatalf("%d left, %d created: the create limit was not kept at stop", left, st.Creates)
	}
	rest := p.Leftover()
	if c.Size() != 0 {
		t.Errorf("cache size %d after Leftover", c.Size())
	}
	got := map[string]float64{}
	for _, b := range rest {
		if len(b.Points) != 1 {
			t.Fatalf("%s: %d points", b.Name, len(b.Points))
		}
		got[b.Name] = b.Points[0].Value()
	}
	if v, ok := got["blocked.x"]; !ok || v != 7 {
		t.Errorf("the failing metric is not in the leftover: %v", got["blocked.x"])
	}
	if int64(len(rest)) != left || uint64(len(rest)-1)+st.PointsWritten != n {
		t.Errorf("%d leftover + %d written, want %d (+1 failing); Stop said %d left", len(rest), st.PointsWritten, n, left)
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("s.m%d", i)
		_, err := os.Stat(filepath.Join(base, "s", fmt.Sprintf("m%d.wsp", i)))
		if v, ok := got[name]; ok == (err == nil) || (ok && v != float64(i)) {
			t.Errorf("%s: in leftover %v (value %v), on disk %v", name, ok, v, err == nil)
		}
	}
}

func TestReadHeaderRejectsGarbage(t *testing.T) {
	dir := t.TempDir()
	r := gowhisper.NewRetention(10, 10)
	good := filepath.Join(dir, "good.wsp")
	db, err := gowhisper.Create(good, gowhisper.Retentions{&r}, gowhisper.Average, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := whisperfile.ReadHeaderFile(good); err != nil {
		t.Fatalf("good file: %v", err)
	}
	b, _ := os.ReadFile(good)
	cases := map[string][]byte{
		"short":     b[:10],
		"truncated": b[:len(b)-12],
		"method":    append([]byte{0, 0, 0, 9}, b[4:]...),
		"offset":    append(append([]byte{}, b[:16]...), append([]byte{0, 0, 0, 99}, b[20:]...)...),
	}
	for name, data := range cases {
		p := filepath.Join(dir, name+".wsp")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := whisperfile.ReadHeaderFile(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func init() { log.SetFlags(0) }

// TestStopTimeout: the write-out at stop ends when its timeout passes, even
// in the middle of a shard, and reports what is left.
func TestStopTimeout(t *testing.T) {
	base := t.TempDir()
	p, c, _ := start(t, base, rules(t, "10s:1h"), func(cfg *Config) { cfg.MaxCreatesPerSecond = 1; cfg.Writers = 1 })
	now := time.Now().Unix()
	for i := 0; i < 3000; i++ {
		c.Add([]byte(fmt.Sprintf("t.m%d", i)), now, 1)
	}
	began := time.Now()
	left := p.Stop(50 * time.Millisecond)
	if el := time.Since(began); el > 10*time.Second {
		t.Errorf("Stop took %s with a 50 ms timeout", el)
	}
	st := p.Stats()
	if left <= 0 || uint64(left)+st.PointsWritten != 3000 || st.DroppedAtStop != uint64(left) {
		t.Errorf("left %d, stats %+v", left, st)
	}
}

// TestFolderOpenSharedByMetrics: a folder is opened once for its metrics
// (their files are opened relative to it), but a symlink among them is
// still refused.
func TestFolderOpenSharedByMetrics(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, "base")
	outside := filepath.Join(root, "outside")
	for _, d := range []string{filepath.Join(base, "app"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(outside, "x.wsp"), filepath.Join(base, "app", "link.wsp")); err != nil {
		t.Fatal(err)
	}
	p, c, lb := start(t, base, rules(t, "10s:1h"), nil)
	now := time.Now().Unix()
	c.Add([]byte("app.first"), now, 1)
	testutil.Eventually(t, 20*time.Second, func() bool { return p.Stats().PointsWritten == 1 }, "stats %+v\n%s", p.Stats(), lb)
	if n := openFolders(p, "app"); n != 1 {
		t.Fatalf("folder app open in %d writers, want 1", n)
	}
	c.Add([]byte("app.second"), now, 2)
	c.Add([]byte("app.link"), now, 3)
	testutil.Eventually(t, 20*time.Second, func() bool {
		st := p.Stats()
		return st.PointsWritten == 2 && st.DroppedOutside == 1
	}, "stats %+v\n%s", p.Stats(), lb)
	if _, err := os.Stat(filepath.Join(base, "app", "second.wsp")); err != nil {
		t.Errorf("app.second not written: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(outside, "x.wsp")); err == nil {
		t.Errorf("written outside the data folder through app/link.wsp")
	}
}

// openFolders returns how many of p's writers hold the folder rel open.
// Call it only while the writers are idle.
func openFolders(p *Persister, rel string) int {
	n := 0
	for _, w := range p.writers {
		if _, ok := w.dirs.open[rel]; ok {
			n++
		}
	}
	return n
}

// TestPassIntervalBatches: with a pass interval, once a metric is written
// again soon after its previous update, the points that keep arriving for
// it go into one later update (a backlog costs fewer file updates), and
// still reach the file within about the interval. Without one, the same
// trickle is written point by point.
func TestPassIntervalBatches(t *testing.T) {
	for _, tc := range []struct {
		interval    time.Duration
		wantUpdates func(uint64) bool
	}{
		// The 2nd point alone (written 120 ms after the 1st: the metric
		// is hot), then the other four together.
		{2 * time.Second, func(u uint64) bool { return u == 2 }},
		{0, func(u uint64) bool { return u >= 4 }},
	} {
		t.Run(tc.interval.String(), func(t *testing.T) {
			base := t.TempDir()
			p, c, _ := start(t, base, rules(t, "10s:1h"), func(cfg *Config) { cfg.PassInterval = tc.interval })
			now := time.Now().Unix()
			t0 := now - now%10 - 300
			c.Add([]byte("m"), t0, 1) // creates the file
			testutil.Eventually(t, 10*time.Second, func() bool { return p.Stats().Updates == 1 }, "first update: %+v", p.Stats())
			began := time.Now()
			for i := 1; i <= 5; i++ {
				time.Sleep(120 * time.Millisecond) // longer than the idle poll
				c.Add([]byte("m"), t0+int64(10*i), float64(i+1))
			}
			testutil.Eventually(t, 10*time.Second, func() bool { return p.Stats().PointsWritten == 6 }, "points written: %+v", p.Stats())
			if waited := time.Since(began); tc.interval > 0 && waited > tc.interval+3*time.Second {
				t.Errorf("points on disk %s after the first, interval %s", waited, tc.interval)
			}
			if u := p.Stats().Updates - 1; !tc.wantUpdates(u) {
				t.Errorf("5 points written in %d updates with pass interval %s", u, tc.interval)
			}
			db, err := gowhisper.Open(filepath.Join(base, "m.wsp"))
			if err != nil {
				t.Fatal(err)
			}
			ts, err := db.Fetch(int(t0-1), int(t0+59))
			db.Close()
			if err != nil || len(ts.Values()) != 6 {
				t.Fatalf("fetch %v, %v", ts, err)
			}
			for i, v := range ts.Values() {
				if v != float64(i+1) {
					t.Errorf("point %d: %v, want %d", i, v, i+1)
				}
			}
		})
	}
}

// startOneWriterWrote starts a persister with one writer and a pass
// interval of a minute, and returns once it has written a's first point,
// at t0 (a 10 s slot about age seconds ago).
func startOneWriterWrote(t *testing.T, age int64) (*Persister, *cache.Cache, int64) {
	t.Helper()
	p, c, _ := start(t, t.TempDir(), rules(t, "10s:1h"), func(cfg *Config) {
		cfg.Writers = 1
		cfg.PassInterval = time.Minute
	})
	now := time.Now().Unix()
	t0 := now - now%10 - age
	c.Add([]byte("a"), t0, 1)
	testutil.Eventually(t, 10*time.Second, func() bool { return p.Stats().Updates == 1 }, "a: %+v", p.Stats())
	return p, c, t0
}

// TestPassIntervalNoWaitForNewPoints: a pass that wrote only metrics not
// written recently (a statsd flush arriving) does not hold the writer
// back, however long the pass interval.
func TestPassIntervalNoWaitForNewPoints(t *testing.T) {
	p, c, t0 := startOneWriterWrote(t, 300)
	c.Add([]byte("b"), t0, 2)
	testutil.Eventually(t, 5*time.Second, func() bool { return p.Stats().Updates == 2 }, "b not written at once: %+v", p.Stats())
	// Now a is written again soon after its last update: the writer
	// waits the interval before its next pass, and c waits with it.
	c.Add([]byte("a"), t0+10, 3)
	testutil.Eventually(t, 5*time.Second, func() bool { return p.Stats().Updates == 3 }, "a again: %+v", p.Stats())
	c.Add([]byte("c"), t0, 4)
	time.Sleep(500 * time.Millisecond)
	if u := p.Stats().Updates; u != 3 {
		t.Errorf("%d updates: c was written although a pass wrote a hot metric within the interval", u)
	}
}

// TestPassIntervalEndsWhenPointsStop: a writer waiting out the pass
// interval after a hot pass writes once no point has arrived for a
// quarter of the interval (a flood has ended), not at the interval's end.
func TestPassIntervalEndsWhenPointsStop(t *testing.T) {
	p, c, _ := start(t, t.TempDir(), rules(t, "10s:1h"), func(cfg *Config) {
		cfg.Writers = 1
		cfg.PassInterval = 8 * time.Second
	})
	now := time.Now().Unix()
	t0 := now - now%10 - 300
	c.Add([]byte("a"), t0, 1)
	testutil.Eventually(t, 10*time.Second, func() bool { return p.Stats().Updates == 1 }, "a: %+v", p.Stats())
	c.Add([]byte("a"), t0+10, 2)
	testutil.Eventually(t, 5*time.Second, func() bool { return p.Stats().Updates == 2 }, "a again: %+v", p.Stats())
	// The writer now waits up to 8 s; points keep coming for 1 s…
	began := time.Now()
	for i := 0; i < 10; i++ {
		c.Add([]byte("b"), t0+int64(10*i), float64(i))
		time.Sleep(100 * time.Millisecond)
	}
	if u := p.Stats().Updates; u != 2 {
		t.Fatalf("%d updates: written while points kept coming closer together than a quarter of the interval", u)
	}
	// …then stop: b is written about 2 s later, in one update.
	testutil.Eventually(t, 6*time.Second, func() bool { return p.Stats().Updates == 3 }, "b: %+v", p.Stats())
	if d := time.Since(began); d < 2500*time.Millisecond || d > 6*time.Second {
		t.Errorf("b written %s after its first point; want about 3 s (1 s of points, then 2 s quiet)", d)
	}
	if w := p.Stats().PointsWritten; w != 12 {
		t.Errorf("%d points written, want 12", w)
	}
}

// TestPassIntervalDeepBacklog: a writer waiting out the pass interval
// after a hot pass writes at once when the cache becomes deep (64 points
// a metric on average): more waiting would only hold memory.
func TestPassIntervalDeepBacklog(t *testing.T) {
	p, c, t0 := startOneWriterWrote(t, 3000)
	c.Add([]byte("a"), t0+10, 2)
	testutil.Eventually(t, 5*time.Second, func() bool { return p.Stats().Updates == 2 }, "a again: %+v", p.Stats())
	// The writer now waits a minute. Under 64 points a metric it keeps waiting…
	for i := 2; i < 2+deepBatch-1; i++ {
		c.Add([]byte("a"), t0+int64(10*i), float64(i+1))
	}
	time.Sleep(300 * time.Millisecond)
	if u := p.Stats().Updates; u != 2 {
		t.Fatalf("%d updates: written before the cache was deep or the interval passed", u)
	}
	// …and the 64th point makes it write them all in one update.
	c.Add([]byte("a"), t0+int64(10*(deepBatch+1)), float64(deepBatch+2))
	testutil.Eventually(t, 3*time.Second, func() bool { return p.Stats().Updates == 3 }, "deep cache not written: %+v", p.Stats())
	if w := p.Stats().PointsWritten; w != deepBatch+2 {
		t.Errorf("%d points written, want %d", w, deepBatch+2)
	}
}

// TestCreateInExistingFolder: a file made in a folder that exists (through
// the folder's descriptor) replaces a temporary file left by a crash, and
// never follows a symlink planted at the temporary name.
func TestCreateInExistingFolder(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(outside, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"a", "c"} {
		if err := os.Mkdir(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	const writers = 2
	tmpOf := func(name, dir, file string) string {
		id := cache.ShardOf([]byte(name)) % writers
		return filepath.Join(base, dir, fmt.Sprintf(".tmp.%d.%d.%s", os.Getpid(), id, file))
	}
	if err := os.Symlink(outside, tmpOf("a.b", "a", "b.wsp")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmpOf("c.d", "c", "d.wsp"), []byte("half a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, c, lb := start(t, base, rules(t, "10s:1h"), func(cfg *Config) { cfg.Writers = writers })
	now := time.Now().Unix()
	c.Add([]byte("a.b"), now, 1)
	c.Add([]byte("c.d"), now, 2)
	testutil.Eventually(t, 5*time.Second, func() bool { return p.Stats().PointsWritten == 2 }, "not written: %+v\n%s", p.Stats(), lb)
	if b, err := os.ReadFile(outside); err != nil || string(b) != "keep" {
		t.Errorf("symlink at the temporary name followed: %q, %v", b, err)
	}
	for _, f := range []string{"a/b.wsp", "c/d.wsp"} {
		st, err := os.Lstat(filepath.Join(base, f))
		if err != nil || !st.Mode().IsRegular() || st.Size() < 1000 {
			t.Errorf("%s: %v, %v", f, st, err)
		}
	}
	for _, tmp := range []string{tmpOf("a.b", "a", "b.wsp"), tmpOf("c.d", "c", "d.wsp")} {
		if _, err := os.Lstat(tmp); err == nil {
			t.Errorf("%s left behind", tmp)
		}
	}
}
