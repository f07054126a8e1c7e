package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
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
