package statsd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/statsd/aggregate"
	"github.com/mozilla-services/heka/pipeline"
)

// acceptTCP serves newline-framed statsd lines on l, one goroutine per
// connection, at most max_tcp_connections at a time.
func (in *Input) acceptTCP(ir pipeline.InputRunner, l net.Listener, disp *aggregate.Dispatcher) {
	defer in.wg.Done()
	var lastErr time.Time
	for {
		c, err := l.Accept()
		if err != nil {
			if isClosed(err) {
				return
			}
			if in.stopping() {
				// closeListeners' deadline: the connections the kernel
				// had queued are served, the listener can go.
				l.Close()
				return
			}
			if time.Since(lastErr) > time.Minute {
				ir.LogError(fmt.Errorf("accepting on tcp %s: %w", l.Addr(), err))
				lastErr = time.Now()
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		in.connMu.Lock()
		if len(in.conns) >= in.cfg.MaxTCPConns {
			in.connMu.Unlock()
			c.Close()
			if time.Since(lastErr) > time.Minute {
				ir.LogError(fmt.Errorf("tcp %s: refusing a connection from %s: max_tcp_connections (%d) reached",
					l.Addr(), c.RemoteAddr(), in.cfg.MaxTCPConns))
				lastErr = time.Now()
			}
			continue
		}
		in.conns[c] = struct{}{}
		if in.stopping() {
			// Accepted while stopping (it was queued before Stop): take
			// what it already sent, then close.
			_ = c.SetReadDeadline(time.Now().Add(stopGrace))
		}
		in.connMu.Unlock()
		in.wg.Add(1)
		go in.serveTCP(c, disp)
	}
}

// serveTCP hands the connection's complete lines to the dispatcher, one chunk of
// lines per read (Etsy counts each such chunk as a packet). A line longer
// than max_datagram_size is dropped and counted as a bad line. What remains
// without a final newline when the peer closes is processed too.
func (in *Input) serveTCP(c net.Conn, disp *aggregate.Dispatcher) {
	defer in.wg.Done()
	w := disp.NewWriter()
	defer w.Flush()
	defer func() {
		in.connMu.Lock()
		delete(in.conns, c)
		in.connMu.Unlock()
		c.Close()
	}()
	idle := time.Duration(in.cfg.TCPIdleTimeout) * time.Second
	buf := make([]byte, in.cfg.MaxDatagramSize)
	have := 0
	skipping := false // inside an over-long line
	var drain stopDrain
	for {
		if idle > 0 {
			select {
			case <-in.stop:
				// closeListeners set a short deadline; keep it.
			default:
				_ = c.SetReadDeadline(time.Now().Add(idle))
			}
		}
		n, err := c.Read(buf[have:])
		have += n
		if n > 0 {
			drain.retried = false
		}
		if n > 0 {
			chunk := buf[:have]
			if skipping {
				i := bytes.IndexByte(chunk, '\n')
				if i < 0 {
					have = 0
					continue
				}
				skipping = false
				copy(buf, chunk[i+1:])
				have -= i + 1
				chunk = buf[:have]
			}
			if last := bytes.LastIndexByte(chunk, '\n'); last >= 0 {
				w.AddPacket(chunk[:last+1])
				w.Flush()
				have = copy(buf, chunk[last+1:])
			} else if have == len(buf) {
				disp.AddBad(1)
				skipping = true
				have = 0
			}
		}
		if err != nil && n == 0 && in.drainAgain(c, err, &drain) {
			continue
		}
		if err != nil {
			if have > 0 && !skipping && (errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded)) {
				w.AddPacket(buf[:have])
			}
			return
		}
	}
}

// stopDrain is a connection's state while the input stops.
type stopDrain struct {
	until   time.Time // the last moment a read may wait, two seconds after the first timeout
	retried bool      // the last read was a retry and got nothing since
}

// drainAgain decides, for a read that failed on its deadline while the
// input stops, whether to read once more: a goroutine that was not
// scheduled before the stop's short deadline passed would otherwise drop
// lines its client sent before the stop (Go fails a read whose deadline
// has passed without looking at the socket). One retry of a quarter of
// stopGrace after each read that got data; none two seconds after the
// first timeout.
func (in *Input) drainAgain(c net.Conn, err error, d *stopDrain) bool {
	if d.retried || !errors.Is(err, os.ErrDeadlineExceeded) || !in.stopping() {
		return false
	}
	now := time.Now()
	if d.until.IsZero() {
		d.until = now.Add(2 * time.Second)
	}
	if now.After(d.until) {
		return false
	}
	d.retried = true
	return c.SetReadDeadline(now.Add(stopGrace/4)) == nil
}
