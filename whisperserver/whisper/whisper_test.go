package whisper

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/whisperfile"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
	gowhisper "github.com/lomik/go-whisper"
)

// pyFetch asks whisper.py for fetch(path, from, until, now) of each range.
func pyFetch(t *testing.T, path string, now int64, ranges [][2]int64) []*struct {
	Start, End, Step int64
	Values           []*float64
} {
	t.Helper()
	script := `
import json, sys, whisper
path, now = sys.argv[1], int(sys.argv[2])
out = []
for r in json.loads(sys.argv[3]):
    res = whisper.fetch(path, r[0], r[1], now=now)
    if res is None:
        out.append(None)
    else:
        (s, e, st), v = res
        out.append({'Start': s, 'End': e, 'Step': st, 'Values': v})
print(json.dumps(out))
`
	rj, _ := json.Marshal(ranges)
	cmd := exec.Command(testutil.PythonWithWhisper, "-c", script, path, fmt.Sprint(now), string(rj))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("whisper.py: %v\n%s", err, stderr.String())
	}
	var res []*struct {
		Start, End, Step int64
		Values           []*float64
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestFetchMatchesWhisperPy(t *testing.T) {
	testutil.RequireWhisperPy(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "m.wsp")
	// Small archives so that the ring buffers wrap.
	w, err := gowhisper.Create(path, gowhisper.Retentions{
		ptr(gowhisper.NewRetention(10, 60)), ptr(gowhisper.NewRetention(60, 60))}, gowhisper.Sum, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	var pts []*gowhisper.TimeSeriesPoint
	for ts := now - 3500; ts <= now; ts += 10 {
		if (ts/10)%7 == 3 {
			continue // gaps
		}
		pts = append(pts, &gowhisper.TimeSeriesPoint{Time: int(ts), Value: float64(ts%1000) / 4})
	}
	if err := w.UpdateMany(pts); err != nil {
		t.Fatal(err)
	}
	w.Close()

	ranges := [][2]int64{
		{now - 300, now}, {now - 599, now - 5}, {now - 600, now}, {now - 601, now},
		{now - 3600, now}, {now - 3599, now - 1800}, {now - 7200, now - 100}, {now - 50, now - 50},
		{now - 10000, now - 5000}, {now + 10, now + 100}, {now - 100, now + 1000}, {now - 2000, now - 1990},
	}
	want := pyFetch(t, path, now, ranges)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.AggregationMethod != "sum" || f.MaxRetention != 3600 || f.XFilesFactor != 0.5 || len(f.Archives) != 2 {
		t.Fatalf("header = %+v", f.Header)
	}
	for i, r := range ranges {
		got, err := f.Fetch(r[0], r[1], now, -1)
		if err != nil {
			t.Fatalf("Fetch%v: %v", r, err)
		}
		w := want[i]
		if (w == nil) != (got == nil) {
			t.Fatalf("Fetch%v = %v, whisper.py %v", r, got, w)
		}
		if w == nil {
			continue
		}
		if got.Start != w.Start || got.End != w.End || got.Step != w.Step || len(got.Values) != len(w.Values) {
			t.Fatalf("Fetch%v = %d..%d step %d (%d values); whisper.py %d..%d step %d (%d values)",
				r, got.Start, got.End, got.Step, len(got.Values), w.Start, w.End, w.Step, len(w.Values))
		}
		nonNull := 0
		for j, v := range w.Values {
			g := got.Values[j]
			if v == nil {
				if !math.IsNaN(g) {
					t.Fatalf("Fetch%v value %d = %v, whisper.py None", r, j, g)
				}
				continue
			}
			nonNull++
			if g != *v {
				t.Fatalf("Fetch%v value %d = %v, whisper.py %v", r, j, g, *v)
			}
		}
		t.Logf("range %v: %d values, %d non-null, step %d", r, len(w.Values), nonNull, w.Step)
	}
	// Explicit archive choice.
	got, err := f.Fetch(now-300, now, now, 1)
	if err != nil || got.Step != 60 {
		t.Fatalf("archive 1 fetch = %+v, %v", got, err)
	}
	if _, err := f.Fetch(now-300, now, now, 2); err == nil {
		t.Fatal("archive 2 of 2 accepted")
	}
	// The newest slot is the newest point written (the one at now may be a
	// gap), rounded down to the archive's step. (UpdateMany reorders pts.)
	var last int64
	for _, p := range pts {
		last = max(last, int64(p.Time))
	}
	oldest, newest, ok, err := f.ArchiveSpan(0)
	if err != nil || !ok || newest != last-last%10 || oldest < now-600 || oldest > now-560 {
		t.Fatalf("ArchiveSpan(0) = %d, %d, %v, %v (now %d, last point %d)", oldest, newest, ok, err, now, last)
	}
}

func ptr[T any](v T) *T { return &v }

func TestCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.wsp")
	w, err := gowhisper.Create(good, gowhisper.Retentions{ptr(gowhisper.NewRetention(10, 100))}, gowhisper.Average, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":        {},
		"short header": data[:10],
		"truncated":    data[:len(data)-12],
		"no archives":  append(append([]byte{}, data[:12]...), 0, 0, 0, 0),
		"bad method":   append([]byte{0, 0, 0, 99}, data[4:]...),
		"huge count":   append(append([]byte{}, data[:12]...), append([]byte{0xff, 0xff, 0xff, 0xff}, data[16:]...)...),
		"zero step":    append(append([]byte{}, data[:20]...), append([]byte{0, 0, 0, 0}, data[24:]...)...),
	}
	for name, b := range cases {
		p := filepath.Join(dir, name+".wsp")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := Open(p)
		if err == nil {
			f.Close()
			t.Errorf("%s: opened without error", name)
			continue
		}
		if !errors.Is(err, whisperfile.ErrCorrupt) {
			t.Errorf("%s: error %v is not ErrCorrupt", name, err)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing.wsp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Open(dir); err == nil {
		t.Error("a folder opened as a whisper file")
	}
	f, err := Open(good)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// Open must not need write permission (the server never writes).
func TestOpenReadOnlyFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Log("running as root: permission bits do not stop root; checking the open flags by a read-only bind instead")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "ro.wsp")
	w, err := gowhisper.Create(p, gowhisper.Retentions{ptr(gowhisper.NewRetention(60, 10))}, gowhisper.Max, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := os.Chmod(p, 0o444); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatalf("read-only file: %v", err)
	}
	defer f.Close()
	if _, err := f.f.Write([]byte("x")); err == nil {
		t.Fatal("the file was opened writable")
	}
}

func FuzzReadHeader(f *testing.F) {
	dir := f.TempDir()
	p := filepath.Join(dir, "seed.wsp")
	w, err := gowhisper.Create(p, gowhisper.Retentions{ptr(gowhisper.NewRetention(10, 6)), ptr(gowhisper.NewRetention(60, 4))}, gowhisper.Average, 0.5)
	if err != nil {
		f.Fatal(err)
	}
	w.Close()
	seed, _ := os.ReadFile(p)
	f.Add(seed)
	f.Add(seed[:20])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ReadHeader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		for _, a := range h.Archives {
			if a.Offset+a.Points*pointSize > int64(len(b)) || a.SecondsPerPoint <= 0 {
				t.Fatalf("accepted archive outside the data: %+v (len %d)", a, len(b))
			}
		}
		// Fetching from a valid header never fails or panics.
		tmp := filepath.Join(t.TempDir(), "f.wsp")
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			t.Fatal(err)
		}
		wf, err := Open(tmp)
		if err != nil {
			t.Fatalf("ReadHeader accepted but Open refused: %v", err)
		}
		defer wf.Close()
		if _, err := wf.Fetch(1000, 5000, 6000, -1); err != nil {
			t.Fatalf("fetch: %v", err)
		}
		for i := range wf.Archives {
			if _, _, _, err := wf.ArchiveSpan(i); err != nil {
				t.Fatal(err)
			}
		}
	})
}
