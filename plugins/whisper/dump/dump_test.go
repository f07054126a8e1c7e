package dump

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/whisper/cache"
)

func sample() []cache.Batch {
	return []cache.Batch{
		{Name: "a.b", Points: []cache.Point{cache.MakePoint(100, 1.5), cache.MakePoint(110, math.MaxFloat64)}},
		{Name: "with space.ü", Points: []cache.Point{cache.MakePoint(0, -0.1)}},
	}
}

func TestRoundTripAndChecks(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.dump")
	if got, err := Read(path, "/base"); got != nil || err != nil {
		t.Fatalf("missing dump: %v %v", got, err)
	}
	if err := Write(path, "/base", sample()); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path, "/base")
	if err != nil || !reflect.DeepEqual(got, sample()) {
		t.Fatalf("read back %v, %v", got, err)
	}
	if _, err := Read(path, "/other"); !errors.Is(err, ErrForeign) {
		t.Errorf("foreign: %v", err)
	}
	b, _ := os.ReadFile(path)
	for cut := 0; cut < len(b); cut += 7 {
		os.WriteFile(path, b[:cut], 0o644)
		if _, err := Read(path, "/base"); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated at %d: %v", cut, err)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*tmp-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	aside, err := MoveAside(path)
	if err != nil || aside == path {
		t.Fatal(aside, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("not moved: %v", err)
	}
}

// FuzzRead: any bytes are read as a valid dump, or refused as corrupt or
// foreign; never a panic or an unbounded allocation.
func FuzzRead(f *testing.F) {
	dir := f.TempDir()
	seed := filepath.Join(dir, "seed")
	if err := Write(seed, "/b", sample()); err != nil {
		f.Fatal(err)
	}
	b, _ := os.ReadFile(seed)
	f.Add(b)
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "d")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := Read(path, "/b")
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrForeign) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if err == nil && got == nil && len(data) > 0 {
			t.Fatalf("nil batches without error for %d bytes", len(data))
		}
	})
}
