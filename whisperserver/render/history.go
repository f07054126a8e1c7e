package render

import (
	"fmt"
	"math"
	"strings"
)

// movingWindow is graphite-web's movingWindow: each point the fn
// aggregate of the previous window (points or a time span) of non-null
// values, read with a bootstrap before the range; xffArg is the index of
// the xFilesFactor argument.
func movingWindow(a *args, fn string, xffArg int) ([]*Series, error) {
	agg, ok := aggFuncs[fn]
	if !ok {
		return nil, a.errf("Unsupported aggregation function: %s", fn)
	}
	tagName := "moving" + strings.ToUpper(fn[:1]) + strings.ToLower(fn[1:])
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
			name = fmt.Sprintf("%s(%s,\"%s\")", tagName, s.Name, w.Str)
			points = preview / s.Step
		} else {
			name = fmt.Sprintf("%s(%s,%s)", tagName, s.Name, pyNum(w.Num, w.IsInt))
			points = int64(w.Num)
		}
		if w.Kind == KindString {
			s.setTag(tagName, w.Str)
		} else {
			s.setTag(tagName, pyNum(w.Num, w.IsInt))
		}
		xff := s.XFilesFactor
		if a.has(xffArg) {
			xff = a.num(xffArg, 0)
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
				ns.Values = append(ns.Values, agg(win))
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
		vals, t := summarizeValues(s, agg, interval, newStart, newEnd)
		s.setTag("summarize", a.str(1, ""))
		s.setTag("summarizeFunction", fn)
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

// summarizeValues is graphite-web's _summarizeValues: the points of s
// aggregated in buckets of interval seconds from newStart while before
// newEnd, a bucket null below the series' xFilesFactor; it returns the
// values and the end of the last bucket.
func summarizeValues(s *Series, agg func([]float64) float64, interval, newStart, newEnd int64) ([]float64, int64) {
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
	return vals, t
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
		s.setTag("timeShift", shift)
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
