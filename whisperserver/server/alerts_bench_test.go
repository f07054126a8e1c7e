package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/whisperfile"
)

// writeBenchSeries writes rules×perRule whisper files bench.rNNNN.sNNN
// (10 s points over 10 minutes, all filled, values 0…99 with a few over
// 90) by encoding them directly, which is much faster than an update per
// point.
func writeBenchSeries(b *testing.B, dir string, rules, perRule int) {
	b.Helper()
	const step, points = 10, 60
	hdr, size := whisperfile.EncodeHeader(whisperfile.Average, 0, whisperfile.Archives{{SecondsPerPoint: step, Points: points}})
	buf := make([]byte, size)
	copy(buf, hdr)
	t0 := (time.Now().Unix()/step)*step - (points-1)*step
	for r := 0; r < rules; r++ {
		d := filepath.Join(dir, "bench", fmt.Sprintf("r%04d", r))
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
		for s := 0; s < perRule; s++ {
			for i := 0; i < points; i++ {
				p := buf[len(hdr)+i*12:]
				binary.BigEndian.PutUint32(p, uint32(t0+int64(i)*step))
				binary.BigEndian.PutUint64(p[4:], math.Float64bits(float64((r*7+s*13+i)%100)))
			}
			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("s%03d.wsp", s)), buf, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAlertRules evaluates 1,000 rules, each a glob over 100 whisper
// files (100,000 series), through the real store and render engine, as
// the server's scheduler does every `every`. It reports the CPU time of
// one round of all rules and the share of one core that round costs
// when repeated every 10 s (cores@10s). BENCH_ALERT_RULES and
// BENCH_ALERT_SERIES (per rule) change the size.
func BenchmarkAlertRules(b *testing.B) {
	rules, perRule := envInt("BENCH_ALERT_RULES", 1000), envInt("BENCH_ALERT_SERIES", 100)
	dir := b.TempDir()
	writeBenchSeries(b, dir, rules, perRule)
	var rs strings.Builder
	for r := 0; r < rules; r++ {
		fmt.Fprintf(&rs, "[[rule]]\nname = \"R%04d\"\ntarget = \"bench.r%04d.*\"\nabove = 90\nfor = \"30s\"\n\n", r, r)
	}
	path := filepath.Join(dir, "alerts.toml")
	if err := os.WriteFile(path, []byte(rs.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg := Defaults()
	cfg.WhisperDir = dir
	cfg.Alerts = path
	s, err := New(cfg, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	s.Alerts().EvalAll(ctx) // warm the index and the page cache
	for _, r := range s.Alerts().Rules() {
		if r.LastError != "" {
			b.Fatalf("rule %s: %s", r.Name, r.LastError)
		}
	}
	if n := len(s.Alerts().Alerts()); n != rules*perRule {
		b.Fatalf("%d alerts, want %d", n, rules*perRule)
	}
	b.ResetTimer()
	cpu0, wall0 := cpuTime(), time.Now()
	for i := 0; i < b.N; i++ {
		s.Alerts().EvalAll(ctx)
	}
	cpu := (cpuTime() - cpu0) / time.Duration(b.N)
	wall := time.Since(wall0) / time.Duration(b.N)
	b.ReportMetric(cpu.Seconds(), "cpu-s/round")
	b.ReportMetric(wall.Seconds(), "wall-s/round")
	b.ReportMetric(cpu.Seconds()/10, "cores@10s")
	b.ReportMetric(float64(rules*perRule), "series")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkRenderWhileAlerting measures the latency of ordinary renders
// (one named metric, the last 5 minutes, one client after another) for
// BENCH_RENDER_SECONDS (default 20) with the alert engine stopped, then
// as long again with its 1,000 rules over 100,000 series running on
// their 10 s schedule, and reports both p50 and p99.
func BenchmarkRenderWhileAlerting(b *testing.B) {
	rules, perRule := envInt("BENCH_ALERT_RULES", 1000), envInt("BENCH_ALERT_SERIES", 100)
	d := time.Duration(envInt("BENCH_RENDER_SECONDS", 20)) * time.Second
	dir := b.TempDir()
	writeBenchSeries(b, dir, rules, perRule)
	var rs strings.Builder
	for r := 0; r < rules; r++ {
		fmt.Fprintf(&rs, "[[rule]]\nname = \"R%04d\"\ntarget = \"bench.r%04d.*\"\nabove = 90\nfor = \"30s\"\n\n", r, r)
	}
	path := filepath.Join(dir, "alerts.toml")
	if err := os.WriteFile(path, []byte(rs.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg := Defaults()
	cfg.WhisperDir = dir
	cfg.Alerts = path
	s, err := New(cfg, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	measure := func() (p50, p99 time.Duration) {
		var lat []time.Duration
		end := time.Now().Add(d)
		for i := 0; time.Now().Before(end); i++ {
			name := fmt.Sprintf("bench.r%04d.s%03d", i%rules, i%perRule)
			req := httptestRequest("/render?format=json&from=-5min&target=" + name)
			t0 := time.Now()
			rec := newDiscardRecorder()
			h.ServeHTTP(rec, req)
			lat = append(lat, time.Since(t0))
			if rec.status != 200 {
				b.Fatalf("render %s: %d", name, rec.status)
			}
		}
		sortDurations(lat)
		return lat[len(lat)/2], lat[len(lat)*99/100]
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		idle50, idle99 := measure()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); s.Alerts().Run(ctx) }()
		al50, al99 := measure()
		cancel()
		<-done
		evals := int64(0)
		for _, r := range s.Alerts().Rules() {
			evals += r.Evaluations
		}
		b.ReportMetric(float64(idle50.Microseconds())/1000, "idle-p50-ms")
		b.ReportMetric(float64(idle99.Microseconds())/1000, "idle-p99-ms")
		b.ReportMetric(float64(al50.Microseconds())/1000, "alerting-p50-ms")
		b.ReportMetric(float64(al99.Microseconds())/1000, "alerting-p99-ms")
		b.ReportMetric(float64(evals), "rule-evaluations")
	}
}

func httptestRequest(target string) *http.Request {
	return httptest.NewRequest(http.MethodGet, target, nil)
}

// discardRecorder is a ResponseWriter that keeps only the status.
type discardRecorder struct {
	hdr    http.Header
	status int
}

func newDiscardRecorder() *discardRecorder { return &discardRecorder{hdr: http.Header{}} }

func (r *discardRecorder) Header() http.Header { return r.hdr }
func (r *discardRecorder) WriteHeader(c int) {
	if r.status == 0 {
		r.status = c
	}
}
func (r *discardRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return len(p), nil
}

func sortDurations(d []time.Duration) { sort.Slice(d, func(i, j int) bool { return d[i] < d[j] }) }
