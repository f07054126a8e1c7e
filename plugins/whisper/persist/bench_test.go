package persist

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/whisper/cache"
)

// BenchmarkUpdate measures steady-state updates of existing files: each op
// is one point written to one of `metrics` files (10s:6h,1m:1d, sparse),
// files created before the timer starts; open: open_files (0: each file
// opened and closed for every update).
func BenchmarkUpdate(b *testing.B) {
	for _, bc := range []struct{ metrics, open int }{{1000, 0}, {1000, 4096}, {10000, 0}, {10000, 4096}, {10000, 65536}} {
		metrics := bc.metrics
		b.Run(fmt.Sprintf("metrics=%d/open=%d", metrics, bc.open), func(b *testing.B) {
			base := b.TempDir()
			c := cache.New(0)
			p, err := New(Config{Base: base, Rules: rules(b, "10s:6h,1m:1d"), Writers: 2, Sparse: true, MaxFuture: time.Hour, Poll: time.Millisecond, OpenFiles: bc.open}, c)
			if err != nil {
				b.Fatal(err)
			}
			names := make([][]byte, metrics)
			for i := range names {
				names[i] = []byte(fmt.Sprintf("bench.host%d.cpu.user", i))
			}
			now := time.Now().Unix()
			for _, n := range names {
				c.Add(n, now-3600, 1)
			}
			p.Start()
			for p.Stats().PointsWritten < uint64(metrics) {
				time.Sleep(10 * time.Millisecond)
			}
			b.ResetTimer()
			start := p.Stats().PointsWritten
			for i := 0; i < b.N; i++ {
				c.Add(names[i%metrics], now-3590+int64(10*(i/metrics%300)), float64(i))
			}
			for p.Stats().PointsWritten < start+uint64(b.N) {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			p.Stop(time.Minute)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
		})
	}
}

// BenchmarkCreate measures file creation with 10s:1h,1m:1d archives
// (21.6 kB each, written out or sparse). b.N is capped at 50,000 files
// (about 1 GB) so a long -benchtime cannot fill the disk.
func BenchmarkCreate(b *testing.B) {
	for _, sparse := range []bool{false, true} {
		b.Run(fmt.Sprintf("sparse=%v", sparse), func(b *testing.B) {
			base := b.TempDir()
			c := cache.New(0)
			if b.N > 50000 {
				b.Skip("b.N above 50,000 files; use -benchtime Nx with N <= 50000")
			}
			p, err := New(Config{Base: base, Rules: rules(b, "10s:1h,1m:1d"), Writers: 2, Sparse: sparse, Poll: time.Millisecond}, c)
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now().Unix()
			p.Start()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c.Add([]byte(fmt.Sprintf("create.d%d.m%d", i/1000, i)), now, 1)
			}
			for p.Stats().Creates < uint64(b.N) {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			p.Stop(time.Minute)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
}

// BenchmarkUpdateMany measures the writers alone at scale: one point per
// op, spread round-robin over $PERSIST_BENCH_METRICS existing files
// (10s:1h, written out, bench.gNNN.mNNNNNNN: a thousand folders) in
// $PERSIST_BENCH_DIR, with 4 writers; it also reports the points per file
// update. The files are made by a run with PERSIST_BENCH_CREATE=1 and
// kept between runs (a million take about 2 minutes and 4.3 GB). Without
// the variables it is skipped.
//
//	mkdir /tmp/pb && PERSIST_BENCH_DIR=/tmp/pb PERSIST_BENCH_METRICS=1000000 PERSIST_BENCH_CREATE=1 \
//	  go test -run '^$' -bench UpdateMany -benchtime 1x ./plugins/whisper/persist
//	PERSIST_BENCH_DIR=/tmp/pb PERSIST_BENCH_METRICS=1000000 go test -run '^$' -bench UpdateMany -benchtime 3000000x ./plugins/whisper/persist
func BenchmarkUpdateMany(b *testing.B) {
	base := os.Getenv("PERSIST_BENCH_DIR")
	metrics, _ := strconv.Atoi(os.Getenv("PERSIST_BENCH_METRICS"))
	if base == "" || metrics <= 0 {
		b.Skip("set PERSIST_BENCH_DIR and PERSIST_BENCH_METRICS")
	}
	c := cache.New(0)
	p, err := New(Config{Base: base, Rules: rules(b, "10s:1h"), Writers: 4, MaxFuture: time.Hour, Poll: time.Millisecond}, c)
	if err != nil {
		b.Fatal(err)
	}
	names := make([][]byte, metrics)
	for i := range names {
		names[i] = []byte(fmt.Sprintf("bench.g%03d.m%07d", i%1000, i))
	}
	now := time.Now().Unix()
	now -= now % 10
	if os.Getenv("PERSIST_BENCH_CREATE") != "" {
		for _, n := range names {
			c.Add(n, now-3000, 1)
		}
	}
	p.Start()
	for c.Size() > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	b.ResetTimer()
	start := p.Stats()
	for i := 0; i < b.N; i++ {
		c.Add(names[i%metrics], now-2990+int64(10*(i/metrics%300)), float64(i))
	}
	for p.Stats().PointsWritten < start.PointsWritten+uint64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	end := p.Stats()
	p.Stop(time.Minute)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(end.PointsWritten-start.PointsWritten)/float64(end.Updates-start.Updates), "points/update")
}
