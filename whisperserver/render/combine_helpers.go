package render

import (
	"fmt"
	"math"
	"strings"
)

// mapInPlace applies f to every non-null value and renames the series,
// whose pathExpression becomes its new name (as graphite-web does).
func mapInPlace(list []*Series, name func(*Series) string, f func(float64) float64) []*Series {
	for _, s := range list {
		s.Name = name(s)
		s.PathExpression = s.Name
		pts := s.Points()
		nv := make([]float64, len(pts))
		for i, v := range pts {
			if math.IsNaN(v) {
				nv[i] = v
			} else {
				nv[i] = f(v)
			}
		}
		if s.ValuesPerPoint > 1 {
			// graphite-web writes consolidated values over the raw head.
			copy(s.Values, nv)
		} else {
			s.Values = nv
		}
	}
	return list
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func lcm(a, b int64) int64 {
	if a == b {
		return a
	}
	return a / gcd(a, b) * b
}

// normalize gives every series the common step (least common multiple) by
// consolidation and returns the common start, end and step.
func normalize(lists ...[]*Series) (all []*Series, start, end, step int64, ok bool) {
	for _, l := range lists {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return nil, 0, 0, 0, false
	}
	step = all[0].Step
	start, end = all[0].Start, all[0].End
	for _, s := range all[1:] {
		step = lcm(step, s.Step)
	}
	for _, s := range all {
		s.ValuesPerPoint = int(step / s.Step)
		start = min(start, s.Start)
		end = max(end, s.End)
	}
	end -= (end - start) % step
	return all, start, end, step, true
}

// zipLongest returns the rows of the series' consolidated points, padded
// with NaN (izip_longest).
func zipLongest(list []*Series) [][]float64 {
	pts := make([][]float64, len(list))
	n := 0
	for i, s := range list {
		pts[i] = s.Points()
		n = max(n, len(pts[i]))
	}
	rows := make([][]float64, n)
	for r := range rows {
		row := make([]float64, len(list))
		for i := range list {
			if r < len(pts[i]) {
				row[i] = pts[i][r]
			} else {
				row[i] = math.NaN()
			}
		}
		rows[r] = row
	}
	return rows
}

func formatPathExpressions(list []*Series) string {
	var seen []string
	for _, s := range list {
		dup := false
		for _, p := range seen {
			if p == s.PathExpression {
				dup = true
				break
			}
		}
		if !dup {
			seen = append(seen, s.PathExpression)
		}
	}
	return strings.Join(seen, ",")
}

func aggregate(c *Context, lists [][]*Series, fn string, xff float64) []*Series {
	all, start, end, step, ok := normalize(lists...)
	if !ok {
		return nil
	}
	agg := aggFuncs[fn]
	rows := zipLongest(all)
	vals := make([]float64, len(rows))
	for i, row := range rows {
		nonNull := 0
		for _, v := range row {
			if !math.IsNaN(v) {
				nonNull++
			}
		}
		if nonNull > 0 && float64(nonNull)/float64(len(row)) >= xff {
			vals[i] = agg(row)
		} else {
			vals[i] = math.NaN()
		}
	}
	name := fmt.Sprintf("%sSeries(%s)", fn, formatPathExpressions(all))
	cf := all[0].ConsolidationFunc
	for _, s := range all {
		if s.ConsolidationFunc != cf {
			cf = "average"
		}
	}
	return []*Series{{Name: name, PathExpression: name, Start: start, End: end, Step: step, Values: vals,
		ValuesPerPoint: 1, ConsolidationFunc: cf, XFilesFactor: xff, Tags: aggregateTags(all, name, fn)}}
}

// aggregateTags are graphite-web's aggregate tags: those all series share,
// "name" the combined name unless shared, and aggregatedBy.
func aggregateTags(all []*Series, name, fn string) map[string]string {
	tags := cloneTags(all[0].TagMap())
	for _, s := range all[1:] {
		other := s.TagMap()
		for k, v := range tags {
			if ov, ok := other[k]; !ok || ov != v {
				delete(tags, k)
			}
		}
	}
	if _, ok := tags["name"]; !ok {
		tags["name"] = name
	}
	tags["aggregatedBy"] = fn
	return tags
}

// groupBy groups series by key (in first-seen order) and combines each
// group with an aggregation function ("sum") or a combining function name
// ("sumSeries"); each result is named by its key.
func groupBy(a *args, callback string, key func(*Series) string) ([]*Series, error) {
	fn := strings.TrimSuffix(callback, "Series")
	if _, ok := aggFuncs[fn]; !ok {
		return nil, a.errf("Unsupported aggregation function: %s", callback)
	}
	var keys []string
	groups := map[string][]*Series{}
	for _, s := range a.series(0) {
		k := key(s)
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], s)
	}
	out := make([]*Series, 0, len(keys))
	for _, k := range keys {
		res := aggregate(a.ctx, [][]*Series{groups[k]}, fn, a.ctx.XFilesFactor)
		if len(res) == 0 {
			continue
		}
		res[0].Name = k
		out = append(out, res[0])
	}
	return out, nil
}
