package render

import (
	"math"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/attime"
)

func nonNegDelta(val, prev float64, maxV, minV float64, hasMax, hasMin bool) (float64, float64) {
	if hasMax && val > maxV {
		return math.NaN(), math.NaN()
	}
	if hasMin && val < minV {
		return math.NaN(), math.NaN()
	}
	if math.IsNaN(prev) || math.IsNaN(val) {
		return math.NaN(), val
	}
	if val >= prev {
		return val - prev, val
	}
	if hasMax {
		m := 0.0
		if hasMin {
			m = minV
		}
		return maxV + 1 + val - prev - m, val
	}
	if hasMin {
		return val - minV, val
	}
	return math.NaN(), val
}

func nonNegative(a *args, name string, perSecond bool) []*Series {
	maxV, hasMax := a.num(1, 0), a.has(1)
	minV, hasMin := a.num(2, 0), a.has(2)
	var out []*Series
	for _, s := range a.series(0) {
		s.setTag(name, "1")
		pts := s.Points()
		nv := make([]float64, len(pts))
		prev := math.NaN()
		for i, v := range pts {
			var d float64
			d, prev = nonNegDelta(v, prev, maxV, minV, hasMax, hasMin)
			if perSecond && !math.IsNaN(d) {
				d = pyRound(d/float64(s.Step), 6)
			}
			nv[i] = d
		}
		out = append(out, s.derive(name+"("+s.Name+")", nv))
	}
	return out
}

func offsetSeconds(s string) (int64, error) {
	d, err := attime.ParseOffset(s)
	if err != nil {
		return 0, err
	}
	return int64(d.Seconds()), nil
}
