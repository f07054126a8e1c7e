package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CarbonCacheOptions configures a carbon-cache started by StartCarbonCache.
type CarbonCacheOptions struct {
	// Retentions is storage-schemas.conf's retentions for every metric
	// (default "1s:10m").
	Retentions string
	// Tags turns on ENABLE_TAGS with TAG_HASH_FILENAMES = False; GraphiteURL
	// (graphite-web, which registers each new series in its tag database)
	// is then required.
	Tags        bool
	GraphiteURL string
	// HashFilenames keeps carbon's default TAG_HASH_FILENAMES = True.
	HashFilenames bool
	// DataDir is its whisper folder (default: a new temp folder).
	DataDir string
}

// CarbonCache is a running Debian carbon-cache 1.1.7 on 127.0.0.1.
type CarbonCache struct {
	Addr    string // plaintext line receiver (TCP)
	DataDir string // its whisper folder (LOCAL_DATA_DIR)
	Proc    *Proc
	dir     string
}

// CarbonCacheAvailable reports why carbon-cache cannot run here, or nil.
func CarbonCacheAvailable() error {
	for _, p := range []string{"/usr/bin/python3", "/usr/bin/carbon-cache"} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("carbon-cache (Debian package graphite-carbon): %w", err)
		}
	}
	return nil
}

// StartCarbonCache runs carbon-cache in the foreground with its own
// configuration, data and logs in a temp folder, no rate limits, and waits
// until its line receiver listens. It is stopped when the test ends.
func StartCarbonCache(t testing.TB, o CarbonCacheOptions) *CarbonCache {
	t.Helper()
	RequireReference(t, "carbon-cache", CarbonCacheAvailable())
	if o.Retentions == "" {
		o.Retentions = "1s:10m"
	}
	dir := t.TempDir()
	conf, data := filepath.Join(dir, "conf"), o.DataDir
	if data == "" {
		data = filepath.Join(dir, "data")
	}
	for _, d := range []string{conf, data, filepath.Join(dir, "log")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	port := FreePort(t)
	tags := "ENABLE_TAGS = False\n"
	if o.Tags {
		tags = fmt.Sprintf("ENABLE_TAGS = True\nTAG_HASH_FILENAMES = %s\nGRAPHITE_URL = %s\nTAG_UPDATE_INTERVAL = 1\nTAG_BATCH_SIZE = 1\n",
			map[bool]string{true: "True", false: "False"}[o.HashFilenames], o.GraphiteURL)
	}
	WriteFile(t, conf, "carbon.conf", fmt.Sprintf(`[cache]
STORAGE_DIR = %[1]s/
LOCAL_DATA_DIR = %[2]s/
WHITELISTS_DIR = %[1]s/lists/
CONF_DIR = %[3]s/
LOG_DIR = %[1]s/log/
PID_DIR = %[1]s/
ENABLE_LOGROTATION = False
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = %[4]d
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = 0
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = 0
LOG_UPDATES = False
LOG_CREATES = True
CARBON_METRIC_PREFIX = carbonself
CARBON_METRIC_INTERVAL = 0
%[5]s`, dir, data, conf, port, tags))
	WriteFile(t, conf, "storage-schemas.conf", "[all]\npattern = .*\nretentions = "+o.Retentions+"\n")
	WriteFile(t, conf, "storage-aggregation.conf", "[default]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n")
	p := Start(t, "/usr/bin/python3", "/usr/bin/carbon-cache", "--config="+filepath.Join(conf, "carbon.conf"),
		"--pidfile="+filepath.Join(dir, "carbon.pid"), "--logdir="+filepath.Join(dir, "log"), "--nodaemon", "start")
	c := &CarbonCache{Addr: fmt.Sprintf("127.0.0.1:%d", port), DataDir: data, Proc: p, dir: dir}
	WaitTCPListening(t, c.Addr, 60*time.Second)
	return c
}

// Log returns carbon-cache's logs (console and creates).
func (c *CarbonCache) Log() string {
	out := c.Proc.Output()
	for _, f := range []string{"console.log", "creates.log", "listener.log"} {
		if b, err := os.ReadFile(filepath.Join(c.dir, "log", f)); err == nil {
			out += "\n--- " + f + "\n" + string(b)
		}
	}
	return out
}
