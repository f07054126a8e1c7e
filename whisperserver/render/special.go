package render

import "fmt"

func specialFunctions() []*Func {
	return []*Func{
		{Name: "constantLine", Group: "Special", Params: []Param{{Name: "value", Type: "float", Required: true}}, Fn: fnConstantLine},
		{Name: "consolidateBy", Group: "Special", Params: []Param{pSeries, {Name: "consolidationFunc", Type: "string", Required: true, Options: []any{"average", "avg", "avg_zero", "first", "last", "max", "min", "sum"}}}, Fn: fnConsolidateBy},
	}
}

// constantSeries is graphite-web's constantLine: three points over the
// request (start, middle, end) named by the value's text.
func constantSeries(c *Context, v float64, text string) *Series {
	step := int64(float64(c.End-c.Start) / 2.0)
	if step <= 0 {
		step = 1
	}
	return &Series{Name: text, PathExpression: text, Start: c.Start, End: c.End, Step: step,
		Values: []float64{v, v, v}, ValuesPerPoint: 1, ConsolidationFunc: "average", XFilesFactor: c.XFilesFactor}
}

func fnConstantLine(a *args) ([]*Series, error) {
	// graphite-web validates value as a float: 100 becomes 100.0.
	v := a.vals[0].Num
	s := constantSeries(a.ctx, v, PyRepr(v))
	s.PathExpression = "constantLine(" + s.Name + ")"
	return []*Series{s}, nil
}

func fnConsolidateBy(a *args) ([]*Series, error) {
	fn := a.str(1, "average")
	out := a.series(0)
	for _, s := range out {
		s.ConsolidationFunc = fn
		s.setTag("consolidateBy", fn)
		s.Name = fmt.Sprintf("consolidateBy(%s,\"%s\")", s.Name, fn)
		s.PathExpression = s.Name
	}
	return out, nil
}
