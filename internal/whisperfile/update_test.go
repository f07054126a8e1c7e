package whisperfile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// newFile writes an empty whisper file (zeroed archives) like whisper.py's
// create.
func createFile(t testing.TB, path string, m Method, xff float32, as Archives) {
	t.Helper()
	hdr, size := EncodeHeader(m, xff, as)
	if err := os.WriteFile(path, append(hdr, make([]byte, size-int64(len(hdr)))...), 0o644); err != nil {
		t.Fatal(err)
	}
}

type pyOp struct {
	Now    int64        `json:"now"`
	Points [][2]float64 `json:"points"`
}

type pyCase struct {
	Path string `json:"path"`
	Ops  []pyOp `json:"ops"`
}

// pyApply runs whisper.py's update_many. whisper.py propagates the coarser
// intervals of an update in the iteration order of a Python set (hash
// order); the first one written to an empty archive sets where its ring
// starts. Update goes in ascending order, so whisper.py is made to as well
// (the stored points are the same either way, only rotated in the ring).
const pyApply = `
import builtins, json, sys, whisper
whisper.set = lambda xs: sorted(builtins.set(xs))
for c in json.load(open(sys.argv[1])):
    for op in c['ops']:
        whisper.update_many(c['path'], [(int(t), v) for t, v in op['points']], now=op['now'])
`

// TestUpdateMatchesWhisperPy applies the same random update sequences with
// Update and with Graphite's whisper.py update_many to copies of the same
// file, and requires byte-identical files: random schemas (1 to 3 archives,
// small rings so writes wrap), every aggregation method, several
// xFilesFactors, points out of order, several per interval, and older than
// the file. (Not points in the future: a run of them longer than the ring
// makes whisper.py write past the archive's end, into the next archive;
// Update keeps the newest ring's worth, see TestUpdateRunLongerThanRing.)
func TestUpdateMatchesWhisperPy(t *testing.T) {
	testutil.RequireWhisperPy(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(42))
	var cases []pyCase
	var ours []string
	var u Updater
	written := 0
	for c := 0; c < 1500; c++ {
		var as Archives
		spp := []int{1, 2, 5, 10}[rng.Intn(4)]
		for k := 1 + rng.Intn(3); k > 0; k-- {
			as = append(as, Archive{SecondsPerPoint: spp, Points: 2 + rng.Intn(12)})
			spp *= 2 + rng.Intn(4)
		}
		// whisper.py needs each archive to cover more time than the finer one
		// and enough points to consolidate one coarser point.
		for k := 1; k < len(as); k++ {
			ratio := as[k].SecondsPerPoint / as[k-1].SecondsPerPoint
			as[k-1].Points = max(as[k-1].Points, ratio)
			if as[k].Retention() <= as[k-1].Retention() {
				as[k].Points = as[k-1].Retention()/as[k].SecondsPerPoint + 1 + rng.Intn(4)
			}
		}
		m := Method(1 + c%8) // all eight of whisper.py 1.1's methods, evenly
		xff := []float32{0, 0.25, 0.5, 0.7, 1}[rng.Intn(5)]
		a := filepath.Join(dir, fmt.Sprintf("go%d.wsp", c))
		b := filepath.Join(dir, fmt.Sprintf("py%d.wsp", c))
		createFile(t, a, m, xff, as)
		createFile(t, b, m, xff, as)
		// The same updates through one descriptor kept open (UpdateFile),
		// which remembers the archives' base intervals between updates.
		k := filepath.Join(dir, fmt.Sprintf("kept%d.wsp", c))
		createFile(t, k, m, xff, as)
		kf, err := u.OpenWritable(unix.AT_FDCWD, "", k, true)
		if err != nil {
			t.Fatalf("case %d: %v", c, err)
		}
		pc := pyCase{Path: b}
		now := int64(1_700_000_000 + rng.Intn(1000))
		maxRet := int64(as.MaxRetention())
		for op := 1 + rng.Intn(6); op > 0; op-- {
			now += int64(rng.Intn(int(maxRet/2 + 2)))
			span := maxRet + int64(as[0].SecondsPerPoint)*3
			n := min(1+rng.Intn(3*as[0].Points), int(span))
			seen := map[int64]bool{}
			var pts []Point
			var pyPts [][2]float64
			for len(pts) < n {
				ts := now - rng.Int63n(span)
				if seen[ts] { // same-second points: whisper.py keeps the first given, Update the last
					continue
				}
				seen[ts] = true
				v := float64(rng.Intn(2000)-1000) / 8
				pts = append(pts, Point{ts, v})
				pyPts = append(pyPts, [2]float64{float64(ts), v})
			}
			_, res, err := u.Update(a, pts, now, true)
			if err != nil {
				t.Fatalf("case %d: %v", c, err)
			}
			written += res.Written
			if res.Written+res.TooOld != len(pts) {
				t.Fatalf("case %d: %d written + %d too old of %d", c, res.Written, res.TooOld, len(pts))
			}
			kres, err := u.UpdateFile(kf, k, pts, now)
			if err != nil || kres != res {
				t.Fatalf("case %d: kept open: %+v, %v; reopened: %+v", c, kres, err, res)
			}
			pc.Ops = append(pc.Ops, pyOp{Now: now, Points: pyPts})
		}
		if err := kf.Close(); err != nil {
			t.Fatal(err)
		}
		ga, _ := os.ReadFile(a)
		gk, _ := os.ReadFile(k)
		if !bytes.Equal(ga, gk) {
			t.Fatalf("case %d: file updated through one descriptor differs from the one reopened for each update", c)
		}
		cases = append(cases, pc)
		ours = append(ours, a)
	}
	if written == 0 {
		t.Fatal("no point was written")
	}
	script := filepath.Join(dir, "cases.json")
	js, _ := json.Marshal(cases)
	if err := os.WriteFile(script, js, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(testutil.PythonWithWhisper, "-c", pyApply, script).CombinedOutput(); err != nil {
		t.Fatalf("whisper.py: %v\n%s", err, out)
	}
	differ := 0
	for i, a := range ours {
		ga, _ := os.ReadFile(a)
		pb, _ := os.ReadFile(cases[i].Path)
		if !bytes.Equal(ga, pb) {
			differ++
			if differ <= 3 {
				t.Errorf("case %d: file differs from whisper.py's (%d bytes); ops %+v", i, len(ga), cases[i].Ops)
				var h Header
				_ = parseHeader(ga, &h)
				t.Logf("header %+v", h)
				for o := int(h.dataStart()); o+12 <= len(ga); o += 12 {
					if !bytes.Equal(ga[o:o+12], pb[o:o+12]) {
						t.Logf("offset %d: ours %d %v, whisper.py %d %v", o, binary.BigEndian.Uint32(ga[o:]), math.Float64frombits(binary.BigEndian.Uint64(ga[o+4:])),
							binary.BigEndian.Uint32(pb[o:]), math.Float64frombits(binary.BigEndian.Uint64(pb[o+4:])))
					}
				}
			}
		}
	}
	if differ > 0 {
		t.Fatalf("%d of %d files differ", differ, len(ours))
	}
	requireRollUps(t, ours)
}

// requireRollUps checks that for every aggregation method some of the files
// compared got points rolled up into a coarser archive, so the comparison
// covered each method's aggregate and not only the finest archive.
func requireRollUps(t *testing.T, paths []string) {
	t.Helper()
	rolled := map[Method]int{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var h Header
		if err := parseHeader(b, &h); err != nil {
			t.Fatal(err)
		}
		off := h.dataStart()
		for i, a := range h.Archives {
			if i > 0 && binary.BigEndian.Uint32(b[off:]) != 0 {
				rolled[h.Method]++
				break
			}
			off += int64(a.Points) * pointSize
		}
	}
	for m := Average; m <= AbsMin; m++ {
		if rolled[m] < 20 {
			t.Errorf("%s: only %d files with rolled-up points", m, rolled[m])
		}
	}
	t.Logf("files with rolled-up points, per method: %v", rolled)
}

// TestUpdateRunLongerThanRing writes six consecutive seconds (some in the
// future) into a four-slot archive: the newest four stay, and the next
// archive is not touched.
func TestUpdateRunLongerThanRing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.wsp")
	createFile(t, p, Last, 0, Archives{{SecondsPerPoint: 1, Points: 4}, {SecondsPerPoint: 100, Points: 2}})
	var u Updater
	now := int64(1_700_000_000)
	var pts []Point
	for ts := now - 2; ts <= now+3; ts++ {
		pts = append(pts, Point{ts, float64(ts - now)})
	}
	if _, res, err := u.Update(p, pts, now, true); err != nil || res.Written != 6 {
		t.Fatalf("update: %+v %v", res, err)
	}
	b, _ := os.ReadFile(p)
	got := map[int64]float64{}
	for o := 16 + 24; o < 16+24+48; o += 12 {
		got[int64(binary.BigEndian.Uint32(b[o:]))] = math.Float64frombits(binary.BigEndian.Uint64(b[o+4:]))
	}
	want := map[int64]float64{now: 0, now + 1: 1, now + 2: 2, now + 3: 3}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("first archive holds %v, want %v", got, want)
	}
	// The coarser archive holds exactly the propagated last value.
	lo := b[16+24+48:]
	if ts := int64(binary.BigEndian.Uint32(lo)); ts != now-now%100 || math.Float64frombits(binary.BigEndian.Uint64(lo[4:])) != 3 {
		t.Errorf("second archive's first slot: %d %v", ts, math.Float64frombits(binary.BigEndian.Uint64(lo[4:])))
	}
	if !bytes.Equal(lo[12:24], make([]byte, 12)) {
		t.Errorf("second archive's second slot was written: % x", lo[12:24])
	}
}

func TestUpdateRefusals(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.wsp")
	createFile(t, good, Average, 0.5, Archives{{SecondsPerPoint: 10, Points: 6}})
	var u Updater
	now := int64(1_700_000_000)
	pt := []Point{{now, 1}}

	link := filepath.Join(dir, "link.wsp")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	if _, _, err := u.Update(link, pt, now, true); !errors.Is(err, ErrSymlink) {
		t.Errorf("symlink: got %v, want ErrSymlink", err)
	}
	if _, _, err := u.Update(filepath.Join(dir, "missing.wsp"), pt, now, true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v, want fs.ErrNotExist", err)
	}
	orig, _ := os.ReadFile(good)
	corrupt := map[string][]byte{
		"empty":      {},
		"short":      orig[:10],
		"method 9":   append([]byte{0, 0, 0, 9}, orig[4:]...),
		"truncated":  orig[:len(orig)-12],
		"0 archives": append(append([]byte{}, orig[:12]...), 0, 0, 0, 0),
	}
	for name, b := range corrupt {
		p := filepath.Join(dir, "bad.wsp")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := u.Update(p, pt, now, true); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", name, err)
		}
		if after, _ := os.ReadFile(p); !bytes.Equal(after, b) {
			t.Errorf("%s: a refused file was changed", name)
		}
	}
	if _, res, err := u.Update(good, []Point{{now - 3600, 1}, {now, 2}}, now, true); err != nil || res.Written != 1 || res.TooOld != 1 {
		t.Errorf("good file: %+v %v, want 1 written, 1 too old", res, err)
	}
}

// FuzzUpdate updates arbitrary bytes as a whisper file: no panic, and a file
// that passes the full check never grows (no write lands past the archives
// its header declares and the file holds).
func FuzzUpdate(f *testing.F) {
	dir := f.TempDir()
	seed := filepath.Join(dir, "seed.wsp")
	createFile(f, seed, Sum, 0.5, Archives{{SecondsPerPoint: 1, Points: 5}, {SecondsPerPoint: 5, Points: 4}})
	b, _ := os.ReadFile(seed)
	f.Add(b, int64(1_700_000_000), int64(3))
	f.Add(b[:40], int64(5), int64(0))
	f.Fuzz(func(t *testing.T, b []byte, ts, age int64) {
		if len(b) > 1<<16 {
			return
		}
		p := filepath.Join(t.TempDir(), "f.wsp")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		var u Updater
		now := ts + age%100
		_, _, err := u.Update(p, []Point{{ts, 1}, {ts - 1, 2}, {ts + 7, 3}}, now, true)
		after, _ := os.ReadFile(p)
		if len(after) != len(b) {
			t.Fatalf("file grew from %d to %d bytes (update error: %v)", len(b), len(after), err)
		}
		if err != nil && !bytes.Equal(after, b) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("a failed update changed the file: %v", err)
		}
	})
}
