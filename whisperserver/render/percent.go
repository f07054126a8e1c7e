package render

import (
	"fmt"
	"math"
	"sort"
)

func safeDivPct(v, t float64) float64 {
	if math.IsNaN(v) || math.IsNaN(t) || t == 0 {
		return math.NaN()
	}
	return v / t * 100.0
}

func asPercent(a *args) ([]*Series, error) {
	list := a.series(0)
	xff := a.ctx.XFilesFactor
	normalize(list)
	total := a.vals[1]
	hasTotal := a.has(1)
	if hasTotal && !total.isSeries() && total.Kind != KindNumber {
		return nil, a.errf("total must be None, a number or a seriesList")
	}
	newSeries := func(name string, start, end, step int64, vals []float64) *Series {
		return &Series{Name: name, PathExpression: name, Start: start, End: end, Step: step, Values: vals,
			ValuesPerPoint: 1, ConsolidationFunc: "average", XFilesFactor: xff}
	}
	pct := func(s1, s2 *Series) *Series {
		_, start, end, step, _ := normalize([]*Series{s1, s2})
		rows := zipLongest([]*Series{s1, s2})
		vals := make([]float64, len(rows))
		for i, r := range rows {
			vals[i] = safeDivPct(r[0], r[1])
		}
		return newSeries(fmt.Sprintf("asPercent(%s,%s)", s1.Name, s2.Name), start, end, step, vals)
	}
	sumOfGroup := func(group []*Series) *Series {
		if len(group) == 1 {
			return group[0]
		}
		_, start, end, step, _ := normalize(group)
		rows := zipLongest(group)
		vals := make([]float64, len(rows))
		for i, r := range rows {
			vals[i] = sumOf(r)
		}
		return newSeries("sumSeries("+formatPathExpressions(group)+")", start, end, step, vals)
	}
	if len(a.extra) > 0 {
		var keys []string
		groups := map[string][]*Series{}
		for _, s := range list {
			k := aggKey(s, a.extra)
			if _, ok := groups[k]; !ok {
				keys = append(keys, k)
			}
			groups[k] = append(groups[k], s)
		}
		totals := map[string]*Series{}
		if !hasTotal {
			for _, k := range keys {
				totals[k] = sumOfGroup(groups[k])
			}
		} else if total.isSeries() {
			tg := map[string][]*Series{}
			var tkeys []string
			for _, s := range total.Series {
				k := aggKey(s, a.extra)
				if _, ok := tg[k]; !ok {
					tkeys = append(tkeys, k)
					if _, known := groups[k]; !known {
						keys = append(keys, k)
					}
				}
				tg[k] = append(tg[k], s)
			}
			for _, k := range tkeys {
				totals[k] = sumOfGroup(tg[k])
			}
		} else {
			return nil, a.errf("total must be None or a seriesList")
		}
		var out []*Series
		for _, k := range keys {
			g, ok := groups[k]
			if !ok {
				t := totals[k]
				vals := make([]float64, len(t.Points()))
				for i := range vals {
					vals[i] = math.NaN()
				}
				out = append(out, newSeries(fmt.Sprintf("asPercent(MISSING,%s)", t.Name), t.Start, t.End, t.Step, vals))
				continue
			}
			for _, s1 := range g {
				t, ok := totals[k]
				if !ok {
					vals := make([]float64, len(s1.Points()))
					for i := range vals {
						vals[i] = math.NaN()
					}
					out = append(out, newSeries(fmt.Sprintf("asPercent(%s,MISSING)", s1.Name), s1.Start, s1.End, s1.Step, vals))
					continue
				}
				out = append(out, pct(s1, t))
			}
		}
		return out, nil
	}
	var totalVals []float64
	var totalText string
	switch {
	case !hasTotal:
		for _, r := range zipLongest(list) {
			totalVals = append(totalVals, sumOf(r))
		}
		totalText = "sumSeries(" + formatPathExpressions(list) + ")"
	case total.isSeries():
		ts := total.Series
		if len(ts) != 1 && len(ts) != len(list) {
			return nil, a.errf("asPercent second argument must be missing, a single digit, reference exactly 1 series or reference the same number of series as the first argument")
		}
		if len(ts) == len(list) && len(ts) != 1 {
			s1 := append([]*Series(nil), list...)
			s2 := append([]*Series(nil), ts...)
			sort.SliceStable(s1, func(i, j int) bool { return s1[i].Name < s1[j].Name })
			sort.SliceStable(s2, func(i, j int) bool { return s2[i].Name < s2[j].Name })
			var out []*Series
			for i := range s1 {
				out = append(out, pct(s1[i], s2[i]))
			}
			return out, nil
		}
		normalize(list, ts)
		totalVals = ts[0].Points()
		totalText = ts[0].Name
	default:
		n := 0
		if len(list) > 0 {
			n = len(list[0].Points())
		}
		for i := 0; i < n; i++ {
			totalVals = append(totalVals, total.Num)
		}
		totalText = pyNum(total.Num, total.IsInt)
	}
	var out []*Series
	for _, s := range list {
		pts := s.Points()
		n := max(len(pts), len(totalVals))
		vals := make([]float64, n)
		for i := range vals {
			v, t := math.NaN(), math.NaN()
			if i < len(pts) {
				v = pts[i]
			}
			if i < len(totalVals) {
				t = totalVals[i]
			}
			vals[i] = safeDivPct(v, t)
		}
		tt := totalText
		if tt == "" {
			tt = s.PathExpression
		}
		out = append(out, newSeries(fmt.Sprintf("asPercent(%s,%s)", s.Name, tt), s.Start, s.End, s.Step, vals))
	}
	return out, nil
}
