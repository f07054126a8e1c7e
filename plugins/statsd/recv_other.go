//go:build !(linux && (amd64 || arm64))

package statsd

import (
	"net"
	"syscall"
)

const batchSize = 1

// batchReader reads one datagram per call where recvmmsg is not wired.
type batchReader struct {
	c     *net.UDPConn
	buf   []byte
	n     int
	trunc bool
}

func newBatchReader(c *net.UDPConn, size int) (*batchReader, error) {
	return &batchReader{c: c, buf: make([]byte, size)}, nil
}

func (b *batchReader) read() (int, error) {
	n, _, flags, _, err := b.c.ReadMsgUDP(b.buf, nil)
	if err != nil {
		return 0, err
	}
	b.n, b.trunc = n, flags&syscall.MSG_TRUNC != 0
	return 1, nil
}

func (b *batchReader) datagram(int) ([]byte, bool) { return b.buf[:b.n], b.trunc }
