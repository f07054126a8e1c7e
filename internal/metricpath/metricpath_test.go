package metricpath

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRel(t *testing.T) {
	good := map[string]string{
		"a":                   "a.wsp",
		"stats.timers.x.mean": "stats/timers/x/mean.wsp",
		"host-1.cpu_0":        "host-1/cpu_0.wsp",
		"_taggedx.y":          "_taggedx/y.wsp",
	}
	for name, want := range good {
		got, err := Rel(name)
		if err != nil || got != filepath.FromSlash(want) {
			t.Errorf("Rel(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	bad := map[string]error{
		"":                                 ErrEmpty,
		"a..b":                             ErrComponent,
		".a":                               ErrComponent,
		"a.":                               ErrComponent,
		"..":                               ErrComponent,
		"a/../../etc/passwd":               ErrChar,
		"a\\b":                             ErrChar,
		"a\x00b":                           ErrChar,
		"x." + strings.Repeat("y", 252):    ErrLongPart,
		strings.Repeat("z", 256) + ".leaf": ErrLongPart,
		strings.Repeat("a.", 3000) + "b":   ErrTooLong,
	}
	for name, want := range bad {
		if _, err := Rel(name); !errors.Is(err, want) {
			t.Errorf("Rel(%.40q) error = %v, want %v", name, err, want)
		}
	}
	// The longest leaf that still fits with the extension.
	if _, err := Rel("x." + strings.Repeat("y", 251)); err != nil {
		t.Errorf("251-byte leaf refused: %v", err)
	}
}

func TestNameRoundTrip(t *testing.T) {
	for _, name := range []string{"a", "a.b.c", "stats_counts.x-y"} {
		rel, err := Rel(name)
		if err != nil {
			t.Fatal(err)
		}
		back, ok := Name(rel)
		if !ok || back != name {
			t.Errorf("Name(%q) = %q, %v; want %q", rel, back, ok, name)
		}
	}
	for _, rel := range []string{"a/b.txt", "a.b.wsp", "../a.wsp", "a//b.wsp", ".wsp"} {
		if name, ok := Name(rel); ok {
			t.Errorf("Name(%q) = %q, want refused", rel, name)
		}
	}
}

func TestWithin(t *testing.T) {
	base := t.TempDir()
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(base, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(base, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "real"), filepath.Join(base, "alias")); err != nil {
		t.Fatal(err)
	}
	cases := map[string]bool{
		filepath.Join(base, "real", "x.wsp"):          true,
		filepath.Join(base, "new", "deeper", "x.wsp"): true,
		filepath.Join(base, "alias", "x.wsp"):         true,
		filepath.Join(base, "escape", "x.wsp"):        false,
		filepath.Join(base, "escape", "new", "x.wsp"): false,
		filepath.Join(base, "..", "x.wsp"):            false,
		filepath.Join(outside, "x.wsp"):               false,
	}
	for p, want := range cases {
		got, err := Within(base, p)
		if err != nil {
			t.Fatalf("Within(%s): %v", p, err)
		}
		if got != want {
			t.Errorf("Within(%s) = %v, want %v", p, got, want)
		}
	}
}

func TestSafeComponent(t *testing.T) {
	cases := map[string]string{
		"sda1":          "sda1",
		"/var/lib":      "_var_lib",
		"eth0.100":      "eth0_100",
		"":              "_",
		"café":          "caf_",
		"a b\x00c":      "a_b_c",
		"..":            "__",
		"x" + "yyyyyyy": "xyyy",
	}
	for in, want := range cases {
		max := 200
		if in == "xyyyyyyy" {
			max = 4
		}
		got := SafeComponent(in, max)
		if got != want {
			t.Errorf("SafeComponent(%q) = %q, want %q", in, got, want)
		}
		if _, err := Rel(got); err != nil {
			t.Errorf("Rel(SafeComponent(%q)) refused: %v", in, err)
		}
	}
}

// TestSplitMatchesRel: Split's two parts joined are Rel's path, and both
// refuse the same names, over generated names mixing every rule's edge.
func TestSplitMatchesRel(t *testing.T) {
	pieces := []string{"a", "b1", ".", "..", "", "/", "\\", "\x00", ";k=v", strings.Repeat("y", 251), strings.Repeat("z", 252)}
	rng := uint32(1)
	next := func(n int) int { rng = rng*1664525 + 1013904223; return int(rng>>8) % n }
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for k := next(6); k >= 0; k-- {
			b.WriteString(pieces[next(len(pieces))])
		}
		name := b.String()
		rel, rerr := Rel(name)
		dir, file, serr := Split(name)
		if (rerr == nil) != (serr == nil) {
			t.Fatalf("%q: Rel error %v, Split error %v", name, rerr, serr)
		}
		if rerr != nil {
			continue
		}
		if got := filepath.Join(dir, file); got != rel || filepath.Dir(rel) != dir || filepath.Base(rel) != file {
			t.Fatalf("%q: Split %q + %q, Rel %q", name, dir, file, rel)
		}
		if IsTagged(name) {
			if !strings.HasPrefix(rel, TaggedDir) {
				t.Fatalf("%q: Rel %q, not in the tagged folder", name, rel)
			}
			continue
		}
		if want := filepath.Join(strings.Split(name, ".")...) + Ext; rel != want {
			t.Fatalf("%q: Rel %q, want %q", name, rel, want)
		}
	}
}
