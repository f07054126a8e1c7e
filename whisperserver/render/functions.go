package render

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/attime"
)

// Param describes a function parameter (as graphite-web's /functions lists it).
type Param struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Required bool     `json:"required,omitempty"`
	Multiple bool     `json:"multiple,omitempty"`
	Default  any      `json:"default,omitempty"`
	Options  []string `json:"options,omitempty"`
}

// Func is one render function.
type Func struct {
	Name        string
	Group       string
	Description string
	Params      []Param
	Fn          func(a *args) ([]*Series, error)
}

var (
	pSeries        = Param{Name: "seriesList", Type: "seriesList", Required: true}
	pSeriesLists   = Param{Name: "seriesLists", Type: "seriesList", Required: true, Multiple: true}
	consolidations = []string{"sum", "average", "avg", "avg_zero", "min", "max", "first", "last"}
	aggFuncNames   = []string{"average", "avg", "avg_zero", "median", "sum", "total", "min", "max", "diff", "stddev", "count", "range", "rangeOf", "multiply", "last", "current"}
)

var functions = map[string]*Func{}

// maxBuckets bounds what one function may allocate from its arguments
// (summarize buckets, movingAverage windows).
const maxBuckets = 10_000_000

func register(f *Func) { functions[f.Name] = f }

func init() {
	for _, agg := range []string{"sum", "average", "max", "min"} {
		agg := agg
		register(&Func{Name: agg + "Series", Group: "Combine", Params: []Param{pSeriesLists},
			Description: "Combines series into one by " + agg + " at each point (graphite's " + agg + "Series).",
			Fn: func(a *args) ([]*Series, error) {
				return aggregate(a.ctx, a.seriesLists(), agg, a.ctx.XFilesFactor), nil
			}})
	}
	for _, agg := range []string{"sum", "average"} {
		agg := agg
		register(&Func{Name: agg + "SeriesWithWildcards", Group: "Combine",
			Description: "Combines series by " + agg + ", grouping by their names without the given node positions.",
			Params:      []Param{pSeries, {Name: "position", Type: "node", Multiple: true}},
			Fn: func(a *args) ([]*Series, error) {
				drop := map[int]bool{}
				for _, v := range a.extra {
					drop[int(v.Num)] = true
				}
				return groupBy(a, agg, func(s *Series) string {
					var keep []string
					for i, p := range strings.Split(s.Name, ".") {
						if !drop[i] {
							keep = append(keep, p)
						}
					}
					return strings.Join(keep, ".")
				})
			}})
	}
	register(&Func{Name: "groupByNode", Group: "Combine", Description: "Groups series by one node of their path and combines each group with callback (an aggregation such as sum, average, max, or a function name such as sumSeries).",
		Params: []Param{pSeries, {Name: "nodeNum", Type: "nodeOrTag", Required: true}, {Name: "callback", Type: "aggOrSeriesFunc", Default: "average"}},
		Fn: func(a *args) ([]*Series, error) {
			nodes := []Value{a.vals[1]}
			if err := checkNodes(a, a.series(0), nodes); err != nil {
				return nil, err
			}
			return groupBy(a, a.str(2, "average"), func(s *Series) string { return aggKey(s, nodes) })
		}})
	register(&Func{Name: "groupByNodes", Group: "Combine", Description: "Like groupByNode with several nodes forming the group key.",
		Params: []Param{pSeries, {Name: "callback", Type: "aggOrSeriesFunc", Required: true}, {Name: "nodes", Type: "nodeOrTag", Multiple: true}},
		Fn: func(a *args) ([]*Series, error) {
			if err := checkNodes(a, a.series(0), a.extra); err != nil {
				return nil, err
			}
			return groupBy(a, a.str(1, "average"), func(s *Series) string { return aggKey(s, a.extra) })
		}})
	register(&Func{Name: "aliasByMetric", Group: "Alias", Description: "Names each series by the last node of its metric path.",
		Params: []Param{pSeries},
		Fn: func(a *args) ([]*Series, error) {
			out := a.series(0)
			for _, s := range out {
				name := s.Name
				left := strings.LastIndexByte(name, '(') + 1
				right := strings.IndexByte(name, ')')
				if right < 0 {
					right = len(name)
				}
				clean := ""
				if left <= right {
					clean = name[left:right]
				}
				parts := strings.Split(clean, ".")
				n := parts[len(parts)-1]
				if i := strings.IndexByte(n, ','); i >= 0 {
					n = n[:i]
				}
				s.Name = n
			}
			return out, nil
		}})
	register(&Func{Name: "diffSeries", Group: "Combine", Params: []Param{pSeriesLists},
		Description: "Subtracts series 2 through n from series 1 at each point.",
		Fn: func(a *args) ([]*Series, error) {
			return aggregate(a.ctx, a.seriesLists(), "diff", a.ctx.XFilesFactor), nil
		}})
	register(&Func{Name: "multiplySeries", Group: "Combine", Params: []Param{pSeriesLists},
		Description: "Multiplies the series at each point (null if any is null).",
		Fn: func(a *args) ([]*Series, error) {
			lists := a.seriesLists()
			if len(lists) == 1 && len(lists[0]) == 1 {
				return lists[0], nil
			}
			return aggregate(a.ctx, lists, "multiply", a.ctx.XFilesFactor), nil
		}})
	register(&Func{Name: "divideSeries", Group: "Combine", Description: "Divides each series by the single divisor series.",
		Params: []Param{{Name: "dividendSeriesList", Type: "seriesList", Required: true}, {Name: "divisorSeries", Type: "seriesList", Required: true}},
		Fn: func(a *args) ([]*Series, error) {
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
		}})
	for _, g := range []struct {
		name string
		keep bool
	}{{"grep", true}, {"exclude", false}} {
		g := g
		register(&Func{Name: g.name, Group: "Filter Series", Description: "Keeps (grep) or drops (exclude) the series whose name matches a regular expression.",
			Params: []Param{pSeries, {Name: "pattern", Type: "string", Required: true}},
			Fn: func(a *args) ([]*Series, error) {
				re, err := regexp.Compile(a.str(1, ""))
				if err != nil {
					return nil, a.errf("bad regular expression: %v", err)
				}
				var out []*Series
				for _, s := range a.series(0) {
					if re.MatchString(s.Name) == g.keep {
						out = append(out, s)
					}
				}
				return out, nil
			}})
	}
	for _, rm := range []struct {
		name  string
		above bool
	}{{"removeAboveValue", true}, {"removeBelowValue", false}} {
		rm := rm
		register(&Func{Name: rm.name, Group: "Filter Data", Description: "Turns points above (or below) n into nulls.",
			Params: []Param{pSeries, {Name: "n", Type: "float", Required: true}},
			Fn: func(a *args) ([]*Series, error) {
				n := a.num(1, 0)
				out := a.series(0)
				for _, s := range out {
					s.Name = fmt.Sprintf("%s(%s, %s)", rm.name, s.Name, PyG(n))
					s.PathExpression = s.Name
					pts := s.Points()
					for i, v := range pts {
						if (rm.above && !math.IsNaN(v) && v > n) || (!rm.above && (math.IsNaN(v) || v < n)) {
							s.Values[i] = math.NaN()
						} else if s.ValuesPerPoint > 1 {
							s.Values[i] = v
						}
					}
				}
				return out, nil
			}})
	}
	register(&Func{Name: "removeEmptySeries", Group: "Filter Series", Description: "Drops series without data (or with less than xFilesFactor of it).",
		Params: []Param{pSeries, {Name: "xFilesFactor", Type: "float"}},
		Fn: func(a *args) ([]*Series, error) {
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
		}})
	for _, l := range []struct{ name, fn string }{{"lowestAverage", "average"}, {"lowestCurrent", "current"}} {
		register(&Func{Name: l.name, Group: "Filter Series", Description: "The n series with the lowest " + l.fn + " value.",
			Params: []Param{pSeries, {Name: "n", Type: "integer", Required: true}},
			Fn:     rankedSeries(l.fn, false)})
	}
	register(&Func{Name: "alias", Group: "Alias", Description: "Renames every series.",
		Params: []Param{pSeries, {Name: "newName", Type: "string", Required: true}},
		Fn: func(a *args) ([]*Series, error) {
			out := a.series(0)
			for _, s := range out {
				s.Name = a.str(1, "")
			}
			return out, nil
		}})
	register(&Func{Name: "aliasByNode", Group: "Alias", Description: "Names series by the given node(s) of their path (0-based, negative from the end).",
		Params: []Param{pSeries, {Name: "nodes", Type: "nodeOrTag", Required: true, Multiple: true}},
		Fn: func(a *args) ([]*Series, error) {
			out := a.series(0)
			if err := checkNodes(a, out, a.extra); err != nil {
				return nil, err
			}
			for _, s := range out {
				s.Name = aggKey(s, a.extra)
			}
			return out, nil
		}})
	register(&Func{Name: "aliasSub", Group: "Alias", Description: `Runs series names through a regular expression search and replace (\1 refers to a group).`,
		Params: []Param{pSeries, {Name: "search", Type: "string", Required: true}, {Name: "replace", Type: "string", Required: true}},
		Fn: func(a *args) ([]*Series, error) {
			re, err := regexp.Compile(a.str(1, ""))
			if err != nil {
				return nil, a.errf("bad regular expression: %v", err)
			}
			repl := pyReplacement(a.str(2, ""))
			out := a.series(0)
			for _, s := range out {
				s.Name = re.ReplaceAllString(s.Name, repl)
			}
			return out, nil
		}})
	register(&Func{Name: "scale", Group: "Transform", Description: "Multiplies every value by factor.",
		Params: []Param{pSeries, {Name: "factor", Type: "float", Required: true}},
		Fn: func(a *args) ([]*Series, error) {
			f := a.num(1, 1)
			return mapInPlace(a.series(0), func(s *Series) string { return fmt.Sprintf("scale(%s,%s)", s.Name, PyG(f)) },
				func(v float64) float64 { return v * f }), nil
		}})
	register(&Func{Name: "offset", Group: "Transform", Description: "Adds factor to every value.",
		Params: []Param{pSeries, {Name: "factor", Type: "float", Required: true}},
		Fn: func(a *args) ([]*Series, error) {
			f := a.num(1, 0)
			return mapInPlace(a.series(0), func(s *Series) string { return fmt.Sprintf("offset(%s,%s)", s.Name, PyG(f)) },
				func(v float64) float64 { return v + f }), nil
		}})
	register(&Func{Name: "absolute", Group: "Transform", Description: "Absolute value of every point.",
		Params: []Param{pSeries},
		Fn: func(a *args) ([]*Series, error) {
			return mapInPlace(a.series(0), func(s *Series) string { return "absolute(" + s.Name + ")" }, math.Abs), nil
		}})
	register(&Func{Name: "derivative", Group: "Transform", Description: "Difference between each point and the previous one.",
		Params: []Param{pSeries},
		Fn: func(a *args) ([]*Series, error) {
			var out []*Series
			for _, s := range a.series(0) {
				pts := s.Points()
				nv := make([]float64, len(pts))
				prev := math.NaN()
				for i, v := range pts {
					if math.IsNaN(prev) || math.IsNaN(v) {
						nv[i] = math.NaN()
					} else {
						nv[i] = v - prev
					}
					prev = v
				}
				out = append(out, s.derive("derivative("+s.Name+")", nv))
			}
			return out, nil
		}})
	deltaParams := []Param{pSeries, {Name: "maxValue", Type: "float"}, {Name: "minValue", Type: "float"}}
	register(&Func{Name: "nonNegativeDerivative", Group: "Transform", Description: "Derivative ignoring drops (counter wraps/resets; maxValue/minValue for wrapping counters).",
		Params: deltaParams,
		Fn: func(a *args) ([]*Series, error) {
			return nonNegative(a, "nonNegativeDerivative", false), nil
		}})
	register(&Func{Name: "perSecond", Group: "Transform", Description: "Non-negative derivative divided by the step: the rate per second of a counter.",
		Params: deltaParams,
		Fn: func(a *args) ([]*Series, error) {
			return nonNegative(a, "perSecond", true), nil
		}})
	register(&Func{Name: "integral", Group: "Transform", Description: "Running sum of the values.",
		Params: []Param{pSeries},
		Fn: func(a *args) ([]*Series, error) {
			var out []*Series
			for _, s := range a.series(0) {
				pts := s.Points()
				nv := make([]float64, len(pts))
				cur := 0.0
				for i, v := range pts {
					if math.IsNaN(v) {
						nv[i] = math.NaN()
					} else {
						cur += v
						nv[i] = cur
					}
				}
				out = append(out, s.derive("integral("+s.Name+")", nv))
			}
			return out, nil
		}})
	register(&Func{Name: "movingAverage", Group: "Calculate", Description: "Average of the previous windowSize points (a number) or time span (\"5min\").",
		Params: []Param{pSeries, {Name: "windowSize", Type: "intOrInterval", Required: true}, {Name: "xFilesFactor", Type: "float"}},
		Fn:     movingAverage})
	register(&Func{Name: "summarize", Group: "Transform", Description: "Summarizes each series into buckets of intervalString with func (default sum).",
		Params: []Param{pSeries, {Name: "intervalString", Type: "interval", Required: true}, {Name: "func", Type: "aggFunc", Default: "sum", Options: aggFuncNames}, {Name: "alignToFrom", Type: "boolean", Default: false}},
		Fn:     summarize})
	for _, h := range []struct{ name, fn string }{{"highestAverage", "average"}, {"highestCurrent", "current"}, {"highestMax", "max"}} {
		register(&Func{Name: h.name, Group: "Filter Series", Description: "The n series with the highest " + h.fn + " value.",
			Params: []Param{pSeries, {Name: "n", Type: "integer", Required: true}},
			Fn:     rankedSeries(h.fn, true)})
	}
	register(&Func{Name: "limit", Group: "Filter Series", Description: "The first n series.",
		Params: []Param{pSeries, {Name: "n", Type: "integer", Required: true}},
		Fn: func(a *args) ([]*Series, error) {
			list := a.series(0)
			n := int(a.num(1, 0))
			if n < 0 {
				n = max(0, len(list)+n)
			}
			return list[:min(n, len(list))], nil
		}})
	register(&Func{Name: "sortByName", Group: "Sorting", Description: "Sorts series by name (natural: numbers by value).",
		Params: []Param{pSeries, {Name: "natural", Type: "boolean", Default: false}, {Name: "reverse", Type: "boolean", Default: false}},
		Fn: func(a *args) ([]*Series, error) {
			list := a.series(0)
			key := func(s *Series) string { return s.Name }
			if a.boolean(1, false) {
				digits := regexp.MustCompile(`\d+`)
				key = func(s *Series) string {
					return digits.ReplaceAllStringFunc(s.Name, func(d string) string {
						n, err := strconv.ParseInt(d, 10, 64)
						if err != nil {
							return d
						}
						return fmt.Sprintf("%010d", n)
					})
				}
			}
			rev := a.boolean(2, false)
			sort.SliceStable(list, func(i, j int) bool {
				if rev {
					return key(list[i]) > key(list[j])
				}
				return key(list[i]) < key(list[j])
			})
			return list, nil
		}})
	register(&Func{Name: "asPercent", Group: "Combine", Description: "Each series as a percentage of total (a number, a series list, or by default their sum), optionally grouped by nodes.",
		Params: []Param{pSeries, {Name: "total", Type: "any"}, {Name: "nodes", Type: "nodeOrTag", Multiple: true}},
		Fn:     asPercent})
	register(&Func{Name: "transformNull", Group: "Transform", Description: "Replaces gaps with default (0), optionally only where referenceSeries has data.",
		Params: []Param{pSeries, {Name: "default", Type: "float", Default: 0}, {Name: "referenceSeries", Type: "seriesList"}},
		Fn: func(a *args) ([]*Series, error) {
			def := a.num(1, 0)
			var defaults []float64
			ref := a.has(2)
			if ref {
				rows := zipLongest(a.series(2))
				defaults = make([]float64, len(rows))
				for i, row := range rows {
					defaults[i] = math.NaN()
					for _, v := range row {
						if !math.IsNaN(v) {
							defaults[i] = def
							break
						}
					}
				}
			}
			out := a.series(0)
			for _, s := range out {
				if ref {
					s.Name = fmt.Sprintf("transformNull(%s,%s,referenceSeries)", s.Name, PyG(def))
				} else {
					s.Name = fmt.Sprintf("transformNull(%s,%s)", s.Name, PyG(def))
				}
				s.PathExpression = s.Name
				pts := s.Points()
				n := len(pts)
				if ref && len(defaults) > n {
					n = len(defaults)
				}
				nv := make([]float64, n)
				for i := range nv {
					v := math.NaN()
					if i < len(pts) {
						v = pts[i]
					}
					d := def
					if ref {
						d = math.NaN()
						if i < len(defaults) {
							d = defaults[i]
						}
					}
					if math.IsNaN(v) {
						v = d
					}
					nv[i] = v
				}
				// graphite-web extends then deletes the head: consolidated
				// values replace the raw ones.
				s.Values, s.ValuesPerPoint = nv, 1
			}
			return out, nil
		}})
	register(&Func{Name: "keepLastValue", Group: "Transform", Description: "Fills gaps of at most limit points with the last value seen.",
		Params: []Param{pSeries, {Name: "limit", Type: "intOrInf", Default: "INF"}},
		Fn: func(a *args) ([]*Series, error) {
			limit := a.num(1, math.Inf(1))
			out := a.series(0)
			for _, s := range out {
				s.Name = "keepLastValue(" + s.Name + ")"
				s.PathExpression = s.Name
				v := s.Values
				nones := 0
				last := math.NaN()
				for i, x := range v {
					if math.IsNaN(x) {
						nones++
						continue
					}
					if nones > 0 && float64(nones) <= limit && !math.IsNaN(last) {
						for k := i - nones; k < i; k++ {
							v[k] = last
						}
					}
					nones = 0
					last = x
				}
				if nones > 0 && float64(nones) <= limit && !math.IsNaN(last) {
					for k := len(v) - nones; k < len(v); k++ {
						v[k] = last
					}
				}
			}
			return out, nil
		}})
	register(&Func{Name: "timeShift", Group: "Transform", Description: "Draws the series shifted back in time by timeShift (\"1d\", \"-1h\", \"+1w\").",
		Params: []Param{pSeries, {Name: "timeShift", Type: "interval", Required: true}, {Name: "resetEnd", Type: "boolean", Default: true}, {Name: "alignDST", Type: "boolean", Default: false}},
		Fn:     timeShift})
	register(&Func{Name: "constantLine", Group: "Special", Description: "A horizontal line at value over the requested range.",
		Params: []Param{{Name: "value", Type: "float", Required: true}},
		Fn: func(a *args) ([]*Series, error) {
			// graphite-web validates value as a float: 100 becomes 100.0.
			v := a.vals[0]
			str := PyRepr(v.Num)
			start, end := a.ctx.Start, a.ctx.End
			step := int64(float64(end-start) / 2.0)
			if step <= 0 {
				step = 1
			}
			return []*Series{{Name: str, PathExpression: "constantLine(" + str + ")", Start: start, End: end, Step: step,
				Values: []float64{v.Num, v.Num, v.Num}, ValuesPerPoint: 1, ConsolidationFunc: "average",
				XFilesFactor: a.ctx.XFilesFactor}}, nil
		}})
	register(&Func{Name: "consolidateBy", Group: "Special", Description: "Sets how points are consolidated when there are more than maxDataPoints.",
		Params: []Param{pSeries, {Name: "consolidationFunc", Type: "string", Required: true, Options: consolidations}},
		Fn: func(a *args) ([]*Series, error) {
			fn := a.str(1, "average")
			out := a.series(0)
			for _, s := range out {
				s.ConsolidationFunc = fn
				s.Name = fmt.Sprintf("consolidateBy(%s,\"%s\")", s.Name, fn)
				s.PathExpression = s.Name
			}
			return out, nil
		}})
}

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
		ValuesPerPoint: 1, ConsolidationFunc: cf, XFilesFactor: xff}}
}

// aggKey joins the given nodes of a series' path (graphite's aggKey).
// checkNodes refuses numeric node positions outside a series' path (where
// graphite-web raises IndexError), naming the position and the series.
func checkNodes(a *args, list []*Series, nodes []Value) error {
	for _, s := range list {
		n := len(strings.Split(aggPath(s), "."))
		for _, v := range nodes {
			if v.Kind != KindNumber {
				continue
			}
			if i := int(v.Num); float64(i) != v.Num || i >= n || i < -n {
				return a.errf("node position %s is out of range for %q (%d nodes)", PyG(v.Num), s.Name, n)
			}
		}
	}
	return nil
}

// aggPath is the metric path aggKey takes nodes from.
func aggPath(s *Series) string {
	path := s.Name
	if strings.HasSuffix(path, ")") {
		if e, err := Parse(path); err == nil {
			if p := e.FirstPath(); p != "" {
				path = p
			}
		}
	}
	path, _, _ = strings.Cut(path, ";")
	return path
}

func aggKey(s *Series, nodes []Value) string {
	parts := strings.Split(aggPath(s), ".")
	keys := make([]string, 0, len(nodes))
	for _, n := range nodes {
		k := ""
		if n.Kind == KindNumber {
			i := int(n.Num)
			if i < 0 {
				i += len(parts)
			}
			if i >= 0 && i < len(parts) {
				k = parts[i]
			}
		} else if n.Kind == KindString && n.Str == "name" {
			k = s.Name
		}
		keys = append(keys, k)
	}
	return strings.Join(keys, ".")
}

// pyReplacement turns a Python re.sub replacement (\1, \g<1>, \g<name>)
// into Go's regexp syntax.
func pyReplacement(r string) string {
	var b strings.Builder
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case c == '$':
			b.WriteString("$$")
		case c == '\\' && i+1 < len(r):
			n := r[i+1]
			switch {
			case n >= '0' && n <= '9':
				j := i + 1
				for j < len(r) && j < i+3 && r[j] >= '0' && r[j] <= '9' {
					j++
				}
				b.WriteString("${" + r[i+1:j] + "}")
				i = j - 1
			case n == 'g' && i+2 < len(r) && r[i+2] == '<':
				if end := strings.IndexByte(r[i+3:], '>'); end >= 0 {
					b.WriteString("${" + r[i+3:i+3+end] + "}")
					i = i + 3 + end
				} else {
					b.WriteByte(c)
				}
			case n == 'n':
				b.WriteByte('\n')
				i++
			case n == 't':
				b.WriteByte('\t')
				i++
			case n == '\\':
				b.WriteByte('\\')
				i++
			default:
				b.WriteByte(c)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func nonNegDelta(val, prev float64, maxV, minV float64, hasMax, hasMin bool) (float64, float64) {
	if hasMax && val > maxV {
		return math.NaN(), math.NaN()
	}
	if hasMin && val < minV {
		return math.NaN(), math.NaN()
	}
	if math.IsNaN(prev) || math.IsNaN(val) {
		return math.NaN(), val
	}
	if val >= prev {
		return val - prev, val
	}
	if hasMax {
		m := 0.0
		if hasMin {
			m = minV
		}
		return maxV + 1 + val - prev - m, val
	}
	if hasMin {
		return val - minV, val
	}
	return math.NaN(), val
}

func nonNegative(a *args, name string, perSecond bool) []*Series {
	maxV, hasMax := a.num(1, 0), a.has(1)
	minV, hasMin := a.num(2, 0), a.has(2)
	var out []*Series
	for _, s := range a.series(0) {
		pts := s.Points()
		nv := make([]float64, len(pts))
		prev := math.NaN()
		for i, v := range pts {
			var d float64
			d, prev = nonNegDelta(v, prev, maxV, minV, hasMax, hasMin)
			if perSecond && !math.IsNaN(d) {
				d = pyRound(d/float64(s.Step), 6)
			}
			nv[i] = d
		}
		out = append(out, s.derive(name+"("+s.Name+")", nv))
	}
	return out
}

func offsetSeconds(s string) (int64, error) {
	d, err := attime.ParseOffset(s)
	if err != nil {
		return 0, err
	}
	return int64(d.Seconds()), nil
}

func movingAverage(a *args) ([]*Series, error) {
	list := a.series(0)
	if len(list) == 0 {
		return nil, nil
	}
	w := a.vals[1]
	var preview int64
	if w.Kind == KindString {
		secs, err := offsetSeconds(w.Str)
		if err != nil {
			return nil, a.errf("windowSize: %v", err)
		}
		preview = secs
		if preview < 0 {
			preview = -preview
		}
	} else {
		if w.Num < 0 || w.Num != math.Trunc(w.Num) || w.Num > maxBuckets {
			return nil, a.errf("windowSize must be a positive integer (at most %d) or an interval", maxBuckets)
		}
		var maxStep int64
		for _, s := range list {
			maxStep = max(maxStep, s.Step)
		}
		preview = maxStep * int64(w.Num)
	}
	bootstrap, err := a.reEval(a.ctx.Start-preview, a.ctx.End)
	if err != nil {
		return nil, err
	}
	var out []*Series
	for _, s := range bootstrap {
		var name string
		var points int64
		if w.Kind == KindString {
			name = fmt.Sprintf("movingAverage(%s,\"%s\")", s.Name, w.Str)
			points = preview / s.Step
		} else {
			name = fmt.Sprintf("movingAverage(%s,%s)", s.Name, pyNum(w.Num, w.IsInt))
			points = int64(w.Num)
		}
		xff := s.XFilesFactor
		if a.has(2) {
			xff = a.num(2, 0)
		}
		ns := s.derive(name, nil)
		ns.PathExpression = name
		ns.Start = s.Start + preview
		for i := points; i < int64(len(s.Values)); i++ {
			win := s.Values[i-points : i]
			nonNull := 0
			for _, v := range win {
				if !math.IsNaN(v) {
					nonNull++
				}
			}
			if nonNull > 0 && points > 0 && float64(nonNull)/float64(points) >= xff {
				ns.Values = append(ns.Values, avgOf(win))
			} else {
				ns.Values = append(ns.Values, math.NaN())
			}
		}
		out = append(out, ns)
	}
	return out, nil
}

func summarize(a *args) ([]*Series, error) {
	interval, err := offsetSeconds(a.str(1, ""))
	if err != nil || interval <= 0 {
		return nil, a.errf("intervalString: invalid interval %q", a.str(1, ""))
	}
	fn := a.str(2, "sum")
	agg, ok := aggFuncs[fn]
	if !ok {
		return nil, a.errf("Unsupported aggregation function: %s", fn)
	}
	alignToFrom := a.boolean(3, false)
	var out []*Series
	for _, s := range a.series(0) {
		var newStart, newEnd int64
		if alignToFrom {
			newStart, newEnd = s.Start, s.End
		} else {
			newStart = s.Start - s.Start%interval
			newEnd = s.End - s.End%interval + interval
		}
		if (newEnd-newStart)/interval > maxBuckets {
			return nil, a.errf("intervalString %q makes more than %d buckets", a.str(1, ""), maxBuckets)
		}
		pts := s.Points()
		var ts []int64
		for t := s.Start; t < s.End; t += s.Step {
			ts = append(ts, t)
		}
		intervalPoints := float64(interval) / float64(s.Step)
		numPoints := min(len(ts), len(pts))
		var vals []float64
		i := 0
		t := newStart
		for ; t < newEnd; t += interval {
			st := i
			nonNull := 0
			for i < numPoints && ts[i] < t+interval {
				if ts[i] <= t {
					st = i
				}
				if ts[i] >= t && !math.IsNaN(pts[i]) {
					nonNull++
				}
				i++
			}
			if nonNull > 0 && float64(nonNull)/intervalPoints >= s.XFilesFactor {
				vals = append(vals, agg(pts[st:i]))
			} else {
				vals = append(vals, math.NaN())
			}
		}
		if alignToFrom {
			newEnd = t
		}
		tail := ""
		if alignToFrom {
			tail = ", true"
		}
		name := fmt.Sprintf("summarize(%s, \"%s\", \"%s\"%s)", s.Name, a.str(1, ""), fn, tail)
		ns := s.derive(name, vals)
		ns.Start, ns.End, ns.Step = newStart, newEnd, interval
		out = append(out, ns)
	}
	return out, nil
}

func timeShift(a *args) ([]*Series, error) {
	shift := a.str(1, "")
	if shift != "" && shift[0] >= '0' && shift[0] <= '9' {
		shift = "-" + shift
	}
	delta, err := offsetSeconds(shift)
	if err != nil {
		return nil, a.errf("timeShift: %v", err)
	}
	list := a.series(0)
	if len(list) == 0 {
		return nil, nil
	}
	first := list[0]
	shifted, err := a.reEval(a.ctx.Start+delta, a.ctx.End+delta)
	if err != nil {
		return nil, err
	}
	resetEnd := a.boolean(2, true)
	for _, s := range shifted {
		s.Name = fmt.Sprintf("timeShift(%s, \"%s\")", s.Name, shift)
		if resetEnd {
			s.End = first.End
		} else {
			s.End = s.End - s.Start + first.Start
		}
		s.Start = first.Start
	}
	return shifted, nil
}

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

// rankedSeries implements highestX / lowestX: the n series whose fn value
// (a series without one ranks lowest) is highest (or lowest), stable for
// ties; a negative n keeps all but the last -n.
func rankedSeries(fn string, highest bool) func(a *args) ([]*Series, error) {
	return func(a *args) ([]*Series, error) {
		agg := aggFuncs[fn]
		list := a.series(0)
		keys := make(map[*Series]float64, len(list))
		for _, s := range list {
			k := agg(s.Points())
			if math.IsNaN(k) {
				k = math.Inf(-1)
			}
			keys[s] = k
		}
		sort.SliceStable(list, func(i, j int) bool {
			if highest {
				return keys[list[i]] > keys[list[j]]
			}
			return keys[list[i]] < keys[list[j]]
		})
		n := int(a.num(1, 1))
		if n < 0 {
			n = max(0, len(list)+n)
		}
		return list[:min(n, len(list))], nil
	}
}
