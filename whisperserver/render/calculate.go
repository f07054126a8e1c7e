package render

func calculateFunctions() []*Func {
	return []*Func{
		{Name: "movingAverage", Group: "Calculate", Params: []Param{pSeries, pWindowSize, {Name: "xFilesFactor", Type: "float"}}, Fn: movingAverage},
	}
}

var pWindowSize = Param{Name: "windowSize", Type: "intOrInterval", Required: true, Suggestions: []any{5, 7, 10, "1min", "5min", "10min", "30min", "1hour"}}
