package render

import (
	"fmt"
	"math"
	"strconv"
)

// Graph functions only style graphite-web's PNG output; in JSON they change
// nothing but what graphite-web's JSON shows (names, stacked's values).
func graphFunctions() []*Func {
	p := func(name, typ string, required bool) Param { return Param{Name: name, Type: typ, Required: required} }
	return []*Func{
		{Name: "color", Group: "Graph", Params: []Param{pSeries, p("theColor", "string", true)}, Fn: passThrough},
		{Name: "alpha", Group: "Graph", Params: []Param{pSeries, p("alpha", "float", true)}, Fn: passThrough},
		{Name: "lineWidth", Group: "Graph", Params: []Param{pSeries, p("width", "float", true)}, Fn: passThrough},
		{Name: "dashed", Group: "Graph", Params: []Param{pSeries, {Name: "dashLength", Type: "integer", Default: 5}}, Fn: fnDashed},
		{Name: "stacked", Group: "Graph", Params: []Param{{Name: "seriesList", Type: "seriesList", Required: true, Kwarg: "seriesLists"}, {Name: "stack", Type: "string", Kwarg: "stackName", SigDefault: "'__DEFAULT__'"}}, Fn: fnStacked},
		{Name: "secondYAxis", Group: "Graph", Params: []Param{pSeries}, Fn: renameAndTag("secondYAxis")},
		{Name: "drawAsInfinite", Group: "Graph", Params: []Param{pSeries}, Fn: renameAndTag("drawAsInfinite")},
		{Name: "areaBetween", Group: "Graph", Params: []Param{pSeries}, Fn: fnAreaBetween},
		{Name: "cactiStyle", Group: "Special", Params: []Param{pSeries, {Name: "system", Type: "string", Options: []any{"binary", "si"}}, p("units", "string", false)}, Fn: fnCactiStyle},
		{Name: "legendValue", Group: "Alias", Params: []Param{pSeries, {Name: "valuesTypes", Type: "string", Multiple: true, Options: legendValueOptions, Kwarg: "valueTypes", AnyValue: true}}, Fn: fnLegendValue},
		{Name: "verticalLine", Group: "Graph", Params: []Param{p("ts", "date", true), p("label", "string", false), p("color", "string", false)}, Fn: fnVerticalLine},
	}
}

var legendValueOptions = []any{"average", "averageSeries", "avg", "avgSeries", "avg_zero", "avg_zeroSeries", "binary", "count", "countSeries", "current", "currentSeries", "diff", "diffSeries", "last", "lastSeries", "max", "maxSeries", "median", "medianSeries", "min", "minSeries", "multiply", "multiplySeries", "range", "rangeOf", "rangeOfSeries", "rangeSeries", "si", "stddev", "stddevSeries", "sum", "sumSeries", "total", "totalSeries"}

// passThrough is a style-only function (color, alpha, lineWidth): the
// series are unchanged.
func passThrough(a *args) ([]*Series, error) { return a.series(0), nil }

// renameAndTag tags every series fn=1, names it fn(name) and leaves its
// values (secondYAxis, drawAsInfinite: graphite-web's JSON shows
// drawAsInfinite's values as they are).
func renameAndTag(fn string) func(a *args) ([]*Series, error) {
	return func(a *args) ([]*Series, error) {
		out := a.series(0)
		for _, s := range out {
			s.setTag(fn, "1")
			s.Name = fn + "(" + s.Name + ")"
		}
		return out, nil
	}
}

func fnDashed(a *args) ([]*Series, error) {
	d := a.num(1, 5)
	out := a.series(0)
	for _, s := range out {
		s.setTag("dashed", pyNumber(a.vals[1], d, "5"))
		s.Name = fmt.Sprintf("dashed(%s, %s)", s.Name, PyG(d))
	}
	return out, nil
}

// fnStacked adds each series onto the running total of its stack (shared
// by all targets of the request) over the raw values.
func fnStacked(a *args) ([]*Series, error) {
	name := a.str(1, "__DEFAULT__")
	if a.ctx.stacks == nil {
		a.ctx.stacks = map[string][]float64{}
	}
	total := a.ctx.stacks[name]
	var out []*Series
	for _, s := range a.series(0) {
		nv := make([]float64, len(s.Values))
		for i, v := range s.Values {
			if len(total) <= i {
				total = append(total, 0)
			}
			if math.IsNaN(v) {
				nv[i] = v
				continue
			}
			total[i] += v
			nv[i] = total[i]
		}
		n := s.Name
		if name == "__DEFAULT__" {
			s.setTag("stacked", name)
			n = "stacked(" + s.Name + ")"
		}
		c := s.derive(n, nv)
		// copy() keeps the pathExpression only through the name.
		c.PathExpression = n
		out = append(out, c)
	}
	a.ctx.stacks[name] = total
	return out, nil
}

func fnAreaBetween(a *args) ([]*Series, error) {
	list := a.series(0)
	if len(list) != 2 {
		// graphite-web's assert fails: a 500 there, a 400 here.
		return nil, a.errf("areaBetween series argument must reference *exactly* 2 series (got %d)", len(list))
	}
	n := "areaBetween(" + list[1].PathExpression + ")"
	list[1].setTag("areaBetween", "1")
	// lower.tags = upper.tags: one dict for both.
	list[0].Tags = list[1].Tags
	list[0].Name, list[1].Name = n, n
	return list, nil
}

// unitPrefixes are graphite-web's glyph.UnitSystems for si and binary.
var unitPrefixes = map[string][]struct {
	prefix string
	size   float64
}{
	"binary": {{"Pi", math.Pow(1024, 5)}, {"Ti", math.Pow(1024, 4)}, {"Gi", math.Pow(1024, 3)}, {"Mi", math.Pow(1024, 2)}, {"Ki", 1024}},
	"si":     {{"P", 1e15}, {"T", 1e12}, {"G", 1e9}, {"M", 1e6}, {"k", 1e3}},
}

// formatUnits is glyph.format_units (no step).
func formatUnits(v float64, system, units string) (float64, string) {
	for _, u := range unitPrefixes[system] {
		if math.Abs(v) >= u.size {
			v2 := v / u.size
			if v2-math.Floor(v2) < 0.00000000001 && v > 1 {
				v2 = math.Floor(v2)
			}
			return v2, u.prefix + units
		}
	}
	if v-math.Floor(v) < 0.00000000001 && v > 1 {
		v = math.Floor(v)
	}
	return v, units
}

// cactiFormatter is cactiStyle's value format for its system and units.
func cactiFormatter(system, units string) func(float64) string {
	switch {
	case system != "" && units != "":
		return func(x float64) string { v, p := formatUnits(x, system, units); return fmt.Sprintf("%.2f %s", v, p) }
	case system != "":
		return func(x float64) string { v, p := formatUnits(x, system, ""); return fmt.Sprintf("%.2f%s", v, p) }
	case units != "":
		return func(x float64) string { return fmt.Sprintf("%.2f %s", x, units) }
	}
	return func(x float64) string { return fmt.Sprintf("%.2f", x) }
}

// orThree is cactiStyle's int(value or 3).
func orThree(v float64) float64 {
	if math.IsNaN(v) || v == 0 {
		return 3
	}
	return math.Trunc(v)
}

func fnCactiStyle(a *args) ([]*Series, error) {
	list := a.series(0)
	format := cactiFormatter(a.str(1, ""), a.str(2, ""))
	nameLen, lastLen, maxLen, minLen := 0, 0, 0, 0
	type summary struct{ last, max, min float64 }
	sums := make([]summary, len(list))
	for i, s := range list {
		pts := s.Points()
		sums[i] = summary{lastOf(pts), maxOf(pts), minOf(pts)}
		nameLen = max(nameLen, len([]rune(s.Name)))
		lastLen = max(lastLen, len(format(orThree(sums[i].last)))+3)
		maxLen = max(maxLen, len(format(orThree(sums[i].max)))+3)
		minLen = max(minLen, len(format(orThree(sums[i].min)))+3)
	}
	text := func(v float64) string {
		if math.IsNaN(v) {
			return "nan"
		}
		return format(v)
	}
	for i, s := range list {
		s.Name = fmt.Sprintf("%-*s Current:%-*s Max:%-*s Min:%-*s ", nameLen, s.Name,
			lastLen, text(sums[i].last), maxLen, text(sums[i].max), minLen, text(sums[i].min))
	}
	return list, nil
}

// pyStr is Python's str() of an aggregation result (count is an int).
func pyStr(fn string, v float64) string {
	if fn == "count" && !math.IsNaN(v) {
		return strconv.FormatInt(int64(v), 10)
	}
	return PyRepr(v)
}

func fnLegendValue(a *args) ([]*Series, error) {
	var types []string
	for _, v := range a.extra {
		types = append(types, v.Str)
	}
	if len(types) == 0 {
		// graphite-web indexes valueTypes[-1]: a 500 there, a 400 here.
		return nil, a.errf("legendValue needs at least one value type")
	}
	system := ""
	if last := types[len(types)-1]; last == "si" || last == "binary" {
		system, types = last, types[:len(types)-1]
	}
	list := a.series(0)
	for _, t := range types {
		agg, ok := aggFuncs[t]
		for _, s := range list {
			text := "(?)"
			if ok {
				v := agg(s.Points())
				switch {
				case system == "":
					text = pyStr(t, v)
				case math.IsNaN(v):
					text = "None"
				default:
					x, p := formatUnits(v, system, "")
					text = fmt.Sprintf("%.2f%s", x, p)
				}
			}
			if system == "" {
				s.Name += fmt.Sprintf(" (%s: %s)", t, text)
			} else {
				s.Name = fmt.Sprintf("%-20s%-5s%-10s", s.Name, t, text)
			}
		}
	}
	return list, nil
}

// fnVerticalLine is one point of 1.0 at ts, named by the label.
func fnVerticalLine(a *args) ([]*Series, error) {
	ts, err := a.dateArg(0)
	if err != nil {
		return nil, err
	}
	if ts < a.ctx.Start {
		return nil, a.errf("verticalLine(): timestamp %d exists before start of range", ts)
	}
	if ts > a.ctx.End {
		return nil, a.errf("verticalLine(): timestamp %d exists after end of range", ts)
	}
	label, noName := a.str(1, "None"), !a.has(1)
	return []*Series{{Name: label, PathExpression: label, NoName: noName, Start: ts, End: ts, Step: 1, Values: []float64{1, 1},
		ValuesPerPoint: 1, ConsolidationFunc: "average", XFilesFactor: a.ctx.XFilesFactor}}, nil
}

// pyNumber is Python's str() of a numeric argument: an int as written,
// a float as repr() (def when the argument is absent).
func pyNumber(v Value, f float64, def string) string {
	if v.Kind != KindNumber {
		return def
	}
	if v.IsInt {
		return strconv.FormatInt(int64(f), 10)
	}
	return PyRepr(f)
}
