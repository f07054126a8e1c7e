package schema

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

func TestParseRetentions(t *testing.T) {
	good := map[string]string{
		"10s:6h,1m:7d,10m:5y":   "10:2160,60:10080,600:262800",
		"60:1440":               "60:1440",
		"1m:1d , 1h:30d":        "60:1440,3600:720",
		"10min:1800d":           "600:259200",
		"1h:1y,1m:1w":           "60:10080,3600:8760", // sorted finest first
		"15s:7d,1m:21d,15m:5y":  "15:40320,60:30240,900:175200",
		"1sec:1hour,1minute:1w": "1:3600,60:10080",
		"7:10s":                 "7:1", // 10/7 points, floored
	}
	for in, want := range good {
		as, err := ParseRetentions(in)
		if err != nil || as.String() != want {
			t.Errorf("ParseRetentions(%q) = %v, %v; want %s", in, as, err, want)
		}
	}
	bad := []string{"", "10s", "10s:", ":6h", "10x:6h", "0:10", "10:0", "10s:1s", "-1:5",
		"10s:6h,10s:7d", "10s:6h,15s:7d", "10s:6h,1m:1h", "1m:1,1h:2d", "1s:100y", "10S:6h", "1.5s:1h",
		"10s:6h,,1m:7d"}
	for _, in := range bad {
		if as, err := ParseRetentions(in); !errors.Is(err, ErrRetention) {
			t.Errorf("ParseRetentions(%q) = %v, %v; want an error", in, as, err)
		}
	}
}

// TestRetentionsAgainstWhisperPy checks the parser against Graphite's own
// whisper.py (parseRetentionDef + validateArchiveList) on the same inputs.
func TestRetentionsAgainstWhisperPy(t *testing.T) {
	py := "/usr/bin/python3"
	testutil.RequireReference(t, "Graphite's whisper.py (Debian python3-whisper)",
		exec.Command(py, "-c", "import whisper").Run())
	inputs := []string{"10s:6h,1m:7d,10m:5y", "60:1440", "1m:1d,1h:30d", "10min:1800d", "1h:1y,1m:1w",
		"7:10s", "1sec:1hour,1minute:1w", "10s:6h,15s:7d", "10s:6h,1m:1h", "1m:1,1h:2d", "10x:6h",
		"10s", "1mo:1d", "2w:3y", "5:5,10:10", "30s:1d,5m:30d,1h:2y"}
	script := `
import sys, json, whisper
out = []
for s in json.load(sys.stdin):
    try:
        l = [whisper.parseRetentionDef(p) for p in s.split(',')]
        whisper.validateArchiveList(l)
        l.sort()
        out.append(','.join('%d:%d' % a for a in l))
    except Exception as e:
        out.append('ERROR')
print(json.dumps(out))
`
	in, _ := json.Marshal(inputs)
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = strings.NewReader(string(in))
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("whisper.py: %v", err)
	}
	var want []string
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("whisper.py output %q: %v", b, err)
	}
	for i, s := range inputs {
		got := "ERROR"
		if as, err := ParseRetentions(s); err == nil {
			got = as.String()
		}
		if got != want[i] {
			t.Errorf("%q: ours %s, whisper.py %s", s, got, want[i])
		}
	}
}

func TestParseMethod(t *testing.T) {
	for in, want := range map[string]Method{"average": Average, "AVG": Average, "sum": Sum, " last ": Last, "max": Max, "min": Min,
		"avg_zero": AvgZero, "AbsMax": AbsMax, "absmin": AbsMin} {
		if m, err := ParseMethod(in); err != nil || m != want {
			t.Errorf("ParseMethod(%q) = %v, %v", in, m, err)
		}
	}
	for _, in := range []string{"", "median", "abs", "avgzero", "absmaxx"} {
		if _, err := ParseMethod(in); !errors.Is(err, ErrMethod) {
			t.Errorf("ParseMethod(%q) error = %v", in, err)
		}
	}
}

const schemasConf = `
# Schema definitions for Whisper files. Entries are scanned in order,
# and first match wins.
[carbon]
pattern = ^carbon\.
retentions = 60:90d

[stats]
Pattern: ^stats\..*
retentions = 10s:6h,1min:6d,10min:1800d

; a comment
[default_1min_for_1day]
pattern = .*
retentions = 60s:1d
`

const aggregationConf = `
[min]
pattern = \.lower$
xFilesFactor = 0.1
aggregationMethod = min

[count]
pattern = \.count$
xFilesFactor = 0
aggregationMethod = sum

[only_xff]
pattern = ^xff\.
xFilesFactor = 0.9
`

func TestConfFilesAndMatch(t *testing.T) {
	schemas, err := ParseSchemasConf(strings.NewReader(schemasConf))
	if err != nil {
		t.Fatal(err)
	}
	aggs, err := ParseAggregationConf(strings.NewReader(aggregationConf))
	if err != nil {
		t.Fatal(err)
	}
	def, _ := ParseRetentions(DefaultRetentions)
	r := Rules{Schemas: schemas, Aggregations: append(aggs, StatsdAggregations()...),
		DefaultArchives: def, DefaultXFF: 0.5, DefaultMethod: Average}
	cases := []struct {
		name, schema, archives string
		xff                    float64
		method                 Method
	}{
		{"carbon.agents.x.cpu", "carbon", "60:129600", 0.5, Average},
		{"stats.timers.a.lower", "stats", "10:2160,60:8640,600:259200", 0.1, Min},
		{"stats.counters.a.count", "stats", "10:2160,60:8640,600:259200", 0, Sum},
		{"stats.gauges.queue", "stats", "10:2160,60:8640,600:259200", 0, Last},
		{"stats.gauges.queue.count", "stats", "10:2160,60:8640,600:259200", 0, Sum}, // file rules come first
		{"stats.timers.a.upper_90", "stats", "10:2160,60:8640,600:259200", 0.1, Max},
		{"stats.timers.a.mean", "stats", "10:2160,60:8640,600:259200", 0.5, Average},
		{"xff.thing", "default_1min_for_1day", "60:1440", 0.9, Average},
		{"stats_counts.hits", "default_1min_for_1day", "60:1440", 0, Sum},
	}
	for _, c := range cases {
		m := r.Match(c.name)
		if m.Schema != c.schema || m.Archives.String() != c.archives || m.XFilesFactor != c.xff || m.Method != c.method {
			t.Errorf("Match(%s) = %+v (%s), want %s %s %v %v", c.name, m, m.Archives, c.schema, c.archives, c.xff, c.method)
		}
	}
	// No rule at all: the defaults.
	empty := Rules{DefaultArchives: def, DefaultXFF: 0.5, DefaultMethod: Last}
	if m := empty.Match("a.b"); m.Schema != "default" || m.Method != Last || !m.Archives.Equal(def) {
		t.Errorf("defaults: %+v", m)
	}
}

func TestConfErrors(t *testing.T) {
	bad := map[string]string{
		"no retentions": "[a]\npattern = .*\n",
		"no pattern":    "[a]\nretentions = 60:1440\n",
		"bad regexp":    "[a]\npattern = (?<=x)\nretentions = 60:1440\n",
		"bad retention": "[a]\npattern = x\nretentions = 60:1440,61:2000\n",
		"key outside":   "pattern = x\n",
		"bad header":    "[a\npattern = x\n",
		"duplicate":     "[a]\npattern = x\nretentions = 1:2\n[a]\npattern = y\nretentions = 1:2\n",
	}
	for what, conf := range bad {
		if _, err := ParseSchemasConf(strings.NewReader(conf)); err == nil {
			t.Errorf("%s: accepted", what)
		}
	}
	for what, conf := range map[string]string{
		"bad xff":    "[a]\npattern = x\nxFilesFactor = 1.5\n",
		"bad method": "[a]\npattern = x\naggregationMethod = median\n",
	} {
		if _, err := ParseAggregationConf(strings.NewReader(conf)); err == nil {
			t.Errorf("%s: accepted", what)
		}
	}
}

func TestHekaArchiveInfo(t *testing.T) {
	as, err := FromHekaArchiveInfo([][]int64{{0, 1, 600}, {0, 600, 144}, {0, 3600, 168}})
	if err != nil || as.String() != "1:600,600:144,3600:168" {
		t.Fatalf("got %v, %v", as, err)
	}
	// Heka's own built-in default is not a valid Graphite archive list.
	if _, err := FromHekaArchiveInfo([][]int64{{0, 60, 1440}, {0, 900, 8}, {0, 3600, 168}, {0, 43200, 1456}}); err == nil {
		t.Error("Heka's inconsistent default archive list accepted")
	}
	if _, err := FromHekaArchiveInfo([][]int64{{0, 60}}); err == nil {
		t.Error("a pair accepted")
	}
}

// FuzzParseRetentions: any input either fails cleanly or yields a list that
// is valid, sorted, and parses back to itself from its canonical form.
func FuzzParseRetentions(f *testing.F) {
	for _, s := range []string{"10s:6h,1m:7d,10m:5y", "60:1440", "1h:1y", "7:10s", "0:0", "1y:1s", "99999999999s:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		as, err := ParseRetentions(s)
		if err != nil {
			return
		}
		if as.Validate() != nil {
			t.Fatalf("%q: invalid result %v", s, as)
		}
		again, err := ParseRetentions(as.String())
		if err != nil || !again.Equal(as) {
			t.Fatalf("%q: canonical %q parses to %v, %v", s, as.String(), again, err)
		}
	})
}

// FuzzParseConf: no input crashes the conf parsers.
func FuzzParseConf(f *testing.F) {
	f.Add(schemasConf)
	f.Add(aggregationConf)
	f.Add("[a]\n  continued\nk=v\n")
	f.Fuzz(func(t *testing.T, s string) {
		if schemas, err := ParseSchemasConf(strings.NewReader(s)); err == nil {
			for _, sc := range schemas {
				if sc.Pattern == nil || sc.Archives.Validate() != nil {
					t.Fatalf("bad schema accepted: %+v", sc)
				}
			}
		}
		_, _ = ParseAggregationConf(strings.NewReader(s))
	})
}
