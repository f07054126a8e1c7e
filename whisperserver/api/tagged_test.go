package api_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/server/servertest"
)

// TestTagged lists tagged series (carbon's _tagged layout, written by
// servertest with metricpath's rules) grouped by name, filtered by k=v and
// substring terms; they are not in /api/metrics nor /api/tree.
func TestTagged(t *testing.T) {
	dir := t.TempDir()
	arch := []servertest.Archive{{Step: 60, Points: 60}}
	for _, n := range []string{"app.req;dc=eu;env=prod", "app.req;dc=us;env=dev", "app.lat;env=prod", "plain.x"} {
		servertest.WriteMetric(t, dir, n, "average", arch, nil)
	}
	base := servertest.Start(t, dir, nil).URL
	type answer struct {
		Groups []struct {
			Name   string `json:"name"`
			Series []struct {
				Series string            `json:"series"`
				Tags   map[string]string `json:"tags"`
			} `json:"series"`
		} `json:"groups"`
		Total int `json:"total"`
	}
	list := func(q string) (string, answer) {
		var a answer
		servertest.GetJSON(t, base+"/api/tagged?q="+url.QueryEscape(q), &a)
		var parts []string
		for _, g := range a.Groups {
			var s []string
			for _, x := range g.Series {
				s = append(s, x.Series)
			}
			parts = append(parts, g.Name+":"+strings.Join(s, ","))
		}
		return strings.Join(parts, " "), a
	}
	got, a := list("")
	if got != "app.lat:app.lat;env=prod app.req:app.req;dc=eu;env=prod,app.req;dc=us;env=dev" || a.Total != 3 {
		t.Fatalf("all: %s (total %d)", got, a.Total)
	}
	if a.Groups[1].Series[0].Tags["dc"] != "eu" || a.Groups[1].Series[0].Tags["env"] != "prod" {
		t.Errorf("tags = %v", a.Groups[1].Series[0].Tags)
	}
	if got, _ := list("env=prod"); got != "app.lat:app.lat;env=prod app.req:app.req;dc=eu;env=prod" {
		t.Errorf("env=prod: %s", got)
	}
	if got, _ := list("REQ env=dev"); got != "app.req:app.req;dc=us;env=dev" {
		t.Errorf("REQ env=dev: %s", got)
	}
	if got, _ := list("env=staging"); got != "" {
		t.Errorf("env=staging: %s", got)
	}
	var all struct {
		Metrics []string `json:"metrics"`
	}
	servertest.GetJSON(t, base+"/api/metrics", &all)
	if strings.Join(all.Metrics, ",") != "plain.x" {
		t.Errorf("/api/metrics = %v, want the untagged metric only", all.Metrics)
	}
}
