package collect

import (
	"context"
	"testing"
	"time"
)

// BenchmarkCollect measures one full collection of every group on this
// machine (gopsutil reads, rates, formatting).
func BenchmarkCollect(b *testing.B) {
	c, err := New(Config{Prefix: "hosts.bench"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	c.Collect(ctx, time.Now())
	b.ResetTimer()
	lines := 0
	for i := 0; i < b.N; i++ {
		r := c.Collect(ctx, time.Now())
		lines = r.Lines
	}
	b.ReportMetric(float64(lines), "lines/op")
}
