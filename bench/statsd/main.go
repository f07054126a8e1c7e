// Command statsd-bench measures how many statsd lines per second a receiver
// takes in with at most 1 % loss over a window on loopback, side by side for
// Dreamcatcher's DreamcatcherStatsdInput, Heka's stock StatsdInput +
// StatAccumInput (both in the project's hekad) and Etsy statsd 0.9.0.
//
// "Received" comes from each receiver's own counters: Dreamcatcher's
// statsd.metrics_received, the sum of the stock StatAccumInput's
// stats.counters.*.count, and Etsy's statsd.metrics_received from its
// Graphite output. The load is counters ("name:1|c"), sent from several UDP
// sockets on 127.0.0.1, at rates raised until the loss exceeds the limit
// (bounded steps, each one window long). CPU is the receiver's user+system
// time over the window, in cores.
//
// The sender shares the machine with the receiver, so it is made cheap:
// sendmmsg(2) batches and UDP segmentation offload (bench/internal/udpload),
// with which the kernel cuts a buffer of equal datagrams into separate
// datagrams before the receiving socket. Every receiver still gets one
// datagram at a time. -gso=false sends one datagram per buffer instead.
//
// The sender still takes CPU, more of it for longer lines. To measure what
// the receiver alone can take, give it its own CPUs and the bench the
// others, so the receiver runs out of CPU first:
//
//	taskset -c 0 go run ./bench/statsd -receiver-cpus 1 ...
//
//	go run ./bench/statsd -duration 10s
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/bench/internal/udpload"
)

func main() {
	var (
		duration = flag.Duration("duration", 10*time.Second, "length of each measuring window")
		targets  = flag.String("targets", "dreamcatcher,heka,etsy", "receivers to measure")
		linesF   = flag.String("lines", "20,1", "lines per datagram, comma-separated")
		namesF   = flag.String("names", "1000,100000", "distinct names, comma-separated")
		hekad    = flag.String("hekad", "bin/hekad", "the project's hekad binary")
		etsyJS   = flag.String("etsy", ".build/etsy-statsd/node_modules/statsd/stats.js", "Etsy statsd 0.9.0's stats.js")
		senders  = flag.Int("senders", 4, "sending UDP sockets")
		maxLoss  = flag.Float64("max-loss", 0.01, "highest acceptable loss")
		steps    = flag.Int("steps", 7, "at most this many windows per receiver and load shape")
		start20  = flag.Float64("start20", 1e6, "first rate (lines/s) tried with many lines per datagram")
		start1   = flag.Float64("start1", 150e3, "first rate (lines/s) tried with one line per datagram")
		readers  = flag.Int("readers", 0, "readers option of DreamcatcherStatsdInput (0: its default)")
		cpuProf  = flag.String("cpuprofile", "", "folder where each hekad run writes a CPU profile (hekad's cpuprof), named after the target and the start time")
		gso      = flag.Bool("gso", true, "send with UDP segmentation offload (the receiver still gets one datagram at a time)")
		tagsF    = flag.String("tags", "env:prod,dc:eu-1,host:web-042", "DogStatsD tags sent after each line by the tagged runs (see -tagged)")
		taggedF  = flag.String("tagged", "no", "which runs send -tags: no, yes, or both (an untagged then a tagged run, alternating)")
		repeat   = flag.Int("repeat", 1, "measure each receiver and load shape this many times (with -tagged both, alternating untagged and tagged)")
		cpus     = flag.String("receiver-cpus", "", "run the receiver on these CPUs only (taskset -c list; \"\": anywhere); run the bench itself under taskset on the others so the receiver, not the sender, is what runs out of CPU")
	)
	flag.Parse()
	lines, err := ints(*linesF)
	check(err)
	names, err := ints(*namesF)
	check(err)
	kinds, err := tagKinds(*taggedF, *tagsF)
	check(err)
	work, err := os.MkdirTemp("", "statsd-bench-")
	check(err)
	defer os.RemoveAll(work)

	fmt.Printf("# statsd input throughput: highest rate with loss <= %.1f%% over %s, %d sender sockets, %s\n",
		*maxLoss*100, *duration, *senders, time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("%-13s %-8s %6s %7s %14s %14s %7s %9s %12s\n", "receiver", "tags", "lines", "names",
		"offered/s", "received/s", "loss", "cpu cores", "cores/M l/s")
	b := bench{work: work, hekad: *hekad, etsyJS: *etsyJS, readers: *readers, cpuProf: *cpuProf, cpus: *cpus, steps: *steps,
		maxLoss: *maxLoss, senders: *senders, window: *duration, gso: *gso}
	if *cpus != "" {
		fmt.Printf("# receiver on CPUs %s (taskset -c)\n", *cpus)
	}
	for _, target := range strings.Split(*targets, ",") {
		for _, l := range lines {
			for _, n := range names {
				for rep := 0; rep < *repeat; rep++ {
					for _, k := range kinds {
						rate := *start20
						if l == 1 {
							rate = *start1
						}
						sh := shape{lines: l, names: n, tags: k.tags}
						best, err := b.highestRate(target, sh, rate)
						if err != nil {
							fmt.Fprintf(os.Stderr, "%s: %v\n", target, err)
							os.Exit(1)
						}
						if best == nil {
							fmt.Printf("%-13s %-8s %6d %7d %14s %14s %7s %9s %12s\n", target, k.label, l, n,
								"-", "none <= limit", "-", "-", "-")
							continue
						}
						fmt.Printf("%-13s %-8s %6d %7d %14.0f %14.0f %6.2f%% %9.2f %12.3f\n", target, k.label, l, n,
							best.offered, best.received, best.loss*100, best.cpu, best.cpu/(best.received/1e6))
					}
				}
			}
		}
	}
}

// shape is the load of one measurement: lines per datagram, distinct
// names, and the DogStatsD tags after each line ("" for none).
type shape struct {
	lines, names int
	tags         string
}

// tagKind is one kind of run: its label and the tags its lines carry.
type tagKind struct{ label, tags string }

// tagKinds returns the kinds of run -tagged asks for, in the order they
// alternate.
func tagKinds(tagged, tags string) ([]tagKind, error) {
	if strings.ContainsAny(tags, "|\n") {
		return nil, fmt.Errorf("-tags %q: no '|' or newline in a DogStatsD tag list", tags)
	}
	untagged, withTags := tagKind{"untagged", ""}, tagKind{"tagged", tags}
	switch tagged {
	case "no":
		return []tagKind{untagged}, nil
	case "yes":
		return []tagKind{withTags}, nil
	case "both":
		return []tagKind{untagged, withTags}, nil
	}
	return nil, fmt.Errorf("-tagged %q: want no, yes or both", tagged)
}

// bench holds what every measurement of a run shares.
type bench struct {
	work, hekad, etsyJS string
	readers             int    // DreamcatcherStatsdInput's readers (0: its default)
	cpuProf             string // folder for hekad's CPU profiles ("": none)
	cpus                string // taskset -c list for the receiver ("": no pinning)
	steps               int    // windows per search
	maxLoss             float64
	senders             int
	window              time.Duration
	gso                 bool
}

// highestRate starts a fresh receiver and searches, in at most b.steps
// windows from rate, for the highest rate it receives with at most
// b.maxLoss lost; it returns the best window, nil when none was within the
// limit.
func (b bench) highestRate(target string, sh shape, rate float64) (*result, error) {
	r, err := b.start(target)
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	defer r.stop()
	var best *result
	lo, hi := 0.0, 0.0
	for s := 0; s < b.steps; s++ {
		res := measure(r, sh, rate, b.senders, b.window, b.gso)
		fmt.Fprintf(os.Stderr, "  %s lines=%d names=%d tags=%q offered %.0f/s: received %.0f/s, loss %.2f%%, cpu %.2f\n",
			target, sh.lines, sh.names, sh.tags, res.offered, res.received, res.loss*100, res.cpu)
		if res.loss <= b.maxLoss {
			if best == nil || res.received > best.received {
				w := res
				best = &w
			}
			lo = rate
			if hi == 0 {
				rate *= 1.6
			} else {
				rate = (lo + hi) / 2
			}
		} else {
			hi = rate
			if lo == 0 {
				rate /= 1.6
			} else {
				rate = (lo + hi) / 2
			}
		}
	}
	return best, nil
}

type result struct {
	offered, received, loss, cpu float64
}

// receiver is one running receiver process and its received-lines counter.
type receiver struct {
	addr  string
	cmd   *exec.Cmd
	total atomic.Int64 // lines received so far, from the receiver's counters
	// behind is true while the output file has bytes not parsed yet.
	behind atomic.Bool
	done   chan struct{}
	close  func()
}

func (r *receiver) stop() {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	if r.close != nil {
		r.close()
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs a fresh receiver of target (on the CPUs b.cpus, when not "")
// and returns once it counts a probe line.
func (b bench) start(target string) (*receiver, error) {
	dir, err := os.MkdirTemp(b.work, target+"-")
	if err != nil {
		return nil, err
	}
	port := freePort()
	r := &receiver{addr: fmt.Sprintf("127.0.0.1:%d", port), done: make(chan struct{})}
	var match matcher
	switch target {
	case "dreamcatcher", "heka":
		out := filepath.Join(dir, "out.txt")
		input := fmt.Sprintf("[DreamcatcherStatsdInput]\naddress = %q\nflush_interval = 1\n", r.addr)
		if b.readers > 0 {
			input += fmt.Sprintf("readers = %d\n", b.readers)
		}
		match = receivedMatcher
		if target == "heka" {
			input = fmt.Sprintf("[StatsdInput]\naddress = %q\n[StatAccumInput]\nticker_interval = 1\nemit_in_fields = false\n", r.addr)
			match = matcher{prefix: []byte("stats.counters.bench."),
				name: func(name []byte) bool { return bytes.HasSuffix(name, []byte(".count")) }}
		}
		cfg := filepath.Join(dir, "hekad.toml")
		global := fmt.Sprintf("base_dir = %q\n", filepath.Join(dir, "base"))
		if b.cpuProf != "" {
			prof, err := filepath.Abs(filepath.Join(b.cpuProf, fmt.Sprintf("%s-%d.prof", target, time.Now().UnixNano())))
			if err != nil {
				return nil, fmt.Errorf("-cpuprofile %q: %w", b.cpuProf, err)
			}
			global += fmt.Sprintf("cpuprof = %q\n", prof)
		}
		err := os.WriteFile(cfg, []byte(fmt.Sprintf(`[hekad]
%s%s
[PayloadEncoder]
append_newlines = false
[FileOutput]
message_matcher = "Type == 'heka.statmetric'"
path = %q
encoder = "PayloadEncoder"
`, global, input, out)), 0o644)
		if err != nil {
			return nil, err
		}
		r.cmd = exec.Command(b.hekad, "-config", cfg)
		ctx, cancel := context.WithCancel(context.Background())
		r.close = cancel
		go tailFile(ctx, out, match, &r.total, &r.behind)
	case "etsy":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		r.close = func() { l.Close() }
		match = receivedMatcher
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					_ = c.SetReadDeadline(time.Now().Add(time.Minute))
					readLines(c, match, &r.total)
				}()
			}
		}()
		cfg := filepath.Join(dir, "etsy.js")
		err = os.WriteFile(cfg, []byte(fmt.Sprintf(`{address: "127.0.0.1", port: %d, mgmt_address: "127.0.0.1",
mgmt_port: %d, flushInterval: 1000, backends: ["./backends/graphite"], graphiteHost: "127.0.0.1", graphitePort: %d}`,
			port, freePort(), l.Addr().(*net.TCPAddr).Port)), 0o644)
		if err != nil {
			return nil, err
		}
		r.cmd = exec.Command("node", b.etsyJS, cfg)
	default:
		return nil, fmt.Errorf("unknown receiver %q (dreamcatcher, heka, etsy)", target)
	}
	if b.cpus != "" {
		// taskset execs the receiver, so the process (and its pid, whose
		// CPU time is read) stays the receiver's.
		r.cmd = exec.Command("taskset", append([]string{"-c", b.cpus, r.cmd.Path}, r.cmd.Args[1:]...)...)
	}
	logf, err := os.Create(filepath.Join(dir, "log.txt"))
	if err != nil {
		return nil, err
	}
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	// The receiver dies with the bench, even when the bench is killed.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = r.cmd.Wait(); logf.Close(); close(r.done) }()
	// Ready when a probe line is counted.
	deadline := time.Now().Add(30 * time.Second)
	c, err := net.Dial("udp", r.addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	for r.total.Load() == 0 {
		if time.Now().After(deadline) {
			r.stop()
			b, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("no probe counted after 30 s; log:\n%s", b)
		}
		_, _ = c.Write([]byte("bench.probe:1|c"))
		time.Sleep(200 * time.Millisecond)
	}
	return r, nil
}

// matcher picks the lines whose values are summed: a cheap prefix test
// first (a flush of 100,000 names writes 200,000 lines a second, which must
// be skipped faster than they come), then a test of the whole name.
type matcher struct {
	prefix []byte
	name   func(name []byte) bool // nil: every name with the prefix
}

// receivedMatcher counts the receiver's own statsd.metrics_received.
var receivedMatcher = matcher{prefix: []byte("stats_counts.statsd.metrics_received ")}

// tailFile follows a FileOutput file and adds the values of matching lines.
func tailFile(ctx context.Context, path string, match matcher, total *atomic.Int64, behind *atomic.Bool) {
	var f *os.File
	for f == nil {
		f, _ = os.Open(path)
		select {
		case <-ctx.Done():
			if f != nil {
				f.Close()
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer f.Close()
	rd := bufio.NewReaderSize(f, 1<<20)
	var partial []byte
	for {
		line, err := rd.ReadSlice('\n')
		if err == io.EOF || err == bufio.ErrBufferFull {
			partial = append(partial, line...)
			if err == bufio.ErrBufferFull {
				continue
			}
			behind.Store(false)
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		behind.Store(true)
		if len(partial) > 0 {
			line = append(partial, line...)
			partial = partial[:0]
		}
		addLine(line, match, total)
	}
}

func readLines(rd io.Reader, match matcher, total *atomic.Int64) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		addLine(sc.Bytes(), match, total)
	}
}

// addLine adds the value of a "name value timestamp" line that matches.
func addLine(line []byte, match matcher, total *atomic.Int64) {
	if !bytes.HasPrefix(line, match.prefix) {
		return
	}
	f := bytes.Fields(line)
	if len(f) != 3 || (match.name != nil && !match.name(f[0])) {
		return
	}
	v, err := strconv.ParseFloat(string(f[1]), 64)
	if err == nil {
		total.Add(int64(v))
	}
}

// waitQuiet waits until the received total has not changed for 2.5 s and
// the receiver's output is parsed to its end (bounded at 60 s), and
// returns the total.
func waitQuiet(r *receiver) int64 {
	last, since := r.total.Load(), time.Now()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if v := r.total.Load(); v != last || r.behind.Load() {
			last, since = v, time.Now()
		} else if time.Since(since) > 2500*time.Millisecond {
			break
		}
	}
	return last
}

func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	s = s[strings.LastIndexByte(s, ')')+2:]
	f := strings.Fields(s)
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

// datagrams returns the datagrams of a load shape, cycling through its
// names: counters "bench.n000042:1|c", with "|#" + tags after each when
// the shape has tags.
func datagrams(sh shape) [][]byte {
	suffix := ""
	if sh.tags != "" {
		suffix = "|#" + sh.tags
	}
	var dgrams [][]byte
	n := 0
	for n < sh.names || len(dgrams) == 0 {
		var b strings.Builder
		for i := 0; i < sh.lines; i++ {
			fmt.Fprintf(&b, "bench.n%06d:1|c%s\n", n%sh.names, suffix)
			n++
		}
		dgrams = append(dgrams, []byte(b.String()))
	}
	return dgrams
}

// measure offers rate lines/s of shape sh for d and returns what the
// receiver counted.
func measure(r *receiver, sh shape, rate float64, senders int, d time.Duration, gso bool) result {
	lines := sh.lines
	dgrams := datagrams(sh) // pre-built
	// Every datagram has the same size (fixed-width names), so they lie
	// back to back in flat and a run of them is one GSO buffer.
	size := len(dgrams[0])
	flat := make([]byte, 0, size*len(dgrams))
	for _, d := range dgrams {
		if len(d) != size {
			check(fmt.Errorf("datagrams of %d and %d bytes: the sender needs one size", size, len(d)))
		}
		flat = append(flat, d...)
	}
	before := waitQuiet(r)
	ticks0 := cpuTicks(r.cmd.Process.Pid)
	perSender := rate / float64(lines) / float64(senders)
	var sent atomic.Int64
	var wg sync.WaitGroup
	begin := time.Now()
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			segment := 0
			if gso {
				segment = size
			}
			bs, err := udpload.Dial(r.addr, sendBatch, segment)
			if err != nil {
				fmt.Fprintln(os.Stderr, "statsd-bench:", err)
				return
			}
			defer bs.Close()
			// perBuf datagrams per buffer handed to the kernel (one
			// without GSO), sendBatch buffers per system call.
			perBuf := 1
			if gso {
				perBuf = min(udpload.MaxSegments, udpload.MaxGSOBytes/size)
			}
			i := s * len(dgrams) / senders
			var count int64
			batch := make([][]byte, 0, sendBatch)
			for {
				el := time.Since(begin)
				if el >= d {
					break
				}
				due := int64(el.Seconds() * perSender)
				for count < due {
					batch = batch[:0]
					queued := int64(0)
					for len(batch) < sendBatch && count+queued < due {
						at := (i + int(queued)) % len(dgrams)
						k := min(int64(perBuf), due-count-queued, int64(len(dgrams)-at))
						batch = append(batch, flat[at*size:(at+int(k))*size])
						queued += k
					}
					n, err := bs.Send(batch)
					count += int64(n)
					i += n
					if err != nil || n == 0 {
						time.Sleep(time.Millisecond) // ECONNREFUSED/ENOBUFS: back off
						break
					}
				}
				time.Sleep(200 * time.Microsecond)
			}
			sent.Add(count * int64(lines))
		}(s)
	}
	wg.Wait()
	elapsed := time.Since(begin).Seconds()
	ticks1 := cpuTicks(r.cmd.Process.Pid)
	after := waitQuiet(r)
	got := float64(after - before)
	res := result{offered: float64(sent.Load()) / elapsed, received: got / elapsed}
	if s := float64(sent.Load()); s > 0 {
		res.loss = 1 - got/s
	}
	res.cpu = float64(ticks1-ticks0) / 100 / elapsed // USER_HZ = 100 on Linux
	return res
}

// sendBatch is the most buffers one sendmmsg(2) call sends.
const sendBatch = 64

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "statsd-bench:", err)
		os.Exit(1)
	}
}
