package render

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := map[string]string{
		"a.b.c":                            "a.b.c",
		"a.*.c":                            "a.*.c",
		"a.{b,c}.d[0-9]":                   "a.{b,c}.d[0-9]",
		"sumSeries(a.*, b.c)":              "sumSeries(a.*,b.c)",
		`aliasSub(a.b, "(^.*$)", "\1 A")`:  `aliasSub(a.b,"(^.*$)","\1 A")`,
		"scale(a, -2.5)":                   "scale(a,-2.5)",
		"scale(a,1e3)":                     "scale(a,1000.0)",
		"limit(a,3)":                       "limit(a,3)",
		"sortByName(a, reverse=true)":      "sortByName(a,reverse=True)",
		"transformNull(a, None)":           "transformNull(a,None)",
		"keepLastValue(a, inf)":            "keepLastValue(a,inf)",
		"a.b|scale(2)|alias('x')":          `alias(scale(a.b,2),"x")`,
		"constantLine(100)":                "constantLine(100)",
		"1a.b":                             "1a.b",
		"host-1.cpu_0:x;tag=v":             "host-1.cpu_0:x;tag=v",
		`a\(b\).c`:                         `a\(b\).c`,
		"  sumSeries ( a , b )  ":          "sumSeries(a,b)",
		"summarize(a.b,\"1h\",'max',true)": `summarize(a.b,"1h","max",True)`,
	}
	for in, want := range cases {
		e, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if got := e.String(); got != want {
			t.Errorf("Parse(%q) = %s, want %s", in, got, want)
		}
	}
	// Numbers keep their int-ness; strings are kept raw as graphite does.
	e, _ := Parse(`f(1, 1.0, "a\"b")`)
	if !e.Args[0].IsInt || e.Args[1].IsInt || e.Args[2].Str != `a\"b` {
		t.Errorf("args = %+v %+v %+v", e.Args[0], e.Args[1], e.Args[2])
	}
	bad := []string{"", "a(", "a(b", "a(b,)", "a.b.", "a..b", ")", `f("x)`, "f(a=1, b)", "a b", "f(a)(b)", strings.Repeat("f(", 100) + "a" + strings.Repeat(")", 100)}
	for _, in := range bad {
		if e, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %s, want an error", in, e)
		}
	}
}

func TestFirstPath(t *testing.T) {
	e, err := Parse(`alias(scale(a.b.c, 2), "x")`)
	if err != nil {
		t.Fatal(err)
	}
	if p := e.FirstPath(); p != "a.b.c" {
		t.Errorf("FirstPath = %q", p)
	}
}

func TestEvalErrors(t *testing.T) {
	fetch := func(ctx context.Context, p string, s, e, n int64) ([]*Series, error) {
		return []*Series{{Name: p, PathExpression: p, Start: s, End: e, Step: 10, Values: []float64{1, 2}, ValuesPerPoint: 1}}, nil
	}
	for in, want := range map[string]string{
		"nosuch(a)":                    "unknown function: nosuch",
		`scale(a, "x")`:                "factor: expected a number",
		"scale(a)":                     "missing required parameter factor",
		`consolidateBy(a, "median")`:   "invalid option",
		"limit(a, 1, 2, 3)":            "too many arguments",
		"sumSeries()":                  "missing required parameter seriesLists",
		`summarize(a, "xyz")`:          "invalid interval",
		`aliasSub(a, "(", "x")`:        "bad regular expression",
		"alias(a, b=1)":                "unexpected keyword argument b",
		`movingAverage(a, "nonsense")`: "windowSize",
	} {
		e, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		c := &Context{Ctx: context.Background(), Start: 0, End: 100, Now: 100, Fetch: fetch}
		_, err = c.EvalTargets([]*Expr{e})
		if err == nil || !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want an input error containing %q", in, err, want)
		}
	}
}

func TestPyFormatting(t *testing.T) {
	for f, want := range map[float64]string{1: "1.0", 1.5: "1.5", 1e16: "1e+16", 1.5e-5: "1.5e-05", 0.0001: "0.0001", 123456789012345: "123456789012345.0", -2: "-2.0"} {
		if got := PyRepr(f); got != want {
			t.Errorf("PyRepr(%v) = %s, want %s", f, got, want)
		}
	}
	if PyRepr(math.NaN()) != "None" {
		t.Error("NaN is not None")
	}
	for f, want := range map[float64]string{2: "2", 2.5: "2.5", 1e6: "1e+06", 0.1: "0.1", 1234567: "1.23457e+06"} {
		if got := PyG(f); got != want {
			t.Errorf("PyG(%v) = %s, want %s", f, got, want)
		}
	}
	// Python 3's round(x, n), as printed by python3 -c "print(round(x, n))".
	for _, c := range []struct {
		x    float64
		n    int
		want float64
	}{{0.1234565, 6, 0.123456}, {2.675, 2, 2.67}, {0.125, 2, 0.12}, {0.375, 2, 0.38}, {1.0000005, 6, 1.000001}, {-2.5, 0, -2}} {
		if got := pyRound(c.x, c.n); got != c.want {
			t.Errorf("pyRound(%v, %d) = %v, want Python's %v", c.x, c.n, got, c.want)
		}
	}
	if pyReplacement(`\1 A $x \g<2>`) != `${1} A $$x ${2}` {
		t.Errorf("pyReplacement = %q", pyReplacement(`\1 A $x \g<2>`))
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"a.b", `aliasSub(sumSeries(a.*,b.{c,d}),"(^.*$)","\1 A")`, "f(1,2.5,-3e4,true,none,inf,k=v)", "a|b()|c(1)", `a\.b`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			return
		}
		// What parses prints back to something that parses to the same.
		again, err := Parse(e.String())
		if err != nil {
			t.Fatalf("%q parsed to %s, which does not parse: %v", s, e, err)
		}
		// One round may turn a piped path into a number (graphite's
		// grammar has the same ambiguity); after that it is stable.
		third, err := Parse(again.String())
		if err != nil || third.String() != again.String() {
			t.Fatalf("%q: %s then %s then %v (%v)", s, e, again, third, err)
		}
	})
}
