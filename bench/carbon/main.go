// Command carbon-bench measures carbon plaintext throughput through a
// forwarding hop on 127.0.0.1: C TCP connections send N lines as fast as
// they can to the hop, which passes them to a counting TCP sink; the figure
// is lines per second from the first byte sent to the last line received.
// Hops measured side by side: the project's hekad (DreamcatcherCarbonInput →
// heka.statmetric → DreamcatcherCarbonOutput) and, when installed, Debian's
// carbon-c-relay (the reference relay). Run it through bench/carbon.sh.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	hekad := flag.String("hekad", "bin/hekad", "the project's hekad binary")
	lines := flag.Int("lines", 2_000_000, "lines to send")
	conns := flag.Int("conns", 4, "sending TCP connections")
	names := flag.Int("names", 10_000, "distinct metric names")
	timeout := flag.Duration("timeout", 120*time.Second, "give up after")
	cpuprof := flag.String("cpuprofile", "", "write hekad's CPU profile here")
	flag.Parse()
	if abs, err := filepath.Abs(*hekad); err == nil {
		*hekad = abs
	}
	if *cpuprof != "" {
		if abs, err := filepath.Abs(*cpuprof); err == nil {
			*cpuprof = abs
		}
	}
	if err := run(*hekad, *lines, *conns, *names, *timeout, *cpuprof); err != nil {
		fmt.Fprintln(os.Stderr, "carbon-bench:", err)
		os.Exit(1)
	}
}

func run(hekad string, n, conns, names int, timeout time.Duration, cpuprof string) error {
	dir, err := os.MkdirTemp("", "carbon-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	payloads := makePayloads(n, conns, names)
	fmt.Printf("%d lines (%d distinct names, %.1f MB) over %d TCP connections\n",
		n, names, float64(totalLen(payloads))/1e6, conns)
	fmt.Printf("%-52s %12s %10s\n", "hop", "lines/s", "received")

	// hekad: carbon input → carbon output.
	{
		sink, err := newSink()
		if err != nil {
			return err
		}
		in := freeAddr()
		cfg := filepath.Join(dir, "hekad.toml")
		conf := fmt.Sprintf(`[hekad]
base_dir = %q
cpuprof = %q
[DreamcatcherCarbonInput]
address = %q
udp = false
self_metrics = ""
[DreamcatcherCarbonOutput]
address = %q
buffer_bytes = 1073741824
self_metrics = ""
`, filepath.Join(dir, "base"), cpuprof, in, sink.addr())
		if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
			return err
		}
		p, err := start(dir, hekad, "-config", cfg)
		if err != nil {
			return err
		}
		res, err := measure(in, sink, payloads, n, timeout)
		p.stop()
		sink.close()
		if err != nil {
			return fmt.Errorf("hekad: %w\n%s", err, p.out.String())
		}
		report("hekad DreamcatcherCarbonInput → DreamcatcherCarbonOutput", res, n)
	}

	// carbon-c-relay, the reference.
	if relay, err := exec.LookPath("carbon-c-relay"); err == nil {
		sink, err := newSink()
		if err != nil {
			return err
		}
		in := freeAddr()
		cfg := filepath.Join(dir, "relay.conf")
		conf := fmt.Sprintf("listen\n  type linemode\n    %s proto tcp\n  ;\ncluster sink\n  forward\n    %s\n  ;\nmatch * send to sink stop;\n", in, sink.addr())
		if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
			return err
		}
		// A queue large enough that a burst is not dropped, as the hekad
		// side has a buffer large enough.
		p, err := start(dir, relay, "-f", cfg, "-w", "2", "-s", "-q", fmt.Sprint(n))
		if err != nil {
			return err
		}
		res, err := measure(in, sink, payloads, n, timeout)
		p.stop()
		sink.close()
		if err != nil {
			return fmt.Errorf("carbon-c-relay: %w\n%s", err, p.out.String())
		}
		report("carbon-c-relay 3.7 (-w 2, forward)", res, n)
	} else {
		fmt.Println("carbon-c-relay not installed: reference skipped")
	}
	return nil
}

type result struct {
	took     time.Duration
	received int64
}

func report(name string, r result, n int) {
	fmt.Printf("%-52s %12.0f %9.1f%%\n", name, float64(r.received)/r.took.Seconds(), 100*float64(r.received)/float64(n))
}

func makePayloads(n, conns, names int) [][]byte {
	ts := time.Now().Unix()
	out := make([][]byte, conns)
	for c := 0; c < conns; c++ {
		var b bytes.Buffer
		for i := c; i < n; i += conns {
			fmt.Fprintf(&b, "bench.carbon.m%06d %d.5 %d\n", i%names, i%1000, ts)
		}
		out[c] = b.Bytes()
	}
	return out
}

func totalLen(p [][]byte) int {
	t := 0
	for _, b := range p {
		t += len(b)
	}
	return t
}

func measure(addr string, s *sink, payloads [][]byte, n int, timeout time.Duration) (result, error) {
	if err := waitListening(addr, 20*time.Second); err != nil {
		return result{}, err
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(payloads))
	for _, p := range payloads {
		wg.Add(1)
		go func(p []byte) {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_ = c.SetWriteDeadline(time.Now().Add(timeout))
			if _, err := c.Write(p); err != nil {
				errs <- err
			}
		}(p)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return result{}, err
	}
	deadline := start.Add(timeout)
	for s.count.Load() < int64(n) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	last := s.lastAt()
	if last.IsZero() {
		return result{}, errors.New("nothing received")
	}
	return result{took: last.Sub(start), received: s.count.Load()}, nil
}

type sink struct {
	l     net.Listener
	count atomic.Int64
	last  atomic.Int64 // unix nanos of the last line
}

func newSink() (*sink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{l: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 256*1024)
				for {
					k, err := c.Read(buf)
					if k > 0 {
						s.count.Add(int64(bytes.Count(buf[:k], []byte{'\n'})))
						s.last.Store(time.Now().UnixNano())
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return s, nil
}

func (s *sink) addr() string { return s.l.Addr().String() }
func (s *sink) close()       { s.l.Close() }
func (s *sink) lastAt() time.Time {
	if v := s.last.Load(); v != 0 {
		return time.Unix(0, v)
	}
	return time.Time{}
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitListening(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on %s", addr)
}

type proc struct {
	cmd  *exec.Cmd
	out  *lockedBuf
	done chan struct{}
}

type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func start(dir, bin string, args ...string) (*proc, error) {
	p := &proc{cmd: exec.Command(bin, args...), out: &lockedBuf{}, done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
