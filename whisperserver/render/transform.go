package render

import (
	"encoding/json"
	"fmt"
	"math"
)

// pInf is graphite-web's float('inf') default, written as its
// jsonInfinityEncoder writes it.
var pInf = json.Number("1e9999")

func transformFunctions() []*Func {
	return []*Func{
		{Name: "absolute", Group: "Transform", Params: []Param{pSeries}, Fn: fnAbsolute},
		{Name: "scale", Group: "Transform", Params: []Param{pSeries, {Name: "factor", Type: "float", Required: true}}, Fn: fnScale},
		{Name: "offset", Group: "Transform", Params: []Param{pSeries, {Name: "factor", Type: "float", Required: true}}, Fn: fnOffset},
		{Name: "derivative", Group: "Transform", Params: []Param{pSeries}, Fn: fnDerivative},
		{Name: "nonNegativeDerivative", Group: "Transform", Params: []Param{pSeries, {Name: "maxValue", Type: "float"}, {Name: "minValue", Type: "float"}}, Fn: fnNonNegativeDerivative},
		{Name: "perSecond", Group: "Transform", Params: []Param{pSeries, {Name: "maxValue", Type: "float"}, {Name: "minValue", Type: "float"}}, Fn: fnPerSecond},
		{Name: "integral", Group: "Transform", Params: []Param{pSeries}, Fn: fnIntegral},
		{Name: "summarize", Group: "Transform", Params: []Param{pSeries, {Name: "intervalString", Type: "interval", Required: true, Suggestions: []any{"10min", "1h", "1d"}}, {Name: "func", Type: "aggFunc", Default: "sum", Options: aggFuncOptions}, {Name: "alignToFrom", Type: "boolean", Default: false}}, Fn: summarize},
		{Name: "transformNull", Group: "Transform", Params: []Param{pSeries, {Name: "default", Type: "float", Default: 0}, {Name: "referenceSeries", Type: "seriesList"}}, Fn: fnTransformNull},
		{Name: "keepLastValue", Group: "Transform", Params: []Param{pSeries, {Name: "limit", Type: "intOrInf", Default: pInf}}, Fn: fnKeepLastValue},
		{Name: "timeShift", Group: "Transform", Params: []Param{pSeries, {Name: "timeShift", Type: "interval", Required: true, Suggestions: []any{"1h", "6h", "12h", "1d", "2d", "7d", "14d", "30d"}}, {Name: "resetEnd", Type: "boolean", Default: true}, {Name: "alignDst", Type: "boolean", Default: false, Kwarg: "alignDST"}}, Fn: timeShift},
	}
}

// aggFuncOptions are graphite-web's aggFunc parameter options.
var aggFuncOptions = []any{"average", "avg", "avg_zero", "count", "current", "diff", "last", "max", "median", "min", "multiply", "range", "rangeOf", "stddev", "sum", "total"}

func fnScale(a *args) ([]*Series, error) {
	f := a.num(1, 1)
	return mapInPlace(tagAll(a.series(0), "scale", PyRepr(f)), func(s *Series) string { return fmt.Sprintf("scale(%s,%s)", s.Name, PyG(f)) },
		func(v float64) float64 { return v * f }), nil
}

func fnOffset(a *args) ([]*Series, error) {
	f := a.num(1, 0)
	return mapInPlace(tagAll(a.series(0), "offset", PyRepr(f)), func(s *Series) string { return fmt.Sprintf("offset(%s,%s)", s.Name, PyG(f)) },
		func(v float64) float64 { return v + f }), nil
}

func fnAbsolute(a *args) ([]*Series, error) {
	return mapInPlace(tagAll(a.series(0), "absolute", "1"), func(s *Series) string { return "absolute(" + s.Name + ")" }, math.Abs), nil
}

// derivePoints builds one new series per input from its consolidated
// points (graphite-web's "for series in seriesList: newValues = …;
// series.copy(name, values)" shape).
func derivePoints(list []*Series, name func(*Series) string, f func(pts []float64) []float64) []*Series {
	out := make([]*Series, 0, len(list))
	for _, s := range list {
		out = append(out, s.derive(name(s), f(s.Points())))
	}
	return out
}

func wrapName(fn string) func(*Series) string {
	return func(s *Series) string { return fn + "(" + s.Name + ")" }
}

func fnDerivative(a *args) ([]*Series, error) {
	return derivePoints(tagAll(a.series(0), "derivative", "1"), wrapName("derivative"), derivativeOf), nil
}

func derivativeOf(pts []float64) []float64 {
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
	return nv
}

func fnNonNegativeDerivative(a *args) ([]*Series, error) {
	return nonNegative(a, "nonNegativeDerivative", false), nil
}

func fnPerSecond(a *args) ([]*Series, error) { return nonNegative(a, "perSecond", true), nil }

func fnIntegral(a *args) ([]*Series, error) {
	return derivePoints(tagAll(a.series(0), "integral", "1"), wrapName("integral"), integralOf), nil
}

func integralOf(pts []float64) []float64 {
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
	return nv
}

func fnTransformNull(a *args) ([]*Series, error) {
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
	tag := "0" // the default is the int 0
	if a.has(1) {
		tag = PyRepr(def)
	}
	for _, s := range out {
		s.setTag("transformNull", tag)
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
}

func fnKeepLastValue(a *args) ([]*Series, error) {
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
}
