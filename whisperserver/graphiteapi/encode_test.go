package graphiteapi

import (
	"encoding/json"
	"math"
	"testing"
	"unicode/utf8"
)

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"a.b", `q"uo\te`, "tab\tnl\n", "\x00\x7f", "é✓", "\xff\xfe", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q gave invalid JSON %s: %v", s, b, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("%q came back as %q", s, back)
		}
	})
}

func TestAppendJSONFloat(t *testing.T) {
	for _, v := range []float64{0, 1, -1, 1.5, 1e-7, 1e21, 123456789012345, 1e15, -2.5e-300, math.MaxFloat64, 0.1 + 0.2} {
		b := appendJSONFloat(nil, v)
		var back float64
		if err := json.Unmarshal(b, &back); err != nil || back != v {
			t.Errorf("%v → %s → %v (%v)", v, b, back, err)
		}
	}
	for v, want := range map[float64]string{math.NaN(): "null", math.Inf(1): "1e9999", math.Inf(-1): "-1e9999"} {
		if got := string(appendJSONFloat(nil, v)); got != want {
			t.Errorf("%v → %s, want %s", v, got, want)
		}
	}
}
