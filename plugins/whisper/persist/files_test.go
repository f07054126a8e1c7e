package persist

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// wspFds counts this process's descriptors open on .wsp files under base.
func wspFds(t *testing.T, base string) int {
	t.Helper()
	return len(wspOpen(t, base))
}

// wspOpen returns the .wsp files under base this process has open, with
// the number of descriptors on each.
func wspOpen(t *testing.T, base string) map[string]int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue // closed meanwhile (ReadDir's own descriptor)
		}
		if strings.HasPrefix(target, base+string(filepath.Separator)) && strings.Contains(target, ".wsp") {
			n[target]++
		}
	}
	return n
}

// pyValue returns whisper.py's value of the finest archive at ts in path,
// and whether there is one.
func pyValue(t *testing.T, path string, ts int64) (float64, bool) {
	t.Helper()
	py := testutil.ReadWhisperPy(t, path, ts-1, ts+1)
	v, ok := py.Archives[0].Values[strconv.FormatInt(ts, 10)]
	return v, ok
}

// TestOpenFileReplaced: a file replaced under the running writer as
// whisper-resize.py replaces it (the old one renamed to .bak, the new one
// renamed into place) gets the points written after the swap; the old one
// (kept open by the writer) does not.
func TestOpenFileReplaced(t *testing.T) {
	testutil.RequireWhisperPy(t)
	base := t.TempDir()
	p, c, lb := start(t, base, rules(t, "10s:1h"), nil)
	now := time.Now().Unix()
	t0 := now - now%10 - 60
	c.Add([]byte("app.x"), t0, 1)
	testutil.Eventually(t, 20*time.Second, func() bool { return p.Stats().PointsWritten == 1 }, "stats %+v\n%s", p.Stats(), lb)
	if n := wspFds(t, base); n != 1 {
		t.Fatalf("%d descriptors open on the file after its update, want 1 (kept open)", n)
	}
	path := filepath.Join(base, "app", "x.wsp")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".tmp", b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".bak"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	c.Add([]byte("app.x"), t0+10, 2)
	testutil.Eventually(t, 20*time.Second, func() bool { return p.Stats().PointsWritten == 2 }, "stats %+v\n%s", p.Stats(), lb)
	for ts, want := range map[int64]float64{t0: 1, t0 + 10: 2} {
		if v, ok := pyValue(t, path, ts); !ok || v != want {
			t.Errorf("new file at %d: %v (%v), want %v", ts, v, ok, want)
		}
	}
	if v, ok := pyValue(t, path+".bak", t0+10); ok {
		t.Errorf("point after the swap written to the old file (%v)", v)
	}
	if st := p.Stats(); st.Creates != 1 || st.UpdateErrors != 0 {
		t.Errorf("stats %+v\n%s", st, lb)
	}
}

// TestOpenFileDeleted: a file deleted under the running writer is made
// again and gets the points written after the deletion.
func TestOpenFileDeleted(t *testing.T) {
	testutil.RequireWhisperPy(t)
	base := t.TempDir()
	p, c, lb := start(t, base, rules(t, "10s:1h"), nil)
	now := time.Now().Unix()
	t0 := now - now%10 - 60
	c.Add([]byte("app.y"), t0, 1)
	testutil.Eventually(t, 20*time.Second, func() bool { return p.Stats().PointsWritten == 1 }, "stats %+v\n%s", p.Stats(), lb)
	path := filepath.Join(base, "app", "y.wsp")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	c.Add([]byte("app.y"), t0+10, 2)
	testutil.Eventually(t, 20*time.Second, func() bool { return p.Stats().PointsWritten == 2 }, "stats %+v\n%s", p.Stats(), lb)
	if v, ok := pyValue(t, path, t0+10); !ok || v != 2 {
		t.Errorf("made again: at %d %v (%v), want 2", t0+10, v, ok)
	}
	if _, ok := pyValue(t, path, t0); ok {
		t.Errorf("the deleted file's point is in the new one")
	}
	if st := p.Stats(); st.Creates != 2 || st.UpdateErrors != 0 || st.CreateErrors != 0 {
		t.Errorf("stats %+v, want 2 creates and no errors\n%s", st, lb)
	}
	if n := wspFds(t, base); n != 1 {
		t.Errorf("%d descriptors open on the file, want 1 (the deleted one closed)", n)
	}
}

// TestOpenFilesCapAndStop: the writers keep no more files open than
// asked, update files kept open and through reopened ones alike (the
// points land), keep the same files open from pass to pass when there are
// more metrics than room (no file closed for another: with the writers'
// cyclic passes that would make every update a miss), and close them all
// on stop; with open_files 0 none stays open.
func TestOpenFilesCapAndStop(t *testing.T) {
	for _, tc := range []struct{ open, want int }{{50, 50}, {0, 0}} {
		t.Run(fmt.Sprint(tc.open), func(t *testing.T) {
			base := t.TempDir()
			p, c, lb := start(t, base, rules(t, "10s:1h"), func(cfg *Config) { cfg.OpenFiles = tc.open })
			if n, _, _ := p.OpenFiles(); n != tc.want {
				t.Fatalf("OpenFiles() %d, want %d", n, tc.want)
			}
			now := time.Now().Unix()
			const metrics = 300
			var first map[string]int
			for round := int64(0); round < 3; round++ {
				for i := 0; i < metrics; i++ {
					c.Add([]byte(fmt.Sprintf("cap.m%d", i)), now-100+10*round, float64(i))
				}
				want := uint64(metrics * (round + 1))
				testutil.Eventually(t, 30*time.Second, func() bool { return p.Stats().PointsWritten == want },
					"stats %+v\n%s", p.Stats(), lb)
				open := wspOpen(t, base)
				if len(open) != tc.want {
					t.Errorf("round %d: %d files open, want %d", round, len(open), tc.want)
				}
				if first == nil {
					first = open
				}
				for f, n := range open {
					if n != 1 || first[f] != 1 {
						t.Errorf("round %d: %s open %d times, %d in round 0; want the same files, once each", round, f, n, first[f])
					}
				}
			}
			if left := p.Stop(5 * time.Second); left != 0 {
				t.Errorf("%d points left at stop", left)
			}
			if n := wspFds(t, base); n != 0 {
				t.Errorf("%d files still open after stop", n)
			}
			if st := p.Stats(); st.Updates != 3*metrics || st.UpdateErrors != 0 {
				t.Errorf("stats %+v\n%s", st, lb)
			}
		})
	}
}

// TestFileBudgetWithinLimit: however many files are asked for, the budget
// leaves at least half the process's open-file limit (as it is after
// fileBudget, which may raise it) to everything else, and is what was
// asked when the limit allows.
func TestFileBudgetWithinLimit(t *testing.T) {
	for _, want := range []int{10, 4096, 300000} {
		n, limit, raised := fileBudget(want)
		var lim unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
		if limit != lim.Cur || uint64(n) > lim.Cur/2 || n <= 0 {
			t.Errorf("want %d: budget %d, limit %d (raised %v); the limit is now %d", want, n, limit, raised, lim.Cur)
		}
		if uint64(want) <= lim.Cur/2 && n != want {
			t.Errorf("want %d: budget %d within a limit of %d", want, n, lim.Cur)
		}
		t.Logf("want %d: budget %d, limit %d, raised %v", want, n, limit, raised)
	}
}
