package main

// The modern peers: go-carbon (whisper files, like Dreamcatcher) and
// VictoriaMetrics (its own storage: the "what a user would pick instead"
// line). Both are built outside the project (docs/performance.md).

import (
	"bufio"
	"fmt"
	"github.com/dreamcatcher-monitoring/dreamcatcher/bench/internal/vmstat"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// selfSink receives a program's self metrics as carbon plaintext on
// 127.0.0.1 and keeps the sum of every line ending in sumSuffix (a
// per-interval count) and the latest value of the line ending in lastSuffix.
type selfSink struct {
	l                     net.Listener
	sumSuffix, lastSuffix string
	mu                    sync.Mutex
	sum, last             float64
}

func newSelfSink(sumSuffix, lastSuffix string) *selfSink {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	s := &selfSink{l: l, sumSuffix: sumSuffix, lastSuffix: lastSuffix}
	go s.accept()
	return s
}

func (s *selfSink) accept() {
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		go s.read(c)
	}
}

func (s *selfSink) read(c net.Conn) {
	defer c.Close()
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		s.mu.Lock()
		switch {
		case strings.HasSuffix(f[0], s.sumSuffix):
			s.sum += v
		case strings.HasSuffix(f[0], s.lastSuffix):
			s.last = v
		}
		s.mu.Unlock()
	}
}

func (s *selfSink) counts() (int64, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(s.sum), int64(s.last)
}

// startGoCarbon runs go-carbon as a write-path peer: whisper files with the
// bench's schema (average, xFilesFactor 0.5), workers = cores, no update or
// create limit, an unbounded cache with the "max" write strategy; its self
// metrics (1 s) go to a sink of the bench's (persister.committedPoints is a
// per-interval count).
func startGoCarbon(dir string) *target {
	port := freePort()
	sink := newSelfSink(".persister.committedPoints", ".cache.size")
	data := filepath.Join(dir, "data")
	check(os.MkdirAll(data, 0o755))
	schemas := filepath.Join(dir, "schemas.conf")
	check(os.WriteFile(schemas, []byte(fmt.Sprintf("[bench]\npattern = .*\nretentions = %s\n", *retention)), 0o644))
	aggr := filepath.Join(dir, "aggregation.conf")
	check(os.WriteFile(aggr, []byte("[default]\npattern = .*\nxFilesFactor = 0.5\naggregationMethod = average\n"), 0o644))
	logFile := filepath.Join(dir, "go-carbon.log")
	cfg := filepath.Join(dir, "go-carbon.conf")
	check(os.WriteFile(cfg, []byte(fmt.Sprintf(`[common]
user = ""
graph-prefix = "benchgc.agents.{host}"
metric-endpoint = "tcp://%s"
metric-interval = "1s"
max-cpu = %d

[whisper]
data-dir = %q
schemas-file = %q
aggregation-file = %q
workers = %d
max-updates-per-second = 0
max-creates-per-second = 0
sparse-create = false
enabled = true

[cache]
max-size = 0
write-strategy = "max"

[udp]
enabled = false

[tcp]
listen = "127.0.0.1:%d"
enabled = true

[pickle]
enabled = false

[carbonlink]
enabled = false

[grpc]
enabled = false

[tags]
enabled = false

[carbonserver]
enabled = false

[dump]
enabled = false

[pprof]
enabled = false

[[logging]]
logger = ""
file = %q
level = "warn"
`, sink.l.Addr(), runtime.NumCPU(), data, schemas, aggr, *gcWorkers, port, logFile)), 0o644))
	cmd := startCmd(filepath.Join(dir, "go-carbon.out"), *gcBin, "-config", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitListening(addr, logFile)
	t := &target{cmd: cmd, addr: addr, logFile: logFile, sampler: newSampler(cmd.Process.Pid), counts: sink.counts}
	return t
}

// startVM runs VictoriaMetrics single-node with a Graphite plaintext
// listener; "persisted" is its vm_rows_added_to_storage_total (rows in its
// storage, searchable within about a second), polled at most every 250 ms.
func startVM(dir string) *target {
	httpPort, gPort := freePort(), freePort()
	logFile := filepath.Join(dir, "vm.log")
	cmd := startCmd(logFile, *vmBin, "-storageDataPath", filepath.Join(dir, "vm"),
		"-httpListenAddr", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"-graphiteListenAddr", fmt.Sprintf("127.0.0.1:%d", gPort),
		"-retentionPeriod", "1y", "-loggerLevel", "WARN")
	addr := fmt.Sprintf("127.0.0.1:%d", gPort)
	waitListening(addr, logFile)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort)
	var mu sync.Mutex
	var at time.Time
	var rows, pending int64
	counts := func() (int64, int64) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(at) > 250*time.Millisecond {
			rows, pending = vmstat.Counts(metricsURL)
			at = time.Now()
		}
		return rows, pending
	}
	return &target{cmd: cmd, addr: addr, logFile: logFile, sampler: newSampler(cmd.Process.Pid), counts: counts}
}
