// Package alerting tests whisperserver's alerting end to end: a metric fed
// through the real hekad into whisper files crosses a rule's threshold,
// the real whisperserver fires the alert into the real Prometheus
// Alertmanager, whose webhook receiver gets the firing and then the
// resolved notification.
package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// receiver is Alertmanager's webhook receiver: it keeps every group.
type receiver struct {
	mu     sync.Mutex
	groups []amGroup
}

type amGroup struct {
	Status string `json:"status"`
	Alerts []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var g amGroup
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&g); err == nil {
		rc.mu.Lock()
		rc.groups = append(rc.groups, g)
		rc.mu.Unlock()
	}
}

func (rc *receiver) has(status, alertname string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, g := range rc.groups {
		for _, a := range g.Alerts {
			if g.Status == status && a.Status == status && a.Labels["alertname"] == alertname {
				return true
			}
		}
	}
	return false
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, b)
	}
}

// feed sends "name value now" to the carbon input every 250ms until ctx
// is done (at most two minutes), with the value *v holds then.
func feed(ctx context.Context, t *testing.T, addr, name string, v *atomic.Int64) {
	deadline := time.Now().Add(2 * time.Minute)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			_ = conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
			_, err = fmt.Fprintf(conn, "%s %d %d\n", name, v.Load(), time.Now().Unix())
			conn.Close()
		}
		if err != nil {
			t.Logf("feeding carbon: %v", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

type alertsAnswer struct {
	Alerts []struct {
		Rule, Series, State string
		Value               *float64
	} `json:"alerts"`
	Rules []struct {
		Name        string
		Evaluations int64
		LastError   string `json:"last_error"`
	} `json:"rules"`
}

func TestAlertThroughAlertmanager(t *testing.T) {
	testutil.RequireReference(t, "Alertmanager", testutil.AlertmanagerAvailable())
	rc := &receiver{}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	am := testutil.StartAlertmanager(t, hook.URL+"/hook")

	hd := testutil.NewHekad(t)
	server := testutil.Binary(t, "whisperserver")
	dir, base, carbon := hd.Dir, hd.Whisper, hd.Addr()
	web := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	cfg := hd.WriteConfig(fmt.Sprintf(`
[DreamcatcherCarbonInput]
address = %q
self_metrics = ""

[DreamcatcherWhisperOutput]
base_path = %q
default_retentions = "1s:10m"
self_metrics = ""
`, carbon, base))
	rules := testutil.WriteFile(t, dir, "alerts.toml", fmt.Sprintf(`
[[rule]]
name = "QueueTooLong"
target = "maxSeries(app.queue.*)"
above = 100
for = "2s"
every = "1s"
window = "20s"
labels = { severity = "page" }
summary = "queue at {{value}}"

[[notify]]
type = "alertmanager"
url = %q
resend = "2s"
timeout = "3s"
`, am.URL))
	hd.Start(cfg, "Input started: DreamcatcherCarbonInput")
	testutil.WaitTCPListening(t, carbon, 10*time.Second)
	ws := testutil.Start(t, server, "-whisper-dir", base, "-listen", web, "-alerts", rules,
		"-alerts-state-dir", filepath.Join(dir, "state"))
	testutil.WaitTCPListening(t, web, 20*time.Second)
	t.Cleanup(func() { ws.Stop(syscall.SIGTERM, 15*time.Second) })

	var value atomic.Int64
	value.Store(50)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go feed(ctx, t, carbon, "app.queue.a", &value)

	state := func() string {
		var a alertsAnswer
		getJSON(t, "http://"+web+"/api/alerts", &a)
		for _, al := range a.Alerts {
			if al.Rule == "QueueTooLong" && al.Series == "maxSeries(app.queue.*)" {
				return al.State
			}
		}
		return ""
	}
	testutil.Eventually(t, 30*time.Second, func() bool { return state() == "ok" },
		"the rule never evaluated the fed metric as ok")

	value.Store(150)
	firingAt := time.Now()
	inAM := func() bool {
		var list []struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
			Status      struct{ State string }
		}
		getJSON(t, am.URL+"/api/v2/alerts", &list)
		for _, a := range list {
			if a.Labels["alertname"] == "QueueTooLong" && a.Labels["severity"] == "page" &&
				a.Labels["series"] == "maxSeries(app.queue.*)" && a.Annotations["summary"] == "queue at 150" &&
				a.Status.State == "active" {
				return true
			}
		}
		return false
	}
	testutil.Eventually(t, 20*time.Second, inAM, "the alert never reached Alertmanager")
	t.Logf("in Alertmanager %.1fs after the value went over", time.Since(firingAt).Seconds())
	testutil.Eventually(t, 20*time.Second, func() bool { return rc.has("firing", "QueueTooLong") },
		"Alertmanager's receiver never got the firing alert")
	if rc.has("resolved", "QueueTooLong") {
		t.Fatal("resolved before the value went back")
	}

	// Each send says endsAt = now + 4 × resend (8 s): still active
	// 10 s later only because whisperserver re-sends it.
	time.Sleep(10 * time.Second)
	if !inAM() {
		t.Error("the firing alert lapsed in Alertmanager")
	}

	value.Store(20)
	testutil.Eventually(t, 30*time.Second, func() bool { return rc.has("resolved", "QueueTooLong") },
		"Alertmanager's receiver never got the resolved notification")
	if s := state(); s != "resolved" {
		t.Errorf("state after resolving: %q", s)
	}

	var events []struct {
		When float64  `json:"when"`
		What string   `json:"what"`
		Tags []string `json:"tags"`
	}
	getJSON(t, "http://"+web+"/events/get_data?from=-10min&tags=QueueTooLong", &events)
	var whats []string
	for _, e := range events {
		whats = append(whats, e.What)
	}
	joined := strings.Join(whats, "|")
	if !strings.Contains(joined, "QueueTooLong firing") || !strings.Contains(joined, "QueueTooLong resolved") {
		t.Errorf("events: %v", whats)
	}
	if out := ws.Output(); strings.Contains(out, "notification failed") {
		t.Errorf("a notification failed:\n%s", out)
	}
}
