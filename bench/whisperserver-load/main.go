// Command bench/whisperserver-load puts whisperserver (the real binary, on
// its default limits) under the storm of issue 15 and reports whether it
// keeps its memory and its honesty:
//
//   - 32 concurrent name listings (/api/tree of a folder of 300,000 names,
//     /api/tree of the top, /api/metrics of all 500,000 names, gzip),
//   - 200 concurrent /render of a 100-metric glob over one day,
//   - meanwhile one client renders a single metric every 20 ms.
//
// It prints peak RSS (VmHWM), RSS after the storm, every status seen, and
// the single-metric render's p50/p99. Bounded by -d and by the request
// counts. A second scenario lists all of 1,000,000 names with
// /api/metrics and no limit (cold, warm, gzip, 8 at once) and reports time
// and peak RSS. Each scenario runs -runs times (3), alternating, each run
// on a fresh server; medians are reported. Run: go run
// ./bench/whisperserver-load (see -h).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	gowhisper "github.com/lomik/go-whisper"
)

var (
	dataDir    = flag.String("dir", filepath.Join(os.TempDir(), "dreamcatcher-bench-load"), "whisper folder of the storm (created once, reused)")
	namesDir   = flag.String("names-dir", filepath.Join(os.TempDir(), "dreamcatcher-bench-names"), "whisper folder of the listing scenario (created once, reused)")
	serverBin  = flag.String("server", "bin/whisperserver", "whisperserver binary")
	listers    = flag.Int("listers", 32, "concurrent listing clients")
	renderers  = flag.Int("renderers", 200, "concurrent 100-metric render clients")
	duration   = flag.Duration("d", 20*time.Second, "length of the storm")
	maxReq     = flag.Int("n", 200000, "most storm requests in all")
	extraArgs  = flag.String("args", "", "extra whisperserver flags (space separated)")
	runs       = flag.Int("runs", 3, "runs of each scenario, alternating; medians are reported")
	scenarios  = flag.String("scenarios", "storm,metrics", "scenarios to run, alternating: storm, metrics")
	names      = flag.Int("names", 1_000_000, "names of the metrics scenario (1,000 folders)")
	concurrent = flag.Int("metrics-clients", 8, "concurrent /api/metrics clients of the metrics scenario")
)

const (
	bigFolder = 300_000 // names in one folder
	spread    = 200_000 // names spread over 2,000 folders
	glob      = 100     // metrics the render glob matches
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// figures is one run's measurements, by name (units in the name).
type figures map[string]float64

func run() error {
	kinds := strings.Split(*scenarios, ",")
	all := map[string][]figures{}
	var order []string // figure names in first-seen order, per scenario
	seen := map[string]bool{}
	for r := range *runs {
		for _, k := range kinds {
			var f figures
			var err error
			switch k {
			case "storm":
				f, err = runStorm(r)
			case "metrics":
				f, err = runMetrics()
			default:
				return fmt.Errorf("unknown scenario %q (storm, metrics)", k)
			}
			if err != nil {
				return fmt.Errorf("%s run %d: %w", k, r+1, err)
			}
			all[k] = append(all[k], f)
			for name := range f {
				if !seen[k+name] {
					seen[k+name] = true
					order = append(order, k+"\x00"+name)
				}
			}
		}
	}
	sort.Strings(order)
	fmt.Printf("\nmedians of %d alternating runs (%s)\n\n| scenario | figure | median | runs |\n|---|---|---|---|\n", *runs, *scenarios)
	for _, key := range order {
		k, name, _ := strings.Cut(key, "\x00")
		var vals []float64
		for _, f := range all[k] {
			vals = append(vals, f[name])
		}
		var each []string
		for _, v := range vals {
			each = append(each, strconv.FormatFloat(v, 'f', -1, 64))
		}
		fmt.Printf("| %s | %s | %s | %s |\n", k, name, strconv.FormatFloat(median(vals), 'f', 1, 64), strings.Join(each, ", "))
	}
	return nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// startServer starts whisperserver on dir and waits for /healthz.
func startServer(dir string) (base string, cmd *exec.Cmd, err error) {
	addr, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	args := []string{"-whisper-dir", dir, "-listen", addr, "-log-format", "json"}
	if *extraArgs != "" {
		args = append(args, strings.Fields(*extraArgs)...)
	}
	cmd = exec.Command(*serverBin, args...)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start %s: %w", *serverBin, err)
	}
	base = "http://" + addr
	if err := waitUp(base + "/healthz"); err != nil {
		stopServer(cmd)
		return "", nil, err
	}
	return base, cmd, nil
}

func stopServer(cmd *exec.Cmd) { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }

func runStorm(r int) (figures, error) {
	if err := prepare(*dataDir); err != nil {
		return nil, err
	}
	base, cmd, err := startServer(*dataDir)
	if err != nil {
		return nil, err
	}
	defer stopServer(cmd)
	idle := rss(cmd.Process.Pid, "VmRSS")

	res := storm(base)
	peak := rss(cmd.Process.Pid, "VmHWM")
	time.Sleep(3 * time.Second)
	after := rss(cmd.Process.Pid, "VmRSS")

	fmt.Printf("storm run %d: %d names (%d in one folder), %d listers, %d renderers, %v\n", r+1, bigFolder+spread, bigFolder,
		*listers, *renderers, *duration)
	for _, k := range []string{"listing", "glob render", "single render"} {
		fmt.Printf("  %s: %s\n", k, res.statuses(k))
	}
	p50, p99 := res.single()
	return figures{"idle RSS MiB": float64(idle >> 10), "peak RSS MiB": float64(peak >> 10), "RSS 3 s after MiB": float64(after >> 10),
		"single render p50 ms": p50, "single render p99 ms": p99, "single renders": float64(len(res.lat))}, nil
}

// runMetrics lists every name of a folder of -names metrics with
// /api/metrics and no limit: once cold (the list is built), five times
// warm, then -metrics-clients at once; plain and gzip.
func runMetrics() (figures, error) {
	if err := prepareNames(*namesDir, *names); err != nil {
		return nil, err
	}
	start := time.Now()
	base, cmd, err := startServer(*namesDir)
	if err != nil {
		return nil, err
	}
	defer stopServer(cmd)
	f := figures{"start (index walk) s": time.Since(start).Seconds(), "idle RSS MiB": float64(rss(cmd.Process.Pid, "VmRSS") >> 10)}
	c := &http.Client{Timeout: 120 * time.Second}
	get := func(gzip bool) (time.Duration, int64, error) {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/metrics", nil)
		if gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		t0 := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			return 0, 0, err
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("/api/metrics: status %d", resp.StatusCode)
		}
		return time.Since(t0), n, err
	}
	cold, plain, err := get(false)
	if err != nil {
		return nil, err
	}
	var warm []float64
	for range 5 {
		d, _, err := get(false)
		if err != nil {
			return nil, err
		}
		warm = append(warm, float64(d.Milliseconds()))
	}
	gz, zipped, err := get(true)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, *concurrent)
	for i := range *concurrent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := get(i%2 == 0); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	f["cold ms"] = float64(cold.Milliseconds())
	f["warm median ms"] = median(warm)
	f["gzip ms"] = float64(gz.Milliseconds())
	f[fmt.Sprintf("%d at once ms", *concurrent)] = float64(time.Since(t0).Milliseconds())
	f["answer MiB"] = float64(plain>>10) / 1024
	f["answer gzip MiB"] = float64(zipped>>10) / 1024
	f["peak RSS MiB"] = float64(rss(cmd.Process.Pid, "VmHWM") >> 10)
	fmt.Printf("metrics run: %d names, cold %v, warm median %.0f ms, peak RSS %.0f MiB\n", *names, cold, f["warm median ms"], f["peak RSS MiB"])
	return f, nil
}

// prepareNames creates n empty .wsp files in 1,000 folders once.
func prepareNames(dir string, n int) error {
	done := filepath.Join(dir, fmt.Sprintf(".complete-%d", n))
	if _, err := os.Stat(done); err == nil {
		return nil
	}
	fmt.Fprintln(os.Stderr, "creating", n, "names in", dir, "(once)…")
	per := max(1, n/1000)
	for i := 0; i < n; i++ {
		d := filepath.Join(dir, "app", fmt.Sprintf("host%03d", i/per))
		if i%per == 0 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		f, err := os.OpenFile(filepath.Join(d, fmt.Sprintf("metric_%07d.wsp", i)), os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		f.Close()
	}
	return os.WriteFile(done, nil, 0o644)
}

// prepare creates the folder once: empty .wsp files for the names (the
// listings read only folder entries) and real whisper files for the
// render glob and the single metric.
func prepare(dir string) error {
	done := filepath.Join(dir, ".complete")
	if _, err := os.Stat(done); err == nil {
		return nil
	}
	fmt.Fprintln(os.Stderr, "creating", bigFolder+spread, "names in", dir, "(once)…")
	touch := func(path string) error {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		return f.Close()
	}
	big := filepath.Join(dir, "big")
	if err := os.MkdirAll(big, 0o755); err != nil {
		return err
	}
	for i := range bigFolder {
		if err := touch(filepath.Join(big, fmt.Sprintf("m%06d.wsp", i))); err != nil {
			return err
		}
	}
	for g := range 2000 {
		d := filepath.Join(dir, "spread", fmt.Sprintf("g%04d", g))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		for i := range spread / 2000 {
			if err := touch(filepath.Join(d, fmt.Sprintf("m%03d.wsp", i))); err != nil {
				return err
			}
		}
	}
	now := int(time.Now().Unix())
	mk := func(path string) error {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		r := gowhisper.NewRetention(60, 1440*2)
		w, err := gowhisper.Create(path, gowhisper.Retentions{&r}, gowhisper.Average, 0.5)
		if err != nil {
			return err
		}
		defer w.Close()
		var pts []*gowhisper.TimeSeriesPoint
		for i := range 1440 {
			pts = append(pts, &gowhisper.TimeSeriesPoint{Time: now - i*60, Value: float64(i % 97)})
		}
		return w.UpdateMany(pts)
	}
	for i := range glob {
		if err := mk(filepath.Join(dir, "render", fmt.Sprintf("m%03d.wsp", i))); err != nil {
			return err
		}
	}
	if err := mk(filepath.Join(dir, "single", "metric.wsp")); err != nil {
		return err
	}
	return touch(done)
}

type results struct {
	mu     sync.Mutex
	status map[string]map[string]int
	lat    []time.Duration
}

func (r *results) add(kind, status string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status[kind] == nil {
		r.status[kind] = map[string]int{}
	}
	r.status[kind][status]++
}

func (r *results) statuses(kind string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var keys []string
	for k := range r.status[kind] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, r.status[kind][k]))
	}
	return strings.Join(parts, ", ")
}

func (r *results) single() (p50, p99 float64) {
	if len(r.lat) == 0 {
		return 0, 0
	}
	l := append([]time.Duration(nil), r.lat...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return ms(l[len(l)/2]), ms(l[min(len(l)-1, len(l)*99/100)])
}

// do runs one request, reading the whole answer, and returns its status
// ("200", "503", or the error's kind).
func do(ctx context.Context, c *http.Client, u string, gzip bool) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "bad request"
	}
	if gzip {
		req.Header.Set("Accept-Encoding", "gzip") // kept compressed: we only count bytes
	}
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "canceled at the end"
		}
		return "error"
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil && ctx.Err() == nil {
		return strconv.Itoa(resp.StatusCode) + " cut"
	}
	return strconv.Itoa(resp.StatusCode)
}

func storm(base string) *results {
	res := &results{status: map[string]map[string]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: *listers + *renderers + 4}
	c := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	var budget sync.Mutex
	left := *maxReq
	take := func() bool {
		budget.Lock()
		defer budget.Unlock()
		left--
		return left >= 0
	}
	listings := []string{base + "/api/tree?prefix=big", base + "/api/metrics", base + "/api/tree?prefix=spread",
		base + "/api/tree?prefix=big&offset=250000"}
	var wg sync.WaitGroup
	for i := range *listers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := i; ctx.Err() == nil && take(); j++ {
				res.add("listing", do(ctx, c, listings[j%len(listings)], true))
			}
		}()
	}
	for range *renderers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && take() {
				res.add("glob render", do(ctx, c, base+"/render?target=render.*&from=-1d&format=json", false))
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for ctx.Err() == nil {
			start := time.Now()
			s := do(ctx, c, base+"/render?target=single.metric&from=-1h&format=json", false)
			if ctx.Err() == nil {
				res.add("single render", s)
				res.mu.Lock()
				res.lat = append(res.lat, time.Since(start))
				res.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
	}()
	wg.Wait()
	tr.CloseIdleConnections()
	return res
}

// rss reads a kB field of /proc/PID/status.
func rss(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitUp(u string) error {
	deadline := time.Now().Add(120 * time.Second) // the first index walk
	for time.Now().Before(deadline) {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s did not come up", u)
}
