package graphiteapi

import (
	"net/http"
	"strings"
	"testing"
)

// TestRenderCrashesAre400s covers issue 17's graph, filter and map/reduce
// functions where graphite-web 1.1.8 fails with a 500 (Python 3 comparing
// None, a failed assert, a list of lists rendered): whisperserver answers
// 400 naming the problem.
func TestRenderCrashesAre400s(t *testing.T) {
	srv := goldenServer(t, 1699999800)
	for target, want := range map[string]string{
		`areaBetween(g.tree.*.leaf)`:                                    "exactly* 2 series (got 3)",
		`removeBetweenPercentile(g.tree.*.leaf,30)`:                     "cannot compare null values",
		`removeBetweenPercentile(g.{a,b,neg},10)`:                       "cannot compare null values",
		`averageOutsidePercentile(removeAboveValue(g.c,-1),50)`:         "cannot compare null values",
		`useSeriesAbove(g.tree.*.leaf,5,"tree","tree")`:                 "cannot compare null values",
		`mapSeries(g.tree.*.leaf,2)`:                                    "list of series lists",
		`map(g.c,1)`:                                                    "list of series lists",
		`reduceSeries(g.tree.*.leaf,"sumSeries",3,"leaf")`:              "must come from mapSeries",
		`reduceSeries(mapSeries(g.tree.*.leaf,2),"sumSeries",9,"leaf")`: "out of range",
		`reduceSeries(mapSeries(g.{a,c},0),"divideSeries",1,"a","b")`:   `no series for "b"`,
		`verticalLine("20231114 19:00")`:                                "ts",
		`legendValue(g.c)`:                                              "at least one value type",
		`aliasQuery(g.tree.x.leaf,"x","y","%999999999d")`:               "over 1000",
		`aliasQuery(g.tree.x.leaf,"x","y","%d %d")`:                     "not enough arguments",
	} {
		code, body := getRender(t, srv.URL, target)
		if code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("%s: %d %.300s (want 400 with %q)", target, code, body, want)
		}
	}
}
