package testutil

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// GraphiteWebOptions configures a graphite-web started by StartGraphiteWeb.
type GraphiteWebOptions struct {
	// WhisperDir is the folder graphite-web reads (created if missing; an
	// empty folder when only ClusterServers should answer).
	WhisperDir string
	// ClusterServers are "host:port" members graphite-web federates
	// (CLUSTER_SERVERS): it asks them /metrics/find and /render with
	// format=pickle.
	ClusterServers []string
	// TimeZone is graphite-web's TIME_ZONE (default "UTC").
	TimeZone string
	// Workers is the gunicorn worker count (default 2).
	Workers int
	// Extra is appended verbatim to the settings module.
	Extra string
}

// GraphiteWeb is a running Debian graphite-web (gunicorn on 127.0.0.1).
type GraphiteWeb struct {
	URL  string
	Proc *Proc
	Dir  string
}

// GraphiteWebAvailable reports why graphite-web cannot run here, or nil.
func GraphiteWebAvailable() error {
	for _, p := range []string{"/usr/bin/python3", "/usr/bin/gunicorn", "/usr/bin/django-admin",
		"/usr/lib/python3/dist-packages/graphite/settings.py"} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("graphite-web (Debian packages graphite-web, gunicorn): %w", err)
		}
	}
	return nil
}

func pyList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// StartGraphiteWeb runs graphite-web 1.1 under gunicorn on a free loopback
// port with its own settings, database and logs in a temp folder, and
// waits until it answers. It is stopped when the test ends.
func StartGraphiteWeb(t testing.TB, o GraphiteWebOptions) *GraphiteWeb {
	t.Helper()
	RequireReference(t, "graphite-web", GraphiteWebAvailable())
	dir := t.TempDir()
	if o.WhisperDir == "" {
		o.WhisperDir = filepath.Join(dir, "whisper")
	}
	if err := os.MkdirAll(o.WhisperDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if o.TimeZone == "" {
		o.TimeZone = "UTC"
	}
	if o.Workers == 0 {
		o.Workers = 2
	}
	for _, d := range []string{"storage", "log", "static", "conf"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	settings := fmt.Sprintf(`SECRET_KEY = "dreamcatcher-test"
ALLOWED_HOSTS = ["*"]
TIME_ZONE = %q
GRAPHITE_ROOT = "/usr/share/graphite-web"
STATIC_ROOT = %q
STORAGE_DIR = %q
CONF_DIR = %q
LOG_DIR = %q
INDEX_FILE = %q
WHISPER_DIR = %q
STANDARD_DIRS = [WHISPER_DIR]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": %q}}
CARBONLINK_HOSTS = []
CLUSTER_SERVERS = %s
DEFAULT_CACHE_DURATION = 0
FIND_CACHE_DURATION = 0
USE_WORKER_POOL = False
%s
`, o.TimeZone, filepath.Join(dir, "static"), filepath.Join(dir, "storage"), filepath.Join(dir, "conf"),
		filepath.Join(dir, "log"), filepath.Join(dir, "storage", "index"), o.WhisperDir,
		filepath.Join(dir, "storage", "graphite.db"), pyList(o.ClusterServers), o.Extra)
	WriteFile(t, dir, "dreamcatcher_graphite_settings.py", settings)
	env := append(os.Environ(),
		"PYTHONPATH="+dir,
		"DJANGO_SETTINGS_MODULE=graphite.settings",
		"GRAPHITE_SETTINGS_MODULE=dreamcatcher_graphite_settings",
	)
	migrate := exec.Command("/usr/bin/python3", "/usr/bin/django-admin", "migrate", "--noinput")
	migrate.Env = env
	migrate.Dir = dir
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("graphite-web migrate: %v\n%s", err, out)
	}
	port := FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p := startEnv(t, env, dir, "/usr/bin/python3", "/usr/bin/gunicorn", "--bind", addr,
		"--workers", fmt.Sprint(o.Workers), "--timeout", "120", "graphite.wsgi:application")
	g := &GraphiteWeb{URL: "http://" + addr, Proc: p, Dir: dir}
	client := &http.Client{Timeout: 5 * time.Second}
	Eventually(t, 60*time.Second, func() bool {
		resp, err := client.Get(g.URL + "/version")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, "graphite-web did not answer on %s", addr)
	return g
}

// startEnv is Start with an environment and working folder; at cleanup the
// process is interrupted first (graphite-web stops its workers) and killed
// after 10 s.
func startEnv(t testing.TB, env []string, dir, bin string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Dir = env, dir
	return startCmd(t, cmd, 10*time.Second)
}
