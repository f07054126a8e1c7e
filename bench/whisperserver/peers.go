package main

import (
	"bufio"
	"context"
	"fmt"
	"github.com/dreamcatcher-monitoring/dreamcatcher/bench/internal/vmstat"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	gowhisper "github.com/lomik/go-whisper"
)

// startCarbonserver runs go-carbon with only its carbonserver (the read API
// over the same folder) listening; its find and query caches are off, so
// every request reads, as whisperserver and graphite-web do.
func startCarbonserver(ctx context.Context, dir string) (*exec.Cmd, string, error) {
	tmp, err := os.MkdirTemp("", "bench-carbonserver-")
	if err != nil {
		return nil, "", err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	schemas := filepath.Join(tmp, "schemas.conf")
	if err := os.WriteFile(schemas, []byte("[default]\npattern = .*\nretentions = 10s:1d,1m:7d\n"), 0o644); err != nil {
		return nil, "", err
	}
	cfg := filepath.Join(tmp, "go-carbon.conf")
	conf := fmt.Sprintf(`[common]
user = ""
metric-endpoint = "local"
metric-interval = "1h"
max-cpu = %d
[whisper]
data-dir = %q
schemas-file = %q
workers = 1
enabled = true
[cache]
max-size = 1000
[udp]
enabled = false
[tcp]
enabled = false
[pickle]
enabled = false
[carbonlink]
enabled = false
[grpc]
enabled = false
[tags]
enabled = false
[carbonserver]
enabled = true
listen = %q
scan-frequency = "5m0s"
query-cache-enabled = false
find-cache-enabled = false
max-globs = 100000
[dump]
enabled = false
[pprof]
enabled = false
[[logging]]
logger = ""
file = %q
level = "warn"
`, runtimeCPUs(), dir, schemas, addr, filepath.Join(tmp, "go-carbon.log"))
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return nil, "", err
	}
	cmd := exec.CommandContext(ctx, *gcBin, "-config", cfg)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("go-carbon: %w", err)
	}
	return cmd, "http://" + addr, nil
}

// startVM runs VictoriaMetrics, sends it every point the full files hold
// since from and one point for each find name over carbon plaintext, and
// waits until they are in its storage and a render sees them. Its rollup
// result cache is off (-search.disableCache), as the others have none.
func startVM(ctx context.Context, dir string, from int64) (*exec.Cmd, string, error) {
	tmp, err := os.MkdirTemp("", "bench-vm-")
	if err != nil {
		return nil, "", err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	gAddr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.CommandContext(ctx, *vmBin, "-storageDataPath", filepath.Join(tmp, "data"), "-httpListenAddr", httpAddr,
		"-graphiteListenAddr", gAddr, "-retentionPeriod", "1y", "-search.disableCache", "-loggerLevel", "WARN",
		"-search.maxPointsPerTimeseries", "100000")
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("victoria-metrics: %w", err)
	}
	u := "http://" + httpAddr
	if err := waitUp(u + "/health"); err != nil {
		return cmd, "", err
	}
	sent, err := sendPoints(gAddr, dir, from)
	if err != nil {
		return cmd, "", err
	}
	deadline := time.Now().Add(3 * time.Minute)
	for vmRows(u) < sent && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	// Rows become searchable after VictoriaMetrics flushes its in-memory
	// buffers (about a second); wait until the 1,000-match find and the
	// glob render see everything.
	for time.Now().Before(deadline) {
		if n, err := countBody(u+"/metrics/find?query=bench.find.*.m000*", `"leaf":1`); err == nil && n == 1000 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "bench: VictoriaMetrics holds %d of the %d points sent\n", vmRows(u), sent)
	return cmd, u, nil
}

func runtimeCPUs() int { return runtime.NumCPU() }

// sendPoints sends the full files' points since from and one point per
// find name (now) to a carbon plaintext listener; it returns the count.
func sendPoints(addr, dir string, from int64) (int64, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(3 * time.Minute))
	w := bufio.NewWriterSize(c, 1<<20)
	var n int64
	full := []string{"bench.single"}
	for i := 0; i < 100; i++ {
		full = append(full, fmt.Sprintf("bench.glob.m%03d", i))
	}
	now := time.Now().Unix()
	for _, name := range full {
		db, err := gowhisper.Open(filepath.Join(dir, filepath.FromSlash(strings.ReplaceAll(name, ".", "/"))+".wsp"))
		if err != nil {
			return n, err
		}
		// Within the finest archive (10 s, 1 day) as seen now, so the
		// points sent are the 10 s points a render of the day reads.
		ts, err := db.Fetch(int(max(from, now-86400+10)), int(now))
		db.Close()
		if err != nil || ts == nil {
			return n, fmt.Errorf("reading %s: %v", name, err)
		}
		for i, v := range ts.Values() {
			if math.IsNaN(v) {
				continue
			}
			t := int64(ts.FromTime()) + int64(i*ts.Step())
			fmt.Fprintf(w, "%s %s %d\n", name, strconv.FormatFloat(v, 'g', -1, 64), t)
			n++
		}
	}
	for d := 0; d < 100; d++ {
		for m := 0; m < 1000; m++ {
			fmt.Fprintf(w, "bench.find.d%03d.m%04d 1 %d\n", d, m, now-60)
			n++
		}
	}
	return n, w.Flush()
}

// vmRows is the rows VictoriaMetrics at u has added to storage.
func vmRows(u string) int64 {
	rows, _ := vmstat.Counts(u + "/metrics")
	return rows
}

func countBody(u, s string) (int, error) {
	client := http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return strings.Count(string(b), s), err
}
