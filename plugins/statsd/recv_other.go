//go:build !(linux && (amd64 || arm64))

package statsd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// Elsewhere one socket from Go's net package serves every reader in turn,
// one datagram per read.

const pollInterval = 100 * time.Millisecond

const batchSize = 1

// udpSocket is the one bound UDP socket.
type udpSocket struct {
	*net.UDPConn
}

// listenUDP opens one socket on addr (n is ignored without SO_REUSEPORT)
// and returns it with the receive buffer asked for.
func listenUDP(addr string, n, rcvbuf int) ([]*udpSocket, []int, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listening on udp %s: %w", addr, err)
	}
	c := pc.(*net.UDPConn)
	if rcvbuf > 0 {
		if err := c.SetReadBuffer(rcvbuf); err != nil {
			c.Close()
			return nil, nil, fmt.Errorf("setting the receive buffer on udp %s: %w", addr, err)
		}
	}
	return []*udpSocket{{c}}, []int{rcvbuf}, nil
}

var errNoData = errors.New("no datagram queued")

// batchReader reads one datagram per call.
type batchReader struct {
	c     *net.UDPConn
	buf   []byte
	n     int
	trunc bool
}

func newBatchReader(s *udpSocket, size int) (*batchReader, error) {
	return &batchReader{c: s.UDPConn, buf: make([]byte, size)}, nil
}

func (b *batchReader) read(wait bool) (int, error) {
	deadline := time.Now()
	if wait {
		deadline = deadline.Add(pollInterval)
	}
	_ = b.c.SetReadDeadline(deadline)
	n, _, flags, _, err := b.c.ReadMsgUDP(b.buf, nil)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, errNoData
	}
	if err != nil {
		return 0, err
	}
	b.n, b.trunc = n, flags&syscall.MSG_TRUNC != 0
	return 1, nil
}

func (b *batchReader) datagram(int) ([]byte, bool) { return b.buf[:b.n], b.trunc }

func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }
