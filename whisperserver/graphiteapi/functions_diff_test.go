package graphiteapi

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// getRender asks the golden server for one target over the golden
// "-6h" range and returns the status and body.
func getRender(t *testing.T, base, target string) (int, string) {
	t.Helper()
	q := url.Values{"target": {target}, "from": {"-6h"}, "until": {"now"}, "format": {"json"}}
	resp, err := http.Get(base + "/render?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRenderDeliberateDifferences covers the places where whisperserver
// answers where graphite-web 1.1.8 fails with a 500 or reads the wall
// clock instead of the request's now.
func TestRenderDeliberateDifferences(t *testing.T) {
	const now = 1699999800
	srv := goldenServer(t, now)
	// areaBetween asserts exactly 2 series: a 400 naming it, not a 500.
	code, body := getRender(t, srv.URL, "holtWintersConfidenceArea(g.tree.*.leaf)")
	if code != http.StatusBadRequest || !strings.Contains(body, "exactly* 2 series") {
		t.Errorf("holtWintersConfidenceArea of 3 series: %d %.200s", code, body)
	}
	// A date given as a number is Unix seconds, as the same digits quoted.
	for _, pair := range [][2]string{
		{`timeSlice(g.c,"19:00_20231114",1699996000)`, `timeSlice(g.c,"19:00_20231114","1699996000")`},
		{`linearRegression(g.c,1699900000)`, `linearRegression(g.c,"1699900000")`},
	} {
		c1, b1 := getRender(t, srv.URL, pair[0])
		c2, b2 := getRender(t, srv.URL, pair[1])
		if c1 != 200 || c2 != 200 || b1 != b2 {
			t.Errorf("%s: %d %.100s\n%s: %d %.100s", pair[0], c1, b1, pair[1], c2, b2)
		}
	}
	// timeSlice's default end is the request's now, not the wall clock.
	code, body = getRender(t, srv.URL, `timeSlice(g.a,"18:00_20231114")`)
	if code != 200 || !strings.Contains(body, `"timeSlice(g.a, 1699984800, 1699999800)"`) {
		t.Errorf("timeSlice default end: %d %.200s", code, body)
	}
	// Bad arguments are 400s, not crashes.
	for _, target := range []string{`log(g.a,1)`, `stdev(g.a,0)`, `hitcount(g.a,"0s")`, `time("t",0)`,
		`smartSummarize(g.a,"1h","sum","fortnights")`, `integralByInterval(g.a,"0min")`, `timeStack(g.a,"1d",0,100000)`,
		`holtWintersForecast(g.a,"7d","5min")`, `holtWintersAberration(g.a,3,"7d","0s")`, `holtWintersConfidenceBands(g.a,3,"1d","-1d")`} {
		if code, body := getRender(t, srv.URL, target); code != http.StatusBadRequest {
			t.Errorf("%s: %d %.200s", target, code, body)
		}
	}
}

// TestRenderExtremeArguments: extreme or odd arguments of the
// transforms, generators and forecasts are an answer or a 400, never a
// crash.
func TestRenderExtremeArguments(t *testing.T) {
	srv := goldenServer(t, 1699999800)
	for _, target := range []string{
		`delay(g.a,-99999999)`, `delay(g.a,99999999)`, `stdev(g.a,99999999)`, `round(g.a,-400)`, `round(g.a,400)`,
		`pow(g.a,1e308)`, `exp(scale(g.a,1000))`, `sigmoid(scale(g.a,-1000))`, `logit(g.a)`, `invert(transformNull(g.c))`,
		`exponentialMovingAverage(g.a,9999999)`, `exponentialMovingAverage(g.a,"-1h")`, `exponentialMovingAverage(g.a,0)`,
		`hitcount(g.a,"1s")`, `hitcount(g.a,"100y",true)`, `integralByInterval(g.a,"-1h")`, `interpolate(g.a,-1)`,
		`timeStack(g.a,"-1d",5,2)`, `aggregateLine(g.a,"multiply",true)`, `aggregateLine(g.nothing)`,
		`smartSummarize(g.a,"1y","sum","years")`, `smartSummarize(g.a,"1w","max","weeks")`,
		`linearRegression(g.a,"now","-1d")`, `linearRegression(g.nothing)`, `timeSlice(g.a,"now","-1y")`,
		`powSeries(g.nothing)`, `identity("")`, `time("x",99999999999)`, `sin("x",-3,7)`, `randomWalk("x",1)`,
		`holtWintersForecast(g.a,"100y")`, `holtWintersAberration(g.nothing)`, `holtWintersConfidenceArea(g.nothing)`,
		`scaleToSeconds(g.a,0)`, `minMax(constantLine(1))`, `offsetToZero(g.nothing)`, `changed(g.nothing)`,
		`setXFilesFactor(g.a,2)`, `threshold(1,"")`, `cumulative(g.nothing)`,
	} {
		code, body := getRender(t, srv.URL, target)
		if code != http.StatusOK && code != http.StatusBadRequest {
			t.Errorf("%s: %d %.200s", target, code, body)
		}
	}
}
