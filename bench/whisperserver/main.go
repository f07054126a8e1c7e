// Command bench/whisperserver measures whisperserver beside graphite-web
// (Debian graphite-web under gunicorn) over the same whisper folder, in one
// run: requests per second and p50/p99 latency for
//
//   - /render of 1 metric over 1 day at 10 s (8,640 points),
//   - /render of a 100-metric glob over 1 day,
//   - /metrics/find over an index of 100,000 names,
//   - /render of groupByNode, highest and movingAverage over the
//     100-metric glob (issue 17).
//
// -rounds R runs every scenario R times, alternating which server goes
// first, and prints the median of each figure over the rounds; -only
// picks scenarios by a regular expression.
//
// Every scenario is bounded by a request count and a duration. Run it with
// `go run ./bench/whisperserver` (see -h); it prints a Markdown table.
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
	skipGraphite = flag.Bool("no-graphite", false, "measure whisperserver only")
	rounds       = flag.Int("rounds", 1, "rounds per scenario, alternating the servers' order; medians are printed")
	only         = flag.String("only", "", "run only the scenarios whose name matches this regular expression")
	queueWait    = flag.Duration("queue-wait", 30*time.Second, "whisperserver's -queue-wait: requests over its max_concurrent queue (as in gunicorn's backlog) instead of a 503 after the default 2 s")
)

// scenario is one measured request.
type scenario struct{ name, path string }

var scenarios = []scenario{
	{"render 1 metric, 1 day at 10 s (8,640 points)", "/render?target=bench.single&from=-1d&format=json"},
	{"render 100-metric glob, 1 day at 10 s", "/render?target=bench.glob.*&from=-1d&format=json"},
	{"find over 100,000 names (bench.find.*.m000*: 1,000 matches in 100 folders)", "/metrics/find?query=bench.find.*.m000*"},
	{"groupByNode(bench.glob.*,1,\"sum\"), 100 metrics, 1 day", "/render?target=" + url.QueryEscape(`groupByNode(bench.glob.*,1,"sum")`) + "&from=-1d&format=json"},
	{"highest(bench.glob.*,10,\"average\"), 100 metrics, 1 day", "/render?target=" + url.QueryEscape(`highest(bench.glob.*,10,"average")`) + "&from=-1d&format=json"},
	{"movingAverage(bench.glob.*,\"5min\"), 100 metrics, 1 day", "/render?target=" + url.QueryEscape(`movingAverage(bench.glob.*,"5min")`) + "&from=-1d&format=json"},
}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var selected []scenario
	re, err := regexp.Compile(*only)
	if err != nil {
		return fmt.Errorf("-only: %w", err)
	}
	needFind := false
	for _, sc := range scenarios {
		if re.MatchString(sc.name) {
			selected = append(selected, sc)
			needFind = needFind || strings.HasPrefix(sc.path, "/metrics/find")
		}
	}
	if len(selected) == 0 {
		return fmt.Errorf("-only %q matches no scenario", *only)
	}
	if err := makeData(*dataDir, needFind); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wsAddr, err := freeAddr()
	if err != nil {
		return err
	}
	ws := exec.CommandContext(ctx, *serverBin, "-whisper-dir", *dataDir, "-listen", wsAddr, "-max-find", "0", "-queue-wait", queueWait.String())
	ws.Stderr = io.Discard
	if err := ws.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", *serverBin, err)
	}
	defer stop(ws)
	targets := []server{{"whisperserver", "http://" + wsAddr}}
	if !*skipGraphite {
		gw, url, err := startGraphiteWeb(ctx, *dataDir)
		if err != nil {
			return err
		}
		defer stop(gw)
		targets = append(targets, server{"graphite-web", url})
	}
	for _, t := range targets {
		if err := waitUp(t.url + "/version"); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	fmt.Printf("concurrency %d, at most %d requests or %s per scenario and round, %d round(s) alternating the servers' order; medians over the rounds\n\n",
		*concurrency, *maxRequests, *maxDuration, *rounds)
	fmt.Println("| scenario | server | requests | req/s | p50 ms | p99 ms |")
	fmt.Println("|---|---|---:|---:|---:|---:|")
	for _, sc := range selected {
		res, err := measureRounds(sc, targets)
		if err != nil {
			return err
		}
		for _, t := range targets {
			r := res[t.name]
			fmt.Printf("| %s | %s | %d | %.1f | %.2f | %.2f |\n", sc.name, t.name, r.n, r.rps, r.p50, r.p99)
		}
	}
	return nil
}

type server struct{ name, url string }

// measureRounds loads every server with the scenario -rounds times, the
// first server first in even rounds and last in odd ones, and returns
// per server the total request count and the medians of req/s, p50, p99.
func measureRounds(sc scenario, targets []server) (map[string]result, error) {
	all := map[string][]result{}
	for r := 0; r < max(1, *rounds); r++ {
		for i := range targets {
			t := targets[i]
			if r%2 == 1 {
				t = targets[len(targets)-1-i]
			}
			res, err := load(t.url + sc.path)
			if err != nil {
				return nil, fmt.Errorf("%s on %s: %w", sc.name, t.name, err)
			}
			all[t.name] = append(all[t.name], res)
		}
	}
	out := map[string]result{}
	for name, rs := range all {
		var m result
		var rps, p50, p99 []float64
		for _, r := range rs {
			m.n += r.n
			rps, p50, p99 = append(rps, r.rps), append(p50, r.p50), append(p99, r.p99)
		}
		m.rps, m.p50, m.p99 = median(rps), median(p50), median(p99)
		out[name] = m
	}
	return out, nil
}

func median(v []float64) float64 {
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
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
// and (when a find scenario runs) 100,000 tiny files for the find index.
func makeData(dir string, withFind bool) error {
	marker := filepath.Join(dir, ".complete")
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	renderMarker := filepath.Join(dir, ".render-complete")
	if _, err := os.Stat(renderMarker); err == nil {
		if !withFind {
			return nil
		}
		return makeFindData(dir, marker)
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
	if err := os.WriteFile(renderMarker, nil, 0o644); err != nil {
		return err
	}
	if !withFind {
		return nil
	}
	return makeFindData(dir, marker)
}

// makeFindData writes the 100,000 tiny files of the find scenario.
func makeFindData(dir, marker string) error {
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
