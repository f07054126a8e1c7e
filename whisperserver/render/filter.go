package render

import (
	"fmt"
	"math"
	"regexp"
	"sort"
)

func filterFunctions() []*Func {
	pN := Param{Name: "n", Type: "integer", Required: true}
	pN1 := Param{Name: "n", Type: "integer", Required: true, SigDefault: "1"}
	pPattern := Param{Name: "pattern", Type: "string", Required: true}
	pValue := Param{Name: "n", Type: "float", Required: true}
	pAggFunc := Param{Name: "func", Type: "aggFunc", Default: "average", Options: aggFuncOptions}
	return []*Func{
		{Name: "grep", Group: "Filter Series", Params: []Param{pSeries, pPattern}, Fn: fnGrep},
		{Name: "exclude", Group: "Filter Series", Params: []Param{pSeries, pPattern}, Fn: fnExclude},
		{Name: "removeAboveValue", Group: "Filter Data", Params: []Param{pSeries, pValue}, Fn: fnRemoveAboveValue},
		{Name: "removeBelowValue", Group: "Filter Data", Params: []Param{pSeries, pValue}, Fn: fnRemoveBelowValue},
		{Name: "removeEmptySeries", Group: "Filter Series", Params: []Param{pSeries, {Name: "xFilesFactor", Type: "float"}}, Fn: fnRemoveEmptySeries},
		{Name: "lowestAverage", Group: "Filter Series", Params: []Param{pSeries, pN}, Fn: rankedSeries("average", false)},
		{Name: "lowestCurrent", Group: "Filter Series", Params: []Param{pSeries, pN}, Fn: rankedSeries("current", false)},
		{Name: "highestAverage", Group: "Filter Series", Params: []Param{pSeries, pN}, Fn: rankedSeries("average", true)},
		{Name: "highestCurrent", Group: "Filter Series", Params: []Param{pSeries, pN}, Fn: rankedSeries("current", true)},
		{Name: "highestMax", Group: "Filter Series", Params: []Param{pSeries, pN}, Fn: rankedSeries("max", true)},
		{Name: "limit", Group: "Filter Series", Params: []Param{pSeries, pN}, Fn: fnLimit},
		{Name: "highest", Group: "Filter Series", Params: []Param{pSeries, pN1, pAggFunc}, Fn: rankedBy(true)},
		{Name: "lowest", Group: "Filter Series", Params: []Param{pSeries, pN1, pAggFunc}, Fn: rankedBy(false)},
		{Name: "removeAbovePercentile", Group: "Filter Data", Params: []Param{pSeries, pValue}, Fn: fnRemoveAbovePercentile},
		{Name: "removeBelowPercentile", Group: "Filter Data", Params: []Param{pSeries, pValue}, Fn: fnRemoveBelowPercentile},
		{Name: "averageAbove", Group: "Filter Series", Params: []Param{pSeries, pValue}, Fn: filterBy("average", ">")},
		{Name: "averageBelow", Group: "Filter Series", Params: []Param{pSeries, pValue}, Fn: filterBy("average", "<=")},
		{Name: "currentAbove", Group: "Filter Series", Params: []Param{pSeries, pValue}, Fn: filterBy("last", ">")},
		{Name: "currentBelow", Group: "Filter Series", Params: []Param{pSeries, pValue}, Fn: filterBy("last", "<=")},
		{Name: "maximumAbove", Group: "Filter Series", Params: []Param{pSeries, pValue}, Fn: filterBy("max", ">")},
		{Name: "maximumBelow", Group: "Filter Series", Params: []Param{pSeries, pValue}, Fn: filterBy("max", "<=")},
		{Name: "minimumAbove", Group: "Filter Series", Params: []Param{pSeries, pValue}, Fn: filterBy("min", ">")},
		{Name: "minimumBelow", Group: "Filter Series", Params: []Param{pSeries, pValue}, Fn: filterBy("min", "<=")},
		{Name: "filterSeries", Group: "Filter Series", Params: []Param{pSeries, {Name: "func", Type: "aggFunc", Required: true, Options: aggFuncOptions}, {Name: "operator", Type: "string", Required: true, Options: []any{"!=", "<", "<=", "=", ">", ">="}}, {Name: "threshold", Type: "float", Required: true}}, Fn: fnFilterSeries},
		{Name: "averageOutsidePercentile", Group: "Filter Series", Params: []Param{pSeries, pValue}, Fn: fnAverageOutsidePercentile},
		{Name: "removeBetweenPercentile", Group: "Filter Series", Params: []Param{pSeries, pValue}, Fn: fnRemoveBetweenPercentile},
		{Name: "mostDeviant", Group: "Filter Series", Params: []Param{pSeries, pN}, Fn: fnMostDeviant},
		{Name: "useSeriesAbove", Group: "Filter Series", Params: []Param{pSeries, {Name: "value", Type: "float", Required: true}, {Name: "search", Type: "string", Required: true}, {Name: "replace", Type: "string", Required: true}}, Fn: fnUseSeriesAbove},
		{Name: "unique", Group: "Filter Series", Params: []Param{pSeriesLists}, Fn: fnUnique},
		{Name: "fallbackSeries", Group: "Special", Params: []Param{pSeries, {Name: "fallback", Type: "seriesList", Required: true}}, Fn: fnFallbackSeries},
	}
}

func fnGrep(a *args) ([]*Series, error)    { return filterByName(a, true) }
func fnExclude(a *args) ([]*Series, error) { return filterByName(a, false) }

// filterByName keeps the series whose name matches (keep) or does not
// match (!keep) the pattern argument.
func filterByName(a *args, keep bool) ([]*Series, error) {
	re, err := regexp.Compile(a.str(1, ""))
	if err != nil {
		return nil, a.errf("bad regular expression: %v", err)
	}
	var out []*Series
	for _, s := range a.series(0) {
		if re.MatchString(s.Name) == keep {
			out = append(out, s)
		}
	}
	return out, nil
}

func fnRemoveAboveValue(a *args) ([]*Series, error) {
	n := a.num(1, 0)
	return removePoints(a, "removeAboveValue", PyG(n), func(v float64) bool { return !math.IsNaN(v) && v > n }), nil
}

func fnRemoveBelowValue(a *args) ([]*Series, error) {
	n := a.num(1, 0)
	return removePoints(a, "removeBelowValue", PyG(n), func(v float64) bool { return math.IsNaN(v) || v < n }), nil
}

// removePoints turns the points for which drop is true into nulls, in
// place, and names the series "fn(name, arg)".
func removePoints(a *args, fn, arg string, drop func(float64) bool) []*Series {
	out := a.series(0)
	for _, s := range out {
		s.Name = fmt.Sprintf("%s(%s, %s)", fn, s.Name, arg)
		s.PathExpression = s.Name
		for i, v := range s.Points() {
			if drop(v) {
				s.Values[i] = math.NaN()
			} else if s.ValuesPerPoint > 1 {
				s.Values[i] = v
			}
		}
	}
	return out
}

func fnRemoveEmptySeries(a *args) ([]*Series, error) {
	xff := a.num(1, 0)
	var out []*Series
	for _, s := range a.series(0) {
		pts := s.Points()
		n := 0
		for _, v := range pts {
			if !math.IsNaN(v) {
				n++
			}
		}
		if n > 0 && len(pts) > 0 && float64(n)/float64(len(pts)) >= xff {
			out = append(out, s)
		}
	}
	return out, nil
}

func fnRemoveAbovePercentile(a *args) ([]*Series, error) {
	return removeByPercentile(a, "removeAbovePercentile", func(v, p float64) bool { return !math.IsNaN(v) && v > p }), nil
}

func fnRemoveBelowPercentile(a *args) ([]*Series, error) {
	return removeByPercentile(a, "removeBelowPercentile", func(v, p float64) bool { return math.IsNaN(v) || v < p }), nil
}

// removeByPercentile nulls the points drop selects against the series'
// n-th percentile; a series without values keeps its points.
func removeByPercentile(a *args, fn string, drop func(v, p float64) bool) []*Series {
	n := a.num(1, 0)
	out := a.series(0)
	for _, s := range out {
		pts := s.Points()
		p := percentile(pts, n, false)
		if !math.IsNaN(p) {
			s.setTag("nPercentile", PyRepr(n)) // nPercentile's copy shares the tags
		}
		s.Name = fmt.Sprintf("%s(%s, %s)", fn, s.Name, PyG(n))
		s.PathExpression = s.Name
		if math.IsNaN(p) {
			continue
		}
		for i, v := range pts {
			if drop(v, p) {
				s.Values[i] = math.NaN()
			}
		}
	}
	return out
}

func fnLimit(a *args) ([]*Series, error) {
	list := a.series(0)
	n := int(a.num(1, 0))
	if n < 0 {
		n = max(0, len(list)+n)
	}
	return list[:min(n, len(list))], nil
}

func fnFilterSeries(a *args) ([]*Series, error) {
	return filterBySummary(a.series(0), a.str(1, ""), a.str(2, ""), a.num(3, 0))
}

// errPythonNone is where graphite-web compares None under Python 3 (a
// TypeError: a 500 there, a 400 here).
func errPythonNone(fn string) error {
	return inputErr("%s cannot compare null values (graphite-web fails on them too); wrap the series in transformNull()", fn)
}

// fnAverageOutsidePercentile keeps the series whose average is not
// strictly between the (100-n)th and n-th percentile of all averages.
func fnAverageOutsidePercentile(a *args) ([]*Series, error) {
	list := a.series(0)
	n := a.num(1, 0)
	if n < 50 {
		n = 100 - n
	}
	avgs := make([]float64, len(list))
	for i, s := range list {
		avgs[i] = avgOf(s.Points())
	}
	low, high := percentile(avgs, 100-n, false), percentile(avgs, n, false)
	var out []*Series
	for i, s := range list {
		if math.IsNaN(avgs[i]) || math.IsNaN(low) {
			return nil, errPythonNone("averageOutsidePercentile")
		}
		if !(low < avgs[i] && avgs[i] < high) {
			out = append(out, s)
		}
	}
	return out, nil
}

// fnRemoveBetweenPercentile keeps the series with at least one point
// outside its column's (100-n)th..n-th percentile band.
func fnRemoveBetweenPercentile(a *args) ([]*Series, error) {
	list := a.series(0)
	n := a.num(1, 0)
	if n < 50 {
		n = 100 - n
	}
	pts := make([][]float64, len(list))
	cols := -1
	for i, s := range list {
		pts[i] = s.Points()
		if cols < 0 || len(pts[i]) < cols {
			cols = len(pts[i])
		}
	}
	low, high := make([]float64, max(cols, 0)), make([]float64, max(cols, 0))
	col := make([]float64, len(list))
	for c := range low {
		for i := range list {
			col[i] = pts[i][c]
		}
		low[c], high[c] = percentile(col, 100-n, false), percentile(col, n, false)
	}
	var out []*Series
	for i, s := range list {
		keep := false
		for c, v := range pts[i] {
			if c >= cols {
				return nil, inputErr("removeBetweenPercentile: series %s is longer than the others", s.Name)
			}
			if math.IsNaN(v) || math.IsNaN(low[c]) {
				return nil, errPythonNone("removeBetweenPercentile")
			}
			if !(low[c] < v && v < high[c]) {
				keep = true
			}
		}
		if keep {
			out = append(out, s)
		}
	}
	return out, nil
}

// fnMostDeviant returns the n series with the highest variance.
func fnMostDeviant(a *args) ([]*Series, error) {
	var list []*Series
	sigmas := map[*Series]float64{}
	for _, s := range a.series(0) {
		pts := s.Points()
		mean := avgOf(pts)
		if math.IsNaN(mean) {
			continue
		}
		sq, cnt := 0.0, 0
		for _, v := range pts {
			if !math.IsNaN(v) {
				sq += (v - mean) * (v - mean)
				cnt++
			}
		}
		sigmas[s] = sq / float64(cnt)
		list = append(list, s)
	}
	sort.SliceStable(list, func(i, j int) bool { return sigmas[list[i]] > sigmas[list[j]] })
	return firstN(list, int(a.num(1, 0))), nil
}

// fnUseSeriesAbove fetches, for every series whose maximum is above the
// value, the series named by replacing search with replace in its name.
func fnUseSeriesAbove(a *args) ([]*Series, error) {
	re, err := regexp.Compile(a.str(2, ""))
	if err != nil {
		return nil, a.errf("bad regular expression: %v", err)
	}
	repl := pyReplacement(a.str(3, ""))
	value := a.num(1, 0)
	var names []string
	for _, s := range a.series(0) {
		pts := s.Points()
		if len(pts) == 0 {
			return nil, inputErr("useSeriesAbove: series %s has no points", s.Name)
		}
		m := math.Inf(-1)
		for _, v := range pts {
			if math.IsNaN(v) {
				return nil, errPythonNone("useSeriesAbove")
			}
			m = max(m, v)
		}
		if m > value {
			names = append(names, re.ReplaceAllString(s.Name, repl))
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	// graphite-web evaluates group(name1,name2,…); each name on its own
	// gives the same series without a target-length limit.
	var out []*Series
	for _, n := range names {
		list, err := a.evalTarget(n)
		if err != nil {
			return nil, err
		}
		for _, s := range list {
			if len(s.Values) > 0 {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

func fnUnique(a *args) ([]*Series, error) {
	seen := map[string]bool{}
	var out []*Series
	for _, l := range a.seriesLists() {
		for _, s := range l {
			if !seen[s.Name] {
				seen[s.Name] = true
				out = append(out, s)
			}
		}
	}
	return out, nil
}

func fnFallbackSeries(a *args) ([]*Series, error) {
	if len(a.series(0)) > 0 {
		return a.series(0), nil
	}
	return a.series(1), nil
}
