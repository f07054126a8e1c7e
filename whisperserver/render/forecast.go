package render

import (
	"fmt"
	"math"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/attime"
)

// forecastFunctions are graphite-web's Holt-Winters functions (read with
// a bootstrap before the range, default 7 days) and linearRegression.
func forecastFunctions() []*Func {
	boot := Param{Name: "bootstrapInterval", Type: "interval", Default: "7d", Suggestions: []any{"7d", "30d"}}
	season := Param{Name: "seasonality", Type: "interval", Default: "1d", Suggestions: []any{"1d", "7d"}}
	banded := []Param{pSeries, {Name: "delta", Type: "integer", Default: 3}, boot, season}
	return []*Func{
		{Name: "holtWintersForecast", Group: "Calculate", Params: []Param{pSeries, boot, season}, Fn: fnHoltWintersForecast},
		{Name: "holtWintersConfidenceBands", Group: "Calculate", Params: banded, Fn: fnHoltWintersConfidenceBands},
		{Name: "holtWintersConfidenceArea", Group: "Calculate", Params: banded, Fn: fnHoltWintersConfidenceArea},
		{Name: "holtWintersAberration", Group: "Calculate", Params: banded, Fn: fnHoltWintersAberration},
		{Name: "linearRegression", Group: "Calculate", Params: []Param{pSeries, {Name: "startSourceAt", Type: "date"}, {Name: "endSourceAt", Type: "date"}}, Fn: fnLinearRegression},
	}
}

// holtWinters is graphite-web's holtWintersAnalysis: the predictions and
// deviations of a series' points with alpha = gamma = 0.1, beta = 0.0035.
func holtWinters(pts []float64, seasonLen int64) (pred, dev []float64) {
	const alpha, gamma, beta = 0.1, 0.1, 0.0035
	n := len(pts)
	intercepts := make([]float64, 0, n)
	slopes := make([]float64, 0, n)
	seasonals := make([]float64, 0, n)
	pred = make([]float64, 0, n)
	dev = make([]float64, 0, n)
	last := func(l []float64, i int) float64 {
		if j := int64(i) - seasonLen; j >= 0 {
			return l[j]
		}
		return 0
	}
	nextPred := math.NaN()
	for i, actual := range pts {
		if math.IsNaN(actual) {
			intercepts = append(intercepts, math.NaN())
			slopes = append(slopes, 0)
			seasonals = append(seasonals, 0)
			pred = append(pred, nextPred)
			dev = append(dev, 0)
			nextPred = math.NaN()
			continue
		}
		var lastIntercept, lastSlope, prediction float64
		if i == 0 {
			lastIntercept, lastSlope, prediction = actual, 0, actual
		} else {
			lastIntercept, lastSlope = intercepts[len(intercepts)-1], slopes[len(slopes)-1]
			if math.IsNaN(lastIntercept) {
				lastIntercept = actual
			}
			prediction = nextPred
		}
		lastSeasonal := last(seasonals, i)
		// seasonals[i+1-seasonLen] exists: seasonLen ≥ 2.
		nextLastSeasonal := last(seasonals, i+1)
		lastDev := last(dev, i)
		intercept := alpha*(actual-lastSeasonal) + (1-alpha)*(lastIntercept+lastSlope)
		slope := beta*(intercept-lastIntercept) + (1-beta)*lastSlope
		seasonal := gamma*(actual-intercept) + (1-gamma)*lastSeasonal
		nextPred = intercept + slope + nextLastSeasonal
		p := prediction
		if math.IsNaN(p) {
			p = 0
		}
		deviation := gamma*math.Abs(actual-p) + (1-gamma)*lastDev
		intercepts = append(intercepts, intercept)
		slopes = append(slopes, slope)
		seasonals = append(seasonals, seasonal)
		pred = append(pred, prediction)
		dev = append(dev, deviation)
	}
	return pred, dev
}

// hwSeries is one bootstrap series analysed: the forecast and deviation
// over the request's range.
type hwSeries struct {
	src        *Series // the bootstrap series
	start      int64
	pred, dev  []float64
	name, path string
}

// holtWintersRun reads the call's series again from bootstrapInterval
// before the range and analyses each.
func holtWintersRun(a *args, bootArg, seasonArg int) ([]hwSeries, error) {
	boot, err := offsetSeconds(a.str(bootArg, "7d"))
	if err != nil {
		return nil, a.errf("bootstrapInterval: %v", err)
	}
	season, err := offsetSeconds(a.str(seasonArg, "1d"))
	if err != nil {
		return nil, a.errf("seasonality: %v", err)
	}
	if boot < 0 {
		return nil, a.errf("bootstrapInterval must not be negative")
	}
	list, err := a.reEval(a.ctx.Start-boot, a.ctx.End)
	if err != nil {
		return nil, err
	}
	out := make([]hwSeries, 0, len(list))
	for _, s := range list {
		seasonLen := floorDiv(season, s.Step)
		if seasonLen < 2 {
			// graphite-web fails (IndexError) on a season under 2 steps.
			return nil, a.errf("seasonality %q is under 2 steps of %s (%ds)", a.str(seasonArg, "1d"), s.Name, s.Step)
		}
		pred, dev := holtWinters(s.Points(), seasonLen)
		// holtWintersAnalysis adds both to the series' own tags dict,
		// which every result then shares.
		s.setTag("holtWintersForecast", "1")
		s.setTag("holtWintersDeviation", "1")
		w := int(min(floorDiv(boot, s.Step), int64(len(pred))))
		out = append(out, hwSeries{src: s, start: s.Start + boot, pred: pred[w:], dev: dev[w:], name: s.Name, path: s.PathExpression})
	}
	return out, nil
}

// hwNew is graphite-web's TimeSeries(name, start, end, step, values,
// xFilesFactor=series.xFilesFactor): consolidation "average".
func hwNew(h hwSeries, name string, vals []float64) *Series {
	return &Series{Name: name, PathExpression: name, Start: h.start, End: h.src.End, Step: h.src.Step, Values: vals,
		ValuesPerPoint: 1, ConsolidationFunc: "average", XFilesFactor: h.src.XFilesFactor, Tags: h.src.Tags}
}

func fnHoltWintersForecast(a *args) ([]*Series, error) {
	runs, err := holtWintersRun(a, 1, 2)
	if err != nil {
		return nil, err
	}
	out := make([]*Series, 0, len(runs))
	for _, h := range runs {
		out = append(out, hwNew(h, "holtWintersForecast("+h.name+")", h.pred))
	}
	return out, nil
}

// confidenceBands returns lower and upper band of each series, in that
// order, their pathExpression the bootstrap series'.
func confidenceBands(a *args) ([]*Series, error) {
	delta := a.num(1, 3)
	runs, err := holtWintersRun(a, 2, 3)
	if err != nil {
		return nil, err
	}
	out := make([]*Series, 0, 2*len(runs))
	for _, h := range runs {
		h.src.setTag("holtWintersConfidenceUpper", "1")
		h.src.setTag("holtWintersConfidenceLower", "1")
		up := make([]float64, len(h.pred))
		lo := make([]float64, len(h.pred))
		for i, f := range h.pred {
			d := math.NaN()
			if i < len(h.dev) {
				d = h.dev[i]
			}
			if math.IsNaN(f) || math.IsNaN(d) {
				up[i], lo[i] = math.NaN(), math.NaN()
				continue
			}
			up[i], lo[i] = f+delta*d, f-delta*d
		}
		lower := hwNew(h, "holtWintersConfidenceLower("+h.name+")", lo)
		upper := hwNew(h, "holtWintersConfidenceUpper("+h.name+")", up)
		lower.PathExpression, upper.PathExpression = h.path, h.path
		out = append(out, lower, upper)
	}
	return out, nil
}

func fnHoltWintersConfidenceBands(a *args) ([]*Series, error) { return confidenceBands(a) }

// fnHoltWintersConfidenceArea is graphite-web's areaBetween over the
// bands: both named after the upper band's pathExpression; like
// graphite-web it takes exactly one series.
func fnHoltWintersConfidenceArea(a *args) ([]*Series, error) {
	bands, err := confidenceBands(a)
	if err != nil {
		return nil, err
	}
	if len(bands) != 2 {
		return nil, a.errf("areaBetween series argument must reference *exactly* 2 series")
	}
	name := "holtWintersConfidenceArea(" + bands[1].PathExpression + ")"
	bands[1].setTag("holtWintersConfidenceArea", "1") // lower and upper share the tags
	for _, s := range bands {
		s.Name, s.PathExpression = name, name
	}
	return bands, nil
}

func fnHoltWintersAberration(a *args) ([]*Series, error) {
	bands, err := confidenceBands(a)
	if err != nil {
		return nil, err
	}
	byName := map[string]*Series{}
	for _, b := range bands {
		byName[b.Name] = b
	}
	var out []*Series
	for _, s := range a.series(0) {
		lower, okL := byName["holtWintersConfidenceLower("+s.Name+")"]
		upper, okU := byName["holtWintersConfidenceUpper("+s.Name+")"]
		if !okL || !okU {
			return nil, a.errf("no confidence bands for %s", s.Name)
		}
		pts := s.Points()
		ab := make([]float64, len(pts))
		for i, v := range pts {
			if i >= len(upper.Values) || i >= len(lower.Values) {
				return nil, a.errf("confidence bands of %s are shorter than the series", s.Name)
			}
			switch u, l := upper.Values[i], lower.Values[i]; {
			case math.IsNaN(v):
			case !math.IsNaN(u) && v > u:
				ab[i] = v - u
			case !math.IsNaN(l) && v < l:
				ab[i] = v - l
			}
		}
		s.setTag("holtWintersAberration", "1")
		name := "holtWintersAberration(" + s.Name + ")"
		out = append(out, &Series{Name: name, PathExpression: name, Start: s.Start, End: s.End, Step: s.Step, Values: ab,
			ValuesPerPoint: 1, ConsolidationFunc: "average", XFilesFactor: s.XFilesFactor, Tags: s.Tags})
	}
	return out, nil
}

// dateArg is a "date" parameter: Unix seconds or a Graphite time
// expression, relative to the request's now.
func (a *args) dateArg(i int) (int64, error) {
	v := a.vals[i]
	if v.Kind == KindNumber {
		return int64(v.Num), nil
	}
	t, err := attime.Parse(v.Str, time.Unix(a.ctx.Now, 0), a.ctx.Location)
	if err != nil {
		return 0, a.errf("%s: %v", a.fn.Params[i].Name, err)
	}
	return t.Unix(), nil
}

func fnLinearRegression(a *args) ([]*Series, error) {
	start, end := a.ctx.Start, a.ctx.End
	var err error
	if a.has(1) {
		if start, err = a.dateArg(1); err != nil {
			return nil, err
		}
	}
	if a.has(2) {
		if end, err = a.dateArg(2); err != nil {
			return nil, err
		}
	}
	sources, err := a.reEval(start, end)
	if err != nil {
		return nil, err
	}
	list := a.series(0)
	var out []*Series
	for i := 0; i < min(len(sources), len(list)); i++ {
		s := list[i]
		factor, offset, ok := linearFit(sources[i])
		if !ok {
			continue
		}
		s.setTag("linearRegressions", fmt.Sprintf("%d, %d", start, end))
		name := fmt.Sprintf("linearRegression(%s, %d, %d)", s.Name, start, end)
		n := len(s.Points())
		vals := make([]float64, n)
		for k := range vals {
			vals[k] = offset + float64(s.Start+int64(k)*s.Step)*factor
		}
		out = append(out, &Series{Name: name, PathExpression: name, Start: s.Start, End: s.End, Step: s.Step, Values: vals,
			ValuesPerPoint: 1, ConsolidationFunc: "average", XFilesFactor: s.XFilesFactor, Tags: s.Tags})
	}
	return out, nil
}

// linearFit is graphite-web's _linearRegressionAnalysis: least squares
// over (index, value) of the non-null points, per second.
func linearFit(s *Series) (factor, offset float64, ok bool) {
	var n, sumI, sumII int64
	sumV, sumIV := 0.0, 0.0
	for i, v := range s.Points() {
		if math.IsNaN(v) {
			continue
		}
		n++
		sumI += int64(i)
		sumII += int64(i) * int64(i)
		sumV += v
		sumIV += float64(i) * v
	}
	den := float64(n*sumII - sumI*sumI)
	if den == 0 {
		return 0, 0, false
	}
	factor = (float64(n)*sumIV - float64(sumI)*sumV) / den / float64(s.Step)
	offset = (float64(sumII)*sumV-sumIV*float64(sumI))/den - factor*float64(s.Start)
	return factor, offset, true
}
