package render

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// windowFunctions are graphite-web's transforms over runs of points:
// integrals by interval, interpolation, moving deviation, exponential
// moving average, hit counts.
func windowFunctions() []*Func {
	return []*Func{
		{Name: "integralByInterval", Group: "Transform", Params: []Param{pSeries, {Name: "intervalUnit", Type: "string", Required: true}}, Fn: fnIntegralByInterval},
		{Name: "interpolate", Group: "Transform", Params: []Param{pSeries, {Name: "limit", Type: "intOrInf", Default: pInf}}, Fn: fnInterpolate},
		{Name: "stdev", Group: "Calculate", Params: []Param{pSeries, {Name: "points", Type: "integer", Required: true}, {Name: "windowTolerance", Type: "float", Default: 0.1}}, Fn: fnStdev},
		{Name: "exponentialMovingAverage", Group: "Calculate", Params: []Param{pSeries, {Name: "windowSize", Type: "intOrInterval", Required: true, Suggestions: []any{5, 7, 10, "1min", "5min", "10min", "30min", "1hour"}}}, Fn: fnExponentialMovingAverage},
		{Name: "hitcount", Group: "Transform", Params: []Param{pSeries, {Name: "intervalString", Type: "interval", Required: true, Suggestions: []any{"10min", "1h", "1d"}}, {Name: "alignToInterval", Type: "boolean", Default: false}}, Fn: fnHitcount},
	}
}

// floorDiv is Python's // on integers.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func fnIntegralByInterval(a *args) ([]*Series, error) {
	unit := a.str(1, "")
	secs, err := offsetSeconds(unit)
	if err != nil {
		return nil, a.errf("intervalUnit: %v", err)
	}
	dur := secs
	if dur < 0 {
		dur = -dur
	}
	if dur == 0 {
		return nil, a.errf("intervalUnit %q: the interval must not be 0", unit)
	}
	start := a.ctx.Start
	var out []*Series
	for _, s := range a.series(0) {
		pts := s.Points()
		nv := make([]float64, len(pts))
		t := s.Start
		cur := 0.0
		for i, v := range pts {
			if floorDiv(t-start, dur) != floorDiv(t-start-s.Step, dur) {
				cur = 0
			}
			if !math.IsNaN(v) {
				cur += v
			}
			nv[i] = cur
			t += s.Step
		}
		s.setTag("integralByInterval", unit)
		out = append(out, s.derive(fmt.Sprintf("integralByInterval(%s,'%s')", s.Name, unit), nv))
	}
	return out, nil
}

func fnInterpolate(a *args) ([]*Series, error) {
	limit := a.num(1, math.Inf(1))
	out := a.series(0)
	for _, s := range out {
		replacePoints(s, "interpolate("+s.Name+")", func(pts []float64) []float64 { return interpolated(pts, limit) })
	}
	return out, nil
}

// interpolated fills runs of at most limit nulls between two values
// linearly, as graphite-web's interpolate.
func interpolated(pts []float64, limit float64) []float64 {
	v := append([]float64(nil), pts...)
	nones := 0
	for i := 1; i < len(v); i++ {
		x := v[i]
		switch {
		case math.IsNaN(x):
			nones++
		case nones == 0:
		case math.IsNaN(v[i-nones-1]):
			nones = 0
		default:
			if float64(nones) <= limit {
				base := v[i-nones-1]
				for k := i - nones; k < i; k++ {
					v[k] = base + float64(k-(i-nones-1))*(x-base)/float64(nones+1)
				}
			}
			nones = 0
		}
	}
	return v
}

func fnStdev(a *args) ([]*Series, error) {
	points := int(a.num(1, 0))
	if points <= 0 {
		return nil, a.errf("points must be a positive integer")
	}
	tol := a.num(2, 0.1)
	list := a.series(0)
	out := make([]*Series, len(list))
	for k, s := range list {
		s.setTag("stdev", strconv.Itoa(points))
		out[k] = s.derive(fmt.Sprintf("stdev(%s,%d)", s.Name, points), movingStdev(s.Points(), points, tol))
	}
	return out, nil
}

// movingStdev is graphite-web's stdev: the population deviation of the
// last points values from running sums, with its float arithmetic.
func movingStdev(pts []float64, points int, tol float64) []float64 {
	nv := make([]float64, len(pts))
	valid := 0
	sum, sq := 0.0, 0.0
	for i, v := range pts {
		dropped := math.NaN()
		if i >= points {
			dropped = pts[i-points]
		}
		if !math.IsNaN(dropped) {
			valid--
			sum -= dropped
			sq -= float64(dropped * dropped)
		}
		if !math.IsNaN(v) {
			valid++
			sum += v
			sq += float64(v * v)
		}
		nv[i] = math.NaN()
		if valid > 0 && float64(valid)/float64(points) >= tol {
			d := float64(float64(valid)*sq) - float64(sum*sum)
			if d >= 0 {
				nv[i] = math.Sqrt(d) / float64(valid)
			}
		}
	}
	return nv
}

func fnExponentialMovingAverage(a *args) ([]*Series, error) {
	list := a.series(0)
	if len(list) == 0 {
		return nil, nil
	}
	w := a.vals[1]
	var preview int64
	var constant float64
	if w.Kind == KindString {
		secs, err := offsetSeconds(w.Str)
		if err != nil {
			return nil, a.errf("windowSize: %v", err)
		}
		preview = max(secs, -secs)
		constant = 2 / float64(preview+1)
	} else {
		if w.Num < 0 || w.Num > maxBuckets {
			return nil, a.errf("windowSize must be a positive integer (at most %d) or an interval", maxBuckets)
		}
		var maxStep int64
		for _, s := range list {
			maxStep = max(maxStep, s.Step)
		}
		preview = maxStep * int64(w.Num)
		constant = 2 / float64(int64(w.Num)+1)
	}
	bootstrap, err := a.reEval(a.ctx.Start-preview, a.ctx.End)
	if err != nil {
		return nil, err
	}
	var out []*Series
	for _, s := range bootstrap {
		var name string
		var points int
		if w.Kind == KindString {
			name = fmt.Sprintf("exponentialMovingAverage(%s,\"%s\")", s.Name, w.Str)
			points = int(floorDiv(preview, s.Step))
		} else {
			name = fmt.Sprintf("exponentialMovingAverage(%s,%s)", s.Name, pyNum(w.Num, w.IsInt))
			points = int(w.Num)
		}
		if w.Kind == KindString {
			s.setTag("exponentialMovingAverage", w.Str)
		} else {
			s.setTag("exponentialMovingAverage", pyNum(w.Num, w.IsInt))
		}
		pts := s.Points()
		ema := avgOf(pts[:min(points, len(pts))])
		if math.IsNaN(ema) {
			ema = 0 // "safeAvg(…) or 0"
		}
		vals := []float64{pyRound(ema, 6)}
		for i := points; i < len(pts); i++ {
			if math.IsNaN(pts[i]) {
				vals = append(vals, math.NaN())
				continue
			}
			ema = constant*pts[i] + (1-constant)*ema
			vals = append(vals, pyRound(ema, 6))
		}
		ns := s.derive(name, vals)
		ns.Start = s.Start + preview
		out = append(out, ns)
	}
	return out, nil
}

func fnHitcount(a *args) ([]*Series, error) {
	str := a.str(1, "")
	interval, err := offsetSeconds(str)
	if err != nil || interval <= 0 {
		return nil, a.errf("intervalString: invalid interval %q", str)
	}
	align := a.boolean(2, false)
	list := a.series(0)
	if align {
		st := time.Unix(a.ctx.Start, 0).In(a.ctx.Location)
		y, mo, d := st.Date()
		var start time.Time
		switch {
		case interval >= 86400:
			start = time.Date(y, mo, d, 0, 0, 0, 0, st.Location())
		case interval >= 3600:
			start = time.Date(y, mo, d, st.Hour(), 0, 0, 0, st.Location())
		case interval >= 60:
			start = time.Date(y, mo, d, st.Hour(), st.Minute(), 0, 0, st.Location())
		default:
			start = st
		}
		if list, err = a.reEval(start.Unix(), a.ctx.End); err != nil {
			return nil, err
		}
		for _, s := range list {
			n := floorDiv(s.End-s.Start, interval)
			s.End = s.Start + n*interval + interval
		}
	}
	var out []*Series
	for _, s := range list {
		nb := int64(math.Ceil(float64(s.End-s.Start) / float64(interval)))
		if nb > maxBuckets {
			return nil, a.errf("intervalString %q makes more than %d buckets", str, maxBuckets)
		}
		nb = max(nb, 0)
		newStart := s.End - nb*interval
		vals := hitBuckets(s, nb, newStart, interval)
		tail := ""
		if align {
			tail = ", true"
		}
		s.setTag("hitcount", str)
		ns := s.derive(fmt.Sprintf("hitcount(%s, \"%s\"%s)", s.Name, str, tail), vals)
		ns.Start, ns.Step = newStart, interval
		out = append(out, ns)
	}
	return out, nil
}

// hitBuckets spreads each point's value × seconds over the buckets its
// step overlaps (graphite-web's hitcount).
func hitBuckets(s *Series, nb, newStart, interval int64) []float64 {
	sums := make([]float64, nb)
	seen := make([]bool, nb)
	// Python indexes from the end below 0 (buckets[-1]).
	add := func(b int64, v float64) {
		if b < 0 {
			b += nb
		}
		if b < 0 || b >= nb {
			return
		}
		sums[b] += v
		seen[b] = true
	}
	step := s.Step
	for i, v := range s.Points() {
		if math.IsNaN(v) {
			continue
		}
		st := s.Start + int64(i)*step
		sb, sm := floorDiv(st-newStart, interval), floorMod(st-newStart, interval)
		et := st + step
		eb, em := floorDiv(et-newStart, interval), floorMod(et-newStart, interval)
		if eb >= nb {
			eb, em = nb-1, interval
		}
		if sb == eb {
			if sb >= 0 {
				add(sb, v*float64(em-sm))
			}
			continue
		}
		if sb >= 0 {
			add(sb, v*float64(interval-sm))
		}
		for j := sb + 1; j < eb; j++ {
			add(j, v*float64(interval))
		}
		if em > 0 {
			add(eb, v*float64(em))
		}
	}
	for b := range sums {
		if !seen[b] {
			sums[b] = math.NaN()
		}
	}
	return sums
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
