//go:build linux && (amd64 || arm64)

package statsd

import (
	"errors"
	"fmt"
	"net"
	"time"
	"unsafe"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/mmsg"
	"golang.org/x/sys/unix"
)

// On Linux the UDP sockets are not registered with Go's network poller.
// A socket in the poller's epoll set has a waiter on its wait queue at all
// times, so the kernel runs the poller's wake-up callback (a lock and often
// a cross-CPU wake-up) for every datagram that arrives; on loopback that
// cost lands on the sender and takes CPU from the reader. Instead each reader
// blocks in recvmmsg(2) in its own thread, with SO_RCVTIMEO so that it sees
// Stop; while it is busy nothing waits on the socket and an arriving datagram
// costs only its queueing.

// pollInterval bounds how long a blocked read waits before it returns
// errNoData, so a reader notices Stop.
const pollInterval = 100 * time.Millisecond

// batchSize is the most datagrams one recvmmsg(2) call returns.
const batchSize = 64

// udpSocket is one bound UDP socket in blocking mode.
type udpSocket struct {
	fd    int
	local *net.UDPAddr
}

// listenUDP opens n UDP sockets on addr sharing the port with SO_REUSEPORT:
// the kernel spreads senders over them by source address and port, so the
// datagrams of one sender stay in order on one socket, and each socket has
// its own receive buffer. It returns the sockets and, for each, the receive
// buffer the kernel granted.
func listenUDP(addr string, n, rcvbuf int) ([]*udpSocket, []int, error) {
	bind, err := probeUDP(addr)
	if err != nil {
		return nil, nil, err
	}
	var socks []*udpSocket
	var granted []int
	for i := 0; i < n; i++ {
		s, got, err := openUDP(bind, rcvbuf)
		if err != nil {
			for _, s := range socks {
				s.Close()
			}
			return nil, nil, err
		}
		socks = append(socks, s)
		granted = append(granted, got)
	}
	return socks, granted, nil
}

// probeUDP binds addr once without SO_REUSEPORT and returns the address it
// got (the port resolved when addr asks for port 0). SO_REUSEPORT would let
// a second hekad (same user) silently share the port and take part of the
// traffic; a socket without it cannot join, so this fails when anything
// already listens there.
func probeUDP(addr string) (*net.UDPAddr, error) {
	probe, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on udp %s: %w", addr, err)
	}
	defer probe.Close()
	return probe.LocalAddr().(*net.UDPAddr), nil
}

func openUDP(bind *net.UDPAddr, rcvbuf int) (*udpSocket, int, error) {
	family, sa := mmsg.Sockaddr(bind)
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, 0, fmt.Errorf("udp socket for %s: %w", bind, err)
	}
	s := &udpSocket{fd: fd, local: bind}
	fail := func(what string, err error) (*udpSocket, int, error) {
		unix.Close(fd)
		return nil, 0, fmt.Errorf("%s on udp %s: %w", what, bind, err)
	}
	if family == unix.AF_INET6 && bind.IP.IsUnspecified() {
		// Like Go's net package: "[::]:port" takes IPv4 too.
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		return fail("setting SO_REUSEPORT", err)
	}
	tv := unix.NsecToTimeval(int64(pollInterval))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fail("setting SO_RCVTIMEO", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("binding", err)
	}
	got, err := setReadBuffer(fd, rcvbuf)
	if err != nil {
		return fail("setting the receive buffer", err)
	}
	return s, got, nil
}

// setReadBuffer asks for a receive buffer of n bytes, beyond
// net.core.rmem_max when the process may (SO_RCVBUFFORCE needs
// CAP_NET_ADMIN), and returns what the kernel granted (the kernel reports
// twice the usable size; the usable size is returned).
func setReadBuffer(fd, n int) (int, error) {
	if n > 0 {
		if e := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n); e != nil {
			if e := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, n); e != nil {
				return 0, fmt.Errorf("asking for %d bytes: %w", n, e)
			}
		}
	}
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		return 0, fmt.Errorf("reading its size: %w", err)
	}
	return v / 2, nil
}

// LocalAddr is the bound address.
func (s *udpSocket) LocalAddr() net.Addr { return s.local }

// Close closes the socket; no reader may be using it any more.
func (s *udpSocket) Close() error { return unix.Close(s.fd) }

// errNoData: no datagram arrived within pollInterval (or, not waiting, none
// was queued).
var errNoData = errors.New("no datagram queued")

// batchReader reads up to batchSize datagrams per recvmmsg(2) call.
type batchReader struct {
	fd   int
	bufs [][]byte
	iovs []unix.Iovec
	msgs []mmsg.Hdr
}

func newBatchReader(s *udpSocket, size int) (*batchReader, error) {
	b := &batchReader{fd: s.fd, bufs: make([][]byte, batchSize),
		iovs: make([]unix.Iovec, batchSize), msgs: make([]mmsg.Hdr, batchSize)}
	for i := range b.bufs {
		b.bufs[i] = make([]byte, size)
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(size)
		b.msgs[i].Hdr.Iov = &b.iovs[i]
		b.msgs[i].Hdr.SetIovlen(1)
	}
	return b, nil
}

// read returns how many datagrams arrived; datagram i is b.datagram(i).
// With wait it blocks (up to pollInterval) for the first one and takes
// whatever else is queued; without, it only takes what is queued.
func (b *batchReader) read(wait bool) (int, error) {
	flags := uintptr(unix.MSG_WAITFORONE)
	if !wait {
		flags = unix.MSG_DONTWAIT
	}
	for {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(b.fd), uintptr(unsafe.Pointer(&b.msgs[0])),
			uintptr(len(b.msgs)), flags, 0, 0)
		switch e {
		case 0:
			return int(r), nil
		case unix.EAGAIN:
			return 0, errNoData
		case unix.EINTR:
			continue
		default:
			return 0, e
		}
	}
}

// datagram returns datagram i of the last read and whether the kernel
// truncated it.
func (b *batchReader) datagram(i int) ([]byte, bool) {
	m := &b.msgs[i]
	return b.bufs[i][:m.Len], m.Hdr.Flags&unix.MSG_TRUNC != 0
}

// isClosed reports whether err comes from reading a closed socket.
func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, unix.EBADF)
}
