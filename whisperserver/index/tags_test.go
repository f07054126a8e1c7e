package index

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
)

// touchTagged creates the files of tagged series where carbon 1.1 puts
// them (metricpath.Rel's _tagged layout).
func touchTagged(t testing.TB, root string, names ...string) {
	t.Helper()
	for _, n := range names {
		rel, err := metricpath.Rel(n)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var tagFixture = []string{
	"app.req;dc=eu;env=prod", "app.req;dc=eu;env=dev", "app.req;dc=us;env=prod", "app.lat;env=prod",
	"app.lat;env=prod;host=a.b/c", "disk.free;dc=eu",
}

func TestTagIndex(t *testing.T) {
	root := t.TempDir()
	touch(t, root, "plain/x.wsp")
	touchTagged(t, root, tagFixture...)
	x, err := New(root, Options{RescanInterval: -1, NoWatch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	ctx := context.Background()
	// Not path fragments: _tagged is hidden from find, children and names.
	ms, err := x.Find(ctx, "*", 0)
	if err != nil || !reflect.DeepEqual(paths(ms), []string{"plain/"}) {
		t.Errorf("find * = %v, %v", paths(ms), err)
	}
	if ms, _ := x.Find(ctx, "_tagged.*", 0); len(ms) != 0 {
		t.Errorf("find _tagged.* = %v", paths(ms))
	}
	if _, ok := x.Children(TaggedDir); ok {
		t.Error("Children(_tagged) answered")
	}
	if got := x.Names(); !reflect.DeepEqual(got, []string{"plain.x"}) {
		t.Errorf("Names = %v", got)
	}
	if x.Count() != 1 || x.TaggedCount() != len(tagFixture) {
		t.Errorf("Count %d, TaggedCount %d", x.Count(), x.TaggedCount())
	}
	for _, c := range []struct {
		exprs []string
		want  []string
		err   bool
	}{
		{[]string{"env=prod"}, []string{"app.lat;env=prod", "app.lat;env=prod;host=a.b/c", "app.req;dc=eu;env=prod", "app.req;dc=us;env=prod"}, false},
		{[]string{"name=app.req", "dc!=eu"}, []string{"app.req;dc=us;env=prod"}, false},
		{[]string{"name=~app", "env=~pr"}, []string{"app.lat;env=prod", "app.lat;env=prod;host=a.b/c", "app.req;dc=eu;env=prod", "app.req;dc=us;env=prod"}, false},
		{[]string{"name=~.*req$"}, []string{"app.req;dc=eu;env=dev", "app.req;dc=eu;env=prod", "app.req;dc=us;env=prod"}, false},
		{[]string{"name=~req"}, []string{}, false}, // anchored at the start
		{[]string{"env!=~p.*", "name=~app"}, []string{"app.req;dc=eu;env=dev"}, false},
		{[]string{"dc="}, nil, true},              // matches empty only
		{[]string{"dc!=us", "env!=x"}, nil, true}, // all match empty
		{[]string{"dc=", "name=~app"}, []string{"app.lat;env=prod", "app.lat;env=prod;host=a.b/c"}, false},
		{[]string{"host=a.b/c"}, []string{"app.lat;env=prod;host=a.b/c"}, false},
		{[]string{"bad"}, nil, true},
	} {
		got, err := x.FindSeries(c.exprs)
		var te *TagError
		if c.err != (err != nil) || (err != nil && !errors.As(err, &te)) {
			t.Errorf("%v: error %v", c.exprs, err)
			continue
		}
		if !c.err && !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v = %q, want %q", c.exprs, got, c.want)
		}
	}
	if got, _ := x.Tags("", 0); !reflect.DeepEqual(got, []string{"dc", "env", "host", "name"}) {
		t.Errorf("Tags = %v", got)
	}
	if got, _ := x.Tags("e|h", 1); !reflect.DeepEqual(got, []string{"env"}) {
		t.Errorf("Tags(e|h, 1) = %v", got)
	}
	vals, ok, _ := x.TagValues("env", "", 0)
	if !ok || !reflect.DeepEqual(vals, []TagValue{{"dev", 1}, {"prod", 4}}) {
		t.Errorf("TagValues env = %v %v", vals, ok)
	}
	if _, ok, _ := x.TagValues("nope", "", 0); ok {
		t.Error("unknown tag found")
	}
	if got, _ := x.AutoCompleteTags([]string{"env=prod"}, "", 0); !reflect.DeepEqual(got, []string{"dc", "host", "name"}) {
		t.Errorf("AutoCompleteTags = %v", got)
	}
	if got, _ := x.AutoCompleteTags(nil, "d", 0); !reflect.DeepEqual(got, []string{"dc"}) {
		t.Errorf("AutoCompleteTags(d) = %v", got)
	}
	if got, _ := x.AutoCompleteValues([]string{"name=app.req"}, "dc", "", 1); !reflect.DeepEqual(got, []string{"eu"}) {
		t.Errorf("AutoCompleteValues = %v", got)
	}
	if got := x.TaggedNames(); len(got) != len(tagFixture) {
		t.Errorf("TaggedNames = %v", got)
	}
	if got, _ := x.FindSeries([]string{"name=plain.x"}); !reflect.DeepEqual(got, []string{"plain.x"}) {
		t.Errorf("untagged series by name = %v", got)
	}
	// Untagged metrics are series with the tag name only (as carbon
	// registers them), seen through the name tree, not copied.
	if vals, ok, _ := x.TagValues("name", "", 0); !ok || !reflect.DeepEqual(vals, []TagValue{{"app.lat", 2}, {"app.req", 3}, {"disk.free", 1}, {"plain.x", 1}}) {
		t.Errorf("TagValues name = %v", vals)
	}
	if got, _ := x.AutoCompleteValues(nil, "name", "pl", 0); !reflect.DeepEqual(got, []string{"plain.x"}) {
		t.Errorf("AutoCompleteValues(name, pl) = %v", got)
	}
	if got, _ := x.FindSeries([]string{"name=~pl", "env="}); !reflect.DeepEqual(got, []string{"plain.x"}) {
		t.Errorf("name=~pl env= = %v", got)
	}
	if got, _ := x.FindSeries([]string{"name=~pl", "env!="}); len(got) != 0 {
		t.Errorf("name=~pl env!= = %v", got)
	}
	if got, _ := x.AutoCompleteValues(nil, "name", "app", 0); !reflect.DeepEqual(got, []string{"app.lat", "app.req"}) {
		t.Errorf("AutoCompleteValues(name, app) = %v", got)
	}
}

// TestTagIndexLive checks that tagged series written or removed after the
// start are seen without a rescan (fsnotify), within a bounded wait.
func TestTagIndexLive(t *testing.T) {
	root := t.TempDir()
	touchTagged(t, root, "a.b;k=v")
	x, err := New(root, Options{RescanInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	touchTagged(t, root, "a.b;k=w", "c;k=v")
	waitFor(t, func() bool { s, _ := x.FindSeries([]string{"k=~."}); return len(s) == 3 })
	if err := os.RemoveAll(filepath.Join(root, TaggedDir)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return x.TaggedCount() == 0 })
	if tags, _ := x.Tags("", 0); len(tags) != 0 {
		t.Errorf("tags left after removal: %v", tags)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// FuzzTagExpr: any expression list parses or is a TagError, never a
// panic; a parsed expression's Match agrees with its matchesEmpty.
func FuzzTagExpr(f *testing.F) {
	for _, s := range []string{"env=prod", "dc!=eu", "name=~app\\..*", "host!=~web[", "=x", "a!=", "k=~(", "x=~^$", ";"} {
		f.Add(s, "prod")
	}
	root := f.TempDir()
	touch(f, root, "plain/x.wsp")
	touchTagged(f, root, tagFixture...)
	x, err := New(root, Options{RescanInterval: -1, NoWatch: true})
	if err != nil {
		f.Fatal(err)
	}
	defer x.Close()
	f.Fuzz(func(t *testing.T, expr, value string) {
		e, err := ParseTagExpr(expr)
		if err != nil {
			var te *TagError
			if !errors.As(err, &te) {
				t.Fatalf("%q: error %v is not a TagError", expr, err)
			}
			return
		}
		if e.Match("") != e.matchesEmpty {
			t.Fatalf("%q: Match(\"\") = %v, matchesEmpty %v", expr, e.Match(""), e.matchesEmpty)
		}
		_ = e.Match(value)
		if _, err := x.FindSeries([]string{expr, "name=~a"}); err != nil {
			var te *TagError
			if !errors.As(err, &te) {
				t.Fatalf("%q: FindSeries error %v", expr, err)
			}
		}
	})
}
