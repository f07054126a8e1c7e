package whisper

import (
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/whisperfile"
)

// TestEightMethodsWhisperPyFiles creates one file per whisper.py 1.1
// aggregation method with whisper.py itself (two archives), updates them
// with the writer's internal/whisperfile, and reads both archives back with
// whisper.py's fetch and with this reader: the values must agree, the
// finest archive must hold -42.5 and the coarser one rolled-up values.
func TestEightMethodsWhisperPyFiles(t *testing.T) {
	testutil.RequireWhisperPy(t)
	dir := t.TempDir()
	names := []string{"average", "sum", "last", "max", "min", "avg_zero", "absmax", "absmin"}
	const create = `
import sys, whisper
for p, m in zip(sys.argv[1::2], sys.argv[2::2]):
    whisper.create(p, [(1, 60), (10, 60)], xFilesFactor=0, aggregationMethod=m)
`
	args := []string{"-c", create}
	for _, n := range names {
		args = append(args, filepath.Join(dir, n+".wsp"), n)
	}
	if out, err := exec.Command(testutil.PythonWithWhisper, args...).CombinedOutput(); err != nil {
		t.Fatalf("whisper.py create: %v\n%s", err, out)
	}
	now := int64(1_700_000_005)
	var pts []whisperfile.Point
	for ts := now - 25; ts < now-5; ts += 2 {
		pts = append(pts, whisperfile.Point{Time: ts, Value: float64(ts%7) - 3.5})
	}
	pts = append(pts, whisperfile.Point{Time: now - 5, Value: -42.5})
	var u whisperfile.Updater
	for _, n := range names {
		path := filepath.Join(dir, n+".wsp")
		h, _, err := u.Update(path, pts, now, true)
		if err != nil {
			t.Fatalf("%s: update of a whisper.py file: %v", n, err)
		}
		if h.Method.String() != n {
			t.Errorf("%s: header method %s", n, h.Method)
		}
		ranges := [][2]int64{{now - 50, now}, {now - 500, now}}
		py := pyFetch(t, path, now, ranges)
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if f.AggregationMethod != n {
			t.Errorf("%s: reader says %s", n, f.AggregationMethod)
		}
		for i, r := range ranges {
			s, err := f.Fetch(r[0], r[1], now, -1)
			if err != nil || s == nil || py[i] == nil {
				t.Fatalf("%s %v: ours %v %v, whisper.py %v", n, r, s, err, py[i])
			}
			known := 0
			if len(s.Values) != len(py[i].Values) || s.Start != py[i].Start || s.Step != py[i].Step {
				t.Fatalf("%s %v: ours %d values from %d step %d, whisper.py %d from %d step %d", n, r,
					len(s.Values), s.Start, s.Step, len(py[i].Values), py[i].Start, py[i].Step)
			}
			for k, v := range s.Values {
				pv := py[i].Values[k]
				if (pv == nil) != math.IsNaN(v) || (pv != nil && *pv != v) {
					t.Errorf("%s %v point %d: ours %v, whisper.py %s", n, r, k, v, fmtPy(pv))
				}
				if !math.IsNaN(v) {
					known++
				}
			}
			if known == 0 {
				t.Errorf("%s: archive %d holds no point", n, s.Archive)
			}
			if k := (now - 5 - s.Start) / s.Step; i == 0 && s.Values[k] != -42.5 {
				t.Errorf("%s: -42.5 not read back: %v", n, s.Values)
			}
		}
		f.Close()
	}
}

func fmtPy(v *float64) string {
	if v == nil {
		return "None"
	}
	return fmt.Sprint(*v)
}
