package render

import (
	"math"
	"strings"
)

// groupCallbacks are graphite-web's aggOrSeriesFunc options.
var groupCallbacks = []any{"asPercent", "average", "averageSeries", "averageSeriesWithWildcards", "avg", "avg_zero", "count", "countSeries", "current", "diff", "diffSeries", "diffSeriesLists", "last", "max", "maxSeries", "median", "min", "minSeries", "multiply", "multiplySeries", "multiplySeriesLists", "multiplySeriesWithWildcards", "pct", "powSeries", "range", "rangeOf", "rangeOfSeries", "stddev", "stddevSeries", "sum", "sumSeries", "sumSeriesLists", "sumSeriesWithWildcards", "total"}

func combineFunctions() []*Func {
	wildcards := []Param{pSeries, {Name: "position", Type: "node", Multiple: true}}
	return []*Func{
		{Name: "sumSeries", Group: "Combine", Params: []Param{pSeriesLists}, Fn: fnSumSeries},
		{Name: "sum", Group: "Combine", Params: []Param{pSeriesLists}, Fn: fnSumSeries},
		{Name: "averageSeries", Group: "Combine", Params: []Param{pSeriesLists}, Fn: fnAverageSeries},
		{Name: "avg", Group: "Combine", Params: []Param{pSeriesLists}, Fn: fnAverageSeries},
		{Name: "maxSeries", Group: "Combine", Params: []Param{pSeriesLists}, Fn: fnMaxSeries},
		{Name: "minSeries", Group: "Combine", Params: []Param{pSeriesLists}, Fn: fnMinSeries},
		{Name: "sumSeriesWithWildcards", Group: "Combine", Params: wildcards, Fn: fnSumSeriesWithWildcards},
		{Name: "averageSeriesWithWildcards", Group: "Combine", Params: wildcards, Fn: fnAverageSeriesWithWildcards},
		{Name: "groupByNode", Group: "Combine", Params: []Param{pSeries, {Name: "nodeNum", Type: "nodeOrTag", Required: true}, {Name: "callback", Type: "aggOrSeriesFunc", Default: "average", Options: groupCallbacks}}, Fn: fnGroupByNode},
		{Name: "groupByNodes", Group: "Combine", Params: []Param{pSeries, {Name: "callback", Type: "aggOrSeriesFunc", Required: true, Options: groupCallbacks}, {Name: "nodes", Type: "nodeOrTag", Multiple: true}}, Fn: fnGroupByNodes},
		{Name: "diffSeries", Group: "Combine", Params: []Param{pSeriesLists}, Fn: fnDiffSeries},
		{Name: "multiplySeries", Group: "Combine", Params: []Param{pSeriesLists}, Fn: fnMultiplySeries},
		{Name: "divideSeries", Group: "Combine", Params: []Param{{Name: "dividendSeriesList", Type: "seriesList", Required: true}, {Name: "divisorSeries", Type: "seriesList", Required: true}}, Fn: fnDivideSeries},
		{Name: "asPercent", Group: "Combine", Params: []Param{pSeries, {Name: "total", Type: "any"}, {Name: "nodes", Type: "nodeOrTag", Multiple: true}}, Fn: asPercent},
		{Name: "pct", Group: "Combine", Params: []Param{pSeries, {Name: "total", Type: "any"}, {Name: "nodes", Type: "nodeOrTag", Multiple: true}}, Fn: asPercent},
		{Name: "countSeries", Group: "Combine", Params: []Param{{Name: "seriesLists", Type: "seriesList", Multiple: true}}, Fn: fnCountSeries},
		{Name: "stddevSeries", Group: "Combine", Params: []Param{pSeriesLists}, Fn: combineBy("stddev")},
		{Name: "rangeOfSeries", Group: "Combine", Params: []Param{pSeriesLists}, Fn: combineBy("rangeOf")},
		{Name: "aggregate", Group: "Combine", Params: []Param{pSeries, {Name: "func", Type: "aggFunc", Required: true, Options: aggFuncOptions}, {Name: "xFilesFactor", Type: "float"}}, Fn: fnAggregate},
		{Name: "aggregateSeriesLists", Group: "Combine", Params: []Param{pFirstPos, pSecondPos, {Name: "func", Type: "aggFunc", Required: true, Options: aggFuncOptions}, {Name: "xFilesFactor", Type: "float"}}, Fn: fnAggregateSeriesLists},
		{Name: "sumSeriesLists", Group: "Combine", Params: []Param{pFirstPos, pSecondPos}, Fn: pairwiseBy("sum")},
		{Name: "diffSeriesLists", Group: "Combine", Params: []Param{pFirstPos, pSecondPos}, Fn: pairwiseBy("diff")},
		{Name: "multiplySeriesLists", Group: "Combine", Params: []Param{pFirstPos, pSecondPos}, Fn: pairwiseBy("multiply")},
		{Name: "divideSeriesLists", Group: "Combine", Params: []Param{{Name: "dividendSeriesList", Type: "seriesList", Required: true}, {Name: "divisorSeriesList", Type: "seriesList", Required: true}}, Fn: fnDivideSeriesLists},
		{Name: "aggregateWithWildcards", Group: "Combine", Params: []Param{pSeries, {Name: "func", Type: "aggFunc", Required: true, Options: aggFuncOptions}, {Name: "position", Type: "node", Multiple: true, Kwarg: "positions"}}, Fn: fnAggregateWithWildcards},
		{Name: "multiplySeriesWithWildcards", Group: "Combine", Params: wildcards, Fn: fnMultiplySeriesWithWildcards},
		{Name: "percentileOfSeries", Group: "Combine", Params: []Param{pSeries, {Name: "n", Type: "float", Required: true}, {Name: "interpolate", Type: "boolean", Default: false}}, Fn: fnPercentileOfSeries},
		{Name: "weightedAverage", Group: "Combine", Params: []Param{{Name: "seriesListAvg", Type: "seriesList", Required: true}, {Name: "seriesListWeight", Type: "seriesList", Required: true}, {Name: "nodes", Type: "nodeOrTag", Multiple: true}}, Fn: fnWeightedAverage},
		{Name: "group", Group: "Combine", Params: []Param{{Name: "seriesLists", Type: "seriesList", Multiple: true}}, Fn: fnGroup},
		{Name: "applyByNode", Group: "Combine", Params: []Param{pSeries, {Name: "nodeNum", Type: "node", Required: true}, {Name: "templateFunction", Type: "string", Required: true}, {Name: "newName", Type: "string"}}, Fn: fnApplyByNode},
		{Name: "mapSeries", Group: "Combine", Params: mapParams, ListsFn: fnMapSeries},
		{Name: "map", Group: "Combine", Params: mapParams, ListsFn: fnMapSeries},
		{Name: "reduceSeries", Group: "Combine", Params: reduceParams, Fn: fnReduceSeries},
		{Name: "reduce", Group: "Combine", Params: reduceParams, Fn: fnReduceSeries},
	}
}

var (
	pFirstPos    = Param{Name: "seriesListFirstPos", Type: "seriesList", Required: true}
	pSecondPos   = Param{Name: "seriesListSecondPos", Type: "seriesList", Required: true}
	mapParams    = []Param{pSeries, {Name: "mapNodes", Type: "nodeOrTag", Required: true, Multiple: true}}
	reduceParams = []Param{{Name: "seriesLists", Type: "seriesLists", Required: true}, {Name: "reduceFunction", Type: "string", Required: true}, {Name: "reduceNode", Type: "node", Required: true}, {Name: "reduceMatchers", Type: "string", Required: true, Multiple: true}}
)

// combineBy is the shape of sumSeries and its kin: every list combined
// into one series by an aggregation function at each point.
func combineBy(agg string) func(a *args) ([]*Series, error) {
	return func(a *args) ([]*Series, error) {
		return aggregate(a.ctx, a.seriesLists(), agg, a.ctx.XFilesFactor), nil
	}
}

func fnSumSeries(a *args) ([]*Series, error)     { return combineBy("sum")(a) }
func fnAverageSeries(a *args) ([]*Series, error) { return combineBy("average")(a) }
func fnMaxSeries(a *args) ([]*Series, error)     { return combineBy("max")(a) }
func fnMinSeries(a *args) ([]*Series, error)     { return combineBy("min")(a) }
func fnDiffSeries(a *args) ([]*Series, error)    { return combineBy("diff")(a) }

func fnMultiplySeries(a *args) ([]*Series, error) {
	lists := a.seriesLists()
	if len(lists) == 1 && len(lists[0]) == 1 {
		return lists[0], nil
	}
	return aggregate(a.ctx, lists, "multiply", a.ctx.XFilesFactor), nil
}

// fnCountSeries is the number of series at every point (a constant line
// at 0 over the request when there are none).
func fnCountSeries(a *args) ([]*Series, error) {
	all, start, end, step, ok := normalize(a.seriesLists()...)
	if !ok {
		z := constantSeries(a.ctx, 0, "0")
		z.PathExpression = "countSeries()"
		z.IntValues = true
		return []*Series{z}, nil
	}
	name := "countSeries(" + formatPathExpressions(all) + ")"
	rows := zipLongest(all)
	vals := make([]float64, len(rows))
	for i := range vals {
		vals[i] = float64(len(all))
	}
	return []*Series{{Name: name, PathExpression: name, Start: start, End: end, Step: step, Values: vals,
		ValuesPerPoint: 1, ConsolidationFunc: "average", XFilesFactor: a.ctx.XFilesFactor, IntValues: true}}, nil
}

// fnAggregate is aggregate(seriesList, func, xFilesFactor).
func fnAggregate(a *args) ([]*Series, error) {
	fn := strings.TrimSuffix(a.str(1, ""), "Series")
	if _, ok := aggFuncs[fn]; !ok {
		return nil, a.errf("Unsupported aggregation function: %s", a.str(1, ""))
	}
	return aggregate(a.ctx, [][]*Series{a.series(0)}, fn, a.num(2, a.ctx.XFilesFactor)), nil
}

func withoutPositions(a *args) func(*Series) string {
	drop := map[int]bool{}
	for _, v := range a.extra {
		drop[int(v.Num)] = true
	}
	return func(s *Series) string {
		var keep []string
		for i, p := range strings.Split(s.Name, ".") {
			if !drop[i] {
				keep = append(keep, p)
			}
		}
		return strings.Join(keep, ".")
	}
}

func fnSumSeriesWithWildcards(a *args) ([]*Series, error) {
	return groupBy(a, "sum", withoutPositions(a))
}

func fnAverageSeriesWithWildcards(a *args) ([]*Series, error) {
	return groupBy(a, "average", withoutPositions(a))
}

func fnGroupByNode(a *args) ([]*Series, error) {
	nodes := []Value{a.vals[1]}
	if err := groupNodesInRange(a, nodes); err != nil {
		return nil, err
	}
	return groupBy(a, a.str(2, "average"), func(s *Series) string { return aggKey(s, nodes) })
}

func fnGroupByNodes(a *args) ([]*Series, error) {
	if err := groupNodesInRange(a, a.extra); err != nil {
		return nil, err
	}
	return groupBy(a, a.str(1, "average"), func(s *Series) string { return aggKey(s, a.extra) })
}

// groupNodesInRange refuses node positions a grouped series does not
// have (as aliasByNode does), so no group is keyed "".
func groupNodesInRange(a *args, nodes []Value) error {
	for _, s := range a.series(0) {
		if err := nodesInRange(s, nodes); err != nil {
			return a.errf("%v", err)
		}
	}
	return nil
}

func fnDivideSeries(a *args) ([]*Series, error) {
	dividends, divisors := a.series(0), a.series(1)
	if len(divisors) == 0 {
		for _, s := range dividends {
			s.Name = "divideSeries(" + s.Name + ",MISSING)"
			s.PathExpression = s.Name
			for i := range s.Values {
				s.Values[i] = math.NaN()
			}
		}
		return dividends, nil
	}
	if len(divisors) > 1 {
		return nil, a.errf("divideSeries second argument must reference exactly 1 series (got %d)", len(divisors))
	}
	d := divisors[0]
	var out []*Series
	for _, s := range dividends {
		_, start, end, step, _ := normalize([]*Series{s, d})
		rows := zipLongest([]*Series{s, d})
		vals := make([]float64, len(rows))
		for i, r := range rows {
			if math.IsNaN(r[0]) || math.IsNaN(r[1]) || r[1] == 0 {
				vals[i] = math.NaN()
			} else {
				vals[i] = r[0] / r[1]
			}
		}
		name := "divideSeries(" + s.Name + "," + d.Name + ")"
		out = append(out, &Series{Name: name, PathExpression: name, Start: start, End: end, Step: step, Values: vals,
			ValuesPerPoint: 1, ConsolidationFunc: "average", XFilesFactor: a.ctx.XFilesFactor})
	}
	return out, nil
}
