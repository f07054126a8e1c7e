package graphiteapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/server"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/server/servertest"
)

// serve writes a.b.c (sum, 60 s points: 1, 2, 3 … over the last hour) and
// a.b.d, a.x (empty), and serves them.
func serve(t *testing.T, adjust func(*server.Config)) (base string, t0 int64) {
	dir := t.TempDir()
	now := time.Now().Unix()
	t0 = now - now%60 - 3600
	pts := map[int64]float64{}
	for i := int64(0); i < 60; i++ {
		pts[t0+i*60] = float64(i + 1)
	}
	ret := []servertest.Archive{{Step: 60, Points: 1440}}
	servertest.WriteMetric(t, dir, "a.b.c", "sum", ret, pts)
	servertest.WriteMetric(t, dir, "a.b.d", "average", ret, nil)
	servertest.WriteMetric(t, dir, "a.x", "average", ret, nil)
	return servertest.Start(t, dir, adjust).URL, t0
}

func TestFind(t *testing.T) {
	base, _ := serve(t, nil)
	var nodes []struct {
		ID   string `json:"id"`
		Leaf int    `json:"leaf"`
	}
	servertest.GetJSON(t, base+"/metrics/find?query=a.*", &nodes)
	if len(nodes) != 2 || nodes[0].ID != "a.b" || nodes[0].Leaf != 0 || nodes[1].ID != "a.x" || nodes[1].Leaf != 1 {
		t.Fatalf("find a.* = %+v", nodes)
	}
	var exp struct {
		Results []string `json:"results"`
	}
	servertest.GetJSON(t, base+"/metrics/expand?query=a.b.*&leavesOnly=1", &exp)
	if strings.Join(exp.Results, ",") != "a.b.c,a.b.d" {
		t.Fatalf("expand = %v", exp.Results)
	}
	if code, body := servertest.Get(t, base+"/metrics/find?query=a.*&format=nonsense"); code != http.StatusBadRequest {
		t.Fatalf("bad format: %d %s, want 400", code, body)
	}
}

func TestRender(t *testing.T) {
	base, t0 := serve(t, nil)
	var out []struct {
		Target     string        `json:"target"`
		Datapoints [][2]*float64 `json:"datapoints"`
	}
	u := fmt.Sprintf("%s/render?target=sumSeries(a.b.*)&from=%d&until=%d&format=json", base, t0-1, t0+3599)
	servertest.GetJSON(t, u, &out)
	if len(out) != 1 || out[0].Target != "sumSeries(a.b.*)" || len(out[0].Datapoints) != 60 {
		t.Fatalf("render = %+v", out)
	}
	for i, dp := range out[0].Datapoints {
		if dp[0] == nil || *dp[0] != float64(i+1) || dp[1] == nil || int64(*dp[1]) != t0+int64(i)*60 {
			t.Fatalf("point %d = %v, want [%d, %d]", i, dp, i+1, t0+int64(i)*60)
		}
	}
	code, body := servertest.Get(t, base+"/render?target=sumSeries(a.b.c&format=json")
	if code != http.StatusBadRequest {
		t.Fatalf("bad target: %d %s, want 400", code, body)
	}
}

// TestLimits checks max_series gives 422 rather than reading the files.
func TestLimits(t *testing.T) {
	base, _ := serve(t, func(c *server.Config) { c.MaxSeries = 1 })
	code, body := servertest.Get(t, base+"/render?target=a.b.*&format=json")
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("two series over max_series=1: %d %s, want 422", code, body)
	}
}
