package plaintext

import (
	"errors"
	"testing"
)

func TestParseLine(t *testing.T) {
	good := []struct {
		in   string
		name string
		v    float64
		ts   int64
	}{
		{"a.b.c 1.5 1700000000", "a.b.c", 1.5, 1700000000},
		{"a\t-2e3\t1700000000\r", "a", -2000, 1700000000},
		{"  a  0  1700000000.75 ", "a", 0, 1700000000},
		{"a 1 -1", "a", 1, -1},
	}
	for _, g := range good {
		p, err := ParseLine([]byte(g.in))
		if err != nil || string(p.Name) != g.name || p.Value != g.v || p.Timestamp != g.ts {
			t.Errorf("ParseLine(%q) = %+v, %v", g.in, p, err)
		}
	}
	bad := map[string]error{
		"":                  ErrFields,
		"a 1":               ErrFields,
		"a 1 2 3":           ErrFields,
		"a x 1700000000":    ErrValue,
		"a NaN 1700000000":  ErrValue,
		"a +Inf 1700000000": ErrValue,
		"a 1 tomorrow":      ErrTimestamp,
		"a 1 1e400":         ErrTimestamp,
	}
	for in, want := range bad {
		if _, err := ParseLine([]byte(in)); !errors.Is(err, want) {
			t.Errorf("ParseLine(%q) error = %v, want %v", in, err, want)
		}
	}
}

func TestLinesAndAppend(t *testing.T) {
	var buf []byte
	buf = AppendLine(buf, "x.y", 0.1, 10)
	buf = AppendLine(buf, "z", 3, 20)
	buf = append(buf, "\n  \nlast 4 30"...)
	var got []string
	Lines(buf, func(l []byte) { got = append(got, string(l)) })
	want := []string{"x.y 0.1 10", "z 3 20", "last 4 30"}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"a.b 1 2", "a 1e308 99999999999", "a\t1\t-1", "x  y z", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		p, err := ParseLine(line)
		if err != nil {
			return
		}
		if len(p.Name) == 0 {
			t.Fatalf("empty name accepted from %q", line)
		}
		out := AppendLine(nil, string(p.Name), p.Value, p.Timestamp)
		again, err := ParseLine(out[:len(out)-1])
		if err != nil || string(again.Name) != string(p.Name) || again.Value != p.Value || again.Timestamp != p.Timestamp {
			t.Fatalf("round trip of %q: %q gave %+v, %v", line, out, again, err)
		}
	})
}
