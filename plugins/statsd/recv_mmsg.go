//go:build linux && (amd64 || arm64)

package statsd

import (
	"fmt"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is Linux's struct mmsghdr on 64-bit platforms.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// batchReader reads up to len(msgs) datagrams per system call with
// recvmmsg(2), waiting in Go's network poller (so deadlines and Close work).
type batchReader struct {
	raw  syscall.RawConn
	bufs [][]byte
	iovs []unix.Iovec
	msgs []mmsghdr
}

const batchSize = 32

func newBatchReader(c *net.UDPConn, size int) (*batchReader, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("socket of %s: %w", c.LocalAddr(), err)
	}
	b := &batchReader{raw: raw, bufs: make([][]byte, batchSize),
		iovs: make([]unix.Iovec, batchSize), msgs: make([]mmsghdr, batchSize)}
	for i := range b.bufs {
		b.bufs[i] = make([]byte, size)
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(size)
		b.msgs[i].hdr.Iov = &b.iovs[i]
		b.msgs[i].hdr.SetIovlen(1)
	}
	return b, nil
}

// read waits for datagrams and returns how many arrived; datagram i is
// b.datagram(i).
func (b *batchReader) read() (int, error) {
	var n int
	var serr error
	err := b.raw.Read(func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[0])),
			uintptr(len(b.msgs)), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			n = int(r)
			return true
		case unix.EAGAIN:
			return false
		case unix.EINTR:
			return false
		default:
			serr = e
			return true
		}
	})
	if err != nil {
		return 0, err
	}
	return n, serr
}

// datagram returns datagram i of the last read and whether the kernel
// truncated it.
func (b *batchReader) datagram(i int) ([]byte, bool) {
	m := &b.msgs[i]
	return b.bufs[i][:m.len], m.hdr.Flags&unix.MSG_TRUNC != 0
}
