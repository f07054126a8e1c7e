// Package tags tests Graphite 1.1 tagged series end to end against the
// reference programs on 127.0.0.1: the same tagged plaintext lines go into
// carbon-cache 1.1.7 (ENABLE_TAGS = True, TAG_HASH_FILENAMES = False,
// GRAPHITE_URL pointing at graphite-web 1.1.8, whose tag database registers
// them) and into the real hekad (DreamcatcherCarbonInput →
// DreamcatcherWhisperOutput); and the same DogStatsD-tagged metrics, sent by
// the npm client hot-shots, go into Etsy statsd 0.9.0 (→ the same
// carbon-cache) and into hekad's DreamcatcherStatsdInput. Both sides' files
// are read with Graphite's whisper.py.
package tags

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/statsd/protocol"
)

// rig is one graphite-web + carbon-cache pair and one hekad, all started
// for the test.
type rig struct {
	gw         *testutil.GraphiteWeb
	carbon     *testutil.CarbonCache
	carbonDir  string
	hekadDir   string
	hekaCarbon string // hekad's carbon plaintext address
	hekaStatsd string // hekad's statsd UDP address
	hekaStatsP int
}

func startRig(t *testing.T) *rig { return startRigWith(t, true) }

// startRigWith starts hekad, and carbon-cache + graphite-web when refs.
func startRigWith(t *testing.T, refs bool) *rig {
	t.Helper()
	testutil.RequireWhisperPy(t)
	hk := testutil.NewHekad(t)
	dir := hk.Dir
	r := &rig{carbonDir: filepath.Join(dir, "carbon-whisper"), hekadDir: filepath.Join(dir, "hekad-whisper")}
	if refs {
		r.gw = testutil.StartGraphiteWeb(t, testutil.GraphiteWebOptions{WhisperDir: r.carbonDir})
		r.carbon = testutil.StartCarbonCache(t, testutil.CarbonCacheOptions{
			Tags: true, GraphiteURL: r.gw.URL, DataDir: r.carbonDir, Retentions: "1s:10m"})
	}
	r.hekaCarbon = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	r.hekaStatsP = hk.Port
	r.hekaStatsd = hk.Addr()
	cfg := hk.WriteConfig(fmt.Sprintf(`[DreamcatcherCarbonInput]
address = %q
self_metrics = ""
batch_delay_ms = 50

[DreamcatcherStatsdInput]
address = %q
flush_interval = 1

[DreamcatcherWhisperOutput]
base_path = %q
default_retentions = "1s:10m"
self_metrics = ""
`, r.hekaCarbon, r.hekaStatsd, r.hekadDir))
	hk.Start(cfg, "Input started: DreamcatcherCarbonInput")
	testutil.WaitTCPListening(t, r.hekaCarbon, 10*time.Second)
	return r
}

// series is one whisper file found in a folder.
type series struct {
	rel       string // relative path, '/' form
	deviation string // why carbon's file is not where hekad's is, or ""
}

// carbonName names a file of carbon's folder the way hekad names its files.
// Where carbon's own layout differs from metricpath's documented one, it
// says why: a '/' in a tagged name makes folders in carbon (metricpath
// writes _SLASH_), and a name carbon cannot parse (Etsy's bare tag
// ";canary") is stored unnormalised, which metricpath writes as
// ";canary=true", normalised.
func carbonName(rel string) (string, string, bool) {
	if name, ok := metricpath.Name(rel); ok {
		return name, "", true
	}
	parts := strings.Split(rel, "/")
	if len(parts) < 4 || parts[0] != metricpath.TaggedDir {
		return "", "", false
	}
	raw := strings.ReplaceAll(strings.TrimSuffix(strings.Join(parts[3:], "/"), metricpath.Ext), "_DOT_", ".")
	if norm, err := metricpath.Normalize(raw); err == nil && strings.Contains(raw, "/") {
		return norm, "'/' in a tagged name: carbon makes folders, metricpath writes _SLASH_", true
	}
	segs := strings.Split(raw, ";")
	for i := 1; i < len(segs); i++ {
		if !strings.Contains(segs[i], "=") {
			segs[i] += "=" + protocol.BareTagValue
		}
	}
	if norm, err := metricpath.Normalize(strings.Join(segs, ";")); err == nil {
		return norm, "bare tag: carbon cannot parse it and keeps Etsy's name unnormalised; metricpath writes tag=true", true
	}
	return "", "", false
}

// walk lists a folder's whisper files by name, named with name.
func walk(t *testing.T, root string, name func(rel string) (string, string, bool), keep func(string) bool) map[string]series {
	t.Helper()
	out := map[string]series{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, metricpath.Ext) || strings.HasPrefix(d.Name(), ".") {
			return err // a file being created is a hidden temporary one
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		n, why, ok := name(rel)
		if !ok {
			t.Errorf("%s: file %s has no name", root, rel)
			return nil
		}
		if keep(n) {
			if old, dup := out[n]; dup {
				t.Errorf("%s: two files for %q: %s and %s", root, n, old.rel, rel)
			}
			out[n] = series{rel: rel, deviation: why}
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

func hekadName(rel string) (string, string, bool) {
	n, ok := metricpath.Name(rel)
	return n, "", ok
}

func names(m map[string]series) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// compareFiles checks that both folders hold the same series, each in the
// same relative file unless a documented deviation says otherwise.
func compareFiles(t *testing.T, carbon, ours map[string]series) {
	t.Helper()
	for _, n := range names(carbon) {
		c := carbon[n]
		o, ok := ours[n]
		if !ok {
			t.Errorf("carbon has %q (%s), hekad has not", n, c.rel)
			continue
		}
		if c.deviation == "" && c.rel != o.rel {
			t.Errorf("%q: carbon's file %s, hekad's %s", n, c.rel, o.rel)
		}
		if c.deviation != "" {
			t.Logf("%q: carbon %s, hekad %s (%s)", n, c.rel, o.rel, c.deviation)
		}
	}
	for _, n := range names(ours) {
		if _, ok := carbon[n]; !ok {
			t.Errorf("hekad has %q (%s), carbon has not", n, ours[n].rel)
		}
	}
}

func read(t *testing.T, root, rel string) map[string]float64 {
	t.Helper()
	w := testutil.ReadWhisperPy(t, filepath.Join(root, filepath.FromSlash(rel)), 0, 0)
	return w.Archives[0].Values
}

// TestCarbonTaggedLinesAsCarbonCache: the same plaintext lines into
// carbon-cache and hekad give the same files with the same points, named by
// graphite-web's tag database as hekad's folder names them.
//
// carbon-cache's and graphite-web's answers are kept in
// testdata/carbon_cache.golden.json (rewritten by a live run with
// UPDATE_GOLDEN=1); without them (and CI not true) hekad is checked against
// that file instead.
func TestCarbonTaggedLinesAsCarbonCache(t *testing.T) {
	live := testutil.CarbonCacheAvailable() == nil && testutil.GraphiteWebAvailable() == nil
	if !live {
		if testutil.UnderCI() {
			t.Fatalf("required under CI=true: carbon-cache and graphite-web (%v; %v)",
				testutil.CarbonCacheAvailable(), testutil.GraphiteWebAvailable())
		}
		t.Logf("carbon-cache or graphite-web missing: checking hekad against %s", goldenFile)
	}
	r := startRigWith(t, live)
	ts := time.Now().Unix() - 60
	lines := []string{
		"tg.app.req;env=prod;dc=eu 1 %[1]d",
		"tg.app.req;dc=eu;env=prod 2 %[2]d", // the same series, tags in another order
		"tg.app.req;env=dev;dc=eu 3 %[1]d",
		"tg.app.req;dc=us;env=prod 4 %[1]d",
		"tg.app.lat;env=prod 5.5 %[1]d",
		"tg.app.lat 6 %[1]d", // untagged: another series
		"tg.tagobj;service=api;ver=1.2 7 %[1]d",
		"tg.dup;x=1;x=2 8 %[1]d",           // the last value of a key wins
		"tg.named;name=other;k=v 9 %[1]d",  // a name tag is the name
		"tg.eq;k=v=w;a-=1;a=2 10 %[1]d",    // '=' in a value; carbon's order
		"tg.uni;k=ü;é=x 11 %[1]d",          // UTF-8
		"tg.web;route=/users/:id 12 %[1]d", // '/': the documented deviation
		"tg.glob;q=a*b{c} 13 %[1]d",
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, l+"\n", ts, ts+1)
	}
	if live {
		testutil.SendTCP(t, r.carbon.Addr, b.String())
	}
	testutil.SendTCP(t, r.hekaCarbon, b.String())

	keep := func(n string) bool { return strings.HasPrefix(n, "tg.") }
	const want = 12 // series
	var carbon, ours map[string]series
	var gold golden
	if !live {
		gold = readGolden(t)
		carbon = gold.seriesMap()
	}
	testutil.Eventually(t, 60*time.Second, func() bool {
		if live {
			carbon = walk(t, r.carbonDir, carbonName, keep)
		}
		ours = walk(t, r.hekadDir, hekadName, keep)
		return len(carbon) >= want && len(ours) >= want
	}, "want %d series in both folders", want)
	compareFiles(t, carbon, ours)
	if len(ours) != want {
		t.Errorf("hekad: %d series, want %d: %q", len(ours), want, names(ours))
	}
	if s := ours["tg.app.req;dc=eu;env=prod"]; !strings.HasPrefix(s.rel, "_tagged/") {
		t.Errorf("normalised series at %q", s.rel)
	}
	if s := ours["tg.web;route=/users/:id"]; !strings.HasSuffix(s.rel, "/tg_DOT_web;route=_SLASH_users_SLASH_:id.wsp") {
		t.Errorf("slash series at %q", s.rel)
	}

	// The same points in both files (carbon writes asynchronously: wait).
	carbonPoints := func(n string) map[string]float64 {
		if !live {
			return gold.points(n, ts)
		}
		return read(t, r.carbonDir, carbon[n].rel)
	}
	for _, n := range names(carbon) {
		if _, ok := ours[n]; !ok {
			continue
		}
		testutil.Eventually(t, 30*time.Second, func() bool {
			return len(carbonPoints(n)) == len(read(t, r.hekadDir, ours[n].rel))
		}, "%q: point counts differ", n)
		c, o := carbonPoints(n), read(t, r.hekadDir, ours[n].rel)
		for at, v := range c {
			if o[at] != v {
				t.Errorf("%q at %s: carbon %v, hekad %v", n, at, v, o[at])
			}
		}
	}
	if v := read(t, r.hekadDir, ours["tg.app.req;dc=eu;env=prod"].rel); v[fmt.Sprint(ts)] != 1 || v[fmt.Sprint(ts+1)] != 2 {
		t.Errorf("tg.app.req;dc=eu;env=prod points %v", v)
	}

	// graphite-web's tag database (fed by carbon, which registers plain
	// names too) knows exactly the names hekad's folder gives.
	registered := gold.Registered
	if live {
		testutil.Eventually(t, 60*time.Second, func() bool {
			registered = findSeries(t, r.gw.URL, "name=~^tg\\.")
			return len(registered) >= want
		}, "graphite-web registered %d series", len(registered))
		if os.Getenv("UPDATE_GOLDEN") == "1" {
			writeGolden(t, r.carbonDir, carbon, registered, ts)
		}
	}
	tagged := names(ours)
	sort.Strings(registered)
	if strings.Join(registered, "\n") != strings.Join(tagged, "\n") {
		t.Errorf("graphite-web's tag database:\n%s\nhekad's folder:\n%s", strings.Join(registered, "\n"), strings.Join(tagged, "\n"))
	}

	// Malformed tags: carbon logs and still stores them unnormalised; hekad
	// refuses them (counted as bad lines), so no file appears.
	testutil.SendTCP(t, r.hekaCarbon, fmt.Sprintf("tg.bad;=v 1 %[1]d\ntg.bad; 1 %[1]d\ntg.bad;k 1 %[1]d\n;k=v 1 %[1]d\ntg.ok2;k=v 1 %[1]d\n", ts))
	testutil.Eventually(t, 30*time.Second, func() bool {
		_, ok := walk(t, r.hekadDir, hekadName, keep)["tg.ok2;k=v"]
		return ok
	}, "tg.ok2;k=v not written")
	for n := range walk(t, r.hekadDir, hekadName, keep) {
		if strings.HasPrefix(n, "tg.bad") {
			t.Errorf("malformed tagged line stored as %q", n)
		}
	}
}

// findSeries asks graphite-web's /tags/findSeries.
func findSeries(t *testing.T, base, expr string) []string {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(base + "/tags/findSeries?expr=" + url.QueryEscape(expr))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []string
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("findSeries %s: %v", expr, err)
	}
	return out
}

// TestHotShotsAsEtsyAndCarbon: DogStatsD-tagged metrics from the npm client
// hot-shots, sent to Etsy statsd 0.9.0 → carbon-cache and to hekad's statsd
// input → whisper output, end in the same series with the same totals.
func TestHotShotsAsEtsyAndCarbon(t *testing.T) {
	node, err := exec.LookPath("node")
	testutil.RequireReference(t, "node (for hot-shots)", err)
	root := testutil.ModuleRoot(t)
	if _, err := os.Stat(filepath.Join(root, "node_modules", "hot-shots")); err != nil {
		testutil.Unavailable(t, "npm hot-shots not installed (run npm ci): %v", err)
	}
	js := filepath.Join(testutil.EtsyStatsd(t), "stats.js")
	r := startRig(t)
	carbonPort := strings.TrimPrefix(r.carbon.Addr, "127.0.0.1:")
	dir := t.TempDir()
	eport, mport := testutil.FreePort(t), testutil.FreePort(t)
	cfg := testutil.WriteFile(t, dir, "etsy.js", fmt.Sprintf(`{
  address: "127.0.0.1", port: %d, mgmt_address: "127.0.0.1", mgmt_port: %d,
  flushInterval: 1000, backends: ["./backends/graphite"],
  graphiteHost: "127.0.0.1", graphitePort: %s
}
`, eport, mport, carbonPort))
	etsy := testutil.Start(t, node, js, cfg)
	etsy.WaitOutput("server is up", 20*time.Second)

	code, out := testutil.Run(t, 30*time.Second, node, filepath.Join("testdata", "hotshots.cjs"), root,
		fmt.Sprint(eport), fmt.Sprint(r.hekaStatsP))
	if code != 0 || !strings.Contains(out, "sent") {
		t.Fatalf("hot-shots: exit %d\n%s", code, out)
	}

	// Totals that do not depend on how the two daemons' flushes split the
	// datagrams: sums of counts, extremes, the last gauge.
	totals := map[string]float64{
		"stats_counts.hs.req;dc=eu;env=prod":                  3,
		"stats_counts.hs.req;dc=eu;env=dev":                   4,
		"stats_counts.hs.req":                                 8,
		"stats_counts.hs.flag;canary=true;env=prod":           3,
		"stats.timers.hs.lat.count;env=prod;ver=1.2":          3,
		"stats.timers.hs.lat.upper;env=prod;ver=1.2":          30,
		"stats.timers.hs.lat.lower;env=prod;ver=1.2":          12,
		"stats.gauges.hs.temp;room=a-b;route=-users-id":       21.5,
		"stats.sets.hs.users.count;env=prod":                  2,
		"stats.timers.hs.lat.upper_90;env=prod;ver=1.2":       30,
		"stats.timers.hs.lat.count_90;env=prod;ver=1.2":       3,
		"stats.timers.hs.lat.sum;env=prod;ver=1.2":            60,
		"stats.timers.hs.lat.sum_90;env=prod;ver=1.2":         60,
		"stats.timers.hs.lat.sum_squares;env=prod;ver=1.2":    144 + 900 + 324,
		"stats.timers.hs.lat.sum_squares_90;env=prod;ver=1.2": 144 + 900 + 324,
	}
	keep := func(n string) bool { return strings.Contains(n, ".hs.") }
	var carbon, ours map[string]series
	ready := func(root string, m map[string]series) bool {
		for n, want := range totals {
			s, ok := m[n]
			if !ok || math.Abs(summarise(n, read(t, root, s.rel))-want) > 1e-9 {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		carbon = walk(t, r.carbonDir, carbonName, keep)
		ours = walk(t, r.hekadDir, hekadName, keep)
		if ready(r.carbonDir, carbon) && ready(r.hekadDir, ours) {
			break
		}
		if time.Now().After(deadline) {
			for _, side := range []struct {
				what, root string
				m          map[string]series
			}{{"carbon", r.carbonDir, carbon}, {"hekad", r.hekadDir, ours}} {
				for n, want := range totals {
					s, ok := side.m[n]
					got := math.NaN()
					if ok {
						got = summarise(n, read(t, side.root, s.rel))
					}
					if got != want {
						t.Errorf("%s: %s = %v, want %v", side.what, n, got, want)
					}
				}
				t.Logf("%s has %q", side.what, names(side.m))
			}
			t.Fatal("the totals did not arrive in both folders")
		}
	}
	// Both kept flushing: take the file lists again, now complete.
	time.Sleep(2 * time.Second)
	carbon = walk(t, r.carbonDir, carbonName, keep)
	ours = walk(t, r.hekadDir, hekadName, keep)
	compareFiles(t, carbon, ours)
	// Tag order: hekad aggregates both orders as one series; Etsy sends two
	// points with one timestamp for it and carbon keeps one of them.
	const mix = "stats_counts.hs.mix;dc=eu;env=prod"
	if got := summarise(mix, read(t, r.hekadDir, ours[mix].rel)); got != 3 {
		t.Errorf("hekad: %s = %v, want 3 (both tag orders)", mix, got)
	}
	if s, ok := carbon[mix]; ok {
		if got := summarise(mix, read(t, r.carbonDir, s.rel)); got != 1 && got != 2 {
			t.Errorf("Etsy + carbon: %s = %v, want 1 or 2 (one order's point kept)", mix, got)
		}
	}
	if s := carbon["stats_counts.hs.flag;canary=true;env=prod"]; s.deviation == "" {
		t.Errorf("bare tag: carbon's file %q, expected Etsy's unnormalised name", s.rel)
	}
	for n := range ours {
		if strings.Contains(n, "hs.req") && strings.Contains(n, "env=prod;dc=eu") {
			t.Errorf("unnormalised series %q", n)
		}
	}
}

// summarise reduces a file's points to what does not depend on flush
// boundaries: the last value of a gauge, the extremes of upper and lower,
// the sum of everything else the test checks (counts, sums, set sizes).
func summarise(name string, pts map[string]float64) float64 {
	var times []string
	for at := range pts {
		times = append(times, at)
	}
	sort.Slice(times, func(i, j int) bool {
		return len(times[i]) < len(times[j]) || len(times[i]) == len(times[j]) && times[i] < times[j]
	})
	base := name
	if i := strings.IndexByte(name, ';'); i >= 0 {
		base = name[:i]
	}
	switch {
	case strings.HasPrefix(base, "stats.gauges."):
		if len(times) == 0 {
			return math.NaN()
		}
		return pts[times[len(times)-1]]
	case strings.HasSuffix(base, ".upper") || strings.HasSuffix(base, ".upper_90"):
		m := math.Inf(-1)
		for _, v := range pts {
			m = math.Max(m, v)
		}
		return m
	case strings.HasSuffix(base, ".lower"):
		m := math.Inf(1)
		for _, v := range pts {
			if v != 0 || len(pts) == 1 {
				m = math.Min(m, v)
			}
		}
		return m
	}
	s := 0.0
	for _, v := range pts {
		s += v
	}
	return s
}

// golden is what carbon-cache and graphite-web answered in a live run of
// TestCarbonTaggedLinesAsCarbonCache.
type golden struct {
	Series map[string]struct {
		Rel       string             `json:"rel"`
		Deviation string             `json:"deviation,omitempty"`
		Points    map[string]float64 `json:"points"` // seconds after the test's first timestamp → value
	} `json:"series"`
	Registered []string `json:"registered"` // graphite-web's /tags/findSeries?expr=name=~^tg\.
}

const goldenFile = "testdata/carbon_cache.golden.json"

func readGolden(t *testing.T) golden {
	t.Helper()
	b, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("%s: %v", goldenFile, err)
	}
	return g
}

func (g golden) seriesMap() map[string]series {
	out := map[string]series{}
	for n, s := range g.Series {
		out[n] = series{rel: s.Rel, deviation: s.Deviation}
	}
	return out
}

func (g golden) points(name string, ts int64) map[string]float64 {
	out := map[string]float64{}
	for off, v := range g.Series[name].Points {
		var d int64
		fmt.Sscan(off, &d)
		out[fmt.Sprint(ts+d)] = v
	}
	return out
}

func writeGolden(t *testing.T, root string, carbon map[string]series, registered []string, ts int64) {
	t.Helper()
	var g golden
	g.Series = map[string]struct {
		Rel       string             `json:"rel"`
		Deviation string             `json:"deviation,omitempty"`
		Points    map[string]float64 `json:"points"`
	}{}
	for n, s := range carbon {
		pts := map[string]float64{}
		for at, v := range read(t, root, s.rel) {
			var sec int64
			fmt.Sscan(at, &sec)
			pts[fmt.Sprint(sec-ts)] = v
		}
		g.Series[n] = struct {
			Rel       string             `json:"rel"`
			Deviation string             `json:"deviation,omitempty"`
			Points    map[string]float64 `json:"points"`
		}{s.rel, s.deviation, pts}
	}
	g.Registered = registered
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goldenFile, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", goldenFile)
}
