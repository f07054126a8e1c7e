// Command whisper-bench measures how fast metric points are persisted to
// whisper files, side by side for Dreamcatcher (the project's hekad:
// DreamcatcherCarbonInput → DreamcatcherWhisperOutput) and Graphite's
// carbon-cache (Debian graphite-carbon), both fed the same carbon plaintext
// points over TCP on 127.0.0.1, both with the same storage schema, no create
// or update limits, non-sparse files.
//
// For each metric count it runs two phases, each bounded in time:
//
//   - paced: a statsd-like flush every -interval: every metric gets one point
//     per flush (round 0 creates the files and is not measured). It reports
//     the offered rate, whether every round was on disk before the next one
//     (kept_up), the largest lag of a round (time until all of its points are
//     on disk, as counted by the program itself; 1 s resolution) and the
//     largest cache; and the sustained rate: points persisted per second
//     over the measured rounds' whole time (rounds × interval), while a
//     flush's worth of points keeps coming every interval (at most the
//     offered rate; below it when the program falls behind).
//   - flood: -flood rounds sent back to back (distinct past timestamps): the
//     drain rate, points persisted per second while a backlog exists: the
//     sustained maximum.
//
// CPU (user+system, in cores) and the largest RSS of the program under test
// are sampled from /proc every second. "Persisted" comes from each program's
// own counters: Dreamcatcher's self metric points_written (via a FileOutput),
// carbon-cache's carbon.agents.*.committedPoints (CARBON_METRIC_INTERVAL=1).
//
// With -memory N it instead loads N distinct metrics into Dreamcatcher's
// cache (file creation throttled to 1/s so they stay cached) and reports
// the RSS.
//
//	go build -o bin/ ./cmd/hekad && go run ./bench/whisper -metrics 10000,100000
//	go run ./bench/whisper -targets dreamcatcher -memory 1000000
//	go run ./bench/whisper -targets dreamcatcher,gocarbon,vm -metrics 100000 -runs 3 -flood 20
//	go run ./bench/whisper -e2e -e2e-outputs whisper -e2e-peers dreamcatcher,gocarbon,vm -runs 3
//
// The e2e mode sends statsd counters over UDP to hekad; with -e2e-peers
// each peer instead gets, over carbon plaintext, the points the statsd
// stage makes of the same load (a count and a rate per name per 10 s
// flush), so the difference is the statsd stage's cost.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gowhisper "github.com/lomik/go-whisper"

	"github.com/dreamcatcher-monitoring/dreamcatcher/bench/internal/udpload"
)

var (
	targetsF  = flag.String("targets", "dreamcatcher,carbon", "programs to measure, alternating: dreamcatcher, carbon (carbon-cache), gocarbon, vm (VictoriaMetrics)")
	metricsF  = flag.String("metrics", "10000,100000", "distinct metric counts, comma-separated")
	interval  = flag.Duration("interval", 10*time.Second, "flush interval of the paced phase")
	rounds    = flag.Int("rounds", 4, "measured flushes in the paced phase")
	flood     = flag.Int("flood", 5, "rounds sent back to back in the flood phase (0: skip)")
	retention = flag.String("retention", "10s:1h", "storage schema retentions for the metrics")
	hekadBin  = flag.String("hekad", "bin/hekad", "the project's hekad")
	carbonBin = flag.String("carbon-cache", "/usr/bin/carbon-cache", "Graphite's carbon-cache")
	gcBin     = flag.String("go-carbon", "/tmp/bin/go-carbon", "go-carbon 0.19.1 (target gocarbon; docs/performance.md says how to build it)")
	gcWorkers = flag.Int("go-carbon-workers", runtime.NumCPU(), "go-carbon's [whisper] workers")
	vmBin     = flag.String("victoria-metrics", "/tmp/bin/victoria-metrics", "VictoriaMetrics single-node v1.151.0 (target vm)")
	runsF     = flag.Int("runs", 1, "runs per metric count; each run alternates the targets; with more than one, medians are printed at the end")
	writers   = flag.Int("writers", 4, "Dreamcatcher writers")
	writeIvl  = flag.Int("write-interval-ms", 2000, "Dreamcatcher's write_interval_ms")
	conns     = flag.Int("conns", 4, "sending TCP connections")
	memory    = flag.Int("memory", 0, "only measure Dreamcatcher's RSS with this many cached metrics")
	e2e       = flag.Bool("e2e", false, "only measure statsd over UDP → DreamcatcherStatsdInput → this output → files")
	e2eRates  = flag.String("e2e-rates", "500000,1000000,2000000", "lines/s tried in the e2e mode (each in a fresh hekad)")
	e2eNames  = flag.Int("e2e-names", 10000, "distinct statsd names in the e2e mode")
	e2eLines  = flag.Int("e2e-lines", 20, "lines per datagram in the e2e mode")
	e2eWindow = flag.Duration("e2e-window", 25*time.Second, "sending time per rate in the e2e mode")
	e2eOuts   = flag.String("e2e-outputs", "whisper,none", "e2e runs with this output, and without (none) for comparison")
	e2ePeers  = flag.String("e2e-peers", "", "in the e2e mode also run these, fed the aggregated points over carbon plaintext: dreamcatcher (its carbon input), gocarbon, vm")
	e2eGSO    = flag.Bool("e2e-gso", true, "send the e2e load with UDP segmentation offload (hekad still receives one datagram at a time)")
	maxWait   = flag.Duration("max-wait", 3*time.Minute, "longest wait for any phase to be persisted")
	keep      = flag.Bool("keep", false, "keep the work folder")
	cpuprof   = flag.String("hekad-cpuprof", "", "write hekad's CPU profile of each write-path run to this path (suffixed with the run and metric count)")
	warm      = flag.Bool("warm", true, "with -data-cache, read every metric file before each program starts, so each begins with its files in the page cache (this machine's memory reclaim evicts files unused for a while, and the program run after a pause would otherwise update them from disk)")
	memprof   = flag.String("hekad-memprof", "", "write hekad's heap profile at its exit of each write-path run to this path (suffixed as -hekad-cpuprof)")
	dataCache = flag.String("data-cache", "", "create the metric files once in this folder (go-whisper, the bench's schema; kept for later runs) and move it into each whisper program's run and back: -precreate without creating the files again for every run (for 1,000,000 metrics); same file system as $TMPDIR")
	precreate = flag.Bool("precreate", false, "create every metric's file (go-whisper, same schema) before starting each program, so both are measured updating existing files")
)

func main() {
	flag.Parse()
	work, err := os.MkdirTemp("", "whisper-bench-")
	check(err)
	if !*keep {
		defer os.RemoveAll(work)
	}
	if *memory > 0 {
		memoryRun(work, *memory)
		return
	}
	if *e2e {
		e2eRun(work)
		return
	}
	fmt.Printf("# whisper persistence: %s, retention %s, interval %s, %d paced + %d flood rounds, %s\n",
		*targetsF, *retention, *interval, *rounds, *flood, time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("%-12s %8s %3s %10s %10s %8s %10s %12s %12s %10s %6s %8s\n",
		"target", "metrics", "run", "create/s", "offered/s", "kept_up", "max_lag", "max_cache", "sustained/s", "flood/s", "cpu", "rss_MiB")
	all := map[string][]result{}
	var order []string
	for _, m := range ints(*metricsF) {
		for run := 1; run <= *runsF; run++ {
			for _, t := range strings.Split(*targetsF, ",") {
				r := runTarget(work, t, m, run)
				key := fmt.Sprintf("%s %d", t, m)
				if _, ok := all[key]; !ok {
					order = append(order, key)
				}
				all[key] = append(all[key], r)
				fmt.Printf("%-12s %8d %3d %10.0f %10.0f %8v %10s %12d %12.0f %10.0f %6.2f %8.0f\n", t, m, run, r.create, r.offered, r.maxLag < *interval,
					r.maxLag.Round(10*time.Millisecond), r.maxCache, r.sustained, r.flood, r.cpu, r.rssMiB)
			}
		}
	}
	if *runsF > 1 {
		fmt.Printf("# medians of %d runs\n", *runsF)
		for _, key := range order {
			rs := all[key]
			pick := func(f func(result) float64) float64 {
				v := make([]float64, len(rs))
				for i, r := range rs {
					v[i] = f(r)
				}
				return median(v)
			}
			fmt.Printf("%-21s create/s %8.0f  sustained/s %9.0f  max_lag %6.2fs  flood/s %9.0f  cpu %5.2f  rss_MiB %6.0f\n", key,
				pick(func(r result) float64 { return r.create }), pick(func(r result) float64 { return r.sustained }),
				pick(func(r result) float64 { return r.maxLag.Seconds() }), pick(func(r result) float64 { return r.flood }),
				pick(func(r result) float64 { return r.cpu }), pick(func(r result) float64 { return r.rssMiB }))
		}
	}
}

// runTarget starts one program in a fresh folder, measures it and removes
// the folder.
func runTarget(work, t string, m, rn int) result {
	dir := filepath.Join(work, fmt.Sprintf("%s-%d-%d", t, m, rn))
	check(os.MkdirAll(dir, 0o755))
	giveBack := func() {}
	if *precreate && *dataCache == "" && t != "vm" {
		began := time.Now()
		precreateFiles(filepath.Join(dir, "data"), m)
		fmt.Fprintf(os.Stderr, "%s: %d files created in %s\n", t, m, time.Since(began).Round(time.Second))
	}
	if *dataCache != "" && t != "vm" {
		cached := borrowDataCache(m)
		data := filepath.Join(dir, "data")
		check(os.Rename(cached, data))
		giveBack = func() { check(os.Rename(data, cached)) }
		if *warm {
			began := time.Now()
			n := warmFiles(data)
			fmt.Fprintf(os.Stderr, "%s: %d files read into the page cache in %s\n", t, n, time.Since(began).Round(10*time.Millisecond))
		}
	}
	tg := startTarget(dir, t)
	r := run(tg, m)
	tg.stop()
	giveBack()
	if !*keep {
		// Minutes of CPU at a million files: a run started
		// meanwhile would be measured on a busy machine.
		began := time.Now()
		os.RemoveAll(dir)
		fmt.Fprintf(os.Stderr, "%s: work folder removed in %s\n", t, time.Since(began).Round(time.Second))
	}
	return r
}

// startTarget starts program t (dreamcatcher, carbon, gocarbon, vm) in dir.
func startTarget(dir, t string) *target {
	var tg *target
	switch t {
	case "dreamcatcher":
		tg = startDreamcatcher(dir)
	case "carbon":
		tg = startCarbon(dir)
	case "gocarbon":
		tg = startGoCarbon(dir)
	case "vm":
		tg = startVM(dir)
	default:
		check(fmt.Errorf("unknown target %q", t))
	}
	tg.name = t
	return tg
}

func median(v []float64) float64 {
	sort.Float64s(v)
	if len(v) == 0 {
		return math.NaN()
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

type result struct {
	create, offered, sustained, flood, cpu, rssMiB float64
	maxLag                                         time.Duration
	maxCache                                       int64
}

type target struct {
	name    string
	cmd     *exec.Cmd
	addr    string
	counts  func() (persisted, cache int64) // cumulative points persisted, cache size now
	sampler *sampler
	logFile string
}

func (t *target) stop() {
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = t.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		_ = t.cmd.Process.Kill()
		<-done
	}
	t.sampler.stop()
}

// borrowDataCache returns the -data-cache folder holding the files of m
// metrics, creating them the first time (a marker file says they are
// complete).
func borrowDataCache(m int) string {
	cached := filepath.Join(*dataCache, fmt.Sprintf("metrics-%d", m))
	marker := cached + ".complete"
	if _, err := os.Stat(marker); err == nil {
		return cached
	}
	check(os.RemoveAll(cached))
	began := time.Now()
	precreateFiles(cached, m)
	check(os.WriteFile(marker, nil, 0o644))
	fmt.Fprintf(os.Stderr, "data cache: %d files created in %s (%s)\n", m, time.Since(began).Round(time.Second), cached)
	return cached
}

// warmFiles reads every file under dir once (4 at a time) and returns how
// many it read.
func warmFiles(dir string) int {
	paths := make(chan string, 1024)
	var n atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range paths {
				if readAll(p) == nil {
					n.Add(1)
				}
			}
		}()
	}
	check(filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths <- p
		}
		return err
	}))
	close(paths)
	wg.Wait()
	return int(n.Load())
}

// readAll reads the file at p to its end.
func readAll(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

// benchName is metric i's name.
func benchName(i int) string { return fmt.Sprintf("bench.g%03d.m%07d", i%1000, i) }

// precreateFiles creates the whisper file of each of n metrics under data
// with the bench's schema (average, xFilesFactor 0.5, as both programs are
// configured), 4 goroutines at a time.
func precreateFiles(data string, n int) {
	ret, err := gowhisper.ParseRetentionDefs(*retention)
	check(err)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < n; i += 4 {
				path := filepath.Join(data, filepath.FromSlash(strings.ReplaceAll(benchName(i), ".", "/"))+".wsp")
				if i < 4000 { // one metric per folder among the first ones
					check(os.MkdirAll(filepath.Dir(path), 0o755))
				}
				w, err := gowhisper.Create(path, ret, gowhisper.Average, 0.5)
				check(err)
				w.Close()
			}
		}(g)
	}
	wg.Wait()
}

func run(t *target, metrics int) result {
	var r result
	names := make([]string, metrics)
	for i := range names {
		names[i] = benchName(i)
	}
	now := time.Now().Unix()
	// Round 0 creates the files (unless -precreate).
	began0 := time.Now()
	send(t.addr, names, []int64{now - now%10})
	want := int64(metrics)
	r.create = float64(metrics) / waitPersisted(t, want, *maxWait).Sub(began0).Seconds()
	t.sampler.reset()
	// Paced rounds.
	start := time.Now()
	pStart, _ := t.counts()
	wStart := readSyscw(t.cmd.Process.Pid)
	for k := 1; k <= *rounds; k++ {
		due := start.Add(time.Duration(k-1) * *interval)
		time.Sleep(time.Until(due))
		ts := time.Now().Unix()
		send(t.addr, names, []int64{ts - ts%10 + 10*int64(k)})
		want += int64(metrics)
		deadline := due.Add(*interval)
		for {
			p, c := t.counts()
			if c > r.maxCache {
				r.maxCache = c
			}
			if p >= want {
				if lag := time.Since(due); lag > r.maxLag {
					r.maxLag = lag
				}
				break
			}
			if time.Now().After(deadline) {
				// Not kept up within the interval: the lag is at least that.
				if lag := time.Since(due); lag > r.maxLag {
					r.maxLag = lag
				}
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if *rounds > 0 {
		end := start.Add(time.Duration(*rounds) * *interval)
		time.Sleep(time.Until(end))
		pEnd, _ := t.counts()
		r.sustained = float64(pEnd-pStart) / time.Since(start).Seconds()
		// A cross-check that does not depend on the program's own
		// counters: write system calls (about one per file update).
		fmt.Fprintf(os.Stderr, "%s: paced phase: %.0f points/s persisted by its own count, %.0f write calls/s\n",
			t.name, r.sustained, float64(readSyscw(t.cmd.Process.Pid)-wStart)/time.Since(start).Seconds())
	}
	waitPersisted(t, want, *maxWait)
	r.offered = float64(metrics) / interval.Seconds()
	// Flood: rounds back to back, with past timestamps inside the retention.
	if *flood > 0 {
		base := time.Now().Unix() - 3000
		base -= base % 10
		var tss []int64
		for k := 0; k < *flood; k++ {
			tss = append(tss, base+int64(10*k))
		}
		p0, _ := t.counts()
		began := time.Now()
		send(t.addr, names, tss)
		target := p0 + int64(metrics**flood)
		doneAt := waitPersistedTrack(t, target, *maxWait, &r.maxCache)
		p1, _ := t.counts()
		r.flood = float64(p1-p0) / doneAt.Sub(began).Seconds()
	}
	r.cpu, r.rssMiB = t.sampler.result()
	return r
}

func waitPersisted(t *target, want int64, max time.Duration) time.Time {
	var c int64
	return waitPersistedTrack(t, want, max, &c)
}

func waitPersistedTrack(t *target, want int64, max time.Duration, maxCache *int64) time.Time {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		p, c := t.counts()
		if c > *maxCache {
			*maxCache = c
		}
		if p >= want {
			return time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
	p, _ := t.counts()
	fmt.Fprintf(os.Stderr, "warning: only %d of %d points persisted after %s (log: %s)\n", p, want, max, t.logFile)
	return time.Now()
}

// send writes one point per name per timestamp over several connections.
func send(addr string, names []string, tss []int64) {
	var wg sync.WaitGroup
	for c := 0; c < *conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			check(err)
			defer conn.Close()
			_ = conn.SetWriteDeadline(time.Now().Add(*maxWait))
			w := bufio.NewWriterSize(conn, 256*1024)
			var b []byte
			for _, ts := range tss {
				for i := c; i < len(names); i += *conns {
					b = append(b[:0], names[i]...)
					b = append(b, ' ')
					b = strconv.AppendInt(b, int64(i%100), 10)
					b = append(b, ' ')
					b = strconv.AppendInt(b, ts, 10)
					b = append(b, '\n')
					_, err := w.Write(b)
					check(err)
				}
			}
			check(w.Flush())
		}(c)
	}
	wg.Wait()
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitListening(addr string, logFile string) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	check(fmt.Errorf("nothing listens on %s; see %s", addr, logFile))
}

func startDreamcatcher(dir string) *target {
	return startDreamcatcherWith(dir, 0)
}

func startDreamcatcherWith(dir string, maxCreates int) *target {
	port := freePort()
	self := filepath.Join(dir, "self.txt")
	cfg := filepath.Join(dir, "hekad.toml")
	check(os.WriteFile(cfg, []byte(fmt.Sprintf(`
[hekad]
base_dir = %q
cpuprof = %q
memprof = %q
[DreamcatcherCarbonInput]
address = "127.0.0.1:%d"
tcp = true
udp = false
[DreamcatcherWhisperOutput]
base_path = %q
default_retentions = %q
max_creates_per_second = %d
max_cache_points = 50000000
statsd_aggregation = false
writers = %d
write_interval_ms = %d
self_metrics = "benchself"
self_metrics_interval = 1
[PayloadEncoder]
append_newlines = false
[SelfMetricsFile]
type = "FileOutput"
message_matcher = "Logger == 'DreamcatcherWhisperOutput'"
path = %q
encoder = "PayloadEncoder"
flush_interval = 100
`, filepath.Join(dir, "heka"), profPath(*cpuprof, dir), profPath(*memprof, dir), port, filepath.Join(dir, "data"), *retention, maxCreates, *writers, *writeIvl, self)), 0o644))
	logFile := filepath.Join(dir, "hekad.log")
	cmd := startCmd(logFile, *hekadBin, "-config", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitListening(addr, logFile)
	return &target{cmd: cmd, addr: addr, logFile: logFile, sampler: newSampler(cmd.Process.Pid),
		counts: func() (int64, int64) { return selfCounts(self) }}
}

// profPath is where hekad writes a profile (-hekad-cpuprof, -hekad-memprof:
// prefix), named after the run's work folder; "" for none.
func profPath(prefix, dir string) string {
	if prefix == "" {
		return ""
	}
	return prefix + "." + filepath.Base(dir)
}

// selfCounts sums benchself.points_written and returns the latest
// benchself.cache.points from the FileOutput's copy of the self metrics.
func selfCounts(path string) (persisted, cache int64) {
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "benchself.points_written":
			persisted += int64(v)
		case "benchself.cache.points":
			cache = int64(v)
		}
	}
	return persisted, cache
}

func startCarbon(dir string) *target {
	port := freePort()
	for _, d := range []string{"conf", "log", "data"} {
		check(os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	conf := filepath.Join(dir, "conf")
	data := filepath.Join(dir, "data")
	check(os.WriteFile(filepath.Join(conf, "carbon.conf"), []byte(fmt.Sprintf(`[cache]
STORAGE_DIR = %[1]s/
LOCAL_DATA_DIR = %[2]s/
WHITELISTS_DIR = %[1]s/lists/
CONF_DIR = %[3]s/
LOG_DIR = %[1]s/log/
PID_DIR = %[1]s/
ENABLE_LOGROTATION = False
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = %[4]d
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = 0
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = 0
USE_FLOW_CONTROL = True
LOG_UPDATES = False
LOG_CREATES = False
LOG_CACHE_HITS = False
LOG_CACHE_QUEUE_SORTS = False
CACHE_WRITE_STRATEGY = sorted
WHISPER_AUTOFLUSH = False
CARBON_METRIC_PREFIX = benchcarbon
CARBON_METRIC_INTERVAL = 1
`, dir, data, conf, port)), 0o644))
	check(os.WriteFile(filepath.Join(conf, "storage-schemas.conf"), []byte(fmt.Sprintf(`[self]
pattern = ^benchcarbon\.
retentions = 1s:1h

[bench]
pattern = .*
retentions = %s
`, *retention)), 0o644))
	check(os.WriteFile(filepath.Join(conf, "storage-aggregation.conf"), []byte("[default]\npattern = .*\nxFilesFactor = 0.5\naggregationMethod = average\n"), 0o644))
	logFile := filepath.Join(dir, "carbon.out")
	cmd := startCmd(logFile, "/usr/bin/python3", *carbonBin, "--config="+filepath.Join(conf, "carbon.conf"),
		"--pidfile="+filepath.Join(dir, "carbon.pid"), "--logdir="+filepath.Join(dir, "log"), "--nodaemon", "start")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitListening(addr, logFile)
	return &target{cmd: cmd, addr: addr, logFile: logFile, sampler: newSampler(cmd.Process.Pid),
		counts: func() (int64, int64) { return carbonCounts(data) }}
}

// carbonCounts reads carbon-cache's own metrics (1 s points) from its
// whisper files: the sum of committedPoints and the latest cache.size.
func carbonCounts(data string) (persisted, cache int64) {
	agents, _ := filepath.Glob(filepath.Join(data, "benchcarbon", "agents", "*"))
	for _, a := range agents {
		sum, _ := readSeries(filepath.Join(a, "committedPoints.wsp"))
		persisted += int64(sum)
		_, last := readSeries(filepath.Join(a, "cache", "size.wsp"))
		cache += int64(last)
	}
	return persisted, cache
}

func readSeries(path string) (sum, last float64) {
	db, err := gowhisper.Open(path)
	if err != nil {
		return 0, 0
	}
	defer db.Close()
	now := int(time.Now().Unix())
	ts, err := db.Fetch(now-3599, now)
	if err != nil || ts == nil {
		return 0, 0
	}
	for _, v := range ts.Values() {
		if !math.IsNaN(v) {
			sum += v
			last = v
		}
	}
	return sum, last
}

func startCmd(logFile string, name string, args ...string) *exec.Cmd {
	out, err := os.Create(logFile)
	check(err)
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	check(cmd.Start())
	return cmd
}

// memoryRun loads n metrics into Dreamcatcher's cache and reports RSS.
func memoryRun(work string, n int) {
	dir := filepath.Join(work, "memory")
	check(os.MkdirAll(dir, 0o755))
	t := startDreamcatcherWith(dir, 1)
	defer t.stop()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("bench.g%03d.m%07d", i%1000, i)
	}
	now := time.Now().Unix()
	began := time.Now()
	send(t.addr, names, []int64{now - now%10})
	deadline := time.Now().Add(*maxWait)
	var cache int64
	for time.Now().Before(deadline) {
		if _, cache = t.counts(); cache >= int64(n)-100 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	_, rss := t.sampler.result()
	fmt.Printf("# memory: %d distinct metrics sent in %s; cache holds %d points; hekad RSS %.0f MiB (largest sample)\n",
		n, time.Since(began).Round(time.Millisecond), cache, rss)
}

// sampler reads a process's CPU time and RSS from /proc every second.
type sampler struct {
	pid    int
	mu     sync.Mutex
	t0     time.Time
	cpu0   float64
	maxRSS float64
	done   chan struct{}
}

func newSampler(pid int) *sampler {
	s := &sampler{pid: pid, done: make(chan struct{})}
	s.reset()
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-tick.C:
				rss := readRSS(pid)
				s.mu.Lock()
				if rss > s.maxRSS {
					s.maxRSS = rss
				}
				s.mu.Unlock()
			}
		}
	}()
	return s
}

func (s *sampler) reset() {
	s.mu.Lock()
	s.t0, s.cpu0 = time.Now(), readCPU(s.pid)
	s.mu.Unlock()
}

func (s *sampler) result() (cores, rssMiB float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return (readCPU(s.pid) - s.cpu0) / time.Since(s.t0).Seconds(), math.Max(s.maxRSS, readRSS(s.pid))
}

func (s *sampler) stop() { close(s.done) }

// readSyscw is the number of write system calls the process made.
func readSyscw(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// readCPU is the process's user+system time in seconds.
func readCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) / 100 // USER_HZ
}

// readRSS is the resident set size in MiB.
func readRSS(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

func ints(s string) []int {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		check(err)
		out = append(out, n)
	}
	return out
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "whisper-bench:", err)
		os.Exit(1)
	}
}

// e2eRun sends statsd counters over UDP to hekad (DreamcatcherStatsdInput,
// flush_interval 10, → DreamcatcherWhisperOutput, finest archive 10 s) at
// each rate for the window, stops hekad (its final flush is written out),
// and counts what reached the files: the sum of every counter file's
// points. Loss = 1 - persisted/sent.
func e2eRun(work string) {
	fmt.Printf("# statsd → whisper end to end: %d names, %d lines/datagram, %s per rate, flush 10 s, archive 10s:1h, %s\n",
		*e2eNames, *e2eLines, *e2eWindow, time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("%-8s %10s %10s %10s %10s %10s %8s %8s %6s %8s\n", "output", "asked/s", "sent/s", "sent", "received", "persisted", "rx_loss%", "loss_%", "cpu", "rss_MiB")
	type row struct{ sentPerS, loss, cpu, rss float64 }
	all := map[string][]row{}
	var order []string
	keep := func(key string, r row) {
		if _, ok := all[key]; !ok {
			order = append(order, key)
		}
		all[key] = append(all[key], r)
	}
	for run := 1; run <= *runsF; run++ {
		for _, rate := range ints(*e2eRates) {
			for _, out := range strings.Split(*e2eOuts, ",") {
				sent, loss, cpu, rss := e2eOne(work, rate, out)
				keep(fmt.Sprintf("statsd→%s %d", out, rate), row{float64(sent) / e2eWindow.Seconds(), loss, cpu, rss})
			}
			for _, peer := range strings.Split(*e2ePeers, ",") {
				if peer == "" {
					continue
				}
				r := e2ePeer(work, peer, rate)
				loss := 100 * (1 - float64(r.persisted)/float64(r.sent))
				fmt.Printf("peer %-14s %10d %10.0f %10d %10s %10d %8s %8.2f %6.2f %8.0f\n", peer, rate,
					float64(r.sent)/e2eWindow.Seconds(), r.sent, "-", r.persisted, "-", loss, r.cpu, r.rss)
				keep(fmt.Sprintf("plaintext→%s %d", peer, rate), row{float64(r.sent) / e2eWindow.Seconds(), loss, r.cpu, r.rss})
			}
		}
	}
	if *runsF > 1 {
		fmt.Printf("# medians of %d runs (sent/s: statsd lines for statsd→, aggregated points for plaintext→)\n", *runsF)
		for _, key := range order {
			rs := all[key]
			pick := func(f func(row) float64) float64 {
				v := make([]float64, len(rs))
				for i, r := range rs {
					v[i] = f(r)
				}
				return median(v)
			}
			fmt.Printf("%-32s sent/s %9.0f  loss %6.2f%%  cpu %5.2f  rss_MiB %6.0f\n", key,
				pick(func(r row) float64 { return r.sentPerS }), pick(func(r row) float64 { return r.loss }),
				pick(func(r row) float64 { return r.cpu }), pick(func(r row) float64 { return r.rss }))
		}
	}
}

// e2eOne runs one rate with one output and prints its row; it returns
// the lines sent, the loss (%; NaN without an output), CPU and peak RSS.
func e2eOne(work string, rate int, out string) (sent int64, lossPct, cpu, rss float64) {
	{
		dir := filepath.Join(work, fmt.Sprintf("e2e-%d", rate))
		check(os.MkdirAll(dir, 0o755))
		port := freePort()
		data := filepath.Join(dir, "data")
		cfg := filepath.Join(dir, "hekad.toml")
		check(os.WriteFile(cfg, []byte(fmt.Sprintf(`
[hekad]
base_dir = %q
[DreamcatcherStatsdInput]
address = "127.0.0.1:%d"
flush_interval = 10
[PayloadEncoder]
append_newlines = false
[FileOutput]
message_matcher = "Type == 'heka.statmetric'"
path = %q
encoder = "PayloadEncoder"
flush_interval = 100
%s
`, filepath.Join(dir, "heka"), port, filepath.Join(dir, "flushes.txt"), map[bool]string{true: fmt.Sprintf(`
[DreamcatcherWhisperOutput]
base_path = %q
default_retentions = "10s:1h"
max_creates_per_second = 0
self_metrics = ""
`, data), false: ""}[out == "whisper"])), 0o644))
		logFile := filepath.Join(dir, "hekad.log")
		cmd := startCmd(logFile, *hekadBin, "-config", cfg)
		waitLog(logFile, "listening on udp", 60*time.Second)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		// Warm-up: every name once, then wait until the first flush has
		// created the files, so the window measures steady state.
		warm := sendStatsdOnce(addr)
		deadline := time.Now().Add(*maxWait)
		if out != "whisper" {
			time.Sleep(12 * time.Second) // one flush
		}
		for i := 0; i < *e2eNames && out == "whisper" && time.Now().Before(deadline); {
			if _, err := os.Stat(e2eFile(data, i)); err == nil {
				i += 97
				continue
			}
			time.Sleep(200 * time.Millisecond)
		}
		smp := newSampler(cmd.Process.Pid)
		sent = sendStatsd(addr, rate, *e2eWindow)
		cpu, rss = smp.result()
		// Let a regular flush carry the last points: the final flush at
		// stop is stamped with the next slot, in the future, where
		// whisper's fetch cannot read yet.
		time.Sleep(12 * time.Second)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Minute):
			_ = cmd.Process.Kill()
			<-done
		}
		smp.stop()
		var persisted float64
		for i := 0; i < *e2eNames; i++ {
			sum, _ := readSeries(e2eFile(data, i))
			persisted += sum
		}
		persisted -= float64(warm)
		var received float64
		b, _ := os.ReadFile(filepath.Join(dir, "flushes.txt"))
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "stats_counts.statsd.metrics_received" {
				v, _ := strconv.ParseFloat(f[1], 64)
				received += v
			}
		}
		received -= float64(warm)
		loss := 100 * (1 - persisted/float64(sent))
		if out != "whisper" {
			loss = math.NaN()
		}
		fmt.Printf("%-8s %10d %10.0f %10d %10.0f %10.0f %8.2f %8.2f %6.2f %8.0f\n", out, rate, float64(sent)/e2eWindow.Seconds(),
			sent, received, persisted, 100*(1-received/float64(sent)), loss, cpu, rss)
		os.RemoveAll(dir)
		return sent, loss, cpu, rss
	}
}

func e2eFile(data string, i int) string {
	// Etsy's default (legacy) namespace: stats_counts.NAME is the count.
	return filepath.Join(data, "stats_counts", "e2e", fmt.Sprintf("g%02d", i%100), fmt.Sprintf("n%05d.wsp", i))
}

// sendStatsdOnce sends every name once (one line each) and returns how many.
func sendStatsdOnce(addr string) int {
	conn, err := net.Dial("udp", addr)
	check(err)
	defer conn.Close()
	for i := 0; i < *e2eNames; i++ {
		_, err := fmt.Fprintf(conn, "e2e.g%02d.n%05d:1|c", i%100, i)
		check(err)
		if i%100 == 99 {
			time.Sleep(time.Millisecond)
		}
	}
	return *e2eNames
}

func waitLog(path, s string, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(path); strings.Contains(string(b), s) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	check(fmt.Errorf("%q not in %s after %s", s, path, timeout))
}

// sendStatsd sends "e2e.gNN.nNNNNN:1|c" lines, *e2eLines per datagram, at
// rate lines/s for the window from 4 sockets, and returns the lines sent.
// With -e2e-gso (the default) runs of datagrams go out as one GSO buffer
// (bench/internal/udpload); hekad still receives separate datagrams.
func sendStatsd(addr string, rate int, window time.Duration) int64 {
	const senders, batch = 4, 64
	var total int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	end := time.Now().Add(window)
	// The datagrams of one pass over every name, built once; the names
	// have a fixed width, so every datagram has the same size and they lie
	// back to back in flat.
	var flat []byte
	size := 0
	for i := 0; i < *e2eNames; i += *e2eLines {
		start := len(flat)
		for l := i; l < i+*e2eLines; l++ {
			if l > i {
				flat = append(flat, '\n')
			}
			k := l % *e2eNames
			flat = fmt.Appendf(flat, "e2e.g%02d.n%05d:1|c", k%100, k)
		}
		if size == 0 {
			size = len(flat) - start
		} else if len(flat)-start != size {
			check(fmt.Errorf("datagrams of %d and %d bytes: the sender needs one size", size, len(flat)-start))
		}
	}
	grams := len(flat) / size
	perBuf, segment := 1, 0
	if *e2eGSO {
		perBuf, segment = min(udpload.MaxSegments, udpload.MaxGSOBytes/size), size
	}
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			conn, err := udpload.Dial(addr, batch, segment)
			check(err)
			defer conn.Close()
			perTick := float64(rate) / senders / 100 // lines per 10 ms
			var owed float64
			var n int64
			next := s * grams / senders
			bufs := make([][]byte, 0, batch)
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for now := range tick.C {
				if now.After(end) {
					break
				}
				owed += perTick
				for owed >= float64(*e2eLines) {
					bufs = bufs[:0]
					due := int(owed) / *e2eLines
					for q := 0; len(bufs) < batch && q < due; {
						at := (next + q) % grams
						k := min(perBuf, due-q, grams-at)
						bufs = append(bufs, flat[at*size:(at+k)*size])
						q += k
					}
					sent, err := conn.Send(bufs)
					n += int64(sent * *e2eLines)
					next += sent
					owed -= float64(sent * *e2eLines)
					if err != nil || sent == 0 {
						break // ENOBUFS or a full send buffer: try again next tick
					}
				}
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}(s)
	}
	wg.Wait()
	return total
}
