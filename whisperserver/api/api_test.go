package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/server"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/server/servertest"
)

// fixture writes three metrics, the first with a point every 10 s over the
// last 10 minutes (value = minutes ago * 10 + tens of seconds), and serves them.
func fixture(t *testing.T, adjust func(*server.Config)) (base string, t0 int64, pts map[int64]float64) {
	dir := t.TempDir()
	now := time.Now().Unix()
	t0 = now - now%10 - 600
	pts = map[int64]float64{}
	for i := int64(0); i < 60; i++ {
		pts[t0+i*10] = float64(i) * 1.5
	}
	servertest.WriteMetric(t, dir, "app.web.hits", "sum", []servertest.Archive{{Step: 10, Points: 360}, {Step: 60, Points: 1440}}, pts)
	servertest.WriteMetric(t, dir, "app.web.latency", "average", []servertest.Archive{{Step: 10, Points: 360}}, nil)
	servertest.WriteMetric(t, dir, "db.load", "max", []servertest.Archive{{Step: 60, Points: 60}}, nil)
	return servertest.Start(t, dir, adjust).URL, t0, pts
}

func TestMetricsList(t *testing.T) {
	base, _, _ := fixture(t, nil)
	var all struct {
		Metrics []string `json:"metrics"`
		Total   int      `json:"total"`
	}
	servertest.GetJSON(t, base+"/api/metrics", &all)
	if got := strings.Join(all.Metrics, ","); got != "app.web.hits,app.web.latency,db.load" || all.Total != 3 {
		t.Fatalf("metrics = %s (total %d)", got, all.Total)
	}
	servertest.GetJSON(t, base+"/api/metrics?q=WEB+lat", &all)
	if got := strings.Join(all.Metrics, ","); got != "app.web.latency" || all.Total != 1 {
		t.Fatalf("q=WEB lat: %s (total %d), want every term to match, case-insensitively", got, all.Total)
	}
	servertest.GetJSON(t, base+"/api/metrics?limit=1", &all)
	if len(all.Metrics) != 1 || all.Total != 3 {
		t.Fatalf("limit=1: %v (total %d), want 1 name and the full total", all.Metrics, all.Total)
	}
	if code, body := servertest.Get(t, base+"/api/metrics?limit=-2"); code != http.StatusBadRequest {
		t.Fatalf("limit=-2: status %d %s, want 400", code, body)
	}
}

func TestMetricInfo(t *testing.T) {
	base, _, _ := fixture(t, nil)
	var info struct {
		Name              string `json:"name"`
		AggregationMethod string `json:"aggregationMethod"`
		MaxRetention      int64  `json:"maxRetention"`
		Archives          []struct {
			SecondsPerPoint int64  `json:"secondsPerPoint"`
			Points          int64  `json:"points"`
			Newest          *int64 `json:"newest"`
		} `json:"archives"`
	}
	servertest.GetJSON(t, base+"/api/metric/app.web.hits", &info)
	if info.AggregationMethod != "sum" || info.MaxRetention != 86400 || len(info.Archives) != 2 ||
		info.Archives[0].SecondsPerPoint != 10 || info.Archives[0].Points != 360 || info.Archives[0].Newest == nil {
		t.Fatalf("info = %+v", info)
	}
	if code, _ := servertest.Get(t, base+"/api/metric/no.such"); code != http.StatusNotFound {
		t.Fatalf("missing metric: status %d, want 404", code)
	}
	if code, _ := servertest.Get(t, base+"/api/metric/a..b"); code != http.StatusBadRequest {
		t.Fatalf("bad name: status %d, want 400", code)
	}
}

func TestData(t *testing.T) {
	base, t0, pts := fixture(t, func(c *server.Config) { c.MaxSeries = 2 })
	var out struct {
		Series []struct {
			Name   string     `json:"name"`
			Step   int64      `json:"step"`
			Start  int64      `json:"start"`
			Values []*float64 `json:"values"`
		} `json:"series"`
	}
	u := fmt.Sprintf("%s/api/data?target=app.web.hits&from=%d&until=%d", base, t0-1, t0+599)
	servertest.GetJSON(t, u, &out)
	if len(out.Series) != 1 || out.Series[0].Step != 10 {
		t.Fatalf("series = %+v", out.Series)
	}
	s := out.Series[0]
	checked := 0
	for i, v := range s.Values {
		ts := s.Start + int64(i)*s.Step
		want, ok := pts[ts]
		switch {
		case ok && (v == nil || *v != want):
			t.Errorf("at %d: %v, want %v", ts, v, want)
		case !ok && v != nil:
			t.Errorf("at %d: %v, want null", ts, *v)
		case ok:
			checked++
		}
	}
	if checked != 60 {
		t.Fatalf("%d of the 60 points came back", checked)
	}
	for _, tc := range []struct{ query, want string }{
		{"target=app.web.hits&from=-1h&until=-2h", "from must be before until"},
		{"from=-1h", "at least one target"},
		{"target=app.*.*&target=db.load", "max_series"},
		{"target=app.web.hits&maxDataPoints=0", "maxDataPoints"},
	} {
		code, body := servertest.Get(t, base+"/api/data?"+tc.query)
		if code/100 != 4 || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: status %d %s, want a 4xx naming %q", tc.query, code, body, tc.want)
		}
	}
}

func TestTree(t *testing.T) {
	base, _, _ := fixture(t, nil)
	var out struct {
		Children []struct {
			Name string `json:"name"`
			Leaf bool   `json:"leaf"`
		} `json:"children"`
	}
	servertest.GetJSON(t, base+"/api/tree?prefix="+url.QueryEscape("app.web"), &out)
	if len(out.Children) != 2 || out.Children[0].Name != "hits" || !out.Children[0].Leaf {
		t.Fatalf("children of app.web = %+v", out.Children)
	}
	// The whole answer, byte for byte, at the top and one level down.
	for prefix, want := range map[string]string{
		"": `{"prefix":"","children":[{"name":"app","path":"app","leaf":false,"expandable":true},` +
			`{"name":"db","path":"db","leaf":false,"expandable":true}],"total":2,"offset":0,"truncated":false}` + "\n",
		"app.web": `{"prefix":"app.web","children":[{"name":"hits","path":"app.web.hits","leaf":true,"expandable":false},` +
			`{"name":"latency","path":"app.web.latency","leaf":true,"expandable":false}],"total":2,"offset":0,"truncated":false}` + "\n",
		"app.web&offset=1&limit=5": `{"prefix":"app.web","children":[{"name":"latency","path":"app.web.latency","leaf":true,"expandable":false}],` +
			`"total":2,"offset":1,"truncated":false}` + "\n",
	} {
		code, body := servertest.Get(t, base+"/api/tree?prefix="+prefix)
		if code != http.StatusOK || string(body) != want {
			t.Errorf("tree %q: status %d\n got %s\nwant %s", prefix, code, body, want)
		}
	}
	if code, _ := servertest.Get(t, base+"/api/tree?prefix=nope"); code != http.StatusNotFound {
		t.Fatalf("unknown prefix: status %d, want 404", code)
	}
}
