package render

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// pairwise combines the i-th series of two lists with an aggregation
// function (graphite-web's aggregateSeriesLists), naming each result
// fnSeries(first,second).
func pairwise(a *args, fn string, xff float64) ([]*Series, error) {
	first, second := a.series(0), a.series(1)
	if len(first) != len(second) {
		return nil, a.errf("seriesListFirstPos and seriesListSecondPos argument must have equal length")
	}
	name := strings.TrimSuffix(fn, "Series")
	if _, ok := aggFuncs[name]; !ok {
		return nil, a.errf("Unsupported aggregation function: %s", fn)
	}
	out := make([]*Series, 0, len(first))
	for i := range first {
		f, s := first[i], second[i]
		res := aggregate(a.ctx, [][]*Series{{f, s}}, name, xff)
		if len(res) == 0 {
			continue
		}
		res[0].Name = name + "Series(" + f.Name + "," + s.Name + ")"
		out = append(out, res[0])
	}
	return out, nil
}

func pairwiseBy(fn string) func(a *args) ([]*Series, error) {
	return func(a *args) ([]*Series, error) { return pairwise(a, fn, a.ctx.XFilesFactor) }
}

func fnAggregateSeriesLists(a *args) ([]*Series, error) {
	return pairwise(a, a.str(2, ""), a.num(3, a.ctx.XFilesFactor))
}

func fnDivideSeriesLists(a *args) ([]*Series, error) {
	dividends, divisors := a.series(0), a.series(1)
	if len(dividends) != len(divisors) {
		return nil, a.errf("dividendSeriesList and divisorSeriesList argument must have equal length")
	}
	out := make([]*Series, 0, len(dividends))
	for i := range dividends {
		pair := []*Series{dividends[i], divisors[i]}
		_, start, end, step, _ := normalize(pair)
		rows := zipLongest(pair)
		vals := make([]float64, len(rows))
		for j, r := range rows {
			vals[j] = safeDiv(r[0], r[1])
		}
		name := "divideSeries(" + pair[0].Name + "," + pair[1].Name + ")"
		out = append(out, &Series{Name: name, PathExpression: name, Start: start, End: end, Step: step, Values: vals,
			ValuesPerPoint: 1, ConsolidationFunc: "average", XFilesFactor: a.ctx.XFilesFactor})
	}
	return out, nil
}

// safeDiv is graphite-web's safe.safeDiv: null for a null or zero divisor.
func safeDiv(x, y float64) float64 {
	if math.IsNaN(x) || math.IsNaN(y) || y == 0 {
		return math.NaN()
	}
	return x / y
}

func fnAggregateWithWildcards(a *args) ([]*Series, error) {
	return groupBy(a, a.str(1, ""), withoutPositions(a))
}

func fnMultiplySeriesWithWildcards(a *args) ([]*Series, error) {
	return groupBy(a, "multiply", withoutPositions(a))
}

func fnPercentileOfSeries(a *args) ([]*Series, error) {
	n := a.num(1, 0)
	if n <= 0 {
		return nil, a.errf("The requested percent is required to be greater than 0")
	}
	list := a.series(0)
	if len(list) == 0 {
		return nil, nil
	}
	name := fmt.Sprintf("percentileOfSeries(%s,%s)", list[0].PathExpression, PyG(n))
	_, start, end, step, _ := normalize(list)
	interpolate := a.boolean(2, false)
	rows := zipLongest(list)
	vals := make([]float64, len(rows))
	for i, r := range rows {
		vals[i] = percentile(r, n, interpolate)
	}
	return []*Series{{Name: name, PathExpression: name, Start: start, End: end, Step: step, Values: vals,
		ValuesPerPoint: 1, ConsolidationFunc: "average", XFilesFactor: a.ctx.XFilesFactor}}, nil
}

// fnWeightedAverage pairs value and weight series by their nodes, sums
// the products and divides by the sum of all weights.
func fnWeightedAverage(a *args) ([]*Series, error) {
	avgs, weights := a.series(0), a.series(1)
	if len(avgs) != len(weights) {
		return nil, a.errf("weightedAverage must receive the same number of series for seriesListAvg and seriesListWeight but received respectively %d and %d", len(avgs), len(weights))
	}
	type pair struct{ avg, weight *Series }
	var keys []string
	pairs := map[string]*pair{}
	get := func(k string) *pair {
		if p, ok := pairs[k]; ok {
			return p
		}
		keys = append(keys, k)
		pairs[k] = &pair{}
		return pairs[k]
	}
	for i := range avgs {
		get(aggKey(avgs[i], a.extra)).avg = avgs[i]
		get(aggKey(weights[i], a.extra)).weight = weights[i]
	}
	var products []*Series
	for _, k := range keys {
		p := pairs[k]
		if p.avg == nil || p.weight == nil {
			continue
		}
		rows := zipLongest([]*Series{p.avg, p.weight})
		vals := make([]float64, len(rows))
		for i, r := range rows {
			vals[i] = r[0] * r[1] // NaN when either is null, as safeMul
		}
		name := "product(" + p.weight.Name + "," + p.avg.Name + ")"
		products = append(products, &Series{Name: name, PathExpression: name, Start: p.avg.Start, End: p.avg.End,
			Step: p.avg.Step, Values: vals, ValuesPerPoint: 1, ConsolidationFunc: "average", XFilesFactor: a.ctx.XFilesFactor})
	}
	if len(products) == 0 {
		return nil, nil
	}
	sumProducts := aggregate(a.ctx, [][]*Series{products}, "sum", a.ctx.XFilesFactor)[0]
	sumWeights := aggregate(a.ctx, [][]*Series{weights}, "sum", a.ctx.XFilesFactor)[0]
	rows := zipLongest([]*Series{sumProducts, sumWeights})
	vals := make([]float64, len(rows))
	for i, r := range rows {
		vals[i] = safeDiv(r[0], r[1])
	}
	var nodes []string
	for _, v := range a.extra {
		if v.Kind == KindNumber {
			nodes = append(nodes, PyRepr(v.Num))
			if v.IsInt {
				nodes[len(nodes)-1] = fmt.Sprint(int64(v.Num))
			}
		} else {
			nodes = append(nodes, v.Str)
		}
	}
	name := fmt.Sprintf("weightedAverage(%s, %s, %s)", sortedPathExpressions(avgs), sortedPathExpressions(weights), strings.Join(nodes, ","))
	return []*Series{{Name: name, PathExpression: name, Start: sumProducts.Start, End: sumProducts.End, Step: sumProducts.Step,
		Values: vals, ValuesPerPoint: 1, ConsolidationFunc: "average", XFilesFactor: a.ctx.XFilesFactor}}, nil
}

// sortedPathExpressions is ','.join(sorted(set(pathExpressions))).
func sortedPathExpressions(list []*Series) string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s.PathExpression] {
			seen[s.PathExpression] = true
			out = append(out, s.PathExpression)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func fnGroup(a *args) ([]*Series, error) {
	var out []*Series
	for _, l := range a.seriesLists() {
		out = append(out, l...)
	}
	return out, nil
}

// fnApplyByNode evaluates the template (every % replaced by the prefix
// of nodes 0..nodeNum) once per distinct prefix, in sorted order.
func fnApplyByNode(a *args) ([]*Series, error) {
	list := a.series(0)
	node := int(a.num(1, 0))
	seen := map[string]bool{}
	var prefixes []string
	for _, s := range list {
		p := strings.Join(pySlice(strings.Split(s.Name, "."), 0, node+1, false, true), ".")
		if !seen[p] {
			seen[p] = true
			prefixes = append(prefixes, p)
		}
	}
	sort.Strings(prefixes)
	var out []*Series
	for _, p := range prefixes {
		res, err := a.evalTarget(strings.ReplaceAll(a.str(2, ""), "%", p))
		if err != nil {
			return nil, err
		}
		for _, r := range res {
			if nn := a.str(3, ""); nn != "" {
				r.Name = strings.ReplaceAll(nn, "%", p)
			}
			r.PathExpression = p
			// graphite-web takes the last input series' range.
			last := list[len(list)-1]
			r.Start, r.End = last.Start, last.End
			out = append(out, r)
		}
	}
	return out, nil
}

// pySlice is Python's list[i:j] (hasI/hasJ false for an omitted bound).
func pySlice[T any](l []T, i, j int, omitI, hasJ bool) []T {
	n := len(l)
	fix := func(x int) int {
		if x < 0 {
			x += n
		}
		return min(max(x, 0), n)
	}
	lo, hi := 0, n
	if !omitI {
		lo = fix(i)
	}
	if hasJ {
		hi = fix(j)
	}
	if lo >= hi {
		return nil
	}
	return l[lo:hi]
}

// fnMapSeries groups series by their nodes into a list of lists, for
// reduceSeries.
func fnMapSeries(a *args) ([][]*Series, error) {
	var keys []string
	groups := map[string][]*Series{}
	for _, s := range a.series(0) {
		k := aggKey(s, a.extra)
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], s)
	}
	out := make([][]*Series, 0, len(keys))
	for _, k := range keys {
		out = append(out, groups[k])
	}
	return out, nil
}

// fnReduceSeries calls the reduce function with the matched series of
// each mapped list, one argument per matcher, and names the result
// prefix.reduce.function.
func fnReduceSeries(a *args) ([]*Series, error) {
	lists := a.vals[0].Lists
	if lists == nil {
		// graphite-web iterates a series' values as if they were series.
		return nil, a.errf("seriesLists must come from mapSeries")
	}
	fname := a.str(1, "")
	f, ok := functions[fname]
	if !ok {
		return nil, a.errf("Received request for unknown function: %s", fname)
	}
	node := int(a.num(2, 0))
	var matchers []string
	for _, v := range a.extra {
		matchers = append(matchers, v.Str)
	}
	var keys []string
	groups := map[string][]*Series{}
	for _, l := range lists {
		for _, s := range l {
			nodes := strings.Split(s.Name, ".")
			i := node
			if i < 0 {
				i += len(nodes)
			}
			if i < 0 || i >= len(nodes) {
				return nil, a.errf("reduceNode %d is out of range for %s", node, s.Name)
			}
			key := strings.Join(pySlice(nodes, 0, node, false, true), ".") + ".reduce." + fname
			for m, want := range matchers {
				if nodes[i] != want {
					continue
				}
				if _, ok := groups[key]; !ok {
					groups[key] = make([]*Series, len(matchers))
					keys = append(keys, key)
				}
				groups[key][m] = s
				break
			}
		}
	}
	out := make([]*Series, 0, len(keys))
	for _, k := range keys {
		pos := make([]Value, len(matchers))
		for m, s := range groups[k] {
			if s == nil {
				return nil, a.errf("%s has no series for %q", k, matchers[m])
			}
			pos[m] = Value{Kind: KindCall, Series: []*Series{s}, Expr: a.call}
		}
		v, err := a.ctx.apply(f, a.call, pos, nil)
		if err != nil {
			return nil, err
		}
		if len(v.Series) == 0 {
			return nil, a.errf("%s returned no series for %s", fname, k)
		}
		r := v.Series[0]
		// graphite-web renames the result; its tags keep the old name.
		r.Tags = cloneTags(r.TagMap())
		r.Name = k
		out = append(out, r)
	}
	return out, nil
}
