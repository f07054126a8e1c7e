package render

import (
	"fmt"
	"math"
	"regexp"
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
