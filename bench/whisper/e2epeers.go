package main

// The peers of the statsd end-to-end mode: go-carbon, VictoriaMetrics and
// Dreamcatcher's own carbon input, each fed over carbon plaintext the
// points the statsd stage would have produced from the same load (what a
// statsd aggregator in front of them would send), so the reader sees what
// the statsd stage costs on top of storing.

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// e2ePeerResult is one peer's run at one statsd rate.
type e2ePeerResult struct {
	sent, persisted int64
	cpu, rss        float64
}

// e2ePeer starts peer (any -targets program; dreamcatcher: its carbon input) in
// a fresh folder, creates every series with one aggregated flush, then
// for the window sends a flush every 10 s: per statsd name, the counter's
// rate (stats.NAME) and count (stats_counts.NAME) that rate lines/s
// spread over the names make, as Etsy statsd's Graphite backend sends
// them. It waits until the peer's own count says all are stored.
func e2ePeer(work, peer string, rate int) e2ePeerResult {
	dir := filepath.Join(work, fmt.Sprintf("e2e-peer-%s-%d", peer, rate))
	check(os.MkdirAll(dir, 0o755))
	defer os.RemoveAll(dir)
	tg := startTarget(dir, peer)
	defer tg.stop()
	count := float64(rate) * 10 / float64(*e2eNames) // per name per 10 s flush
	flush := func(ts int64) int64 { return sendAggregated(tg.addr, count, ts) }
	now := time.Now().Unix()
	now -= now % 10
	base, _ := tg.counts()
	want := base + flush(now-10) // warm-up: creates the series
	waitPersisted(tg, want, *maxWait)
	tg.sampler.reset()
	var r e2ePeerResult
	start := time.Now()
	for k := 0; ; k++ {
		due := start.Add(time.Duration(k) * 10 * time.Second)
		if !due.Before(start.Add(*e2eWindow)) {
			break
		}
		time.Sleep(time.Until(due))
		n := flush(now + 10*int64(k))
		r.sent += n
		want += n
	}
	time.Sleep(time.Until(start.Add(*e2eWindow)))
	r.cpu, r.rss = tg.sampler.result()
	waitPersisted(tg, want, *maxWait)
	p, _ := tg.counts()
	r.persisted = min(p, want) - (want - r.sent)
	return r
}

// sendAggregated sends one statsd flush's counter points for every e2e
// name at ts over one TCP connection and returns how many.
func sendAggregated(addr string, count float64, ts int64) int64 {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	check(err)
	defer conn.Close()
	_ = conn.SetWriteDeadline(time.Now().Add(*maxWait))
	w := bufio.NewWriterSize(conn, 256*1024)
	var b []byte
	point := func(prefix string, i int, v float64) {
		b = fmt.Appendf(b[:0], "%s.e2e.g%02d.n%05d ", prefix, i%100, i)
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
		b = append(b, ' ')
		b = strconv.AppendInt(b, ts, 10)
		b = append(b, '\n')
		_, err := w.Write(b)
		check(err)
	}
	for i := 0; i < *e2eNames; i++ {
		point("stats", i, count/10)
		point("stats_counts", i, count)
	}
	check(w.Flush())
	return 2 * int64(*e2eNames)
}
