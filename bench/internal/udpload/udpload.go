//go:build linux && (amd64 || arm64)

// Package udpload sends UDP load for the benchmarks: many datagrams per
// system call (sendmmsg) and, optionally, UDP generic segmentation offload,
// on blocking sockets kept out of Go's network poller.
//
// A load generator that spends one system call per datagram on a socket in
// Go's poller (whose wake-up callback the kernel runs for every datagram)
// uses most of a 2-core machine at a few hundred thousand datagrams per
// second and starves the receiver it measures. With GSO a buffer of equal
// datagrams crosses the IP stack once and is cut into datagrams before the
// receiving socket, which still gets them one by one, exactly as if they had
// been sent separately: what is left is the receiver's own cost, as with a
// sender on another machine.
package udpload

import (
	"fmt"
	"net"
	"unsafe"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/mmsg"
	"golang.org/x/sys/unix"
)

// MaxSegments is the most datagrams one GSO buffer may carry (the kernel's
// UDP_MAX_SEGMENTS); MaxGSOBytes the most bytes.
const (
	MaxSegments = 64
	MaxGSOBytes = 60000
)

// Sender sends batches of buffers on one connected socket.
type Sender struct {
	fd      int
	segment int
	iovs    []unix.Iovec
	msgs    []mmsg.Hdr
}

// Dial connects a socket to addr for batches of at most max buffers. With
// segment > 0 every buffer is cut into datagrams of segment bytes (the last
// may be shorter) by the kernel.
func Dial(addr string, max, segment int) (*Sender, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", addr, err)
	}
	family, sa := mmsg.Sockaddr(ua)
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("udp socket: %w", err)
	}
	fail := func(err error) (*Sender, error) {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Connect(fd, sa); err != nil {
		return fail(fmt.Errorf("connecting to %s: %w", addr, err))
	}
	if segment > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_UDP, unix.UDP_SEGMENT, segment); err != nil {
			return fail(fmt.Errorf("UDP_SEGMENT %d: %w", segment, err))
		}
	}
	// A send blocks at most this long when the send buffer is full.
	tv := unix.NsecToTimeval(100e6)
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	return &Sender{fd: fd, segment: segment, iovs: make([]unix.Iovec, max), msgs: make([]mmsg.Hdr, max)}, nil
}

// Send sends bufs (at most max of them) in one sendmmsg(2) call and returns
// how many datagrams the kernel took (with GSO, the datagrams of the
// buffers it took).
func (s *Sender) Send(bufs [][]byte) (int, error) {
	for i, b := range bufs {
		s.iovs[i].Base = &b[0]
		s.iovs[i].SetLen(len(b))
		s.msgs[i].Hdr.Iov = &s.iovs[i]
		s.msgs[i].Hdr.SetIovlen(1)
	}
	r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.msgs[0])),
		uintptr(len(bufs)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	n := int(r)
	if s.segment <= 0 {
		return n, nil
	}
	dgrams := 0
	for _, b := range bufs[:n] {
		dgrams += (len(b) + s.segment - 1) / s.segment
	}
	return dgrams, nil
}

// Close closes the socket.
func (s *Sender) Close() error { return unix.Close(s.fd) }
