package render

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// benchFetcher serves 100 day-long 10 s series (bench.glob.m000…m099) and
// bench.single from memory, so that the benchmarks time the evaluation
// alone (bench/whisperserver times whole requests).
func benchFetcher() Fetcher {
	const n = 8640
	mk := func(name string, seed int64) *Series {
		rng := rand.New(rand.NewSource(seed))
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.Float64() * 100
		}
		return &Series{Name: name, PathExpression: name, Start: 0, End: n * 10, Step: 10, Values: v, ValuesPerPoint: 1, ConsolidationFunc: "average"}
	}
	var glob []*Series
	for i := 0; i < 100; i++ {
		glob = append(glob, mk(fmt.Sprintf("bench.glob.m%03d", i), int64(i)))
	}
	single := mk("bench.single", 1000)
	return func(_ context.Context, pattern string, _, _, _ int64) ([]*Series, error) {
		var out []*Series
		if pattern == "bench.single" {
			out = []*Series{single}
		} else if strings.HasPrefix(pattern, "bench.glob.") {
			out = glob
		}
		for i, s := range out {
			// Fetch results are fresh per request.
			c := *s
			out[i] = &c
		}
		return out, nil
	}
}

func BenchmarkEval(b *testing.B) {
	fetch := benchFetcher()
	for _, target := range []string{"bench.single", `groupByNode(bench.glob.*,1,"sum")`, `highest(bench.glob.*,10,"average")`, `movingAverage(bench.glob.*,30)`} {
		e, err := Parse(target)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(target, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				c := &Context{Ctx: context.Background(), Start: 0, End: 86400, Now: 86400, Fetch: fetch}
				if _, err := c.EvalTargets([]*Expr{e}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
