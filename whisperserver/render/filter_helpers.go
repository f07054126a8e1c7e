package render

import (
	"math"
	"sort"
)

// rankedSeries implements highestX / lowestX: the n series whose fn value
// (a series without one ranks lowest) is highest (or lowest), stable for
// ties; a negative n keeps all but the last -n.
func rankedSeries(fn string, highest bool) func(a *args) ([]*Series, error) {
	return func(a *args) ([]*Series, error) {
		agg := aggFuncs[fn]
		list := a.series(0)
		keys := make(map[*Series]float64, len(list))
		for _, s := range list {
			k := agg(s.Points())
			if math.IsNaN(k) {
				k = math.Inf(-1)
			}
			keys[s] = k
		}
		sort.SliceStable(list, func(i, j int) bool {
			if highest {
				return keys[list[i]] > keys[list[j]]
			}
			return keys[list[i]] < keys[list[j]]
		})
		n := int(a.num(1, 1))
		if n < 0 {
			n = max(0, len(list)+n)
		}
		return list[:min(n, len(list))], nil
	}
}
