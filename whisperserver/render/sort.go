package render

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
)

func sortFunctions() []*Func {
	return []*Func{
		{Name: "sortByName", Group: "Sorting", Params: []Param{pSeries, {Name: "natural", Type: "boolean", Default: false}, {Name: "reverse", Type: "boolean", Default: false}}, Fn: fnSortByName},
		{Name: "sortByMaxima", Group: "Sorting", Params: []Param{pSeries}, Fn: fnSortByMaxima},
		{Name: "sortByMinima", Group: "Sorting", Params: []Param{pSeries}, Fn: fnSortByMinima},
		{Name: "sortByTotal", Group: "Sorting", Params: []Param{pSeries}, Fn: fnSortByTotal},
		{Name: "sortBy", Group: "Sorting", Params: []Param{pSeries, {Name: "func", Type: "aggFunc", Default: "average", Options: aggFuncOptions}, {Name: "reverse", Type: "boolean", Default: false}}, Fn: fnSortBy},
	}
}

var digitRun = regexp.MustCompile(`\d+`)

// naturalKey pads every digit run so that names sort by number value.
func naturalKey(s *Series) string {
	return digitRun.ReplaceAllStringFunc(s.Name, func(d string) string {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil {
			return d
		}
		return fmt.Sprintf("%010d", n)
	})
}

func fnSortByName(a *args) ([]*Series, error) {
	list := a.series(0)
	key := func(s *Series) string { return s.Name }
	if a.boolean(1, false) {
		key = naturalKey
	}
	rev := a.boolean(2, false)
	sort.SliceStable(list, func(i, j int) bool {
		if rev {
			return key(list[i]) > key(list[j])
		}
		return key(list[i]) < key(list[j])
	})
	return list, nil
}

func fnSortByMaxima(a *args) ([]*Series, error) {
	list := a.series(0)
	sortBySummary(list, maxOf, true)
	return list, nil
}

// fnSortByMinima drops the series whose maximum is not above 0, then
// sorts by minimum.
func fnSortByMinima(a *args) ([]*Series, error) {
	var list []*Series
	for _, s := range a.series(0) {
		if m := maxOf(s.Points()); !math.IsNaN(m) && m > 0 {
			list = append(list, s)
		}
	}
	sortBySummary(list, minOf, false)
	return list, nil
}

func fnSortByTotal(a *args) ([]*Series, error) {
	list := a.series(0)
	sortBySummary(list, sumOf, true)
	return list, nil
}

func fnSortBy(a *args) ([]*Series, error) {
	fn := a.str(1, "average")
	agg, ok := aggFuncs[fn]
	if !ok {
		return nil, a.errf("Unsupported aggregation function: %s", fn)
	}
	list := a.series(0)
	sortBySummary(list, agg, a.boolean(2, false))
	return list, nil
}
