package whisperfile

import (
	"encoding/json"
	"flag"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/consolidate.json from graphite-web")

// consolidateCase is one series consolidated by graphite-web's TimeSeries;
// nil is None (NaN here).
type consolidateCase struct {
	Fn     string     `json:"fn"`
	VPP    int        `json:"vpp"`
	XFF    float64    `json:"xff"`
	Values []*float64 `json:"values"`
	Want   []*float64 `json:"want"`
}

// pyConsolidate runs graphite-web 1.1's TimeSeries consolidation.
const pyConsolidate = `
import json, os, sys, warnings
warnings.simplefilter('ignore')
os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'graphite.settings')
from graphite.render.datalib import TimeSeries
cases = json.load(open(sys.argv[1]))
for c in cases:
    s = TimeSeries('a', 0, len(c['values']), 1, c['values'], consolidate=c['fn'], xFilesFactor=c['xff'])
    s.consolidate(c['vpp'])
    c['want'] = list(s)
json.dump(cases, open(sys.argv[1], 'w'), indent=1)
`

func consolidateCases() []consolidateCase {
	rng := rand.New(rand.NewSource(7))
	var cases []consolidateCase
	for _, fn := range ConsolidationFuncs() {
		for _, vpp := range []int{2, 3, 5} {
			for _, xff := range []float64{0, 0.5, 1} {
				c := consolidateCase{Fn: fn, VPP: vpp, XFF: xff}
				for i := 0; i < 4*vpp+rng.Intn(vpp); i++ { // a shorter last bucket too
					if rng.Intn(3) == 0 {
						c.Values = append(c.Values, nil)
						continue
					}
					v := float64(rng.Intn(400)-200) / 8
					c.Values = append(c.Values, &v)
				}
				cases = append(cases, c)
			}
		}
	}
	return cases
}

// TestConsolidateMatchesGraphiteWeb compares Consolidate with graphite-web
// 1.1's TimeSeries for every consolidation function, several valuesPerPoint
// and xFilesFactors, against answers recorded from graphite-web
// (testdata/consolidate.json) and, where it is installed, graphite-web live.
func TestConsolidateMatchesGraphiteWeb(t *testing.T) {
	golden := filepath.Join("testdata", "consolidate.json")
	check := func(what string, cases []consolidateCase) {
		t.Helper()
		for _, c := range cases {
			vals := make([]float64, len(c.Values))
			for i, v := range c.Values {
				vals[i] = math.NaN()
				if v != nil {
					vals[i] = *v
				}
			}
			got := ConsolidateValues(vals, c.VPP, c.Fn, c.XFF)
			if len(got) != len(c.Want) {
				t.Fatalf("%s: %s vpp %d xff %v: %d points, graphite-web %d", what, c.Fn, c.VPP, c.XFF, len(got), len(c.Want))
			}
			for i, w := range c.Want {
				if (w == nil) != math.IsNaN(got[i]) || (w != nil && math.Abs(got[i]-*w) > 1e-12*math.Max(1, math.Abs(*w))) {
					t.Errorf("%s: %s vpp %d xff %v point %d: %v, graphite-web %v", what, c.Fn, c.VPP, c.XFF, i, got[i], w)
				}
			}
		}
	}
	if testutil.GraphiteWebAvailable() == nil || *update {
		testutil.RequireReference(t, "graphite-web", testutil.GraphiteWebAvailable())
		tmp := filepath.Join(t.TempDir(), "cases.json")
		js, _ := json.Marshal(consolidateCases())
		if err := os.WriteFile(tmp, js, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(testutil.PythonWithWhisper, "-c", pyConsolidate, tmp).CombinedOutput(); err != nil {
			t.Fatalf("graphite-web: %v\n%s", err, out)
		}
		b, _ := os.ReadFile(tmp)
		var live []consolidateCase
		if err := json.Unmarshal(b, &live); err != nil {
			t.Fatal(err)
		}
		check("live graphite-web", live)
		if *update {
			if err := os.WriteFile(golden, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	b, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	var rec []consolidateCase
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec) != len(consolidateCases()) {
		t.Fatalf("%s has %d cases, want %d (go test -update)", golden, len(rec), len(consolidateCases()))
	}
	check("recorded graphite-web", rec)
}

// TestConsolidateFileMethods: a file's own absmax and absmin (whisper
// methods graphite-web has no consolidation for) keep the first value of
// largest or smallest magnitude; unknown names average, as graphite-web
// averages.
func TestConsolidateFileMethods(t *testing.T) {
	n := math.NaN()
	vals := []float64{3, -7, n, 7, -0.5, 0.5, n, n, n}
	for fn, want := range map[string][]float64{
		"absmax": {-7, 7, n}, "absmin": {3, -0.5, n}, "average": {-2, 7.0 / 3, n}, "weird": {-2, 7.0 / 3, n},
	} {
		got := ConsolidateValues(vals, 3, fn, 0)
		for i := range want {
			if !(got[i] == want[i] || math.IsNaN(got[i]) && math.IsNaN(want[i])) {
				t.Errorf("%s: %v, want %v", fn, got, want)
				break
			}
		}
	}
}

// TestAggregateMatchesWhisperPy compares aggregate (the roll-up) with whisper.py's
// aggregate for every method on random values (with duplicates of equal
// magnitude, so the first-of-equals rule shows).
func TestAggregateMatchesWhisperPy(t *testing.T) {
	testutil.RequireWhisperPy(t)
	rng := rand.New(rand.NewSource(3))
	type aggCase struct {
		Method    string     `json:"method"`
		Neighbors []*float64 `json:"neighbors"`
		Want      float64    `json:"want"`
	}
	var cases []aggCase
	for m := Average; m <= AbsMin; m++ {
		for k := 0; k < 50; k++ {
			c := aggCase{Method: m.String()}
			known := 0
			for i := 0; i < 1+rng.Intn(8); i++ {
				if rng.Intn(3) == 0 {
					c.Neighbors = append(c.Neighbors, nil)
					continue
				}
				v := float64(rng.Intn(9)-4) * 1.5
				c.Neighbors = append(c.Neighbors, &v)
				known++
			}
			if known > 0 {
				cases = append(cases, c)
			}
		}
	}
	tmp := filepath.Join(t.TempDir(), "agg.json")
	js, _ := json.Marshal(cases)
	if err := os.WriteFile(tmp, js, 0o644); err != nil {
		t.Fatal(err)
	}
	script := `
import json, sys, whisper
cases = json.load(open(sys.argv[1]))
for c in cases:
    known = [v for v in c['neighbors'] if v is not None]
    c['want'] = whisper.aggregate(c['method'], known, c['neighbors'])
json.dump(cases, open(sys.argv[1], 'w'))
`
	if out, err := exec.Command(testutil.PythonWithWhisper, "-c", script, tmp).CombinedOutput(); err != nil {
		t.Fatalf("whisper.py: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(tmp)
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		m, err := ParseMethod(c.Method)
		if err != nil {
			t.Fatal(err)
		}
		var known []float64
		for _, v := range c.Neighbors {
			if v != nil {
				known = append(known, *v)
			}
		}
		got := aggregate(m, known, len(c.Neighbors))
		if got != c.Want || math.Signbit(got) != math.Signbit(c.Want) {
			t.Errorf("%s of %v: %v, whisper.py %v", c.Method, known, got, c.Want)
		}
	}
}
