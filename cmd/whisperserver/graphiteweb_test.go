package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// Every implemented function, as Grafana and people write them.
var crossTargets = []string{
	"cc.avg.a", "cc.avg.*", "cc.avg.{a,b}", "cc.avg.[ab]", "cc.avg.?", "cc.*.*", "cc.tree.*.leaf", "cc.nope",
	"sumSeries(cc.avg.*)", "averageSeries(cc.avg.*)", "maxSeries(cc.avg.*)", "minSeries(cc.avg.*)",
	"sumSeries(cc.avg.a,cc.m1.y)", "averageSeries(cc.avg.a,cc.avg.b)", "sumSeries(cc.tree.*.leaf)",
	`alias(cc.avg.a,"foo")`, "aliasByNode(cc.avg.*,1,2)", "aliasByNode(scale(cc.avg.*,2),-1)",
	`aliasSub(cc.avg.*,"(^.*$)","\1 A")`, `aliasSub(sumSeries(cc.avg.*),"(^.*$)","\1 B")`, `aliasSub(cc.avg.a,"avg\.(\w)","x-\1")`,
	"scale(cc.avg.a,2.5)", "scale(cc.avg.b,-1)", "offset(cc.avg.a,-3)", "offset(cc.avg.a,0.5)",
	"derivative(cc.avg.a)", "nonNegativeDerivative(cc.counter.z)", "nonNegativeDerivative(transformNull(cc.counter.z),2000)",
	"perSecond(cc.counter.z)", "perSecond(cc.avg.b)",
	"movingAverage(cc.avg.a,5)", `movingAverage(cc.avg.b,"1min")`, "movingAverage(cc.avg.*,10)",
	`summarize(cc.avg.a,"5min")`, `summarize(cc.avg.a,"5min","avg")`, `summarize(cc.avg.b,"7min","max",true)`, `summarize(cc.sum.x,"1h","sum")`,
	"integral(cc.avg.a)", "integral(cc.avg.b)",
	"highestAverage(cc.avg.*,2)", "highestCurrent(cc.avg.*,1)", "highestMax(cc.avg.*,2)", "highestMax(cc.*.*,3)",
	"limit(cc.avg.*,2)", "sortByName(cc.avg.*,reverse=true)", "sortByName(cc.*.*)",
	"asPercent(cc.avg.*)", "asPercent(cc.avg.a,cc.avg.c)", "asPercent(cc.avg.a,200)", "asPercent(cc.tree.*.leaf,None,2)",
	"absolute(cc.neg.w)", "absolute(cc.avg.b)",
	"transformNull(cc.avg.a)", "transformNull(cc.avg.a,-1)", "transformNull(cc.avg.a,0,cc.avg.c)",
	"keepLastValue(cc.avg.a)", "keepLastValue(cc.avg.c,2)",
	`timeShift(cc.avg.a,"10min")`, `timeShift(cc.avg.b,"-5min")`, `timeShift(cc.avg.a,"+1h",false)`,
	"constantLine(100)", "constantLine(2.5)",
	`consolidateBy(cc.sum.x,"max")`,
	"cc.avg.a|scale(2)|alias('piped')",
	`sumSeries(derivative(cc.avg.*))`, `aliasByNode(summarize(cc.avg.a,"10min","max"),2)`,
	"groupByNode(cc.*.*,1)", `groupByNode(cc.*.*,1,"sum")`, `groupByNode(cc.*.*,1,"maxSeries")`, `groupByNodes(cc.tree.*.*,"sum",0,3)`,
	"aliasByMetric(cc.avg.*)", "aliasByMetric(scale(cc.tree.*.leaf,2))",
	"sumSeriesWithWildcards(cc.*.*,2)", "averageSeriesWithWildcards(cc.tree.*.leaf,2)",
	"add(cc.avg.a,2)", "pow(cc.avg.b,2)", "round(cc.avg.a,1)", "log(cc.avg.*)", "invert(cc.avg.b)", "offsetToZero(cc.avg.*)",
	"scaleToSeconds(cc.sum.x,60)", "delay(cc.avg.a,3)", "changed(cc.avg.c)", "isNonNull(cc.avg.*)", "minMax(cc.avg.a)",
	`integralByInterval(cc.sum.x,"10min")`, "interpolate(cc.avg.c)", "stdev(cc.avg.a,5)", "exponentialMovingAverage(cc.avg.a,5)",
	`hitcount(cc.sum.x,"5min")`, `smartSummarize(cc.avg.a,"10min","max")`, "linearRegression(cc.avg.b)", `timeStack(cc.avg.a,"10min",0,3)`,
	`holtWintersForecast(cc.avg.a,"1h","10min")`, `holtWintersConfidenceBands(cc.avg.b,2,"1h","10min")`, `holtWintersAberration(cc.avg.a,3,"1h","10min")`,
	`aggregateLine(cc.avg.*,"max")`, "powSeries(cc.avg.a,cc.avg.b)", `identity("x")`, `time("t",60)`, `sin("s",2,30)`, "threshold(3)",
	"diffSeries(cc.avg.a,cc.avg.b)", "diffSeries(cc.avg.*)", "multiplySeries(cc.avg.a,cc.avg.b)", "multiplySeries(cc.avg.a)",
	"divideSeries(cc.avg.*,cc.avg.c)", "divideSeries(cc.avg.a,cc.nope)", `grep(cc.*.*,"avg|sum")`, `exclude(cc.*.*,"^cc\.avg")`,
	"removeAboveValue(cc.avg.a,10)", "removeBelowValue(cc.avg.b,0.5)", "removeEmptySeries(cc.*.*)", "removeEmptySeries(cc.avg.*,0.95)",
	"lowestAverage(cc.avg.*,2)", "lowestCurrent(cc.*.*,3)",
	// issue 17: graph, filter, list and map/reduce functions. Series of
	// different steps are combined only where the files average
	// (whisperserver consolidates by the file's method, see docs/api.md).
	`color(cc.avg.*,"red")`, "alpha(cc.avg.a,0.5)", "lineWidth(cc.avg.*,2)", "dashed(cc.avg.*)", "stacked(cc.avg.*)", `stacked(cc.*.*,"s")`,
	"secondYAxis(cc.avg.b)", "drawAsInfinite(cc.avg.*)", "areaBetween(cc.tree.*.leaf)", "cactiStyle(cc.avg.*)", `cactiStyle(scale(cc.*.*,5000),"si","B")`,
	`legendValue(cc.avg.*,"avg","max","count")`, `legendValue(cc.*.*,"last","binary")`,
	"averageAbove(cc.*.*,3)", "averageBelow(cc.*.*,3)", "currentAbove(cc.*.*,5)", "currentBelow(cc.*.*,5)", "maximumAbove(cc.*.*,10)",
	"maximumBelow(cc.*.*,10)", "minimumAbove(cc.*.*,0)", "minimumBelow(cc.*.*,0)", `filterSeries(cc.*.*,"stddev",">=",2)`,
	"averageOutsidePercentile(cc.*.*,80)", "removeBetweenPercentile(transformNull(cc.avg.*),20)", "removeBetweenPercentile(transformNull(cc.tree.*.leaf),45)",
	"mostDeviant(cc.*.*,3)", `useSeriesAbove(transformNull(cc.{sum,neg}.*),3,"transformNull\((.*),0\)","\1")`, "unique(cc.avg.*,cc.avg.a,cc.sum.x)",
	"fallbackSeries(cc.nope,cc.avg.a)", "fallbackSeries(cc.avg.*,cc.sum.x)",
	`aggregateSeriesLists(cc.avg.{a,b},cc.tree.*.leaf,"avg")`, "sumSeriesLists(cc.avg.{a,b},cc.{m1,sum}.*)", "diffSeriesLists(cc.avg.{a,b},cc.tree.*.leaf)",
	"multiplySeriesLists(cc.avg.{a,b},cc.tree.*.leaf)", "divideSeriesLists(cc.avg.{a,b},cc.tree.*.leaf)", `aggregateWithWildcards(cc.*.*,"median",1)`,
	"multiplySeriesWithWildcards(cc.tree.*.leaf,2)", "percentileOfSeries(cc.{avg,m1}.*,50)", "percentileOfSeries(cc.avg.*,30,true)",
	"weightedAverage(cc.avg.{a,b},cc.tree.*.leaf)", "weightedAverage(cc.avg.{a,b},group(cc.avg.c,cc.m1.y),0)", "weightedAverage(cc.avg.*,cc.avg.*,2)", "group(cc.avg.a,cc.nope,cc.m1.y)",
	`applyByNode(cc.*.*,1,"sumSeries(%.*)")`, `applyByNode(cc.tree.*.leaf,2,"scale(%.leaf,2)","%.double")`,
	`reduceSeries(mapSeries(cc.tree.*.leaf,2),"sumSeries",3,"leaf")`, `reduce(map(cc.avg.*,0),"divideSeries",2,"a","b")`,
	`aliasQuery(cc.tree.p.leaf,"p","q","q ends at %.1f")`, "substr(cc.tree.*.leaf,1,-1)", "substr(scale(cc.avg.*,2),2)",
}

func graphiteJSON(t *testing.T, base, target string, extra ...string) ([]graphiteSeries, string) {
	t.Helper()
	code, b := get(t, base+"/render?"+q(append([]string{"target", target, "format", "json"}, extra...)...))
	if code != http.StatusOK {
		t.Errorf("%s render %s: %d %.300s", base, target, code, b)
		return nil, string(b)
	}
	var s []graphiteSeries
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s render %s: %v in %s", base, target, err, b)
	}
	return s, string(b)
}

// TestCrossCheckGraphiteWeb sends the same find and render requests to
// whisperserver and to graphite-web over the same whisper folder.
func TestCrossCheckGraphiteWeb(t *testing.T) {
	t.Parallel()
	testutil.RequireReference(t, "graphite-web", testutil.GraphiteWebAvailable())
	f := newFixture(t)
	ws := startServer(t, f.Dir)
	gw := testutil.StartGraphiteWeb(t, testutil.GraphiteWebOptions{WhisperDir: f.Dir})
	now := fmt.Sprint(f.T)
	compared := 0
	for i, target := range crossTargets {
		ranges := [][]string{{"from", "-1h"}}
		if i%3 == 0 {
			// A second, unaligned range for a third of them.
			ranges = append(ranges, []string{"from", "-2h", "until", "-30min"})
		}
		for _, rng := range ranges {
			extra := append([]string{"now", now}, rng...)
			want, wantRaw := graphiteJSON(t, gw.URL, target, extra...)
			got, gotRaw := graphiteJSON(t, ws.URL, target, extra...)
			if d := equalSeries(got, want); d != "" {
				t.Errorf("render %s %v: %s\nwhisperserver: %.600s\ngraphite-web:  %.600s", target, rng, d, gotRaw, wantRaw)
			}
			for _, s := range want {
				compared += len(s.Datapoints)
			}
		}
	}
	t.Logf("%d targets, %d datapoints compared", len(crossTargets), compared)

	// maxDataPoints: graphite-web's consolidation (average unless
	// consolidateBy says otherwise) whatever the file's method.
	for _, target := range []string{"cc.avg.a", `consolidateBy(cc.sum.x,"average")`, "sumSeries(cc.avg.*)", "cc.avg.*",
		"cc.sum.x", "cc.counter.z", `consolidateBy(cc.sum.x,"sum")`, `cumulative(cc.counter.z)`} {
		for _, mdp := range []string{"1", "7", "50", "500"} {
			extra := []string{"now", now, "from", "-2h", "maxDataPoints", mdp}
			want, wantRaw := graphiteJSON(t, gw.URL, target, extra...)
			got, gotRaw := graphiteJSON(t, ws.URL, target, extra...)
			if d := equalSeries(got, want); d != "" {
				t.Errorf("render %s maxDataPoints=%s: %s\nwhisperserver: %.400s\ngraphite-web:  %.400s", target, mdp, d, gotRaw, wantRaw)
			}
		}
	}

	// noNullPoints, and several targets in one request.
	for _, extra := range [][]string{{"target", "cc.avg.c", "noNullPoints", "1"}, {"target", "cc.avg.a", "target", "constantLine(5)", "target", "cc.avg.b", "noNullPoints", "1"},
		{"target", "stacked(cc.avg.a)", "target", "stacked(cc.avg.b)", "target", `stacked(cc.sum.x,"other")`}} {
		u := "/render?" + q(append([]string{"format", "json", "now", now, "from", "-1h"}, extra...)...)
		var want, got []graphiteSeries
		getJSON(t, gw.URL+u, &want)
		getJSON(t, ws.URL+u, &got)
		if d := equalSeries(got, want); d != "" {
			t.Errorf("%s: %s", u, d)
		}
	}
	// index.json
	{
		var want, got []string
		getJSON(t, gw.URL+"/metrics/index.json", &want)
		getJSON(t, ws.URL+"/metrics/index.json", &got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("index.json:\nwhisperserver: %v\ngraphite-web:  %v", got, want)
		}
	}

	// raw and csv byte for byte.
	for _, target := range []string{"cc.avg.a", "sumSeries(cc.avg.*)", "constantLine(100)", "perSecond(cc.counter.z)", "cc.avg.*", "scale(cc.avg.c,0.1)"} {
		for _, format := range []string{"raw", "csv"} {
			u := "/render?" + q("target", target, "format", format, "now", now, "from", "-1h")
			_, want := get(t, gw.URL+u)
			_, got := get(t, ws.URL+u)
			if string(got) != string(want) {
				t.Errorf("format=%s %s differs:\nwhisperserver: %.300q\ngraphite-web:  %.300q", format, target, got, want)
			}
		}
	}

	// Absolute times in another time zone, csv timestamps in it.
	{
		day := time.Unix(f.T, 0).In(mustLoc(t, "America/Chicago")).Add(-90 * time.Minute)
		u := "/render?" + q("target", "cc.avg.b", "format", "csv", "tz", "America/Chicago", "now", now,
			"from", day.Format("15:04_20060102"), "until", day.Add(time.Hour).Format("15:04_20060102"))
		_, want := get(t, gw.URL+u)
		_, got := get(t, ws.URL+u)
		if string(got) != string(want) || len(want) < 100 {
			t.Errorf("%s differs:\nwhisperserver: %.300q\ngraphite-web:  %.300q", u, got, want)
		}
	}

	// find (treejson and completer), expand.
	for _, query := range []string{"*", "cc.*", "cc.avg.*", "cc.{avg,sum}.*", "cc.avg.[ab]", "cc.tree.*.leaf", "cc.tree.*", "cc.nope.*", "cc.avg.a"} {
		for _, extra := range [][]string{nil, {"format", "completer"}, {"wildcards", "1"}, {"leavesOnly", "1"}, {"format", "nodelist", "position", "0"}} {
			u := "/metrics/find?" + q(append([]string{"query", query}, extra...)...)
			var want, got any
			getJSON(t, gw.URL+u, &want)
			getJSON(t, ws.URL+u, &got)
			if len(extra) > 0 && extra[1] == "completer" {
				// graphite-web sorts by the last node only, so equal names
				// come in file-system order: compare as sets.
				sortCompleter(want)
				sortCompleter(got)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("find %s %v:\nwhisperserver: %v\ngraphite-web:  %v", query, extra, got, want)
			}
		}
	}
	for _, u := range []string{"/metrics/expand?" + q("query", "cc.*.*", "query", "cc.tree.*"),
		"/metrics/expand?" + q("query", "cc.*", "groupByExpr", "1", "leavesOnly", "1"),
		"/metrics/expand?" + q("query", "cc.*.*", "leavesOnly", "1")} {
		var want, got any
		getJSON(t, gw.URL+u, &want)
		getJSON(t, ws.URL+u, &got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\nwhisperserver: %v\ngraphite-web:  %v", u, got, want)
		}
	}

	// Errors: both refuse an unknown function with a 400 in graphite's words.
	for _, base := range []string{gw.URL, ws.URL} {
		code, b := get(t, base+"/render?"+q("target", "nosuchFunction(cc.avg.a)", "format", "json"))
		if code != http.StatusBadRequest || !strings.Contains(string(b), "Received request for unknown function: nosuchFunction") {
			t.Errorf("%s unknown function: %d %s", base, code, b)
		}
	}
}

// TestClusterProtocol puts whisperserver behind a graphite-web that has no
// data of its own (CLUSTER_SERVERS): graphite-web asks it over the pickle
// protocol and must answer exactly as a graphite-web reading the files.
func TestClusterProtocol(t *testing.T) {
	t.Parallel()
	testutil.RequireReference(t, "graphite-web", testutil.GraphiteWebAvailable())
	f := newFixture(t)
	ws := startServer(t, f.Dir, "-access-log=true") // the access log shows the pickle requests
	direct := testutil.StartGraphiteWeb(t, testutil.GraphiteWebOptions{WhisperDir: f.Dir})
	front := testutil.StartGraphiteWeb(t, testutil.GraphiteWebOptions{ClusterServers: []string{strings.TrimPrefix(ws.URL, "http://")}})
	now := fmt.Sprint(f.T)
	for _, target := range []string{"cc.avg.a", "cc.avg.*", "sumSeries(cc.avg.*)", "cc.*.*", `aliasByNode(cc.tree.*.leaf,2)`,
		`movingAverage(cc.avg.b,"1min")`, "perSecond(cc.counter.z)", "cc.nope"} {
		extra := []string{"now", now, "from", "-1h"}
		want, wantRaw := graphiteJSON(t, direct.URL, target, extra...)
		got, gotRaw := graphiteJSON(t, front.URL, target, extra...)
		if d := equalSeries(got, want); d != "" {
			t.Errorf("federated render %s: %s\nvia whisperserver: %.400s\ndirect:            %.400s", target, d, gotRaw, wantRaw)
		}
		if target != "cc.nope" && len(want) == 0 {
			t.Errorf("%s: no series at all, the comparison is empty", target)
		}
	}
	for _, query := range []string{"*", "cc.*", "cc.avg.*", "cc.tree.*.leaf"} {
		u := "/metrics/find?" + q("query", query)
		var want, got any
		getJSON(t, direct.URL+u, &want)
		getJSON(t, front.URL+u, &got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("federated find %s:\nvia whisperserver: %v\ndirect:            %v", query, got, want)
		}
	}
	// The pickle answers were really used (the front has no files).
	if !strings.Contains(ws.Proc.Output(), "format=pickle") {
		t.Errorf("whisperserver saw no pickle request:\n%s", ws.Proc.Output())
	}
}

func sortCompleter(v any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	list, ok := m["metrics"].([]any)
	if !ok {
		return
	}
	key := func(x any) string { return fmt.Sprint(x.(map[string]any)["path"]) }
	sort.SliceStable(list, func(i, j int) bool { return key(list[i]) < key(list[j]) })
}

// TestPickleAndMsgpackDecode decodes whisperserver's pickle and msgpack
// answers with graphite-web's own unpickler and umsgpack: both give the
// same structures.
func TestPickleAndMsgpackDecode(t *testing.T) {
	err := exec.Command(testutil.PythonWithWhisper, "-c", "import graphite.umsgpack").Run()
	testutil.RequireReference(t, "graphite-web's umsgpack", err)
	f := newFixture(t)
	ws := startServer(t, f.Dir)
	now := fmt.Sprint(f.T)
	dir := t.TempDir()
	for _, u := range []string{
		"/render/?" + q("target", "cc.avg.*", "target", "sumSeries(cc.tree.*.leaf)", "from", "-10min", "now", now, "local", "1", "noCache", "1"),
		"/metrics/find/?" + q("query", "cc.*.*", "local", "1"),
	} {
		_, pk := get(t, ws.URL+u+"&format=pickle")
		_, mp := get(t, ws.URL+u+"&format=msgpack")
		pkf := testutil.WriteFile(t, dir, "answer.pickle", string(pk))
		mpf := testutil.WriteFile(t, dir, "answer.msgpack", string(mp))
		// Debian's graphite umsgpack predates Python 3.10 (collections.Hashable).
		script := `
import sys, collections, collections.abc
collections.Hashable = collections.abc.Hashable
from graphite.util import unpickle
from graphite import umsgpack
p = unpickle.loads(open(sys.argv[1], 'rb').read())
m = umsgpack.unpackb(open(sys.argv[2], 'rb').read())
def norm(x):
    if isinstance(x, dict):
        return {k: norm(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [norm(v) for v in x]
    return x
assert norm(p) == norm(m), (p, m)
assert len(p) > 0
print(len(p), sorted(p[0].keys()))
`
		cmd := exec.Command(testutil.PythonWithWhisper, "-c", script, pkf, mpf)
		cmd.Env = append(os.Environ(), "DJANGO_SETTINGS_MODULE=graphite.settings")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", u, err, out)
			continue
		}
		t.Logf("%s: %s", u, strings.TrimSpace(string(out)))
	}
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
