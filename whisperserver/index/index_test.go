package index

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

func touch(t testing.TB, root string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(root, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func paths(ms []Match) []string {
	out := []string{}
	for _, m := range ms {
		s := m.Path
		if m.Leaf {
			s += "!"
		}
		if m.Branch {
			s += "/"
		}
		out = append(out, s)
	}
	return out
}

func TestFind(t *testing.T) {
	root := t.TempDir()
	touch(t, root, "a/b/c.wsp", "a/b/d.wsp", "a/b2/c.wsp", "a/x1.wsp", "a/x2.wsp", "a/x10.wsp", "a/.hidden.wsp",
		"a/notes.txt", "a/b.wsp", "top.wsp", "a/dotted.name.wsp", "e/empty/.keep")
	x, err := New(root, Options{RescanInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	ctx := context.Background()
	for pattern, want := range map[string][]string{
		"*":          {"a/", "e/", "top!"},
		"a.*":        {"a.b!/", "a.b2/", "a.x1!", "a.x10!", "a.x2!"},
		"a.x?":       {"a.x1!", "a.x2!"},
		"a.x[12]":    {"a.x1!", "a.x2!"},
		"a.x[!1]":    {"a.x2!"},
		"a.x{1,10}":  {"a.x1!", "a.x10!"},
		"a.{b,b2}.c": {"a.b.c!", "a.b2.c!"},
		"a.b*.c":     {"a.b.c!", "a.b2.c!"},
		"a.*.*":      {"a.b.c!", "a.b.d!", "a.b2.c!"},
		"a.b.c":      {"a.b.c!"},
		"a.nope":     {},
		"a.b.c.d":    {},
		"e.*":        {"e.empty/"},
		"a.{x1,b.c}": {"a.x1!"},
		"a.hidden":   {},
		"a.notes":    {},
	} {
		ms, err := x.Find(ctx, pattern, 0)
		if err != nil {
			t.Errorf("Find(%q): %v", pattern, err)
			continue
		}
		if got := paths(ms); !reflect.DeepEqual(got, want) {
			t.Errorf("Find(%q) = %v, want %v", pattern, got, want)
		}
	}
	if _, err := x.Find(ctx, "a.*", 2); !errors.Is(err, ErrTooMany) {
		t.Errorf("limit: %v", err)
	}
	for _, bad := range []string{"", "a..b", "a.{b", "a.}b", strings.Repeat("x", MaxPatternLen+1)} {
		if _, err := x.Find(ctx, bad, 0); err == nil {
			t.Errorf("Find(%q) accepted", bad)
		}
	}
	names := x.Names()
	want := []string{"a.b", "a.b.c", "a.b.d", "a.b2.c", "a.x1", "a.x10", "a.x2", "top"}
	if !reflect.DeepEqual(names, want) || x.Count() != len(want) {
		t.Errorf("Names = %v (count %d), want %v", names, x.Count(), want)
	}
	kids, ok := x.Children("a")
	if !ok || len(kids) != 5 || kids[0].Name != "b" || !kids[0].Leaf || !kids[0].Branch || kids[1].Name != "b2" || kids[1].Leaf {
		t.Errorf("Children(a) = %+v, %v", kids, ok)
	}
	if _, ok := x.Children("a.zz"); ok {
		t.Error("Children of a missing prefix")
	}
	if _, ok := x.Children("../etc"); ok {
		t.Error("Children(../etc)")
	}
}

func TestLiveAndSymlinks(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	touch(t, root, "a/one.wsp")
	touch(t, outside, "secret.wsp", "dir/s.wsp")
	if err := os.Symlink(filepath.Join(outside, "secret.wsp"), filepath.Join(root, "a", "leak.wsp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "dir"), filepath.Join(root, "a", "leakdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "a", "one.wsp"), filepath.Join(root, "a", "alias.wsp")); err != nil {
		t.Fatal(err)
	}
	for _, watch := range []bool{true, false} {
		x, err := New(root, Options{RescanInterval: -1, NoWatch: !watch})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		ms, _ := x.Find(ctx, "a.*", 0)
		if got := paths(ms); !reflect.DeepEqual(got, []string{"a.alias!", "a.one!"}) {
			t.Errorf("watch=%v: a.* = %v (symlinks out must not show)", watch, got)
		}
		// A file and a folder created while running are seen by the next query.
		touch(t, root, "a/two.wsp", "b/c/three.wsp")
		ms, _ = x.Find(ctx, "a.*", 0)
		if got := paths(ms); !reflect.DeepEqual(got, []string{"a.alias!", "a.one!", "a.two!"}) {
			t.Errorf("watch=%v: after create a.* = %v", watch, got)
		}
		ms, _ = x.Find(ctx, "b.c.*", 0)
		if got := paths(ms); !reflect.DeepEqual(got, []string{"b.c.three!"}) {
			t.Errorf("watch=%v: b.c.* = %v", watch, got)
		}
		if watch {
			// fsnotify keeps the flat name list current without queries.
			testutil.Eventually(t, 10*time.Second, func() bool { return x.Count() == 4 }, "count %d, want 4", x.Count())
		} else {
			x.Rescan()
			if x.Count() != 4 {
				t.Errorf("after rescan count = %d", x.Count())
			}
		}
		if err := os.Remove(filepath.Join(root, "a", "two.wsp")); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(root, "b")); err != nil {
			t.Fatal(err)
		}
		ms, _ = x.Find(ctx, "*", 0)
		if got := paths(ms); !reflect.DeepEqual(got, []string{"a/"}) {
			t.Errorf("watch=%v: after removal * = %v", watch, got)
		}
		x.Rescan()
		if n := x.Names(); !reflect.DeepEqual(n, []string{"a.alias", "a.one"}) {
			t.Errorf("watch=%v: names %v", watch, n)
		}
		x.Close()
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{"a.b", "a.*.{x,y}", "a.[!0-9]?", "{a,{b,c}}", "a[", "]{"} {
		f.Add(s, "abc")
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		cs, err := compile(pattern)
		if err != nil {
			return
		}
		for _, c := range cs {
			_ = c.match(name)
		}
	})
}

// The name list merged from changes equals a list built from scratch.
func TestNamesMerge(t *testing.T) {
	root := t.TempDir()
	x, err := New(root, Options{RescanInterval: -1, NoWatch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	want := map[string]bool{}
	rng := uint32(7)
	next := func(n uint32) uint32 { rng = rng*1664525 + 1013904223; return (rng >> 8) % n }
	for round := 0; round < 30; round++ {
		for k := 0; k < 20; k++ {
			name := fmt.Sprintf("d%d.s%d.m%d", next(3), next(3), next(6))
			p := filepath.Join(root, strings.ReplaceAll(name, ".", "/")+".wsp")
			switch next(3) {
			case 0, 1:
				touch(t, root, strings.ReplaceAll(name, ".", "/")+".wsp")
				want[name] = true
			case 2:
				os.Remove(p)
				delete(want, name)
			}
		}
		if next(4) == 0 {
			d := fmt.Sprintf("d%d", next(3))
			os.RemoveAll(filepath.Join(root, d))
			for n := range want {
				if strings.HasPrefix(n, d+".") {
					delete(want, n)
				}
			}
		}
		x.Rescan()
		got := x.Names()
		if len(got) != len(want) || x.Count() != len(want) {
			t.Fatalf("round %d: %d names (count %d), want %d", round, len(got), x.Count(), len(want))
		}
		for i, n := range got {
			if !want[n] || (i > 0 && got[i-1] >= n) {
				t.Fatalf("round %d: names %v", round, got)
			}
		}
	}
}

// A folder removed is gone from the very next query, before the watcher's
// event (here: no watcher, no rescan) and in the count and name list too.
func TestRemovedFolderGoneAtOnce(t *testing.T) {
	root := t.TempDir()
	touch(t, root, "a/b/c.wsp", "a/b/d/e.wsp", "f.wsp")
	x, err := New(root, Options{RescanInterval: -1, NoWatch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	ctx := context.Background()
	if got, _ := x.Find(ctx, "a.b.*", 0); !reflect.DeepEqual(paths(got), []string{"a.b.c!", "a.b.d/"}) {
		t.Fatalf("before removal: %v", paths(got))
	}
	if n := len(x.Names()); n != 3 {
		t.Fatalf("before removal: %d names", n)
	}
	if err := os.RemoveAll(filepath.Join(root, "a")); err != nil {
		t.Fatal(err)
	}
	for _, pattern := range []string{"a.b.*", "a.b.d.*", "a.*"} {
		if got, err := x.Find(ctx, pattern, 0); err != nil || len(got) != 0 {
			t.Errorf("%s after removal: %v %v", pattern, paths(got), err)
		}
	}
	if got := x.Names(); !reflect.DeepEqual(got, []string{"f"}) || x.Count() != 1 {
		t.Errorf("after removal: names %v, count %d", got, x.Count())
	}
	// Made again, it is found again.
	touch(t, root, "a/b/g.wsp")
	if got, _ := x.Find(ctx, "a.b.*", 0); !reflect.DeepEqual(paths(got), []string{"a.b.g!"}) {
		t.Errorf("after re-creation: %v", paths(got))
	}
}

// TestFindPrefixRange: a glob with a literal prefix ("m00*", "m00*9")
// is answered from the prefix's range of the sorted children; the answer
// must be what a scan of every child gives, with names sorting just
// before, inside and after the range.
func TestFindPrefixRange(t *testing.T) {
	root := t.TempDir()
	names := []string{"l999", "m", "m0", "m00", "m000", "m0009", "m001", "m00a9", "m01", "m0/", "n00", ".m00x"}
	var files []string
	for _, n := range names {
		if strings.HasSuffix(n, "/") {
			files = append(files, "d/"+n+"x.wsp") // a folder m0
			continue
		}
		files = append(files, "d/"+n+".wsp")
	}
	touch(t, root, files...)
	x, err := New(root, Options{RescanInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	for pattern, want := range map[string][]string{
		"d.m00*":  {"d.m00!", "d.m000!", "d.m0009!", "d.m001!", "d.m00a9!"},
		"d.m00*9": {"d.m0009!", "d.m00a9!"},
		"d.m0*":   {"d.m0!/", "d.m00!", "d.m000!", "d.m0009!", "d.m001!", "d.m00a9!", "d.m01!"},
		"d.m*0":   {"d.m0!/", "d.m00!", "d.m000!"},
		"d.l*":    {"d.l999!"},
		"d.o*":    {},
		"d.*0":    {"d.m0!/", "d.m00!", "d.m000!", "d.n00!"},
	} {
		ms, err := x.Find(context.Background(), pattern, 0)
		if err != nil {
			t.Fatalf("%s: %v", pattern, err)
		}
		if got := paths(ms); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v", pattern, got, want)
		}
	}
}

// TestFindSortedByPath: the walk visits each folder in name order, which
// is not path order when a name prefixes a sibling's and the next byte
// sorts before '.'; the answer is sorted by path all the same.
func TestFindSortedByPath(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "a/x.wsp", "a-/y.wsp", "a+b/z.wsp", "ab/w.wsp")
	ix, err := New(dir, Options{NoWatch: true, RescanInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	ms, err := ix.Find(context.Background(), "*.*", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a+b.z!", "a-.y!", "a.x!", "ab.w!"}
	if got := paths(ms); !reflect.DeepEqual(got, want) {
		t.Fatalf("find *.* = %v, want %v", got, want)
	}
}
