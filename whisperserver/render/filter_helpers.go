package render

import (
	"math"
	"sort"
)

// sortBySummary sorts list stably by fn over each series' points (a
// series without a value ranks as -inf, graphite-web's keyFunc).
func sortBySummary(list []*Series, fn func([]float64) float64, reverse bool) {
	keys := make(map[*Series]float64, len(list))
	for _, s := range list {
		k := fn(s.Points())
		if math.IsNaN(k) {
			k = math.Inf(-1)
		}
		keys[s] = k
	}
	sort.SliceStable(list, func(i, j int) bool {
		if reverse {
			return keys[list[i]] > keys[list[j]]
		}
		return keys[list[i]] < keys[list[j]]
	})
}

// firstN is Python's list[:n] (a negative n keeps all but the last -n).
func firstN(list []*Series, n int) []*Series {
	if n < 0 {
		n = max(0, len(list)+n)
	}
	return list[:min(n, len(list))]
}

// rankedSeries implements highestX / lowestX: the n series whose fn value
// is highest (or lowest), stable for ties.
func rankedSeries(fn string, highest bool) func(a *args) ([]*Series, error) {
	return func(a *args) ([]*Series, error) {
		list := a.series(0)
		sortBySummary(list, aggFuncs[fn], highest)
		return firstN(list, int(a.num(1, 1))), nil
	}
}

// rankedBy is highest/lowest(seriesList, n, func).
func rankedBy(highest bool) func(a *args) ([]*Series, error) {
	return func(a *args) ([]*Series, error) {
		fn := a.str(2, "average")
		agg, ok := aggFuncs[fn]
		if !ok {
			return nil, a.errf("Unsupported aggregation function: %s", fn)
		}
		list := a.series(0)
		sortBySummary(list, agg, highest)
		return firstN(list, int(a.num(1, 1))), nil
	}
}

// operators are filterSeries' comparisons; a null summary passes only
// "!=", "<" and "<=" (graphite-web's operatorFuncs).
var operators = map[string]func(v, t float64) bool{
	"=":  func(v, t float64) bool { return !math.IsNaN(v) && v == t },
	"!=": func(v, t float64) bool { return math.IsNaN(v) || v != t },
	">":  func(v, t float64) bool { return !math.IsNaN(v) && v > t },
	">=": func(v, t float64) bool { return !math.IsNaN(v) && v >= t },
	"<":  func(v, t float64) bool { return math.IsNaN(v) || v < t },
	"<=": func(v, t float64) bool { return math.IsNaN(v) || v <= t },
}

// filterBySummary keeps the series whose fn summary compares to threshold
// by op (graphite-web's filterSeries, behind averageAbove and its kin).
func filterBySummary(list []*Series, fn, op string, threshold float64) ([]*Series, error) {
	agg, ok := aggFuncs[fn]
	if !ok {
		return nil, inputErr("Unsupported aggregation function: %s", fn)
	}
	cmp, ok := operators[op]
	if !ok {
		return nil, inputErr("Unsupported operator: %s", op)
	}
	var out []*Series
	for _, s := range list {
		if cmp(agg(s.Points()), threshold) {
			out = append(out, s)
		}
	}
	return out, nil
}

// filterBy is averageAbove and its kin: filterSeries with a fixed
// summary and operator.
func filterBy(fn, op string) func(a *args) ([]*Series, error) {
	return func(a *args) ([]*Series, error) { return filterBySummary(a.series(0), fn, op, a.num(1, 0)) }
}
