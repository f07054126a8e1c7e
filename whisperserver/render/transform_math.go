package render

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// mathFunctions are graphite-web's per-point transforms that change each
// value in place (functions.py: add, exp, log, pow, round, …).
func mathFunctions() []*Func {
	float := func(name string) Param { return Param{Name: name, Type: "float", Required: true} }
	return []*Func{
		{Name: "add", Group: "Transform", Params: []Param{pSeries, float("constant")}, Fn: fnAdd},
		{Name: "exp", Group: "Transform", Params: []Param{pSeries}, Fn: fnExp},
		{Name: "log", Group: "Transform", Params: []Param{pSeries, {Name: "base", Type: "integer", Default: 10}}, Fn: fnLog},
		{Name: "pow", Group: "Transform", Params: []Param{pSeries, float("factor")}, Fn: fnPow},
		{Name: "powSeries", Group: "Combine", Params: []Param{{Name: "seriesList", Type: "seriesList", Required: true, Multiple: true, Kwarg: "seriesLists"}}, Fn: fnPowSeries},
		{Name: "round", Group: "Transform", Params: []Param{pSeries, {Name: "precision", Type: "integer", Default: 0, SigDefault: "None"}}, Fn: fnRound},
		{Name: "squareRoot", Group: "Transform", Params: []Param{pSeries}, Fn: fnSquareRoot},
		{Name: "sigmoid", Group: "Transform", Params: []Param{pSeries}, Fn: fnSigmoid},
		{Name: "logit", Group: "Transform", Params: []Param{pSeries}, Fn: fnLogit},
		{Name: "invert", Group: "Transform", Params: []Param{pSeries}, Fn: fnInvert},
		{Name: "offsetToZero", Group: "Transform", Params: []Param{pSeries}, Fn: fnOffsetToZero},
		{Name: "scaleToSeconds", Group: "Transform", Params: []Param{pSeries, float("seconds")}, Fn: fnScaleToSeconds},
		{Name: "minMax", Group: "Transform", Params: []Param{pSeries}, Fn: fnMinMax},
		{Name: "isNonNull", Group: "Transform", Params: []Param{pSeries}, Fn: fnIsNonNull},
		{Name: "changed", Group: "Special", Params: []Param{pSeries}, Fn: fnChanged},
		{Name: "delay", Group: "Transform", Params: []Param{pSeries, {Name: "steps", Type: "integer", Required: true}}, Fn: fnDelay},
		{Name: "cumulative", Group: "Special", Params: []Param{pSeries}, Fn: fnCumulative},
	}
}

// pyD is Python's "%d" of a float (truncated toward zero).
func pyD(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return PyG(f)
	}
	return strconv.FormatFloat(math.Trunc(f), 'f', 0, 64)
}

// safePow is graphite-web's safe.safePow: None for None, for a domain
// error and for an overflow (Python's math.pow raises where Go returns
// NaN or ±Inf).
func safePow(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	r := math.Pow(a, b)
	if math.IsNaN(r) || (math.IsInf(r, 0) && !math.IsInf(a, 0) && !math.IsInf(b, 0)) {
		return math.NaN()
	}
	return r
}

func fnAdd(a *args) ([]*Series, error) {
	c := a.num(1, 0)
	return mapInPlace(tagAll(a.series(0), "add", PyRepr(c)), func(s *Series) string { return fmt.Sprintf("add(%s,%s)", s.Name, pyD(c)) },
		func(v float64) float64 { return v + c }), nil
}

func fnExp(a *args) ([]*Series, error) {
	return mapInPlace(tagAll(a.series(0), "exp", "e"), wrapName("exp"), math.Exp), nil
}

func fnLog(a *args) ([]*Series, error) {
	base := a.num(1, 10)
	if base <= 0 || base == 1 {
		return nil, a.errf("base must be a positive integer other than 1")
	}
	lb := math.Log(base)
	return derivePoints(tagAll(a.series(0), "log", pyNum(base, true)), func(s *Series) string { return fmt.Sprintf("log(%s, %s)", s.Name, pyD(base)) },
		func(pts []float64) []float64 {
			nv := make([]float64, len(pts))
			for i, v := range pts {
				nv[i] = math.NaN()
				if v > 0 {
					nv[i] = math.Log(v) / lb
				}
			}
			return nv
		}), nil
}

func fnPow(a *args) ([]*Series, error) {
	f := a.num(1, 1)
	return mapInPlace(tagAll(a.series(0), "pow", PyRepr(f)), func(s *Series) string { return fmt.Sprintf("pow(%s,%s)", s.Name, PyG(f)) },
		func(v float64) float64 { return safePow(v, f) }), nil
}

func fnSquareRoot(a *args) ([]*Series, error) {
	return mapInPlace(tagAll(a.series(0), "squareRoot", "1"), wrapName("squareRoot"), func(v float64) float64 { return safePow(v, 0.5) }), nil
}

func fnInvert(a *args) ([]*Series, error) {
	return mapInPlace(tagAll(a.series(0), "invert", "1"), wrapName("invert"), func(v float64) float64 { return safePow(v, -1) }), nil
}

func fnSigmoid(a *args) ([]*Series, error) {
	return mapInPlace(tagAll(a.series(0), "sigmoid", "sigmoid"), wrapName("sigmoid"), func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }), nil
}

func fnLogit(a *args) ([]*Series, error) {
	return mapInPlace(tagAll(a.series(0), "logit", "logit"), wrapName("logit"), func(v float64) float64 {
		if v == 1 {
			return math.NaN() // ZeroDivisionError
		}
		r := v / (1 - v)
		if r <= 0 || math.IsNaN(r) {
			return math.NaN() // math.log's ValueError
		}
		return math.Log(r)
	}), nil
}

func fnRound(a *args) ([]*Series, error) {
	prec := int(a.num(1, 0))
	name := wrapName("round")
	if a.has(1) {
		name = func(s *Series) string { return fmt.Sprintf("round(%s,%d)", s.Name, prec) }
	}
	return mapInPlace(tagAll(a.series(0), "round", strconv.Itoa(prec)), name, func(v float64) float64 { return pyRoundAny(v, prec) }), nil
}

// pyRoundAny is Python's round(x, n) for any n, negative included
// (round(1250.0, -2) is 1200.0).
func pyRoundAny(x float64, n int) float64 {
	if n >= 0 || math.IsNaN(x) || math.IsInf(x, 0) || x == 0 {
		return pyRound(x, max(n, 0))
	}
	if n < -308 {
		return math.Copysign(0, x)
	}
	unit := math.Pow(10, float64(-n))
	// digits kept: the decimal exponent of x above the unit.
	e := int(math.Floor(math.Log10(math.Abs(x)))) + 1 + n
	if e <= 0 {
		half := unit / 2
		switch {
		case math.Abs(x) > half:
			return math.Copysign(unit, x)
		default:
			return math.Copysign(0, x)
		}
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(x, 'e', e-1, 64), 64)
	if err != nil {
		return x
	}
	return r
}

func fnOffsetToZero(a *args) ([]*Series, error) {
	out := a.series(0)
	for _, s := range out {
		m := minOf(s.Points())
		s.setTag("offsetToZero", PyRepr(m))
		mapInPlace([]*Series{s}, wrapName("offsetToZero"), func(v float64) float64 { return v - m })
	}
	return out, nil
}

func fnScaleToSeconds(a *args) ([]*Series, error) {
	secs := a.num(1, 1)
	out := a.series(0)
	for _, s := range out {
		factor := secs / float64(s.Step)
		s.setTag("scaleToSeconds", PyRepr(secs))
		mapInPlace([]*Series{s}, func(s *Series) string { return fmt.Sprintf("scaleToSeconds(%s,%s)", s.Name, pyD(secs)) },
			func(v float64) float64 { return pyRound(v*factor, 6) })
	}
	return out, nil
}

func fnMinMax(a *args) ([]*Series, error) {
	out := a.series(0)
	for _, s := range out {
		pts := s.Points()
		lo, hi := minOf(pts), maxOf(pts)
		if math.IsNaN(lo) {
			lo, hi = 0, 0
		}
		mapInPlace([]*Series{s}, wrapName("minMax"), func(v float64) float64 {
			if hi == lo {
				return 0
			}
			return (v - lo) / (hi - lo)
		})
	}
	return out, nil
}

// replacePoints sets a series' values to ones computed from its points
// (graphite-web's "for i, v in enumerate(series): series[i] = …" over
// every point, nulls included).
func replacePoints(s *Series, name string, f func(pts []float64) []float64) {
	s.Name, s.PathExpression = name, name
	nv := f(s.Points())
	if s.ValuesPerPoint > 1 {
		copy(s.Values, nv)
	} else {
		s.Values = nv
	}
}

func fnIsNonNull(a *args) ([]*Series, error) {
	out := a.series(0)
	for _, s := range out {
		s.setTag("isNonNull", "1")
		s.Name = "isNonNull(" + s.Name + ")"
		s.PathExpression = s.Name
		pts := s.Points()
		nv := make([]float64, len(pts))
		for i, v := range pts {
			if !math.IsNaN(v) {
				nv[i] = 1
			}
		}
		// extend, then delete the head: the consolidated values replace
		// the raw ones.
		s.Values, s.ValuesPerPoint = nv, 1
		s.IntValues = true
	}
	return out, nil
}

func fnChanged(a *args) ([]*Series, error) {
	out := a.series(0)
	for _, s := range out {
		replacePoints(s, "changed("+s.Name+")", changesOf)
	}
	return out, nil
}

func changesOf(pts []float64) []float64 {
	nv := make([]float64, len(pts))
	prev := math.NaN()
	for i, v := range pts {
		switch {
		case math.IsNaN(prev):
			prev = v
		case !math.IsNaN(v) && v != prev:
			nv[i] = 1
			prev = v
		}
	}
	return nv
}

func fnDelay(a *args) ([]*Series, error) {
	steps := int(a.num(1, 0))
	var out []*Series
	for _, s := range a.series(0) {
		// graphite-web slices the raw list; delay(x, 0) is empty there
		// (series[:-0]).
		v := s.Values
		var nv []float64
		if steps < 0 {
			k := min(-steps, len(v))
			nv = append(append(nv, v[k:]...), nanSlice(k)...)
		} else if steps > 0 {
			k := min(steps, len(v))
			nv = append(nanSlice(k), v[:len(v)-k]...)
		}
		s.setTag("delay", strconv.Itoa(steps))
		ns := s.derive(fmt.Sprintf("delay(%s,%d)", s.Name, steps), nv)
		out = append(out, ns)
	}
	return out, nil
}

// tagAll sets tag k to v on every series (before they are renamed).
func tagAll(list []*Series, k, v string) []*Series {
	for _, s := range list {
		s.setTag(k, v)
	}
	return list
}

func nanSlice(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.NaN()
	}
	return v
}

func fnCumulative(a *args) ([]*Series, error) {
	out := a.series(0)
	for _, s := range out {
		s.ConsolidationFunc = "sum"
		s.setTag("consolidateBy", "sum")
		s.Name = fmt.Sprintf("consolidateBy(%s,\"sum\")", s.Name)
		s.PathExpression = s.Name
	}
	return out, nil
}

func fnPowSeries(a *args) ([]*Series, error) {
	all, start, end, step, ok := normalize(a.seriesLists()...)
	if !ok {
		return nil, nil
	}
	names := make([]string, len(all))
	for i, s := range all {
		names[i] = s.Name
	}
	name := "powSeries(" + strings.Join(names, ",") + ")"
	rows := zipLongest(all)
	vals := make([]float64, len(rows))
	for i, row := range rows {
		t := row[0]
		for _, x := range row[1:] {
			t = safePow(t, x)
		}
		vals[i] = t
	}
	return []*Series{{Name: name, PathExpression: name, Start: start, End: end, Step: step, Values: vals,
		ValuesPerPoint: 1, ConsolidationFunc: "average", XFilesFactor: a.ctx.XFilesFactor}}, nil
}
