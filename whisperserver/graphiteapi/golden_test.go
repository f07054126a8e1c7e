package graphiteapi

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	ogórek "github.com/kisielk/og-rek"

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
		// Info is graphite-web's pickle answer over the first range
		// without the values: name, pathExpression, start, end, step,
		// valuesPerPoint, consolidationFunc, xFilesFactor.
		Info []map[string]any `json:"info"`
	} `json:"cases"`
}

type jsonSeries struct {
	Target     string            `json:"target"`
	Tags       map[string]string `json:"tags"`
	Datapoints [][2]*float64     `json:"datapoints"`
}

// tagsPending are functions whose series tags are not yet graphite-web's;
// a target using one has its names and values compared, not its tags.
// Every other target's tags are compared.
var tagsPending = map[string]bool{}

// diffTags compares the series' tags.
func diffTags(a, b []jsonSeries) string {
	for i := range a {
		if i < len(b) && !reflect.DeepEqual(a[i].Tags, b[i].Tags) {
			return fmt.Sprintf("%s: tags %v, graphite-web %v", a[i].Target, a[i].Tags, b[i].Tags)
		}
	}
	return ""
}

func goldenServer(t testing.TB, now int64) *httptest.Server {
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
	points, tagCases, infoCases := 0, 0, 0
	for _, c := range g.Cases {
		v := url.Values{}
		for k, x := range c.Query {
			v.Set(k, x)
		}
		here := map[string]bool{}
		collectFuncs(t, c.Query["target"], here)
		checkTags := true
		for f := range here {
			used[f] = true
			checkTags = checkTags && !tagsPending[f]
		}
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
		diff := diffSeries
		if strings.Contains(c.Query["target"], "randomWalk") {
			diff = diffRandomWalk
		}
		if d := diff(got, c.Answer); d != "" {
			t.Errorf("target=%s from=%s until=%s %s: %s", c.Query["target"], c.Query["from"], c.Query["until"], c.Query["maxDataPoints"], d)
		} else if d := diffTags(got, c.Answer); checkTags && d != "" {
			t.Errorf("target=%s from=%s until=%s: %s", c.Query["target"], c.Query["from"], c.Query["until"], d)
		} else if checkTags {
			tagCases++
		}
		for _, s := range c.Answer {
			points += len(s.Datapoints)
		}
		if c.Info != nil {
			if d := diffInfo(t, srv.URL, c.Query, c.Info); d != "" {
				t.Errorf("target=%s format=pickle: %s", c.Query["target"], d)
			} else {
				infoCases++
			}
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
	t.Logf("%d cases (%d with tags, %d with pickle series info), %d datapoints, %d functions compared with graphite-web", len(g.Cases), tagCases, infoCases, points, len(used))
}

// diffInfo asks for the case's pickle answer and compares each series'
// info but the values with graphite-web's.
func diffInfo(t *testing.T, base string, query map[string]string, want []map[string]any) string {
	v := url.Values{}
	for k, x := range query {
		if k != "maxDataPoints" {
			v.Set(k, x)
		}
	}
	v.Set("format", "pickle")
	resp, err := http.Get(base + "/render?" + v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := ogórek.NewDecoder(resp.Body).Decode()
	if err != nil {
		return fmt.Sprintf("pickle: %v", err)
	}
	list, _ := got.([]any)
	if len(list) != len(want) {
		return fmt.Sprintf("%d series, graphite-web %d", len(list), len(want))
	}
	for i, x := range list {
		m, _ := x.(map[any]any)
		for k, w := range want[i] {
			g := m[k]
			switch gv := g.(type) {
			case int64:
				g = float64(gv)
			case *big.Int:
				f, _ := new(big.Float).SetInt(gv).Float64()
				g = f
			}
			if wf, ok := w.(float64); ok {
				if gf, ok := g.(float64); !ok || gf != wf {
					return fmt.Sprintf("series %d (%v): %s %v, graphite-web %v", i, m["name"], k, g, w)
				}
				continue
			}
			if g != w {
				return fmt.Sprintf("series %d (%v): %s %v, graphite-web %v", i, m["name"], k, g, w)
			}
		}
	}
	return ""
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

func diffSeries(a, b []jsonSeries) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d series, graphite-web %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Target != b[i].Target {
			return fmt.Sprintf("series %d: target %q, graphite-web %q", i, a[i].Target, b[i].Target)
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

// diffRandomWalk compares randomWalk's shape: names, timestamps, a walk
// from 0 by steps of at most ½ with no nulls (graphite-web's values are
// random: recorded values cannot match).
func diffRandomWalk(a, b []jsonSeries) string {
	strip := func(l []jsonSeries) []jsonSeries {
		out := make([]jsonSeries, len(l))
		for i, s := range l {
			out[i].Target = s.Target
			for _, p := range s.Datapoints {
				out[i].Datapoints = append(out[i].Datapoints, [2]*float64{p[1], p[1]})
			}
		}
		return out
	}
	if d := diffSeries(strip(a), strip(b)); d != "" {
		return d
	}
	for _, l := range [][]jsonSeries{a, b} {
		for _, s := range l {
			prev := 0.0
			for j, p := range s.Datapoints {
				if p[0] == nil || (j == 0 && *p[0] != 0) || math.Abs(*p[0]-prev) > 0.5 {
					return fmt.Sprintf("%s point %d: %v after %v is not a random walk step", s.Target, j, fmtp(p[0]), prev)
				}
				prev = *p[0]
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
