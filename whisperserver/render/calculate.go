package render

import (
	"fmt"
	"math"
	"sort"
)

var pWindowSize = Param{Name: "windowSize", Type: "intOrInterval", Required: true, Suggestions: []any{5, 7, 10, "1min", "5min", "10min", "30min", "1hour"}}

func calculateFunctions() []*Func {
	moving := []Param{pSeries, pWindowSize, {Name: "xFilesFactor", Type: "float"}}
	return []*Func{
		{Name: "movingAverage", Group: "Calculate", Params: moving, Fn: movingBy("average")},
		{Name: "movingMedian", Group: "Calculate", Params: moving, Fn: movingBy("median")},
		{Name: "movingSum", Group: "Calculate", Params: moving, Fn: movingBy("sum")},
		{Name: "movingMin", Group: "Calculate", Params: moving, Fn: movingBy("min")},
		{Name: "movingMax", Group: "Calculate", Params: moving, Fn: movingBy("max")},
		{Name: "movingWindow", Group: "Calculate", Params: []Param{pSeries, pWindowSize, {Name: "func", Type: "aggFunc", Default: "average", Options: aggFuncOptions}, {Name: "xFilesFactor", Type: "float"}}, Fn: fnMovingWindow},
		{Name: "nPercentile", Group: "Calculate", Params: []Param{pSeries, {Name: "n", Type: "float", Required: true}}, Fn: fnNPercentile},
	}
}

// movingBy is movingAverage and its kin: movingWindow with a fixed
// aggregation.
func movingBy(fn string) func(a *args) ([]*Series, error) {
	return func(a *args) ([]*Series, error) { return movingWindow(a, fn, 2) }
}

func movingAverage(a *args) ([]*Series, error) { return movingWindow(a, "average", 2) }

func fnMovingWindow(a *args) ([]*Series, error) { return movingWindow(a, a.str(2, "average"), 3) }

// percentile is graphite-web's _getPercentile (NIST method) over the
// non-null values.
func percentile(points []float64, n float64, interpolate bool) float64 {
	var s []float64
	for _, v := range points {
		if !math.IsNaN(v) {
			s = append(s, v)
		}
	}
	if len(s) == 0 {
		return math.NaN()
	}
	sort.Float64s(s)
	fr := (n / 100.0) * float64(len(s)+1)
	rank := int(fr)
	frac := fr - float64(rank)
	if !interpolate {
		rank += int(math.Ceil(frac))
	}
	var p float64
	switch {
	case rank == 0:
		p = s[0]
	case rank-1 == len(s):
		p = s[len(s)-1]
	case rank-1 > len(s):
		p = s[len(s)-1] // Python's negative/overflow indexes raise; graphite-web only asks n ≤ 100
	default:
		p = s[rank-1]
	}
	if interpolate && rank != len(s) && rank < len(s) {
		p += frac * (s[rank] - p)
	}
	return p
}

func fnNPercentile(a *args) ([]*Series, error) {
	n := a.num(1, 0)
	if n == 0 {
		return nil, a.errf("The requested percent is required to be greater than 0")
	}
	var out []*Series
	for _, s := range a.series(0) {
		p := percentile(s.Points(), n, false)
		if math.IsNaN(p) {
			continue
		}
		count := int((s.End - s.Start) / s.Step)
		vals := make([]float64, count)
		for i := range vals {
			vals[i] = p
		}
		s.setTag("nPercentile", PyRepr(n))
		ns := s.derive(fmt.Sprintf("nPercentile(%s, %s)", s.Name, PyG(n)), vals)
		out = append(out, ns)
	}
	return out, nil
}
