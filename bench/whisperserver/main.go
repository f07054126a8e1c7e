// Command bench/whisperserver measures whisperserver beside its peers in one
// run: graphite-web (Debian graphite-web under gunicorn) and go-carbon's
// carbonserver over the same whisper folder, and VictoriaMetrics' Graphite
// API over the same points (sent to it as carbon plaintext first). Requests
// per second and p50/p99 latency for
//
//   - /metrics/find of a 100-match glob and of a 1,000-match glob over an
//     index of 100,000 names (format=json: with each leaf's intervals),
//   - /render of 1 metric over 1 day at 10 s (8,640 points),
//   - /render of a 100-metric glob over 1 day, and a sumSeries of it,
//   - /render of groupByNode, highest and movingAverage over that glob
//     (issue 17).
//
// -only picks scenarios by a regular expression.
//
// Every scenario is bounded by a request count and a duration; -runs
// repeats the whole set, the targets alternating within each scenario, and
// the table holds the medians. Run it with `go run ./bench/whisperserver`
// (see -h); it prints a Markdown table.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	gowhisper "github.com/lomik/go-whisper"
)

var (
	dataDir      = flag.String("dir", filepath.Join(os.TempDir(), "dreamcatcher-bench-whisper"), "whisper folder (created once, reused)")
	serverBin    = flag.String("server", "bin/whisperserver", "whisperserver binary")
	concurrency  = flag.Int("c", 4, "concurrent clients")
	maxRequests  = flag.Int("n", 2000, "most requests per scenario")
	maxDuration  = flag.Duration("d", 10*time.Second, "longest time per scenario")
	workers      = flag.Int("gunicorn-workers", 2, "graphite-web gunicorn workers")
	skipGraphite = flag.Bool("no-graphite", false, "leave graphite-web out")
	targetsF     = flag.String("targets", "whisperserver,carbonserver,vm,graphite-web", "servers to measure (those whose program is missing are skipped with a note)")
	runsF        = flag.Int("runs", 3, "runs of every scenario on every server; the table holds medians")
	gcBin        = flag.String("go-carbon", "/tmp/bin/go-carbon", "go-carbon 0.19.1, for carbonserver")
	vmBin        = flag.String("victoria-metrics", "/tmp/bin/victoria-metrics", "VictoriaMetrics single-node v1.151.0")
	only         = flag.String("only", "", "run only the scenarios whose name matches this regular expression")
	queueWait    = flag.Duration("queue-wait", 30*time.Second, "whisperserver's -queue-wait: requests over its max_concurrent queue (as behind gunicorn's workers) instead of a 503 after the default 2 s")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type server struct {
	name, url string
	// path gives the request for a scenario, "" when the server does
	// not have the feature.
	path func(sc scenario) string
}

type scenario struct {
	name string
	kind string // find, render
	// query is the find query or the render target.
	query string
}

// findScenario is the request that tells a server is up.
var findScenario = scenario{"up", "find", "bench.find.*.m000*"}

var scenarios = []scenario{
	{"find, 100-match glob (`bench.glob.*`), format=json", "find", "bench.glob.*"},
	{"find over 100,000 names, 1,000 matches (`bench.find.*.m000*`), format=json", "find", "bench.find.*.m000*"},
	{"render 1 metric, 1 day at 10 s (8,640 points)", "render", "bench.single"},
	{"render 100-metric glob, 1 day at 10 s", "render", "bench.glob.*"},
	{"render sumSeries of the 100-metric glob, 1 day", "render", "sumSeries(bench.glob.*)"},
	// issue 17: a 100-series groupByNode / highest / movingAverage request
	{"render groupByNode(bench.glob.*,1,\"sum\"), 1 day", "render", `groupByNode(bench.glob.*,1,"sum")`},
	{"render highest(bench.glob.*,10,\"average\"), 1 day", "render", `highest(bench.glob.*,10,"average")`},
	{"render movingAverage(bench.glob.*,\"5min\"), 1 day", "render", `movingAverage(bench.glob.*,"5min")`},
}

// selectScenarios keeps the scenarios -only matches (all without it).
func selectScenarios() ([]scenario, error) {
	re, err := regexp.Compile(*only)
	if err != nil {
		return nil, fmt.Errorf("-only: %w", err)
	}
	var out []scenario
	for _, sc := range scenarios {
		if re.MatchString(sc.name) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-only %q matches no scenario", *only)
	}
	return out, nil
}

func run() error {
	scenarios, err := selectScenarios()
	if err != nil {
		return err
	}
	if err := makeData(*dataDir); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	now := time.Now().Unix()
	from, until := now-86400, now
	graphitePath := func(sc scenario) string {
		if sc.kind == "find" {
			return "/metrics/find?format=json&query=" + url.QueryEscape(sc.query)
		}
		return fmt.Sprintf("/render?format=json&from=%d&until=%d&target=%s", from, until, url.QueryEscape(sc.query))
	}
	var servers []server
	for _, t := range strings.Split(*targetsF, ",") {
		var (
			srv  server
			cmd  *exec.Cmd
			err  error
			skip string
		)
		switch t {
		case "whisperserver":
			var addr string
			if addr, err = freeAddr(); err != nil {
				return err
			}
			cmd = exec.CommandContext(ctx, *serverBin, "-whisper-dir", *dataDir, "-listen", addr, "-max-find", "0", "-queue-wait", queueWait.String())
			cmd.Stderr = io.Discard
			if err = cmd.Start(); err != nil {
				return fmt.Errorf("starting %s: %w", *serverBin, err)
			}
			srv = server{name: t, url: "http://" + addr, path: graphitePath}
		case "graphite-web":
			if *skipGraphite {
				continue
			}
			var u string
			if cmd, u, err = startGraphiteWeb(ctx, *dataDir); err != nil {
				return err
			}
			srv = server{name: t, url: u, path: graphitePath}
		case "carbonserver":
			if _, err := os.Stat(*gcBin); err != nil {
				skip = *gcBin + " missing"
				break
			}
			var u string
			if cmd, u, err = startCarbonserver(ctx, *dataDir); err != nil {
				return err
			}
			srv = server{name: "go-carbon carbonserver", url: u, path: func(sc scenario) string {
				if sc.kind == "find" {
					return "/metrics/find/?format=json&query=" + url.QueryEscape(sc.query)
				}
				if strings.Contains(sc.query, "(") {
					return "" // a storage back end: no functions (carbonapi's job)
				}
				return fmt.Sprintf("/render/?format=json&from=%d&until=%d&target=%s", from, until, url.QueryEscape(sc.query))
			}}
		case "vm":
			if _, err := os.Stat(*vmBin); err != nil {
				skip = *vmBin + " missing"
				break
			}
			var u string
			if cmd, u, err = startVM(ctx, *dataDir, from); err != nil {
				return err
			}
			srv = server{name: "VictoriaMetrics", url: u, path: func(sc scenario) string {
				if sc.kind == "find" {
					// Its find has no json format; treejson is its default.
					return "/metrics/find?format=treejson&query=" + url.QueryEscape(sc.query)
				}
				return graphitePath(sc)
			}}
		default:
			return fmt.Errorf("unknown target %q", t)
		}
		if skip != "" {
			fmt.Fprintf(os.Stderr, "bench: %s skipped: %s\n", t, skip)
			continue
		}
		defer stop(cmd)
		servers = append(servers, srv)
	}
	for _, s := range servers {
		if err := waitUp(s.url + s.path(findScenario)); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	fmt.Printf("concurrency %d, at most %d requests or %s per scenario, median of %d runs (servers alternating)\n\n", *concurrency, *maxRequests, *maxDuration, *runsF)
	results := make(map[[2]int][]result)
	for run := 0; run < *runsF; run++ {
		for si, sc := range scenarios {
			for ti, s := range servers {
				p := s.path(sc)
				if p == "" {
					continue
				}
				r, err := load(s.url + p)
				if err != nil {
					return fmt.Errorf("%s on %s: %w", sc.name, s.name, err)
				}
				fmt.Fprintf(os.Stderr, "run %d | %s | %s | %d | %.1f | %.2f | %.2f\n", run+1, sc.name, s.name, r.n, r.rps, r.p50, r.p99)
				results[[2]int{si, ti}] = append(results[[2]int{si, ti}], r)
			}
		}
	}
	fmt.Println("| scenario | server | requests (median) | req/s | p50 ms | p99 ms |")
	fmt.Println("|---|---|---:|---:|---:|---:|")
	for si, sc := range scenarios {
		for ti, s := range servers {
			rs := results[[2]int{si, ti}]
			if len(rs) == 0 {
				fmt.Printf("| %s | %s | — | not supported | | |\n", sc.name, s.name)
				continue
			}
			m := medianResult(rs)
			fmt.Printf("| %s | %s | %d | %.1f | %.2f | %.2f |\n", sc.name, s.name, m.n, m.rps, m.p50, m.p99)
		}
	}
	return nil
}

func medianResult(rs []result) result {
	med := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		sort.Float64s(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return result{n: int(med(func(r result) float64 { return float64(r.n) })), rps: med(func(r result) float64 { return r.rps }),
		p50: med(func(r result) float64 { return r.p50 }), p99: med(func(r result) float64 { return r.p99 })}
}

type result struct {
	n             int
	rps, p50, p99 float64
}

func load(url string) (result, error) {
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *concurrency}}
	// warm-up
	for i := 0; i < 2; i++ {
		if err := fetch(client, url); err != nil {
			return result{}, err
		}
	}
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	deadline := time.Now().Add(*maxDuration)
	next := make(chan struct{}, *maxRequests)
	for i := 0; i < *maxRequests; i++ {
		next <- struct{}{}
	}
	close(next)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				if time.Now().After(deadline) {
					return
				}
				t0 := time.Now()
				err := fetch(client, url)
				d := time.Since(t0)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return result{}, firstErr
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		i := int(p * float64(len(lat)-1))
		return float64(lat[i].Microseconds()) / 1000
	}
	return result{n: len(lat), rps: float64(len(lat)) / elapsed.Seconds(), p50: pct(0.50), p99: pct(0.99)}, nil
}

func fetch(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 || n < 3 {
		return fmt.Errorf("GET %s: status %d, %d bytes", url, resp.StatusCode, n)
	}
	return nil
}

// makeData writes the folder once: 1 + 100 full day-long 10 s metrics
// and 100,000 tiny files for the find index.
func makeData(dir string) error {
	marker := filepath.Join(dir, ".complete")
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	fmt.Fprintln(os.Stderr, "bench: creating the whisper folder in", dir, "(once)")
	now := int(time.Now().Unix())
	full := func(path string, seed int64) error {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		w, err := gowhisper.Create(path, gowhisper.Retentions{ptrR(gowhisper.NewRetention(10, 8640)), ptrR(gowhisper.NewRetention(60, 10080))}, gowhisper.Average, 0)
		if err != nil {
			return err
		}
		defer w.Close()
		rng := rand.New(rand.NewSource(seed))
		pts := make([]*gowhisper.TimeSeriesPoint, 0, 8640)
		for ts := now - 86400 + 10; ts <= now; ts += 10 {
			pts = append(pts, &gowhisper.TimeSeriesPoint{Time: ts, Value: rng.Float64() * 100})
		}
		return w.UpdateMany(pts)
	}
	if err := full(filepath.Join(dir, "bench", "single.wsp"), 1); err != nil {
		return err
	}
	for i := 0; i < 100; i++ {
		if err := full(filepath.Join(dir, "bench", "glob", fmt.Sprintf("m%03d.wsp", i)), int64(i)); err != nil {
			return err
		}
	}
	for d := 0; d < 100; d++ {
		sub := filepath.Join(dir, "bench", "find", fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		for m := 0; m < 1000; m++ {
			w, err := gowhisper.Create(filepath.Join(sub, fmt.Sprintf("m%04d.wsp", m)), gowhisper.Retentions{ptrR(gowhisper.NewRetention(60, 1))}, gowhisper.Average, 0)
			if err != nil {
				return err
			}
			w.Close()
		}
	}
	return os.WriteFile(marker, nil, 0o644)
}

func ptrR(r gowhisper.Retention) *gowhisper.Retention { return &r }

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitUp(url string) error {
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer", url)
}

func stop(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	}
}

// startGraphiteWeb runs Debian's graphite-web under gunicorn over dir
// (settings as in internal/testutil/graphiteweb.go).
func startGraphiteWeb(ctx context.Context, dir string) (*exec.Cmd, string, error) {
	tmp, err := os.MkdirTemp("", "bench-graphite-web-")
	if err != nil {
		return nil, "", err
	}
	for _, d := range []string{"storage", "log", "static", "conf"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			return nil, "", err
		}
	}
	settings := fmt.Sprintf(`SECRET_KEY = "bench"
ALLOWED_HOSTS = ["*"]
TIME_ZONE = "UTC"
GRAPHITE_ROOT = "/usr/share/graphite-web"
STATIC_ROOT = %[1]q + "/static"
STORAGE_DIR = %[1]q + "/storage"
CONF_DIR = %[1]q + "/conf"
LOG_DIR = %[1]q + "/log"
INDEX_FILE = %[1]q + "/storage/index"
WHISPER_DIR = %[2]q
STANDARD_DIRS = [WHISPER_DIR]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": %[1]q + "/storage/graphite.db"}}
CARBONLINK_HOSTS = []
DEFAULT_CACHE_DURATION = 0
USE_WORKER_POOL = False
`, tmp, dir)
	if err := os.WriteFile(filepath.Join(tmp, "bench_graphite_settings.py"), []byte(settings), 0o644); err != nil {
		return nil, "", err
	}
	env := append(os.Environ(), "PYTHONPATH="+tmp, "DJANGO_SETTINGS_MODULE=graphite.settings", "GRAPHITE_SETTINGS_MODULE=bench_graphite_settings")
	mig := exec.CommandContext(ctx, "/usr/bin/python3", "/usr/bin/django-admin", "migrate", "--noinput")
	mig.Env, mig.Dir = env, tmp
	if out, err := mig.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("graphite-web migrate: %v\n%s", err, out)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", "/usr/bin/gunicorn", "--bind", addr, "--workers", fmt.Sprint(*workers),
		"--timeout", "300", "graphite.wsgi:application")
	cmd.Env, cmd.Dir = env, tmp
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("graphite-web: %w", err)
	}
	return cmd, "http://" + addr, nil
}
