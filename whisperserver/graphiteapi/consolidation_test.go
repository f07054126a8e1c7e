package graphiteapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/index"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/store"
)

// goldenAnswer is graphite-web's recorded answer to target with
// maxDataPoints over the golden ranges' first one.
func goldenAnswer(t *testing.T, g *goldenRender, target, mdp string) ([]jsonSeries, map[string]string) {
	t.Helper()
	for _, c := range g.Cases {
		if c.Query["target"] == target && c.Query["maxDataPoints"] == mdp && c.Query["from"] == "-6h" {
			return c.Answer, c.Query
		}
	}
	t.Fatalf("no golden case for %s maxDataPoints=%s", target, mdp)
	return nil, nil
}

// TestMaxDataPointsMethodFile: with max_data_points_method "file" a
// counter whose file sums consolidates by sum — graphite-web's answer to
// consolidateBy(…, "sum") — and by default ("graphite") by average, as
// graphite-web does whatever the file says.
func TestMaxDataPointsMethodFile(t *testing.T) {
	b, err := os.ReadFile("testdata/golden/render.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenRender
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	avg, q := goldenAnswer(t, &g, "counters.hits", "10")
	sum, _ := goldenAnswer(t, &g, `consolidateBy(counters.hits,"sum")`, "10")
	sum[0].Target = avg[0].Target
	if diffSeries(avg, sum) == "" {
		t.Fatal("fixture: average and sum consolidation agree; the test would prove nothing")
	}
	for _, tc := range []struct {
		method string
		want   []jsonSeries
	}{{"", avg}, {MethodGraphite, avg}, {MethodFile, sum}} {
		got := renderWith(t, g.Now, tc.method, q)
		if d := diffSeries(got, tc.want); d != "" {
			t.Errorf("max_data_points_method %q: %s", tc.method, d)
		}
	}
}

func renderWith(t *testing.T, now int64, method string, q map[string]string) []jsonSeries {
	t.Helper()
	ix, err := index.New("testdata/golden/whisper", index.Options{NoWatch: true, RescanInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	api := New(Config{Store: store.New(ix, 0, nil), MaxDataPointsMethod: method, Now: func() time.Time { return time.Unix(now, 0) }})
	r := mux.NewRouter()
	api.Register(r)
	srv := httptest.NewServer(r)
	defer srv.Close()
	v := url.Values{}
	for k, x := range q {
		v.Set(k, x)
	}
	resp, err := http.Get(srv.URL + "/render?" + v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var got []jsonSeries
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return got
}
