package render

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// generatorFunctions make series from nothing but the request's time range
// (identity, time, sin, randomWalk), or a line from a value or a summary
// (threshold, aggregateLine); and setXFilesFactor.
func generatorFunctions() []*Func {
	name := Param{Name: "name", Type: "string", Required: true}
	step := Param{Name: "step", Type: "integer", Default: 60}
	sinParams := []Param{name, {Name: "amplitude", Type: "integer", Default: 1}, step}
	xff := []Param{pSeries, {Name: "xFilesFactor", Type: "float", Required: true}}
	return []*Func{
		{Name: "identity", Group: "Calculate", Params: []Param{name}, Fn: fnIdentity},
		{Name: "time", Group: "Transform", Params: []Param{name, step}, Fn: fnTime},
		{Name: "timeFunction", Group: "Transform", Params: []Param{name, step}, Fn: fnTime},
		{Name: "sin", Group: "Transform", Params: sinParams, Fn: fnSin},
		{Name: "sinFunction", Group: "Transform", Params: sinParams, Fn: fnSin},
		{Name: "randomWalk", Group: "Special", Params: []Param{name, step}, Fn: fnRandomWalk},
		{Name: "randomWalkFunction", Group: "Special", Params: []Param{name, step}, Fn: fnRandomWalk},
		{Name: "threshold", Group: "Graph", Params: []Param{{Name: "value", Type: "float", Required: true}, {Name: "label", Type: "string"}, {Name: "color", Type: "string"}}, Fn: fnThreshold},
		{Name: "aggregateLine", Group: "Calculate", Params: []Param{pSeries, {Name: "func", Type: "aggFunc", Default: "average", Options: aggFuncOptions}, {Name: "keepStep", Type: "boolean", Default: false}}, Fn: fnAggregateLine},
		{Name: "setXFilesFactor", Group: "Special", Params: xff, Fn: fnSetXFilesFactor},
		{Name: "xFilesFactor", Group: "Special", Params: xff, Fn: fnSetXFilesFactor},
	}
}

// generated is a series over the request at step with one value per step
// from start while t < end (graphite-web's "while when < endTime").
func generated(a *args, name string, step int64, value func(i int, t int64) float64) ([]*Series, error) {
	if step <= 0 {
		return nil, a.errf("step must be a positive integer")
	}
	c := a.ctx
	n := int64(0)
	if c.End > c.Start {
		n = (c.End - c.Start + step - 1) / step
	}
	if n > maxBuckets {
		return nil, a.errf("step %d makes more than %d points", step, maxBuckets)
	}
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = value(i, c.Start+int64(i)*step)
	}
	return []*Series{{Name: name, PathExpression: name, Start: c.Start, End: c.End, Step: step, Values: vals,
		ValuesPerPoint: 1, ConsolidationFunc: "average", XFilesFactor: c.XFilesFactor}}, nil
}

func fnIdentity(a *args) ([]*Series, error) {
	name := a.str(0, "")
	out, err := generated(a, name, 60, func(_ int, t int64) float64 { return float64(t) })
	if err == nil {
		out[0].PathExpression = fmt.Sprintf("identity(\"%s\")", name)
		out[0].IntValues = true
	}
	return out, err
}

func fnTime(a *args) ([]*Series, error) {
	return generated(a, a.str(0, ""), int64(a.num(1, 60)), func(_ int, t int64) float64 { return float64(t) })
}

func fnSin(a *args) ([]*Series, error) {
	amp := a.num(1, 1)
	return generated(a, a.str(0, ""), int64(a.num(2, 60)), func(_ int, t int64) float64 { return math.Sin(float64(t)) * amp })
}

// fnRandomWalk starts at 0 and moves by a uniform step in [-0.5, 0.5)
// each point, as graphite-web's (random, so not reproducible).
func fnRandomWalk(a *args) ([]*Series, error) {
	cur := 0.0
	return generated(a, a.str(0, ""), int64(a.num(1, 60)), func(_ int, _ int64) float64 {
		v := cur
		cur += rand.Float64() - 0.5
		return v
	})
}

func fnThreshold(a *args) ([]*Series, error) {
	out, err := fnConstantLine(a)
	if err == nil && a.str(1, "") != "" {
		out[0].setTag("name", out[0].Name)
		out[0].Name = a.str(1, "")
	}
	return out, err
}

func fnAggregateLine(a *args) ([]*Series, error) {
	fn := a.str(1, "average")
	agg, ok := aggFuncs[fn]
	if !ok {
		return nil, a.errf("Unsupported aggregation function: %s", fn)
	}
	keep := a.boolean(2, false)
	var out []*Series
	for _, s := range a.series(0) {
		pts := s.Points()
		v := agg(pts)
		name := fmt.Sprintf("aggregateLine(%s, None)", s.Name)
		if !math.IsNaN(v) {
			name = fmt.Sprintf("aggregateLine(%s, %s)", s.Name, PyG(v))
		}
		if keep {
			vals := make([]float64, len(pts))
			for i := range vals {
				vals[i] = v
			}
			out = append(out, s.derive(name, vals))
			continue
		}
		line := constantSeries(a.ctx, v, PyRepr(v))
		line.setTag("name", line.Name)
		line.Name, line.PathExpression = name, name
		out = append(out, line)
	}
	return out, nil
}

func fnSetXFilesFactor(a *args) ([]*Series, error) {
	xff := a.num(1, 0)
	// graphite-web sets it in the request context too: the functions
	// around this one (and later targets) use it.
	a.ctx.XFilesFactor = xff
	out := a.series(0)
	for _, s := range out {
		s.XFilesFactor = xff
		s.setTag("xFilesFactor", PyRepr(xff))
	}
	return out, nil
}
