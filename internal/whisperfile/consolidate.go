package whisperfile

import "math"

// ConsolidationFuncs are graphite-web 1.1's consolidation functions
// (TimeSeries.consolidationFunc, consolidateBy's choices).
var consolidationFuncs = []string{"sum", "average", "avg", "avg_zero", "min", "max", "first", "last"}

// ConsolidationFuncs returns graphite-web's consolidation function names.
func ConsolidationFuncs() []string { return append([]string(nil), consolidationFuncs...) }

// Consolidate reduces one bucket of fetched values (NaN is a gap) to one
// point as graphite-web's TimeSeries does with valuesPerPoint vpp: a gap
// unless some value is known and the known share of vpp reaches xff. fn is
// a consolidation function (ConsolidationFuncs) or a whisper method name (a
// file's own method: absmax and absmin too); anything else averages.
func Consolidate(fn string, bucket []float64, vpp int, xff float64) float64 {
	known := 0
	for _, v := range bucket {
		if !math.IsNaN(v) {
			known++
		}
	}
	if known == 0 || float64(known)/float64(vpp) < xff {
		return math.NaN()
	}
	pick := func(better func(v, best float64) bool) float64 {
		best := math.NaN()
		for _, v := range bucket {
			if !math.IsNaN(v) && (math.IsNaN(best) || better(v, best)) {
				best = v
			}
		}
		return best
	}
	sum := 0.0
	for _, v := range bucket {
		if !math.IsNaN(v) {
			sum += v
		}
	}
	switch fn {
	case "sum":
		return sum
	case "max":
		return pick(func(v, b float64) bool { return v > b })
	case "min":
		return pick(func(v, b float64) bool { return v < b })
	case "absmax":
		return pick(func(v, b float64) bool { return math.Abs(v) > math.Abs(b) })
	case "absmin":
		return pick(func(v, b float64) bool { return math.Abs(v) < math.Abs(b) })
	case "first":
		return pick(func(float64, float64) bool { return false })
	case "last":
		return pick(func(float64, float64) bool { return true })
	case "avg_zero":
		return sum / float64(len(bucket))
	}
	return sum / float64(known) // average, avg
}

// ConsolidateValues groups values vpp at a time (the last group may be
// shorter) and consolidates each with fn and xff (see Consolidate).
func ConsolidateValues(values []float64, vpp int, fn string, xff float64) []float64 {
	if vpp <= 1 {
		return values
	}
	out := make([]float64, 0, (len(values)+vpp-1)/vpp)
	for i := 0; i < len(values); i += vpp {
		out = append(out, Consolidate(fn, values[i:min(i+vpp, len(values))], vpp, xff))
	}
	return out
}

// FloorDiv and FloorMod round toward minus infinity, like Python's // and %,
// which whisper.py and graphite-web use for interval arithmetic.
func FloorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// FloorMod is a mod b with the sign of b (Python's %).
func FloorMod(a, b int64) int64 {
	m := a % b
	if m != 0 && ((m < 0) != (b < 0)) {
		m += b
	}
	return m
}
