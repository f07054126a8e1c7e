// Package render parses and evaluates Graphite render targets: a real
// expression parser (nested calls, string, number, boolean and keyword
// arguments, pipes) and the series functions most used from Grafana, with
// graphite-web 1.1's semantics and series names.
package render

import (
	"math"
	"strconv"
	"strings"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/whisperfile"
)

// Series is one time series: Values[i] is the point at Start+i*Step (raw,
// before ValuesPerPoint consolidation); NaN is a gap (None in Graphite).
type Series struct {
	Name              string
	PathExpression    string
	Start, End, Step  int64
	Values            []float64
	ValuesPerPoint    int
	ConsolidationFunc string
	XFilesFactor      float64
	// Tags are graphite-web's series.tags, values as Python's str()
	// writes them; nil stands for {"name": Name}. Read series carry
	// their path as "name", which functions keep while they rename.
	Tags map[string]string
	// NoName: the name is Python's None (verticalLine without a label);
	// Name is then "None", as graphite-web's pickle, tags and text
	// formats write it, and the JSON target is null.
	NoName bool
	// IntValues marks values that Graphite holds as Python ints
	// (constantLine(100)), which its raw format prints without ".0".
	IntValues bool
}

// SeriesSize is about the memory a series of n values holds (values,
// struct, names), for reservations made before it is read.
func SeriesSize(n int64, name, pathExpression string) int64 {
	return 8*n + 192 + int64(len(name)+len(pathExpression))
}

// Bytes is about the memory s holds (SeriesSize).
func (s *Series) Bytes() int64 { return SeriesSize(int64(len(s.Values)), s.Name, s.PathExpression) }

// Copy returns a deep copy.
func (s *Series) Copy() *Series {
	c := *s
	c.Values = append([]float64(nil), s.Values...)
	c.Tags = cloneTags(s.Tags)
	return &c
}

func cloneTags(t map[string]string) map[string]string {
	if t == nil {
		return nil
	}
	c := make(map[string]string, len(t)+1)
	for k, v := range t {
		c[k] = v
	}
	return c
}

// TagMap returns the series' tags ({"name": Name} when it has none).
func (s *Series) TagMap() map[string]string {
	if s.Tags == nil {
		return map[string]string{"name": s.Name}
	}
	return s.Tags
}

// setTag sets one tag as graphite-web's series.tags[k] = v (call it
// before renaming the series: tags start from {"name": Name}).
func (s *Series) setTag(k, v string) {
	if s.Tags == nil {
		s.Tags = map[string]string{"name": s.Name}
	}
	s.Tags[k] = v
}

// derive returns a new series like Python's TimeSeries.copy(): same
// time range and settings, new name (also its pathExpression) and values,
// valuesPerPoint 1.
func (s *Series) derive(name string, values []float64) *Series {
	return &Series{Name: name, PathExpression: name, Start: s.Start, End: s.End, Step: s.Step,
		Values: values, ValuesPerPoint: 1, ConsolidationFunc: s.ConsolidationFunc, XFilesFactor: s.XFilesFactor,
		Tags: cloneTags(s.TagMap())}
}

// Points returns the values as Graphite iterates them: consolidated by
// ValuesPerPoint with ConsolidationFunc and the xFilesFactor.
func (s *Series) Points() []float64 {
	vpp := s.ValuesPerPoint
	if vpp <= 1 {
		return s.Values
	}
	out := make([]float64, 0, (len(s.Values)+vpp-1)/vpp)
	for i := 0; i < len(s.Values); i += vpp {
		j := min(i+vpp, len(s.Values))
		out = append(out, whisperfile.Consolidate(s.ConsolidationFunc, s.Values[i:j], vpp, s.XFilesFactor))
	}
	return out
}

func sumOf(v []float64) float64 {
	t, n := 0.0, 0
	for _, x := range v {
		if !math.IsNaN(x) {
			t += x
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return t
}

func maxOf(v []float64) float64 {
	r := math.NaN()
	for _, x := range v {
		if !math.IsNaN(x) && (math.IsNaN(r) || x > r) {
			r = x
		}
	}
	return r
}

func minOf(v []float64) float64 {
	r := math.NaN()
	for _, x := range v {
		if !math.IsNaN(x) && (math.IsNaN(r) || x < r) {
			r = x
		}
	}
	return r
}

func avgOf(v []float64) float64 {
	t, n := 0.0, 0
	for _, x := range v {
		if !math.IsNaN(x) {
			t += x
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return t / float64(n)
}

func lastOf(v []float64) float64 {
	for i := len(v) - 1; i >= 0; i-- {
		if !math.IsNaN(v[i]) {
			return v[i]
		}
	}
	return math.NaN()
}

// aggFuncs are graphite-web's aggregation functions (functions/aggfuncs.py)
// over a row where NaN is None.
var aggFuncs = map[string]func([]float64) float64{
	"average": avgOf, "avg": avgOf,
	"avg_zero": func(v []float64) float64 {
		if len(v) == 0 {
			return math.NaN()
		}
		t := 0.0
		for _, x := range v {
			if !math.IsNaN(x) {
				t += x
			}
		}
		return t / float64(len(v))
	},
	"sum": sumOf, "total": sumOf,
	"min": minOf, "max": maxOf,
	"last": lastOf, "current": lastOf,
	"count": func(v []float64) float64 {
		n := 0
		for _, x := range v {
			if !math.IsNaN(x) {
				n++
			}
		}
		return float64(n)
	},
	"range": func(v []float64) float64 { return maxOf(v) - minOf(v) }, "rangeOf": func(v []float64) float64 { return maxOf(v) - minOf(v) },
	"median": func(v []float64) float64 {
		var s []float64
		for _, x := range v {
			if !math.IsNaN(x) {
				s = append(s, x)
			}
		}
		if len(s) == 0 {
			return math.NaN()
		}
		sortFloats(s)
		m := len(s) / 2
		if len(s)%2 == 0 {
			return (s[m-1] + s[m]) / 2
		}
		return s[m]
	},
	"multiply": func(v []float64) float64 {
		if len(v) == 0 {
			return math.NaN()
		}
		p := 1.0
		for _, x := range v {
			if math.IsNaN(x) {
				return math.NaN()
			}
			p *= x
		}
		return p
	},
	"diff": func(v []float64) float64 {
		var s []float64
		for _, x := range v {
			if !math.IsNaN(x) {
				s = append(s, x)
			}
		}
		if len(s) == 0 {
			return math.NaN()
		}
		t := s[0]
		for _, x := range s[1:] {
			t -= x
		}
		return t
	},
	"stddev": func(v []float64) float64 {
		avg := avgOf(v)
		if math.IsNaN(avg) {
			return math.NaN()
		}
		t, n := 0.0, 0
		for _, x := range v {
			if !math.IsNaN(x) {
				t += (x - avg) * (x - avg)
				n++
			}
		}
		return math.Sqrt(t / float64(n))
	},
}

func sortFloats(s []float64) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// PyRepr formats a float as Python 3's repr() does (None for NaN).
func PyRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "None"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	exp := math.Floor(math.Log10(math.Abs(f)))
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if exp >= 16 || exp < -4 {
		// Python: 1e+16, 1.5e-05 — mantissa shortest, exponent 2+ digits.
		s = strconv.FormatFloat(f, 'e', -1, 64)
		mant, ex, _ := strings.Cut(s, "e")
		sign := ex[0]
		digits := strings.TrimLeft(ex[1:], "0")
		if len(digits) < 2 {
			digits = strings.Repeat("0", 2-len(digits)) + digits
		}
		return mant + "e" + string(sign) + digits
	}
	s = strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// PyG formats a float as Python's "%g" does.
func PyG(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', 6, 64)
}

// pyRound rounds like Python's round(x, n) (correctly rounded, ties to even).
func pyRound(x float64, n int) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(x, 'f', n, 64), 64)
	if err != nil {
		return x
	}
	return r
}
