package testutil

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// AlertmanagerBin is Debian's Prometheus Alertmanager.
const AlertmanagerBin = "/usr/bin/prometheus-alertmanager"

// AlertmanagerAvailable reports why Alertmanager cannot run here, or nil.
func AlertmanagerAvailable() error {
	if _, err := os.Stat(AlertmanagerBin); err != nil {
		return fmt.Errorf("Prometheus Alertmanager (Debian package prometheus-alertmanager): %w", err)
	}
	return nil
}

// Alertmanager is a running Alertmanager on 127.0.0.1.
type Alertmanager struct {
	URL  string
	Proc *Proc
}

// StartAlertmanager runs Alertmanager on a free loopback port with one
// webhook receiver (send_resolved, group_wait and group_interval 1s),
// its gossip port off and its storage in a temp folder, and waits until
// it answers. It is stopped when the test ends.
func StartAlertmanager(t testing.TB, webhookURL string) *Alertmanager {
	t.Helper()
	RequireReference(t, "Alertmanager", AlertmanagerAvailable())
	dir := t.TempDir()
	cfg := WriteFile(t, dir, "am.yml", fmt.Sprintf(`route:
  receiver: hook
  group_by: ['alertname', 'series']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %q
        send_resolved: true
`, webhookURL))
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	cmd := exec.Command(AlertmanagerBin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	p := startCmd(t, cmd, 5*time.Second)
	WaitTCPListening(t, addr, 30*time.Second)
	am := &Alertmanager{URL: "http://" + addr, Proc: p}
	Eventually(t, 30*time.Second, func() bool {
		code, _ := httpGet(am.URL + "/-/ready")
		return code == 200
	}, "Alertmanager at %s never became ready:\n%s", addr, p.Output())
	return am
}

// SMTPAvailable reports why aiosmtpd cannot run here, or nil.
func SMTPAvailable() error {
	out, err := exec.Command("/usr/bin/python3", "-c", "import aiosmtpd").CombinedOutput()
	if err != nil {
		return fmt.Errorf("aiosmtpd (Debian package python3-aiosmtpd): %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// SMTPServer is a running aiosmtpd that prints every message it gets.
type SMTPServer struct {
	Addr string
	Proc *Proc
}

// StartSMTP runs aiosmtpd (-n: no setuid) on a free loopback port.
func StartSMTP(t testing.TB) *SMTPServer {
	t.Helper()
	RequireReference(t, "aiosmtpd", SMTPAvailable())
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	cmd := exec.Command("/usr/bin/python3", "-u", "-m", "aiosmtpd", "-n", "-l", addr)
	p := startCmd(t, cmd, 3*time.Second)
	WaitTCPListening(t, addr, 20*time.Second)
	return &SMTPServer{Addr: addr, Proc: p}
}

// httpGet fetches a loopback URL with a short timeout.
func httpGet(url string) (int, []byte) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b
}
