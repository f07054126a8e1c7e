package main

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/server/servertest"
	gowhisper "github.com/lomik/go-whisper"
)

// wsProc is a running whisperserver binary.
type wsProc struct {
	URL  string
	Proc *testutil.Proc
}

func startServer(t *testing.T, dir string, args ...string) *wsProc {
	t.Helper()
	bin := testutil.Binary(t, "whisperserver")
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	p := testutil.Start(t, bin, append([]string{"-whisper-dir", dir, "-listen", addr}, args...)...)
	p.WaitOutput("whisperserver listening", 30*time.Second)
	t.Cleanup(func() { p.Stop(syscall.SIGTERM, 15*time.Second) })
	return &wsProc{URL: "http://" + addr, Proc: p}
}

// client is for the requests get and getJSON do not cover (POST, headers).
var client = &http.Client{Timeout: 60 * time.Second}

// get and getJSON are the HTTP helpers of the whisperserver packages' tests.
var get, getJSON = servertest.Get, servertest.GetJSON

func q(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

// fixture is a whisper folder with known contents, written both by
// lomik/go-whisper and by whisper.py, relative to now (T, a minute edge).
type fixture struct {
	Dir    string
	T      int64
	Values map[string]map[int64]float64 // metric → time → value written
}

func ptr[V any](v V) *V { return &v }

func (f *fixture) create(t *testing.T, name string, ret gowhisper.Retentions, agg gowhisper.AggregationMethod, pts map[int64]float64) {
	t.Helper()
	path := filepath.Join(f.Dir, filepath.FromSlash(strings.ReplaceAll(name, ".", "/"))+".wsp")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := gowhisper.Create(path, ret, agg, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	var list []*gowhisper.TimeSeriesPoint
	for ts, v := range pts {
		list = append(list, &gowhisper.TimeSeriesPoint{Time: int(ts), Value: v})
	}
	if err := w.UpdateMany(list); err != nil {
		t.Fatal(err)
	}
	w.Close()
	f.Values[name] = pts
}

// createPy writes a file with whisper.py's whisper-create/whisper-update.
func (f *fixture) createPy(t *testing.T, name, retentions string, pts map[int64]float64) {
	t.Helper()
	path := filepath.Join(f.Dir, filepath.FromSlash(strings.ReplaceAll(name, ".", "/"))+".wsp")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("/usr/bin/whisper-create", append([]string{path}, strings.Fields(retentions)...)...).CombinedOutput(); err != nil {
		t.Fatalf("whisper-create: %v %s", err, out)
	}
	args := []string{path}
	for ts, v := range pts {
		args = append(args, fmt.Sprintf("%d:%v", ts, v))
	}
	if out, err := exec.Command("/usr/bin/whisper-update", args...).CombinedOutput(); err != nil {
		t.Fatalf("whisper-update: %v %s", err, out)
	}
	f.Values[name] = pts
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	testutil.RequireWhisperPy(t)
	now := time.Now().Unix()
	f := &fixture{Dir: t.TempDir(), T: now - now%60, Values: map[string]map[int64]float64{}}
	std := gowhisper.Retentions{ptr(gowhisper.NewRetention(10, 8640)), ptr(gowhisper.NewRetention(60, 10080))}
	series := func(gen func(i int64) (float64, bool)) map[int64]float64 {
		m := map[int64]float64{}
		for i := int64(0); i < 720; i++ {
			if v, ok := gen(i); ok {
				m[f.T-7200+i*10] = v
			}
		}
		return m
	}
	f.createPy(t, "cc.avg.a", "10s:1d 1m:7d", series(func(i int64) (float64, bool) { return float64(i%17)*1.5 + 0.25, i%13 != 0 }))
	f.create(t, "cc.avg.b", std, gowhisper.Average, series(func(i int64) (float64, bool) { return float64(i*7%23) - 3.5, i%11 != 0 }))
	f.create(t, "cc.avg.c", std, gowhisper.Average, series(func(i int64) (float64, bool) { return float64(i) * 0.1, i < 715 }))
	f.create(t, "cc.sum.x", std, gowhisper.Sum, series(func(i int64) (float64, bool) { return float64(i % 5), true }))
	f.create(t, "cc.m1.y", gowhisper.Retentions{ptr(gowhisper.NewRetention(60, 10080))}, gowhisper.Average,
		series(func(i int64) (float64, bool) { return float64(i) / 3, i%6 == 0 }))
	counter := 1000.0
	f.create(t, "cc.counter.z", std, gowhisper.Last, series(func(i int64) (float64, bool) {
		counter += float64(i % 4)
		if i == 400 {
			counter = 3 // a reset
		}
		return counter, i%29 != 0
	}))
	f.create(t, "cc.neg.w", std, gowhisper.Average, series(func(i int64) (float64, bool) { return float64(2 - i%9), true }))
	f.create(t, "cc.tree.p.leaf", std, gowhisper.Max, series(func(i int64) (float64, bool) { return float64(i % 10), true }))
	f.create(t, "cc.tree.q.leaf", std, gowhisper.Min, series(func(i int64) (float64, bool) { return float64(i%7) + 0.5, true }))
	return f
}

type graphiteSeries struct {
	Target     string        `json:"target"`
	Datapoints [][2]*float64 `json:"datapoints"`
}

func equalSeries(a, b []graphiteSeries) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d series vs %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Target != b[i].Target {
			return fmt.Sprintf("series %d: target %q vs %q", i, a[i].Target, b[i].Target)
		}
		if len(a[i].Datapoints) != len(b[i].Datapoints) {
			return fmt.Sprintf("%s: %d points vs %d", a[i].Target, len(a[i].Datapoints), len(b[i].Datapoints))
		}
		for j, p := range a[i].Datapoints {
			o := b[i].Datapoints[j]
			if *p[1] != *o[1] {
				return fmt.Sprintf("%s point %d: time %v vs %v", a[i].Target, j, *p[1], *o[1])
			}
			switch {
			case p[0] == nil && o[0] == nil:
			case p[0] == nil || o[0] == nil:
				return fmt.Sprintf("%s at %v: %v vs %v", a[i].Target, *p[1], fmtp(p[0]), fmtp(o[0]))
			case math.Abs(*p[0]-*o[0]) > 1e-9*math.Max(1, math.Abs(*o[0])):
				return fmt.Sprintf("%s at %v: %v vs %v", a[i].Target, *p[1], *p[0], *o[0])
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
