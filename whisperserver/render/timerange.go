package render

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// timeRangeFunctions cut, stack or re-bucket series in time: timeSlice,
// timeStack, smartSummarize.
func timeRangeFunctions() []*Func {
	return []*Func{
		{Name: "timeSlice", Group: "Transform", Params: []Param{pSeries, {Name: "startSliceAt", Type: "date", Required: true}, {Name: "endSliceAt", Type: "date", Default: "now"}}, Fn: fnTimeSlice},
		{Name: "timeStack", Group: "Transform", Params: []Param{pSeries, {Name: "timeShiftUnit", Type: "interval", Default: "1d", Suggestions: []any{"1h", "6h", "12h", "1d", "2d", "7d", "14d", "30d"}}, {Name: "timeShiftStart", Type: "integer", Default: 0}, {Name: "timeShiftEnd", Type: "integer", Default: 7}}, Fn: fnTimeStack},
		{Name: "smartSummarize", Group: "Transform", Params: []Param{pSeries, {Name: "intervalString", Type: "interval", Required: true, Suggestions: []any{"10min", "1h", "1d"}}, {Name: "func", Type: "aggFunc", Default: "sum", Options: aggFuncOptions}, {Name: "alignTo", Type: "string", Options: []any{false, nil, true, "days", "hours", "minutes", "months", "seconds", "weeks", "years"}}}, Fn: fnSmartSummarize},
	}
}

// fnTimeSlice nulls the points outside [start, end]; like graphite-web it
// counts time from the request's start, not the series'.
func fnTimeSlice(a *args) ([]*Series, error) {
	start, err := a.dateArg(1)
	if err != nil {
		return nil, err
	}
	end := a.ctx.Now
	if a.has(2) {
		if end, err = a.dateArg(2); err != nil {
			return nil, err
		}
	}
	out := a.series(0)
	for _, s := range out {
		path := s.PathExpression // graphite-web renames, keeps the path
		s.setTag("timeSliceStart", strconv.FormatInt(start, 10))
		s.setTag("timeSliceEnd", strconv.FormatInt(end, 10))
		replacePoints(s, fmt.Sprintf("timeSlice(%s, %d, %d)", s.Name, start, end), func(pts []float64) []float64 {
			nv := make([]float64, len(pts))
			cur := a.ctx.Start
			for i, v := range pts {
				nv[i] = v
				if cur < start || cur > end {
					nv[i] = math.NaN()
				}
				cur += s.Step
			}
			return nv
		})
		s.PathExpression = path
	}
	return out, nil
}

func fnTimeStack(a *args) ([]*Series, error) {
	unit := a.str(1, "1d")
	if unit != "" && unit[0] >= '0' && unit[0] <= '9' {
		unit = "-" + unit
	}
	delta, err := offsetSeconds(unit)
	if err != nil {
		return nil, a.errf("timeShiftUnit: %v", err)
	}
	from, to := int64(a.num(2, 0)), int64(a.num(3, 7))
	if to-from > 1000 {
		return nil, a.errf("timeStack: at most 1000 shifts")
	}
	list := a.series(0)
	if len(list) == 0 {
		return nil, nil
	}
	first := list[0]
	var out []*Series
	for shift := from; shift < to; shift++ {
		shifted, err := a.reEval(a.ctx.Start+delta*shift, a.ctx.End+delta*shift)
		if err != nil {
			return nil, err
		}
		for _, s := range shifted {
			s.setTag("timeShiftUnit", unit)
			s.setTag("timeShift", strconv.FormatInt(shift, 10))
			s.Name = fmt.Sprintf("timeShift(%s, %s, %d)", s.Name, unit, shift)
			s.PathExpression = s.Name
			s.Start, s.End = first.Start, first.End
		}
		out = append(out, shifted...)
	}
	return out, nil
}

func fnSmartSummarize(a *args) ([]*Series, error) {
	str := a.str(1, "")
	interval, err := offsetSeconds(str)
	if err != nil || interval <= 0 {
		return nil, a.errf("intervalString: invalid interval %q", str)
	}
	fn := a.str(2, "sum")
	agg, ok := aggFuncs[fn]
	if !ok {
		return nil, a.errf("Unsupported aggregation function: %s", fn)
	}
	list := a.series(0)
	if a.has(3) && a.vals[3].Kind == KindString {
		start, err := alignStart(a.ctx, a.vals[3].Str)
		if err != nil {
			return nil, a.errf("alignTo: %v", err)
		}
		if list, err = a.reEval(start, a.ctx.End); err != nil {
			return nil, err
		}
	}
	var out []*Series
	for _, s := range list {
		if (s.End-s.Start)/interval > maxBuckets {
			return nil, a.errf("intervalString %q makes more than %d buckets", str, maxBuckets)
		}
		vals, end := summarizeValues(s, agg, interval, s.Start, s.End)
		s.setTag("smartSummarize", str)
		s.setTag("smartSummarizeFunction", fn)
		ns := s.derive(fmt.Sprintf("smartSummarize(%s, \"%s\", \"%s\")", s.Name, str, fn), vals)
		ns.End, ns.Step = end, interval
		out = append(out, ns)
	}
	return out, nil
}

// alignStart is the request's start truncated to the unit alignTo names
// (graphite-web's getUnitString prefixes; weeks align to Monday).
func alignStart(c *Context, alignTo string) (int64, error) {
	s := time.Unix(c.Start, 0).In(c.Location)
	y, mo, d := s.Date()
	h, mi, sec := s.Clock()
	loc := s.Location()
	var t time.Time
	switch {
	case strings.HasPrefix(alignTo, "s"):
		t = time.Date(y, mo, d, h, mi, sec, 0, loc)
	case strings.HasPrefix(alignTo, "min"):
		t = time.Date(y, mo, d, h, mi, 0, 0, loc)
	case strings.HasPrefix(alignTo, "h"):
		t = time.Date(y, mo, d, h, 0, 0, 0, loc)
	case strings.HasPrefix(alignTo, "d"):
		t = time.Date(y, mo, d, 0, 0, 0, 0, loc)
	case strings.HasPrefix(alignTo, "w"):
		back := (int(s.Weekday()) + 6) % 7 // days since Monday
		t = time.Date(y, mo, d-back, 0, 0, 0, 0, loc)
	case strings.HasPrefix(alignTo, "mon"):
		t = time.Date(y, mo, 1, 0, 0, 0, 0, loc)
	case strings.HasPrefix(alignTo, "y"):
		t = time.Date(y, 1, 1, 0, 0, 0, 0, loc)
	default:
		return 0, fmt.Errorf("Invalid offset unit '%s'", alignTo)
	}
	return t.Unix(), nil
}
