package render

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
)

// TestEvents checks events() as graphite-web's: one point per second of
// the range, the count of matching events where there are some, None
// elsewhere, tags matched all together, "*" for every event.
func TestEvents(t *testing.T) {
	type ev struct {
		t    int64
		tags []string
	}
	log := []ev{{105, []string{"alert", "A", "firing"}}, {105, []string{"alert", "B", "firing"}},
		{107, []string{"alert", "A", "resolved"}}, {120, []string{"alert", "A", "firing"}}}
	var asked [][]string
	source := func(start, end int64, tags []string) []int64 {
		asked = append(asked, tags)
		var out []int64
		for _, e := range log {
			if e.t < start || e.t > end {
				continue
			}
			all := true
			for _, w := range tags {
				all = all && slices.Contains(e.tags, w)
			}
			if all {
				out = append(out, e.t)
			}
		}
		return out
	}
	for target, want := range map[string]map[int]float64{
		`events("*")`:              {5: 2, 7: 1},
		`events("alert", "A")`:     {5: 1, 7: 1},
		`events("firing")`:         {5: 2},
		`events("alert", "nopes")`: {},
	} {
		e, err := Parse(target)
		if err != nil {
			t.Fatalf("Parse(%q): %v", target, err)
		}
		c := &Context{Ctx: context.Background(), Start: 100, End: 110, Now: 110, Events: source}
		got, err := c.EvalTargets([]*Expr{e})
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		if len(got) != 1 {
			t.Fatalf("%s: %d series, want 1", target, len(got))
		}
		s := got[0]
		wantName := target
		if s.Name != wantName || s.PathExpression != wantName || s.Step != 1 || s.Start != 100 || len(s.Values) != 10 {
			t.Errorf("%s: name %q path %q step %d start %d len %d", target, s.Name, s.PathExpression, s.Step, s.Start, len(s.Values))
		}
		for i, v := range s.Values {
			w, ok := want[i]
			if ok && v != w || !ok && !math.IsNaN(v) {
				t.Errorf("%s: value %d = %v, want %v (set %v)", target, i, v, w, ok)
			}
		}
	}
	if !slices.ContainsFunc(asked, func(tags []string) bool { return tags == nil }) {
		t.Errorf(`events("*") asked for tags %q, want every event (nil)`, asked)
	}
}

// TestEventsBounded refuses a range that would need more points than
// events() may allocate.
func TestEventsBounded(t *testing.T) {
	e, _ := Parse(`events("*")`)
	c := &Context{Ctx: context.Background(), Start: 0, End: 400 * 86400, Now: 400 * 86400}
	if _, err := c.EvalTargets([]*Expr{e}); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("a 400-day events() gave %v, want an error naming its limit", err)
	}
}
