package statsd_test

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// TestStopKeepsQueuedTCPConnections: lines from TCP clients that connected,
// sent and closed just before SIGTERM all count in the final flush, also
// those whose connections were still in the kernel's accept queue (closing
// the listener at once would reset them).
func TestStopKeepsQueuedTCPConnections(t *testing.T) {
	h := startHekad(t, "flush_interval = 3", "")
	testutil.Eventually(t, 20*time.Second, func() bool {
		_, order := flushes(t, h.out)
		return len(order) > 0
	}, "no regular flush in %s", h.out)
	// Clients keep connecting while hekad stops: every client whose line
	// was written and whose connection closed cleanly counts as sent.
	const clients = 400
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range clients / 4 {
				if sendOneLine(h.tcp, "queued.tcp:1|c\n") {
					sent.Add(1)
				}
			}
		}()
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return sent.Load() >= 20 }, "no TCP client got through")
	if code := h.p.Stop(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d", code)
	}
	wg.Wait()
	all, _ := flushes(t, h.out)
	total := 0
	for _, f := range all {
		n, _ := strconv.Atoi(f["stats_counts.queued.tcp"])
		total += n
	}
	if int64(total) != sent.Load() {
		t.Fatalf("stats_counts.queued.tcp summed over the flushes = %d, want %d, the lines clients sent (lines sent before the stop were lost)", total, sent.Load())
	}
}

// sendOneLine connects, writes line and closes; false if any step failed
// (refused once the listener is gone).
func sendOneLine(addr, line string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.SetDeadline(time.Now().Add(time.Second))
	_, err = c.Write([]byte(line))
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return err == nil
}
