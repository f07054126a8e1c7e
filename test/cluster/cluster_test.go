// Package cluster tests Dreamcatcher as a member of a Graphite cluster, with
// the real programs on 127.0.0.1: carbon-c-relay (consistent hashing,
// replication 2) in front of three storage nodes (hekad with
// DreamcatcherCarbonInput → DreamcatcherWhisperOutput, and a whisperserver
// each), graphite-web federating the three whisperservers, and an edge hekad
// aggregating statsd (DreamcatcherStatsdInput) and forwarding with
// DreamcatcherCarbonOutput.
package cluster

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	gowhisper "github.com/lomik/go-whisper"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

const (
	nodes       = 3
	replication = 2
	metrics     = 3000
	groups      = 30
)

// node is one storage node: a hekad writing whisper files and the
// whisperserver reading them.
type node struct {
	name       string // the relay's =instance name
	dir        string
	whisperDir string
	carbon     string // hekad's carbon address
	web        string // whisperserver's address
	config     string
	hekad      *testutil.Proc
	server     *testutil.Proc
}

func storageConfig(n *node) string {
	return fmt.Sprintf(`
[hekad]
base_dir = %q

[DreamcatcherCarbonInput]
address = %q
self_metrics = ""
batch_delay_ms = 50
idle_timeout = 0   # behind carbon-c-relay, as docs/scaling.md advises

[DreamcatcherWhisperOutput]
base_path = %q
default_retentions = "10s:1h,1m:1d"
self_metrics = ""
`, filepath.Join(n.dir, "base"), n.carbon, n.whisperDir)
}

func (n *node) startHekad(t *testing.T, bin string) {
	t.Helper()
	n.hekad = testutil.Start(t, bin, "-config", n.config)
	n.hekad.WaitOutput("listening for carbon plaintext", 20*time.Second)
	testutil.WaitTCPListening(t, n.carbon, 10*time.Second)
}

func (n *node) startServer(t *testing.T, bin string) {
	t.Helper()
	n.server = testutil.Start(t, bin, "-whisper-dir", n.whisperDir, "-listen", n.web)
	testutil.WaitTCPListening(t, n.web, 20*time.Second)
}

func requireProgram(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	testutil.RequireReference(t, name+" (Debian package "+name+")", err)
	return p
}

func relayConfig(listen string, ns []*node) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen\n  type linemode\n    %s proto tcp\n  ;\n", listen)
	fmt.Fprintf(&b, "cluster storage\n  carbon_ch replication %d\n", replication)
	for _, n := range ns {
		fmt.Fprintf(&b, "    %s=%s\n", n.carbon, n.name)
	}
	b.WriteString("  ;\nmatch * send to storage stop;\n")
	return b.String()
}

// routes asks carbon-c-relay itself (-t: test mode, nothing is sent) where
// each metric goes: the oracle for the placement checks.
func routes(t *testing.T, relay, conf string, lines []byte) map[string][]string {
	t.Helper()
	cmd := exec.Command(relay, "-f", conf, "-t")
	cmd.Stdin = bytes.NewReader(lines)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("carbon-c-relay -t: %v\n%s", err, out)
	}
	head := regexp.MustCompile(`^\s+\S+ -> (\S+)$`)
	dest := regexp.MustCompile(`^\s+(127\.0\.0\.1:\d+)$`)
	got := map[string][]string{}
	var cur string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := head.FindStringSubmatch(line); m != nil {
			cur = m[1]
			continue
		}
		if m := dest.FindStringSubmatch(line); m != nil && cur != "" {
			got[cur] = append(got[cur], m[1])
			continue
		}
		if strings.TrimSpace(line) == "stop" {
			cur = ""
		}
	}
	return got
}

// storedNames lists the metric names with a whisper file under dir.
func storedNames(dir, prefix string) map[string]bool {
	names := map[string]bool{}
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		if name, ok := metricpath.Name(rel); ok && strings.HasPrefix(name, prefix) {
			names[name] = true
		}
		return nil
	})
	return names
}

// valueAt reads one point from a whisper file (NaN-free check: ok is false
// when the file or the point is missing).
func valueAt(dir, name string, ts int64) (float64, bool) {
	path, err := metricpath.Path(dir, name)
	if err != nil {
		return 0, false
	}
	w, err := gowhisper.Open(path)
	if err != nil {
		return 0, false
	}
	defer w.Close()
	series, err := w.Fetch(int(ts-1), int(ts))
	if err != nil || series == nil {
		return 0, false
	}
	for _, p := range series.Points() {
		if int64(p.Time) == ts && p.Value == p.Value {
			return p.Value, true
		}
	}
	return 0, false
}

func getJSON(t *testing.T, u string, v interface{}) error {
	t.Helper()
	client := &http.Client{Timeout: 90 * time.Second}
	resp, err := client.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %.500s", u, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %v: %.500s", u, err, body)
	}
	return nil
}

// findLeaves asks graphite-web /metrics/find for the leaves under query.
func findLeaves(t *testing.T, gw, query string) (map[string]bool, error) {
	var res struct {
		Metrics []struct {
			Path   string `json:"path"`
			IsLeaf string `json:"is_leaf"`
		} `json:"metrics"`
	}
	err := getJSON(t, gw+"/metrics/find/?format=completer&query="+url.QueryEscape(query), &res)
	leaves := map[string]bool{}
	for _, m := range res.Metrics {
		if m.IsLeaf == "1" {
			leaves[m.Path] = true
		}
	}
	return leaves, err
}

// render asks graphite-web /render for targets and returns, per series,
// its non-null values by timestamp.
func render(t *testing.T, gw string, targets []string, from, until int64) (map[string]map[int64]float64, error) {
	q := url.Values{}
	for _, tg := range targets {
		q.Add("target", tg)
	}
	q.Set("from", fmt.Sprint(from))
	q.Set("until", fmt.Sprint(until))
	q.Set("format", "json")
	var res []struct {
		Target     string        `json:"target"`
		Datapoints [][2]*float64 `json:"datapoints"`
	}
	if err := getJSON(t, gw+"/render/?"+q.Encode(), &res); err != nil {
		return nil, err
	}
	out := map[string]map[int64]float64{}
	for _, s := range res {
		vals := map[int64]float64{}
		for _, dp := range s.Datapoints {
			if dp[0] != nil && dp[1] != nil {
				vals[int64(*dp[1])] = *dp[0]
			}
		}
		out[s.Target] = vals
	}
	return out, nil
}

func metricName(i int) string { return fmt.Sprintf("cluster.g%02d.m%04d", i%groups, i) }

func TestCarbonRelayCluster(t *testing.T) {
	relayBin := requireProgram(t, "carbon-c-relay")
	testutil.RequireReference(t, "graphite-web", testutil.GraphiteWebAvailable())
	hekadBin := testutil.Binary(t, "hekad")
	serverBin := testutil.Binary(t, "whisperserver")
	root := t.TempDir()
	begin := time.Now()

	// Three storage nodes.
	var ns []*node
	for i := 1; i <= nodes; i++ {
		n := &node{
			name:   fmt.Sprintf("node%d", i),
			dir:    filepath.Join(root, fmt.Sprintf("node%d", i)),
			carbon: fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)),
			web:    fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)),
		}
		n.whisperDir = filepath.Join(n.dir, "whisper")
		if err := os.MkdirAll(n.whisperDir, 0o755); err != nil {
			t.Fatal(err)
		}
		n.config = testutil.WriteFile(t, n.dir, "hekad.toml", storageConfig(n))
		n.startHekad(t, hekadBin)
		n.startServer(t, serverBin)
		ns = append(ns, n)
	}
	byAddr := map[string]*node{}
	for _, n := range ns {
		byAddr[n.carbon] = n
	}

	// carbon-c-relay in front of them.
	relayAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	relayConf := testutil.WriteFile(t, root, "relay.conf", relayConfig(relayAddr, ns))
	relay := testutil.Start(t, relayBin, "-f", relayConf, "-w", "2", "-s")
	testutil.WaitTCPListening(t, relayAddr, 20*time.Second)

	// graphite-web federating the three whisperservers.
	var servers []string
	for _, n := range ns {
		servers = append(servers, n.web)
	}
	gw := testutil.StartGraphiteWeb(t, testutil.GraphiteWebOptions{ClusterServers: servers})
	t.Logf("%s: relay, 3 nodes and graphite-web started", time.Since(begin).Round(time.Millisecond))

	// A few thousand metrics through the relay, one point each.
	now := time.Now().Unix()
	t1 := now - now%10 - 60
	var lines bytes.Buffer
	for i := 0; i < metrics; i++ {
		fmt.Fprintf(&lines, "%s %g %d\n", metricName(i), float64(i)+0.25, t1)
	}
	oracle := routes(t, relayBin, relayConf, lines.Bytes())
	if len(oracle) != metrics {
		t.Fatalf("carbon-c-relay -t routed %d metrics, want %d", len(oracle), metrics)
	}
	want := make([]map[string]bool, nodes) // per node: the names the relay sends it
	for i := range want {
		want[i] = map[string]bool{}
	}
	for name, dests := range oracle {
		if len(dests) != replication {
			t.Fatalf("%s routed to %v, want %d nodes", name, dests, replication)
		}
		for _, d := range dests {
			n, ok := byAddr[d]
			if !ok {
				t.Fatalf("%s routed to unknown %s", name, d)
			}
			want[indexOf(ns, n)][name] = true
		}
	}
	for i, w := range want {
		t.Logf("relay places %d metrics on %s", len(w), ns[i].name)
		if len(w) == 0 {
			t.Fatalf("no metric placed on %s: the hash ring is not spread", ns[i].name)
		}
	}
	testutil.SendTCP(t, relayAddr, lines.String())

	t.Logf("%s: sent %d metrics through the relay", time.Since(begin).Round(time.Millisecond), metrics)
	// Each metric is stored on exactly the nodes the relay chose.
	for i, n := range ns {
		testutil.Eventually(t, 60*time.Second, func() bool {
			return len(storedNames(n.whisperDir, "cluster.")) >= len(want[i])
		}, "%s: %d of %d files", n.name, len(storedNames(n.whisperDir, "cluster.")), len(want[i]))
		got := storedNames(n.whisperDir, "cluster.")
		for name := range got {
			if !want[i][name] {
				t.Errorf("%s stored %s, which the relay sends to %v", n.name, name, oracle[name])
			}
		}
		for name := range want[i] {
			if !got[name] {
				t.Errorf("%s lacks %s", n.name, name)
			}
		}
		for name := range want[i] {
			v, ok := valueAt(n.whisperDir, name, t1)
			testutil.Eventually(t, 30*time.Second, func() bool {
				v, ok = valueAt(n.whisperDir, name, t1)
				return ok
			}, "%s: no point at %d in %s", n.name, t1, name)
			if wantV := float64(metricIndex(t, name)) + 0.25; v != wantV {
				t.Errorf("%s: %s = %v, want %v", n.name, name, v, wantV)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	t.Logf("%s: placement and values on disk checked", time.Since(begin).Round(time.Millisecond))
	// graphite-web sees every metric of the three nodes, merged, with the
	// right values.
	checkGraphiteWeb(t, gw.URL, map[int64]func(i int) float64{
		t1: func(i int) float64 { return float64(i) + 0.25 },
	}, t1-30, t1+40)

	t.Logf("%s: graphite-web find and render checked", time.Since(begin).Round(time.Millisecond))
	// The edge: statsd aggregated by a hekad and forwarded to the relay.
	edgeStatsd := testutil.FreePort(t)
	edgeCfg := testutil.WriteFile(t, filepath.Join(root, "edge"), "hekad.toml", fmt.Sprintf(`
[hekad]
base_dir = %q

[DreamcatcherStatsdInput]
address = "127.0.0.1:%d"
flush_interval = 1

[DreamcatcherCarbonOutput]
address = %q
self_metrics = ""
`, filepath.Join(root, "edge", "base"), edgeStatsd, relayAddr))
	edge := testutil.Start(t, hekadBin, "-config", edgeCfg)
	edge.WaitOutput("listening on udp", 20*time.Second)
	testutil.SendUDP(t, fmt.Sprintf("127.0.0.1:%d", edgeStatsd), "edge.temperature:21.5|g")
	edgeName := "stats.gauges.edge.temperature"
	edgeRoutes := routes(t, relayBin, relayConf, []byte(edgeName+" 1 1\n"))[edgeName]
	if len(edgeRoutes) != replication {
		t.Fatalf("carbon-c-relay -t routes %s to %v", edgeName, edgeRoutes)
	}
	testutil.Eventually(t, 60*time.Second, func() bool {
		for _, d := range edgeRoutes {
			if !storedNames(byAddr[d].whisperDir, "stats.")[edgeName] {
				return false
			}
		}
		return true
	}, "the edge's gauge never reached %v", edgeRoutes)
	testutil.Eventually(t, 60*time.Second, func() bool {
		res, err := render(t, gw.URL, []string{edgeName}, time.Now().Unix()-300, time.Now().Unix())
		if err != nil {
			t.Log(err)
			return false
		}
		for _, v := range res[edgeName] {
			if v == 21.5 {
				return true
			}
		}
		return false
	}, "graphite-web never showed the edge's gauge")
	if code := edge.Stop(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Errorf("edge exit %d", code)
	}

	t.Logf("%s: edge checked", time.Since(begin).Round(time.Millisecond))
	// One storage node down (hekad and whisperserver): the others keep
	// taking writes, and graphite-web still answers for every metric, each
	// having a replica on a live node.
	down := ns[nodes-1]
	if code := down.hekad.Stop(syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Errorf("%s hekad exit %d", down.name, code)
	}
	if code := down.server.Stop(syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Errorf("%s whisperserver exit %d", down.name, code)
	}
	t2 := t1 + 10
	lines.Reset()
	for i := 0; i < metrics; i++ {
		fmt.Fprintf(&lines, "%s %g %d\n", metricName(i), float64(i)+1000.5, t2)
	}
	testutil.SendTCP(t, relayAddr, lines.String())
	for i, n := range ns[:nodes-1] {
		for name := range want[i] {
			testutil.Eventually(t, 60*time.Second, func() bool {
				_, ok := valueAt(n.whisperDir, name, t2)
				return ok
			}, "%s (live) has no point at %d for %s", n.name, t2, name)
			if v, _ := valueAt(n.whisperDir, name, t2); v != float64(metricIndex(t, name))+1000.5 {
				t.Errorf("%s: %s at %d = %v", n.name, name, t2, v)
			}
		}
	}
	checkGraphiteWeb(t, gw.URL, map[int64]func(i int) float64{
		t1: func(i int) float64 { return float64(i) + 0.25 },
		t2: func(i int) float64 { return float64(i) + 1000.5 },
	}, t1-30, t2+40)

	t.Logf("%s: node down phase checked", time.Since(begin).Round(time.Millisecond))
	// The node comes back: the relay delivers what it queued for it.
	down.startHekad(t, hekadBin)
	for name := range want[nodes-1] {
		testutil.Eventually(t, 90*time.Second, func() bool {
			_, ok := valueAt(down.whisperDir, name, t2)
			return ok
		}, "%s did not get the points queued by the relay while it was down (%s)", down.name, name)
	}
	if strings.Contains(relay.Output(), "dropped") {
		t.Logf("relay log:\n%s", relay.Output())
	}
}

// checkGraphiteWeb: find lists exactly the test's metrics and render gives
// every one of them with the expected value at each timestamp.
func checkGraphiteWeb(t *testing.T, gw string, want map[int64]func(i int) float64, from, until int64) {
	t.Helper()
	var leaves map[string]bool
	testutil.Eventually(t, 60*time.Second, func() bool {
		var err error
		leaves, err = findLeaves(t, gw, "cluster.*.*")
		if err != nil {
			t.Log(err)
		}
		return len(leaves) == metrics
	}, "graphite-web /metrics/find gave %d of %d metrics", len(leaves), metrics)
	for i := 0; i < metrics; i++ {
		if !leaves[metricName(i)] {
			t.Fatalf("/metrics/find lacks %s", metricName(i))
		}
	}
	// One render per group keeps each request moderate.
	var targets []string
	for g := 0; g < groups; g++ {
		targets = append(targets, fmt.Sprintf("cluster.g%02d.*", g))
	}
	got := map[string]map[int64]float64{}
	for start := 0; start < len(targets); start += 10 {
		res, err := render(t, gw, targets[start:start+10], from, until)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range res {
			got[k] = v
		}
	}
	if len(got) != metrics {
		names := make([]string, 0, len(got))
		for k := range got {
			names = append(names, k)
		}
		sort.Strings(names)
		t.Fatalf("/render returned %d series, want %d (first: %.5q)", len(got), metrics, names)
	}
	bad := 0
	for i := 0; i < metrics; i++ {
		vals := got[metricName(i)]
		for ts, f := range want {
			if v, ok := vals[ts]; !ok || v != f(i) {
				if bad++; bad <= 10 {
					t.Errorf("/render %s at %d = %v (present %v), want %v", metricName(i), ts, v, ok, f(i))
				}
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d wrong or missing values from graphite-web", bad)
	}
}

func indexOf(ns []*node, n *node) int {
	for i, m := range ns {
		if m == n {
			return i
		}
	}
	return -1
}

func metricIndex(t *testing.T, name string) int {
	var g, i int
	if _, err := fmt.Sscanf(name, "cluster.g%d.m%d", &g, &i); err != nil {
		t.Fatalf("bad test metric name %q", name)
	}
	return i
}
