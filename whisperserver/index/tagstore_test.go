package index

import (
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"testing"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
)

// naiveFind is the reference for findSeries: every series (tagged and
// untagged) checked against every expression, as graphite-web's
// LocalDatabaseTagDB does in SQL.
func naiveFind(series map[string]bool, plain []string, exprs []TagExpr) ([]string, bool) {
	ok := false
	for _, e := range exprs {
		ok = ok || !e.matchesEmpty
	}
	if !ok {
		return nil, false
	}
	out := []string{}
	check := func(name string, tags []metricpath.Tag) {
		for _, e := range exprs {
			if !e.Match(tagValue(tags, e.Tag)) {
				return
			}
		}
		out = append(out, name)
	}
	for s := range series {
		tags, _ := seriesTags(s)
		check(s, tags)
	}
	for _, n := range plain {
		check(n, []metricpath.Tag{{Key: "name", Value: n}})
	}
	sort.Strings(out)
	return out, true
}

// randomExpr builds one expression over the generator's tags and values.
func randomExpr(r *rand.Rand) string {
	tags := []string{"name", "env", "dc", "host", "absent"}
	ops := []string{"=", "!=", "=~", "!=~"}
	tag, op := tags[r.Intn(len(tags))], ops[r.Intn(len(ops))]
	var spec string
	switch tag {
	case "name":
		spec = fmt.Sprintf("m%d", r.Intn(6))
	case "env":
		spec = []string{"prod", "dev", "p", ""}[r.Intn(4)]
	case "dc":
		spec = fmt.Sprintf("dc%d", r.Intn(4))
	default:
		spec = fmt.Sprintf("h%d", r.Intn(12))
	}
	if op == "=~" || op == "!=~" {
		spec = []string{spec, spec + ".*", "(" + spec + "|x)", ".*", "", "[a-z]+1$"}[r.Intn(6)]
	}
	return tag + op + spec
}

// TestTagIndexMatchesReference adds and removes random series and checks
// every query against naiveFind, so the posting lists, value columns,
// reused ids and the driver choice cannot drift from the plain rule.
func TestTagIndexMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(42))
	ti := newTagIndex()
	live := map[string]bool{}
	plain := []string{"m1", "m3", "other"}
	has := map[string]bool{}
	for _, n := range plain {
		has[n] = true
	}
	pv := plainView{names: plain, has: func(n string) bool { return has[n] }}
	randomSeries := func() string {
		s := fmt.Sprintf("m%d", r.Intn(6))
		if r.Intn(3) > 0 {
			s += fmt.Sprintf(";dc=dc%d", r.Intn(4))
		}
		if r.Intn(2) == 0 {
			s += ";env=" + []string{"prod", "dev", "pre"}[r.Intn(3)]
		}
		if r.Intn(3) == 0 {
			s += fmt.Sprintf(";host=h%d", r.Intn(12))
		}
		return s
	}
	for step := 0; step < 3000; step++ {
		s := randomSeries()
		if live[s] && r.Intn(2) == 0 {
			ti.remove(s)
			delete(live, s)
		} else {
			ti.add(s)
			live[s] = true
		}
		if ti.len() != len(live) {
			t.Fatalf("step %d: %d series indexed, want %d", step, ti.len(), len(live))
		}
		if step%10 != 0 {
			continue
		}
		var strs []string
		for n := 1 + r.Intn(3); n > 0; n-- {
			strs = append(strs, randomExpr(r))
		}
		exprs, err := parseTagExprs(strs)
		if err != nil {
			t.Fatalf("%v: %v", strs, err)
		}
		want, ok := naiveFind(live, plain, exprs)
		ti.refreshOrder()
		got, err := ti.findSeries(exprs, pv)
		if !ok {
			if err == nil {
				t.Fatalf("step %d %v: no error, want one (every expression matches empty)", step, strs)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d %v:\n got %v, %v\nwant %v", step, strs, got, err, want)
		}
	}
	// Many changes between two queries, more than there are ids: a full
	// re-sort (reorderAll).
	for i := 0; i < 500; i++ {
		s := fmt.Sprintf("bulk%03d;k=%d", 499-i, i%7)
		ti.add(s)
		live[s] = true
	}
	for s := range live {
		if r.Intn(3) == 0 {
			ti.remove(s)
			delete(live, s)
		}
	}
	for i := 0; i < len(ti.recs); i++ { // churn: the same ids again and again
		ti.remove("churn;k=1")
		ti.add("churn;k=1")
	}
	live["churn;k=1"] = true
	if !ti.reorderAll {
		t.Error("500 changes did not switch to a full re-sort")
	}
	ti.refreshOrder()
	if len(ti.order) != len(live) {
		t.Fatalf("order holds %d ids, want %d", len(ti.order), len(live))
	}
	for i := 1; i < len(ti.order); i++ {
		if a, b := ti.recs[ti.order[i-1]].name, ti.recs[ti.order[i]].name; a >= b {
			t.Fatalf("order[%d..%d] = %q, %q: not ascending", i-1, i, a, b)
		}
	}
	exprs, _ := parseTagExprs([]string{"k!="})
	want, _ := naiveFind(live, plain, exprs)
	if got, err := ti.findSeries(exprs, pv); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after bulk changes: got %v, %v\nwant %v", got, err, want)
	}
	for _, tag := range ti.sortedTags() {
		for _, v := range ti.sortedValues(tag) {
			n := 0
			for s := range live {
				tags, _ := seriesTags(s)
				if tagValue(tags, tag) == v {
					n++
				}
			}
			if got := ti.byTag[tag].count(v); got != n || n == 0 {
				t.Errorf("%s=%s: count %d, want %d (> 0)", tag, v, got, n)
			}
		}
	}
}

func TestPostingIDs(t *testing.T) {
	var p []uint32
	for _, id := range []uint32{5, 9, 1, 7, 9, 0} {
		p = insertID(p, id)
	}
	if want := []uint32{0, 1, 5, 7, 9}; !reflect.DeepEqual(p, want) {
		t.Fatalf("insert: %v, want %v", p, want)
	}
	for _, id := range []uint32{5, 4, 0, 9} {
		p = removeID(p, id)
	}
	if want := []uint32{1, 7}; !reflect.DeepEqual(p, want) {
		t.Fatalf("remove: %v, want %v", p, want)
	}
}
