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
// counts. Run: go run ./bench/whisperserver-load (see -h).
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
	dataDir   = flag.String("dir", filepath.Join(os.TempDir(), "dreamcatcher-bench-load"), "whisper folder (created once, reused)")
	serverBin = flag.String("server", "bin/whisperserver", "whisperserver binary")
	listers   = flag.Int("listers", 32, "concurrent listing clients")
	renderers = flag.Int("renderers", 200, "concurrent 100-metric render clients")
	duration  = flag.Duration("d", 20*time.Second, "length of the storm")
	maxReq    = flag.Int("n", 200000, "most storm requests in all")
	extraArgs = flag.String("args", "", "extra whisperserver flags (space separated)")
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

func run() error {
	if err := prepare(*dataDir); err != nil {
		return err
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	args := []string{"-whisper-dir", *dataDir, "-listen", addr, "-log-format", "json"}
	if *extraArgs != "" {
		args = append(args, strings.Fields(*extraArgs)...)
	}
	cmd := exec.Command(*serverBin, args...)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", *serverBin, err)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	base := "http://" + addr
	if err := waitUp(base + "/healthz"); err != nil {
		return err
	}
	idle := rss(cmd.Process.Pid, "VmRSS")

	res := storm(base)
	peak := rss(cmd.Process.Pid, "VmHWM")
	time.Sleep(3 * time.Second)
	after := rss(cmd.Process.Pid, "VmRSS")

	fmt.Printf("| names | listers | renderers | storm | idle RSS | peak RSS | RSS 3 s after |\n|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %d (%d in one folder) | %d | %d | %v | %d MiB | %d MiB | %d MiB |\n\n", bigFolder+spread, bigFolder,
		*listers, *renderers, *duration, idle>>10, peak>>10, after>>10)
	fmt.Printf("| requests | statuses |\n|---|---|\n")
	for _, k := range []string{"listing", "glob render", "single render"} {
		fmt.Printf("| %s | %s |\n", k, res.statuses(k))
	}
	p50, p99 := res.single()
	fmt.Printf("\nsingle-metric render during the storm: %d requests, p50 %.1f ms, p99 %.1f ms\n", len(res.lat), p50, p99)
	return nil
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
