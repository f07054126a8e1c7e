package graphiteapi

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/index"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/render"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/store"
)

// goldenRender is testdata/golden/render.json: graphite-web 1.1.8's
// answers over testdata/golden/whisper, recorded by
// scripts/graphite-golden.py.
type goldenRender struct {
	Now   int64 `json:"now"`
	Cases []struct {
		Query  map[string]string `json:"query"`
		Status int               `json:"status"`
		Answer []jsonSeries      `json:"answer"`
	} `json:"cases"`
}

type jsonSeries struct {
	Target     string         `json:"target"`
	Tags       map[string]any `json:"tags"`
	Datapoints [][2]*float64  `json:"datapoints"`
}

func goldenServer(t *testing.T, now int64) *httptest.Server {
	t.Helper()
	ix, err := index.New("testdata/golden/whisper", index.Options{NoWatch: true, RescanInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	api := New(Config{Store: store.New(ix, 0, nil), Now: func() time.Time { return time.Unix(now, 0) }})
	r := mux.NewRouter()
	api.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// TestGoldenGraphiteWeb renders every recorded target and compares the
// answer with graphite-web's, value for value; and checks that every
// implemented function is among the recorded targets.
func TestGoldenGraphiteWeb(t *testing.T) {
	b, err := os.ReadFile("testdata/golden/render.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenRender
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	srv := goldenServer(t, g.Now)
	used := map[string]bool{}
	points := 0
	for _, c := range g.Cases {
		v := url.Values{}
		for k, x := range c.Query {
			v.Set(k, x)
		}
		collectFuncs(t, c.Query["target"], used)
		resp, err := http.Get(srv.URL + "/render?" + v.Encode())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.Status {
			t.Errorf("%v: status %d, graphite-web %d: %.300s", c.Query, resp.StatusCode, c.Status, body)
			continue
		}
		if c.Status != http.StatusOK {
			continue
		}
		var got []jsonSeries
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%v: %v in %.300s", c.Query, err, body)
		}
		if d := diffSeries(got, c.Answer, true); d != "" {
			t.Errorf("target=%s from=%s until=%s %s: %s", c.Query["target"], c.Query["from"], c.Query["until"], c.Query["maxDataPoints"], d)
		}
		for _, s := range c.Answer {
			points += len(s.Datapoints)
		}
	}
	// The tag functions are compared in TestTagsGoldenGraphiteWeb.
	for _, target := range loadGoldenTags(t, "testdata/tags/tags.json").targets() {
		collectFuncs(t, target, used)
	}
	var missing []string
	for _, n := range render.Names() {
		if !used[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("implemented functions without a golden case: %s", strings.Join(missing, ", "))
	}
	t.Logf("%d cases, %d datapoints, %d functions compared with graphite-web", len(g.Cases), points, len(used))
}

func collectFuncs(t *testing.T, target string, used map[string]bool) {
	e, err := render.Parse(target)
	if err != nil {
		t.Fatalf("golden target %q: %v", target, err)
	}
	var walk func(e *render.Expr)
	walk = func(e *render.Expr) {
		if e.Kind == render.KindCall {
			used[e.Func] = true
		}
		for _, a := range e.Args {
			walk(a)
		}
		for _, kw := range e.Kwargs {
			walk(kw.Value)
		}
	}
	walk(e)
}

func diffSeries(a, b []jsonSeries, subsetTags bool) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d series, graphite-web %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Target != b[i].Target {
			return fmt.Sprintf("series %d: target %q, graphite-web %q", i, a[i].Target, b[i].Target)
		}
		if d := diffTags(a[i].Tags, b[i].Tags, subsetTags); d != "" {
			return fmt.Sprintf("%s: tags %s", a[i].Target, d)
		}
		if len(a[i].Datapoints) != len(b[i].Datapoints) {
			return fmt.Sprintf("%s: %d points, graphite-web %d", a[i].Target, len(a[i].Datapoints), len(b[i].Datapoints))
		}
		for j, p := range a[i].Datapoints {
			o := b[i].Datapoints[j]
			if p[1] == nil || o[1] == nil || *p[1] != *o[1] {
				return fmt.Sprintf("%s point %d: time %v, graphite-web %v", a[i].Target, j, fmtp(p[1]), fmtp(o[1]))
			}
			switch {
			case p[0] == nil && o[0] == nil:
			case p[0] == nil || o[0] == nil:
				return fmt.Sprintf("%s at %v: %v, graphite-web %v", a[i].Target, *p[1], fmtp(p[0]), fmtp(o[0]))
			case math.Abs(*p[0]-*o[0]) > 1e-9*math.Max(1, math.Abs(*o[0])):
				return fmt.Sprintf("%s at %v: %v, graphite-web %v", a[i].Target, *p[1], *p[0], *o[0])
			}
		}
	}
	return ""
}

func fmtp(p *float64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// diffTags compares tags as JSON values (graphite-web keeps some as
// numbers, e.g. scale's factor; they compare by their text). With subset,
// tags graphite-web has and we lack are not a difference: the per-function
// tags of issue 18's "not done" list (scale, movingAverage, …).
func diffTags(a, b map[string]any, subset bool) string {
	if b == nil {
		return ""
	}
	keys := func(m map[string]any) []string {
		out := make([]string, 0, len(m))
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	ka, kb := keys(a), keys(b)
	for _, k := range ka {
		if bv, ok := b[k]; !ok || fmt.Sprint(a[k]) != fmt.Sprint(bv) {
			return fmt.Sprintf("%v, graphite-web %v", a, b)
		}
	}
	if !subset && len(ka) != len(kb) {
		return fmt.Sprintf("keys %v, graphite-web %v", ka, kb)
	}
	return ""
}
