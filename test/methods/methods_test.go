// Package methods tests the whisper file format end to end for every
// aggregation method of whisper.py 1.1: files made by Graphite's own
// whisper-create get points through the real hekad and are read back by
// Graphite's whisper-fetch and by the real whisperserver, against twins
// that whisper.py itself updated with the same points.
package methods

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/whisperfile"
)

const (
	whisperCreate = "/usr/bin/whisper-create"
	whisperUpdate = "/usr/bin/whisper-update"
	whisperFetch  = "/usr/bin/whisper-fetch"
	retentions    = "1s:5m 10s:30m"
)

// fetched is one fetch result; nil values are gaps.
type fetched struct {
	Start  int64      `json:"start"`
	Step   int64      `json:"step"`
	Values []*float64 `json:"values"`
}

func (f fetched) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "start %d step %d [", f.Start, f.Step)
	for i, v := range f.Values {
		if i > 0 {
			b.WriteByte(' ')
		}
		if v == nil {
			b.WriteString("None")
		} else {
			fmt.Fprint(&b, *v)
		}
	}
	return b.String() + "]"
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func pyFetch(t *testing.T, path string, from, until int64) fetched {
	t.Helper()
	var f fetched
	out := run(t, whisperFetch, "--json", fmt.Sprintf("--from=%d", from), fmt.Sprintf("--until=%d", until), path)
	if err := json.Unmarshal(out, &f); err != nil {
		t.Fatalf("whisper-fetch output: %v\n%s", err, out)
	}
	return f
}

func httpGet(t *testing.T, u string, v any) {
	t.Helper()
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", u, err, b)
	}
}

// serverData reads the metric with whisperserver's JSON API (/api/data).
func serverData(t *testing.T, base, name string, from, until int64) fetched {
	t.Helper()
	var out struct {
		Series []struct {
			Start, Step int64
			Values      []*float64
			Error       string
		}
	}
	httpGet(t, base+"/api/data?"+url.Values{"target": {name}, "from": {fmt.Sprint(from)}, "until": {fmt.Sprint(until)}}.Encode(), &out)
	if len(out.Series) != 1 || out.Series[0].Error != "" {
		t.Fatalf("/api/data %s: %+v", name, out.Series)
	}
	s := out.Series[0]
	return fetched{Start: s.Start, Step: s.Step, Values: s.Values}
}

// serverRender reads the metric with whisperserver's Graphite API
// (/render?format=json).
func serverRender(t *testing.T, base, name string, from, until int64) fetched {
	t.Helper()
	var out []struct {
		Datapoints [][2]*float64 `json:"datapoints"`
	}
	httpGet(t, base+"/render?"+url.Values{"target": {name}, "from": {fmt.Sprint(from)}, "until": {fmt.Sprint(until)}, "format": {"json"}}.Encode(), &out)
	if len(out) != 1 || len(out[0].Datapoints) < 2 {
		t.Fatalf("/render %s: %+v", name, out)
	}
	dp := out[0].Datapoints
	f := fetched{Start: int64(*dp[0][1]), Step: int64(*dp[1][1] - *dp[0][1])}
	for _, p := range dp {
		f.Values = append(f.Values, p[0])
	}
	return f
}

// points are the test's values: one every second except every third, signs
// and magnitudes varied so that every method (absmax against max, avg_zero
// against average) gives its own roll-up, and -42.5 among them.
func points(t0 int64) map[int64]float64 {
	vals := []float64{3, -42.5, 7.25, -1, 0.5, 12, -0.125, -9, 4, 2.5, -3.75, 40}
	pts := map[int64]float64{}
	for i := int64(0); i < 50; i++ {
		if i%3 == 2 {
			continue
		}
		pts[t0+i] = vals[int(i)%len(vals)] * float64(1+i%4)
	}
	pts[t0+1] = -42.5
	return pts
}

// TestEveryMethodEndToEnd: for each of whisper.py 1.1's eight methods, a
// file made by whisper-create is updated by hekad (carbon plaintext in,
// DreamcatcherWhisperOutput), its twin by whisper-update with the same
// points. whisper-fetch must read the same from both, for the fine archive
// and for the rolled-up coarse one, and whisperserver's JSON API and
// Graphite render API must read what whisper-fetch reads.
func TestEveryMethodEndToEnd(t *testing.T) {
	testutil.RequireWhisperPy(t)
	for _, p := range []string{whisperCreate, whisperUpdate, whisperFetch} {
		_, err := exec.LookPath(p)
		testutil.RequireReference(t, p+" (Debian python3-whisper)", err)
	}
	hk := testutil.NewHekad(t)
	server := testutil.Binary(t, "whisperserver")
	base := hk.Whisper
	ref := filepath.Join(hk.Dir, "ref")

	now := time.Now().Unix()
	t0 := now - now%10 - 50 // the points: t0 … t0+49, within the fine archive
	pts := points(t0)
	var lines strings.Builder
	updArgs := func(path string) []string {
		args := []string{path}
		for ts, v := range pts {
			args = append(args, fmt.Sprintf("%d:%v", ts, v))
		}
		return args
	}
	var methods []string
	for m := whisperfile.Average; m <= whisperfile.AbsMin; m++ {
		methods = append(methods, m.String())
	}
	for _, m := range methods {
		for _, d := range []string{base, ref} {
			path := filepath.Join(d, "m", m+".wsp")
			run(t, "mkdir", "-p", filepath.Dir(path))
			run(t, whisperCreate, append([]string{"--aggregationMethod=" + m, "--xFilesFactor=0", path}, strings.Fields(retentions)...)...)
		}
		run(t, whisperUpdate, updArgs(filepath.Join(ref, "m", m+".wsp"))...)
		for ts, v := range pts {
			fmt.Fprintf(&lines, "m.%s %v %d\n", m, v, ts)
		}
	}

	carbon := hk.Addr()
	web := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	cfg := hk.WriteConfig(fmt.Sprintf(`[DreamcatcherCarbonInput]
address = %q
self_metrics = ""

[DreamcatcherWhisperOutput]
base_path = %q
default_retentions = "1s:5m,10s:30m"
self_metrics = ""
`, carbon, base))
	h := hk.Start(cfg, "Input started: DreamcatcherCarbonInput")
	testutil.WaitTCPListening(t, carbon, 10*time.Second)
	ws := testutil.Start(t, server, "-whisper-dir", base, "-listen", web)
	testutil.WaitTCPListening(t, web, 20*time.Second)
	t.Cleanup(func() { ws.Stop(syscall.SIGTERM, 15*time.Second) })
	testutil.SendTCP(t, carbon, lines.String())

	until := t0 + 50
	fine := [2]int64{t0 - 50, until}    // 1 s archive
	coarse := [2]int64{t0 - 600, until} // beyond 5 min: the 10 s archive
	for _, m := range methods {
		got := filepath.Join(base, "m", m+".wsp")
		want := filepath.Join(ref, "m", m+".wsp")
		testutil.Eventually(t, 30*time.Second, func() bool {
			return pyFetch(t, got, coarse[0], coarse[1]).String() == pyFetch(t, want, coarse[0], coarse[1]).String()
		}, "%s: hekad's file never held whisper.py's values", m)
		for _, r := range [][2]int64{fine, coarse} {
			py := pyFetch(t, want, r[0], r[1])
			known := 0
			for _, v := range py.Values {
				if v != nil {
					known++
				}
			}
			if wantStep := map[[2]int64]int64{fine: 1, coarse: 10}[r]; py.Step != wantStep || known < 5 {
				t.Fatalf("%s: whisper.py's own file read %s", m, py)
			}
			if g := pyFetch(t, got, r[0], r[1]); g.String() != py.String() {
				t.Errorf("%s %v: whisper-fetch of hekad's file\n  %s\nwhisper.py's file\n  %s", m, r, g, py)
			}
			if g := serverData(t, "http://"+web, "m."+m, r[0], r[1]); g.String() != py.String() {
				t.Errorf("%s %v: whisperserver /api/data\n  %s\nwhisper-fetch\n  %s", m, r, g, py)
			}
			if g := serverRender(t, "http://"+web, "m."+m, r[0], r[1]); g.String() != py.String() {
				t.Errorf("%s %v: whisperserver /render\n  %s\nwhisper-fetch\n  %s", m, r, g, py)
			}
		}
		fineVals := pyFetch(t, got, fine[0], fine[1])
		if v := fineVals.Values[(t0+1-fineVals.Start)/fineVals.Step]; v == nil || *v != -42.5 {
			t.Errorf("%s: the point -42.5 at %d reads %v", m, t0+1, v)
		}
	}
	h.StopClean(syscall.SIGTERM, 30*time.Second)
	if out := h.Output(); strings.Contains(out, "corrupt") {
		t.Errorf("hekad refused a file as corrupt:\n%s", out)
	}
}
