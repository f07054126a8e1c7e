package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
	gowhisper "github.com/lomik/go-whisper"
)

type apiData struct {
	From, Until int64
	Series      []struct {
		Name              string     `json:"name"`
		Archive           *int       `json:"archive"`
		Step              int64      `json:"step"`
		Start             int64      `json:"start"`
		End               int64      `json:"end"`
		AggregationMethod string     `json:"aggregationMethod"`
		Values            []*float64 `json:"values"`
		Error             string     `json:"error"`
	} `json:"series"`
}

// checkBuckets renders cc.sum.x with maxDataPoints=72 (buckets of 10
// points) and checks each full bucket is the sum (or the average) of the
// points written.
func checkBuckets(t *testing.T, f *fixture, base, now string, wantSum bool) {
	t.Helper()
	var got []graphiteSeries
	getJSON(t, base+"/render?"+q("target", "cc.sum.x", "from", "-2h", "now", now, "maxDataPoints", "72"), &got)
	if len(got) != 1 || len(got[0].Datapoints) < 2 {
		t.Fatal(got)
	}
	step := int64(*got[0].Datapoints[1][1] - *got[0].Datapoints[0][1])
	if step != 100 {
		t.Fatalf("consolidated step %d, want 100", step)
	}
	checked := 0
	for _, p := range got[0].Datapoints {
		if p[0] == nil {
			continue
		}
		start := int64(*p[1])
		sum, n := 0.0, 0
		for ts := start; ts < start+step; ts += 10 {
			if v, ok := f.Values["cc.sum.x"][ts]; ok {
				sum += v
				n++
			}
		}
		if n == 10 {
			checked++
			want := sum / float64(n)
			if wantSum {
				want = sum
			}
			if math.Abs(*p[0]-want) > 1e-9 {
				t.Errorf("bucket %d = %v, want %v (sum %v)", start, *p[0], want, wantSum)
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d full buckets checked", checked)
	}
}

func TestServer(t *testing.T) {
	f := newFixture(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.wsp"), []byte("not yours"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.wsp"), filepath.Join(f.Dir, "cc", "leak.wsp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(f.Dir, "escape")); err != nil {
		t.Fatal(err)
	}
	// A truncated file: an error for that metric only.
	data, err := os.ReadFile(filepath.Join(f.Dir, "cc", "avg", "b.wsp"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.Dir, "cc", "avg", "broken.wsp"), data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	ws := startServer(t, f.Dir, "-max-series", "50", "-max-points", "200000", "-max-open-files", "8")
	now := fmt.Sprint(f.T)

	t.Run("healthz and static", func(t *testing.T) {
		code, b := get(t, ws.URL+"/healthz")
		if code != 200 || strings.TrimSpace(string(b)) != `{"status":"ok"}` {
			t.Errorf("healthz: %d %s", code, b)
		}
		code, b = get(t, ws.URL+"/")
		if code != 200 || !strings.Contains(strings.ToLower(string(b)), "<html") {
			t.Errorf("/: %d %.100s", code, b)
		}
		if code, _ := get(t, ws.URL+"/embed.go"); code != 404 {
			t.Errorf("/embed.go served: %d", code)
		}
		if code, b := get(t, ws.URL+"/metric/cc.avg.a"); code != 200 || !strings.Contains(strings.ToLower(string(b)), "<html") {
			t.Errorf("app route: %d %.100s", code, b)
		}
		if code, _ := get(t, ws.URL+"/missing.js"); code != 404 {
			t.Errorf("/missing.js: %d", code)
		}
	})

	t.Run("render values", func(t *testing.T) {
		// cc.avg.a was written by whisper.py: every stored point comes back.
		var got []graphiteSeries
		getJSON(t, ws.URL+"/render?"+q("target", "cc.avg.a", "from", "-2h", "now", now, "format", "json"), &got)
		if len(got) != 1 || got[0].Target != "cc.avg.a" {
			t.Fatalf("render: %+v", got)
		}
		written := f.Values["cc.avg.a"]
		seen := 0
		for _, p := range got[0].Datapoints {
			ts := int64(*p[1])
			v, ok := written[ts]
			switch {
			case ok && (p[0] == nil || *p[0] != v):
				t.Errorf("at %d: got %v, wrote %v", ts, fmtp(p[0]), v)
			case !ok && p[0] != nil:
				t.Errorf("at %d: got %v, wrote nothing", ts, *p[0])
			case ok:
				seen++
			}
		}
		if seen < 600 {
			t.Errorf("only %d written points seen", seen)
		}
		// POST form with a trailing slash, as Grafana sends it, and
		// Grafana's aliasSub wrapping and datasource test.
		resp, err := client.PostForm(ws.URL+"/render/", map[string][]string{
			"target": {`aliasSub(sumSeries(cc.tree.*.leaf), "(^.*$)", "\1 A")`, "constantLine(100)"},
			"from":   {"-10min"}, "until": {"now"}, "format": {"json"}, "maxDataPoints": {"1000"}, "now": {now},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var posted []graphiteSeries
		if err := json.NewDecoder(resp.Body).Decode(&posted); err != nil || resp.StatusCode != 200 {
			t.Fatalf("POST render: %d %v", resp.StatusCode, err)
		}
		if len(posted) != 2 || posted[0].Target != "sumSeries(cc.tree.*.leaf) A" || posted[1].Target != "100.0" || *posted[1].Datapoints[0][0] != 100 {
			t.Errorf("POST render: %+v", posted)
		}
		for i, p := range posted[0].Datapoints {
			ts := int64(*p[1])
			want := f.Values["cc.tree.p.leaf"][ts] + f.Values["cc.tree.q.leaf"][ts]
			if _, ok := f.Values["cc.tree.p.leaf"][ts]; !ok {
				continue
			}
			if p[0] == nil || *p[0] != want {
				t.Errorf("sum point %d at %d = %v, want %v", i, ts, fmtp(p[0]), want)
			}
		}
	})

	t.Run("grafana endpoints", func(t *testing.T) {
		code, b := get(t, ws.URL+"/version")
		if code != 200 || strings.TrimSpace(string(b)) != "1.1.8" {
			t.Errorf("/version: %d %s", code, b)
		}
		var funcs map[string]struct {
			Name   string `json:"name"`
			Group  string `json:"group"`
			Params []struct {
				Name, Type string
			} `json:"params"`
		}
		getJSON(t, ws.URL+"/functions", &funcs)
		want := []string{"absolute", "alias", "aliasByMetric", "aliasByNode", "aliasSub", "asPercent", "averageSeries",
			"averageSeriesWithWildcards", "consolidateBy", "constantLine", "derivative", "diffSeries", "divideSeries", "exclude",
			"grep", "groupByNode", "groupByNodes", "highestAverage", "highestCurrent", "highestMax", "integral", "keepLastValue",
			"limit", "lowestAverage", "lowestCurrent", "maxSeries", "minSeries", "movingAverage", "multiplySeries",
			"nonNegativeDerivative", "offset", "perSecond", "removeAboveValue", "removeBelowValue", "removeEmptySeries", "scale",
			"sortByName", "sumSeries", "sumSeriesWithWildcards", "summarize", "timeShift", "transformNull"}
		if len(funcs) < len(want) {
			t.Errorf("/functions lists %d functions, want at least %d", len(funcs), len(want))
		}
		for n, f := range funcs {
			if f.Group == "" {
				t.Errorf("/functions %s has no group (Grafana hides it)", n)
			}
		}
		for _, n := range want {
			if f, ok := funcs[n]; !ok || f.Name != n || len(f.Params) == 0 {
				t.Errorf("/functions %s: %+v", n, f)
			}
		}
		if code, _ := get(t, ws.URL+"/functions/nope"); code != 404 {
			t.Errorf("/functions/nope: %d", code)
		}
		for _, u := range []string{"/tags/autoComplete/values?tag=a", "/events/get_data?from=-1h"} {
			if code, b := get(t, ws.URL+u); code != 200 || strings.TrimSpace(string(b)) != "[]" {
				t.Errorf("%s: %d %s", u, code, b)
			}
		}
		// The tag API (graphite-web's answers over carbon's folder are the
		// golden test's): untagged metrics have the tag name, as carbon
		// registers them; a malformed expression is graphite-web's 400.
		if code, b := get(t, ws.URL+"/tags"); code != 200 || !strings.Contains(string(b), `"tag":"name"`) {
			t.Errorf("/tags: %d %s", code, b)
		}
		if code, b := get(t, ws.URL+"/tags/autoComplete/tags?expr=x"); code != 400 || !strings.Contains(string(b), `Invalid tagspec x`) {
			t.Errorf("/tags/autoComplete/tags?expr=x: %d %s", code, b)
		}
		var names []string
		getJSON(t, ws.URL+"/metrics/index.json", &names)
		if len(names) != 10 || names[0] != "cc.avg.a" {
			t.Errorf("index.json: %v", names)
		}
	})

	t.Run("maxDataPoints averages as graphite-web, or uses the file's aggregation", func(t *testing.T) {
		// cc.sum.x sums: consolidating 10 points averages them by
		// default (graphite-web), sums them with max_data_points_method
		// "file".
		checkBuckets(t, f, ws.URL, now, false)
		file := startServer(t, f.Dir, "-max-data-points-method", "file")
		checkBuckets(t, f, file.URL, now, true)
		var data apiData
		getJSON(t, ws.URL+"/api/data?"+q("target", "cc.sum.x", "from", fmt.Sprint(f.T-7200), "until", fmt.Sprint(f.T), "maxDataPoints", "100"), &data)
		s := data.Series[0]
		if s.Step != 80 || s.AggregationMethod != "sum" || len(s.Values) > 100 {
			t.Fatalf("api data consolidated: step %d, %s, %d values", s.Step, s.AggregationMethod, len(s.Values))
		}
		for i, v := range s.Values {
			sum, n := 0.0, 0
			for ts := s.Start + int64(i)*80; ts < s.Start+int64(i+1)*80; ts += 10 {
				if x, ok := f.Values["cc.sum.x"][ts]; ok {
					sum += x
					n++
				}
			}
			if n > 0 && (v == nil || *v != sum) {
				t.Errorf("api bucket %d = %v, want %v", i, fmtp(v), sum)
			}
		}
	})

	t.Run("json api", func(t *testing.T) {
		var m struct {
			Metrics []string `json:"metrics"`
			Total   int      `json:"total"`
		}
		getJSON(t, ws.URL+"/api/metrics?"+q("q", "AVG  .c"), &m)
		if fmt.Sprint(m.Metrics) != "[cc.avg.c]" || m.Total != 1 {
			t.Errorf("metrics q=AVG c: %+v", m)
		}
		getJSON(t, ws.URL+"/api/metrics", &m)
		if m.Total != 10 || m.Metrics[0] != "cc.avg.a" || m.Metrics[1] != "cc.avg.b" {
			t.Errorf("all metrics: %+v", m)
		}
		var tree struct {
			Prefix   string `json:"prefix"`
			Children []struct {
				Name, Path       string
				Leaf, Expandable bool
			} `json:"children"`
		}
		getJSON(t, ws.URL+"/api/tree?prefix=cc.tree", &tree)
		if tree.Prefix != "cc.tree" || len(tree.Children) != 2 || tree.Children[0].Path != "cc.tree.p" || !tree.Children[0].Expandable || tree.Children[0].Leaf {
			t.Errorf("tree: %+v", tree)
		}
		var meta struct {
			Name              string  `json:"name"`
			AggregationMethod string  `json:"aggregationMethod"`
			MaxRetention      int64   `json:"maxRetention"`
			XFilesFactor      float64 `json:"xFilesFactor"`
			Size              int64   `json:"size"`
			Archives          []struct {
				Index, SecondsPerPoint, Points, Retention int64
				Oldest, Newest                            *int64
			} `json:"archives"`
		}
		getJSON(t, ws.URL+"/api/metric/cc.counter.z", &meta)
		if meta.AggregationMethod != "last" || meta.MaxRetention != 604800 || meta.XFilesFactor != 0.5 || len(meta.Archives) != 2 ||
			meta.Archives[0].SecondsPerPoint != 10 || meta.Archives[0].Points != 8640 || meta.Size != 16+24+12*(8640+10080) {
			t.Errorf("metric: %+v", meta)
		}
		if a := meta.Archives[0]; a.Oldest == nil || *a.Oldest != f.T-7190 || *a.Newest != f.T-10 {
			t.Errorf("archive 0 span: %v..%v, want %d..%d", fmtp64(a.Oldest), fmtp64(a.Newest), f.T-7190, f.T-10)
		}
		if code, b := get(t, ws.URL+"/api/metric/cc.nope"); code != 404 || !strings.Contains(string(b), `"error"`) {
			t.Errorf("missing metric: %d %s", code, b)
		}
		var data apiData
		getJSON(t, ws.URL+"/api/data?"+q("target", "cc.avg.b", "target", "cc.nope", "target", "cc.avg.broken", "target", "cc.m1.y",
			"from", fmt.Sprint(f.T-600), "until", fmt.Sprint(f.T)), &data)
		if len(data.Series) != 4 || data.Series[1].Error == "" || data.Series[2].Error == "" || data.Series[0].Error != "" || data.Series[3].Step != 60 {
			t.Fatalf("data: %+v", data)
		}
		b := data.Series[0]
		for i, v := range b.Values {
			ts := b.Start + int64(i)*b.Step
			w, ok := f.Values["cc.avg.b"][ts]
			if ok != (v != nil) || (ok && *v != w) {
				t.Errorf("cc.avg.b at %d: %v, wrote %v (%v)", ts, fmtp(v), w, ok)
			}
		}
		// archive=1 reads the minutely archive.
		getJSON(t, ws.URL+"/api/data?"+q("target", "cc.avg.c", "from", "-1h", "archive", "1"), &data)
		if *data.Series[0].Archive != 1 || data.Series[0].Step != 60 {
			t.Errorf("archive=1: %+v", data.Series[0])
		}
		for _, bad := range []string{"/api/data", "/api/data?target=x&from=garbage", "/api/data?target=x&archive=-1", "/api/data?target=x&maxDataPoints=0"} {
			if code, b := get(t, ws.URL+bad); code != 400 || !strings.Contains(string(b), `"error"`) {
				t.Errorf("%s: %d %s", bad, code, b)
			}
		}
	})

	t.Run("corrupt file only fails itself", func(t *testing.T) {
		var got []graphiteSeries
		getJSON(t, ws.URL+"/render?"+q("target", "cc.avg.*", "from", "-10min", "now", now), &got)
		names := []string{}
		for _, s := range got {
			names = append(names, s.Target)
		}
		if fmt.Sprint(names) != "[cc.avg.a cc.avg.b cc.avg.c]" {
			t.Errorf("cc.avg.* = %v", names)
		}
		if code, _ := get(t, ws.URL+"/api/metric/cc.avg.broken"); code != 422 {
			t.Errorf("broken metric: %d", code)
		}
	})

	t.Run("traversal", func(t *testing.T) {
		for _, p := range []string{
			"/api/metric/..%2F..%2Fetc%2Fpasswd", "/api/metric/%2e%2e", "/api/metric/cc.leak", "/api/metric/escape.secret",
			"/api/metric/..", "/api/metric/cc..avg", "/api/metric/%2Fetc%2Fpasswd", "/api/data?target=../../etc/passwd",
			"/api/tree?prefix=..", "/api/tree?prefix=escape", "/static/../../etc/passwd", "/..%2f..%2fetc/passwd",
		} {
			code, b := get(t, ws.URL+p)
			if code == 200 && (strings.Contains(string(b), "root:") || strings.Contains(string(b), "not yours")) {
				t.Errorf("%s leaked: %s", p, b)
			}
			if strings.HasPrefix(p, "/api/metric") && code == 200 {
				t.Errorf("%s: 200 %s", p, b)
			}
			if strings.HasPrefix(p, "/api/data") && !strings.Contains(string(b), `"error"`) {
				t.Errorf("%s: %d %s", p, code, b)
			}
		}
		for _, target := range []string{"cc.leak", "escape.secret", "escape.*", "cc.*", "../../etc/passwd", "*.*"} {
			_, b := get(t, ws.URL+"/render?"+q("target", target, "from", "-1h", "format", "raw"))
			if strings.Contains(string(b), "leak") || strings.Contains(string(b), "secret") || strings.Contains(string(b), "root:") {
				t.Errorf("render %s leaked: %s", target, b)
			}
		}
		var find []map[string]any
		getJSON(t, ws.URL+"/metrics/find?query=*", &find)
		for _, n := range find {
			if n["text"] == "escape" {
				t.Errorf("symlink out listed: %v", find)
			}
		}
	})

	t.Run("limits and bad input", func(t *testing.T) {
		// 60 series through a glob over the 50 allowed.
		dir := filepath.Join(f.Dir, "many")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 60; i++ {
			w, err := gowhisper.Create(filepath.Join(dir, fmt.Sprintf("m%02d.wsp", i)), gowhisper.Retentions{ptr(gowhisper.NewRetention(1, 86400))}, gowhisper.Average, 0)
			if err != nil {
				t.Fatal(err)
			}
			w.Close()
		}
		code, b := get(t, ws.URL+"/render?"+q("target", "many.*", "from", "-1h"))
		if code != 422 || !strings.Contains(string(b), "max_series") {
			t.Errorf("too many series: %d %s", code, b)
		}
		// 1 s resolution over a day: 86,400 points per series; 3 of them
		// pass max_series but not max_points (200,000).
		code, b = get(t, ws.URL+"/render?"+q("target", "many.m0{1,2,3}", "from", "-1d"))
		if code != 422 || !strings.Contains(string(b), "max_points") {
			t.Errorf("too many points: %d %s", code, b)
		}
		// max_points bounds the answer: consolidated to 500 points it passes.
		code, _ = get(t, ws.URL+"/render?"+q("target", "many.m0{1,2,3}", "from", "-1d", "maxDataPoints", "500"))
		if code != 200 {
			t.Errorf("with maxDataPoints: %d", code)
		}
		for u, want := range map[string]string{
			"/render?" + q("target", "nosuch(cc.avg.a)"):          "Invalid parameters (Received request for unknown function: nosuch)",
			"/render?" + q("target", "sumSeries(cc.avg.a"):        "Invalid parameters (missing ')'",
			"/render?" + q("target", `scale(cc.avg.a,"x")`):       "Invalid parameters (factor: expected a number",
			"/render?" + q("target", "cc.avg.a", "from", "xyz"):   "Invalid parameters (from:",
			"/render?" + q("target", "cc.avg.a", "format", "png"): "format",
			"/metrics/find": "Missing required parameter 'query'",
			"/render?" + q("target", "cc.avg.a", "from", "-1h", "until", "-1h"): "Invalid empty time range",
		} {
			code, b := get(t, ws.URL+u)
			if code != 400 || !strings.Contains(string(b), want) {
				t.Errorf("%s: %d %s (want 400 with %q)", u, code, b, want)
			}
		}
		// Nothing is written through the API.
		req, _ := http.NewRequest(http.MethodDelete, ws.URL+"/api/metric/cc.avg.a", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("DELETE: %d", resp.StatusCode)
		}
	})

	t.Run("live", func(t *testing.T) {
		path := filepath.Join(f.Dir, "fresh", "sub", "new.wsp")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		w, err := gowhisper.Create(path, gowhisper.Retentions{ptr(gowhisper.NewRetention(10, 360))}, gowhisper.Average, 0)
		if err != nil {
			t.Fatal(err)
		}
		ts := int(time.Now().Unix()) - 30
		if err := w.Update(42, ts); err != nil {
			t.Fatal(err)
		}
		w.Close()
		// Visible on the very next requests, no waiting.
		var find []map[string]any
		getJSON(t, ws.URL+"/metrics/find?query=fresh.sub.*", &find)
		if len(find) != 1 || find[0]["id"] != "fresh.sub.new" {
			t.Errorf("find after create: %v", find)
		}
		var got []graphiteSeries
		getJSON(t, ws.URL+"/render?"+q("target", "fresh.*.*", "from", "-5min"), &got)
		found := false
		if len(got) == 1 {
			for _, p := range got[0].Datapoints {
				if p[0] != nil && *p[0] == 42 && int(*p[1]) == ts-ts%10 {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("render after create: %+v", got)
		}
		// The name list follows through the watcher.
		testutil.Eventually(t, 10*time.Second, func() bool {
			var m struct{ Metrics []string }
			getJSON(t, ws.URL+"/api/metrics?q=fresh", &m)
			return len(m.Metrics) == 1
		}, "new metric not in /api/metrics")
		if err := os.RemoveAll(filepath.Join(f.Dir, "fresh")); err != nil {
			t.Fatal(err)
		}
		getJSON(t, ws.URL+"/metrics/find?query=fresh.sub.*", &find)
		if len(find) != 0 {
			t.Errorf("find after removal: %v", find)
		}
	})

	t.Run("concurrency", func(t *testing.T) {
		// 300 concurrent requests, each reading up to 10 files, with at
		// most 8 files open at once: all answer, no descriptor exhaustion.
		var wg sync.WaitGroup
		errs := make(chan string, 300)
		tr := &http.Transport{MaxIdleConnsPerHost: 300}
		c := &http.Client{Timeout: 90 * time.Second, Transport: tr}
		defer tr.CloseIdleConnections()
		for i := 0; i < 300; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				u := ws.URL + "/render?" + q("target", "cc.*.*", "from", "-1h", "now", now)
				if i%3 == 1 {
					u = ws.URL + "/api/data?" + q("target", "cc.avg.a", "target", "cc.sum.x", "from", "-1h")
				}
				resp, err := c.Get(u)
				if err != nil {
					errs <- err.Error()
					return
				}
				var v any
				err = json.NewDecoder(resp.Body).Decode(&v)
				resp.Body.Close()
				if resp.StatusCode != 200 || err != nil {
					errs <- fmt.Sprintf("%d %v", resp.StatusCode, err)
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		n := 0
		for e := range errs {
			if n < 5 {
				t.Error(e)
			}
			n++
		}
		if n > 0 {
			t.Errorf("%d of 300 concurrent requests failed", n)
		}
		if strings.Contains(ws.Proc.Output(), "too many open files") {
			t.Error("file descriptors exhausted")
		}
	})
}

func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile = testutil.WriteFile(t, dir, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile = testutil.WriteFile(t, dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestConfigAuthTLS sets everything through a TOML file and the
// environment: basic auth and TLS.
func TestConfigAuthTLS(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "whisper")
	w, err := gowhisper.Create(filepath.Join(data, "x.wsp"), gowhisper.Retentions{ptr(gowhisper.NewRetention(60, 60))}, gowhisper.Average, 0)
	if err != nil {
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		if w, err = gowhisper.Create(filepath.Join(data, "x.wsp"), gowhisper.Retentions{ptr(gowhisper.NewRetention(60, 60))}, gowhisper.Average, 0); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	certFile, keyFile, pool := selfSignedCert(t, dir)
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	cfg := testutil.WriteFile(t, dir, "ws.toml", fmt.Sprintf(`whisper_dir = %q
listen = %q
tls_cert = %q
tls_key = %q
basic_auth_user = "grafana"
request_timeout = "20s"
max_series = 10
`, data, addr, certFile, keyFile))
	bin := testutil.Binary(t, "whisperserver")
	t.Setenv("WHISPERSERVER_BASIC_AUTH_PASSWORD", "s3cret")
	p := testutil.Start(t, bin, "-config", cfg)
	p.WaitOutput("whisperserver listening", 30*time.Second)
	if !strings.Contains(p.Output(), "https://"+addr) {
		t.Errorf("not serving https: %s", p.Output())
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	do := func(user, pass, path string) int {
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := do("", "", "/metrics/find?query=*"); code != 401 {
		t.Errorf("no credentials: %d", code)
	}
	if code := do("grafana", "wrong", "/metrics/find?query=*"); code != 401 {
		t.Errorf("wrong password: %d", code)
	}
	if code := do("grafana", "s3cret", "/metrics/find?query=*"); code != 200 {
		t.Errorf("right password: %d", code)
	}
	if code := do("", "", "/healthz"); code != 200 {
		t.Errorf("healthz needs no credentials: %d", code)
	}
	if code := p.Stop(15, 15*time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM:\n%s", code, p.Output())
	}
	// Bad settings are refused with a clear message.
	bad := testutil.WriteFile(t, dir, "bad.toml", "whisper_dir = \"/nonexistent/folder\"\nunknown_key = 1\n")
	code, out := testutil.Run(t, 20*time.Second, bin, "-config", bad)
	if code == 0 || !strings.Contains(out, "unknown setting") {
		t.Errorf("bad config: %d %s", code, out)
	}
	// A missing folder is waited for (see whisperserver/server's tests); a
	// file where the folder should be is refused.
	code, out = testutil.Run(t, 20*time.Second, bin, "-whisper-dir", bad, "-listen", "127.0.0.1:0", "-basic-auth-user=", "-basic-auth-password=")
	if code == 0 || !strings.Contains(out, "is not a folder") {
		t.Errorf("whisper folder is a file: %d %s", code, out)
	}
}

func fmtp64(p *int64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// TestRequestTimeout: a request over the time limit gets a clear 503.
func TestRequestTimeout(t *testing.T) {
	dir := t.TempDir()
	w, err := gowhisper.Create(filepath.Join(dir, "x.wsp"), gowhisper.Retentions{ptr(gowhisper.NewRetention(60, 60))}, gowhisper.Average, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	ws := startServer(t, dir, "-request-timeout", "1ns")
	for _, u := range []string{"/render?target=x&from=-1h", "/api/data?target=x"} {
		code, b := get(t, ws.URL+u)
		if code != http.StatusServiceUnavailable || !strings.Contains(string(b), "timeout") {
			t.Errorf("%s: %d %s", u, code, b)
		}
	}
	if code, _ := get(t, ws.URL+"/healthz"); code != 200 {
		t.Errorf("healthz: %d", code)
	}
}

// TestCheckAndPrintConfig runs -check-config (status 0 on a valid setup, 1
// with the reason on a bad one) and -print-config (the layered result as
// TOML) on the real binary.
func TestCheckAndPrintConfig(t *testing.T) {
	bin := testutil.Binary(t, "whisperserver")
	dir := t.TempDir()
	cfg := testutil.WriteFile(t, dir, "ws.toml", "max_series = 12\n")
	code, out := testutil.Run(t, 20*time.Second, bin, "-config", cfg, "-check-config")
	if code != 0 || !strings.Contains(out, "configuration OK") {
		t.Fatalf("-check-config: status %d, output:\n%s", code, out)
	}
	code, out = testutil.Run(t, 20*time.Second, bin, "-config", cfg, "-check-config", "-tls-cert", "x.pem")
	if code != 1 || !strings.Contains(out, "tls_cert and tls_key go together") {
		t.Fatalf("-check-config with -tls-cert alone: status %d (want 1), output:\n%s", code, out)
	}
	code, out = testutil.Run(t, 20*time.Second, bin, "-config", cfg, "-print-config", "-max-find", "34")
	if code != 0 || !strings.Contains(out, "max_series = 12\n") || !strings.Contains(out, "max_find = 34\n") {
		t.Fatalf("-print-config: status %d, output:\n%s", code, out)
	}
}
