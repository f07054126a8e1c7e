package main

import (
	"fmt"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is Linux's struct mmsghdr on 64-bit platforms.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// batchSender sends several datagrams per system call with sendmmsg(2) on a
// connected, blocking UDP socket of its own. A load generator that spends one
// system call per datagram, on a socket registered with Go's network poller
// (whose wake-ups the kernel runs for every datagram sent), uses most of a
// 2-core machine's CPU at a few hundred thousand datagrams per second and
// starves the receiver it measures. This leaves the kernel's own cost per
// datagram, as a sender on another machine would.
type batchSender struct {
	fd   int
	iovs []unix.Iovec
	msgs []mmsghdr
}

// newBatchSender connects a socket to addr. With segment > 0 it turns on
// UDP generic segmentation offload (UDP_SEGMENT): a buffer handed to the
// kernel is cut into datagrams of segment bytes after the IP stack, so the
// stack's per-packet cost is paid once per buffer; the receiver still gets
// separate datagrams, exactly as if they had been sent one by one.
func newBatchSender(addr string, max, segment int) (*batchSender, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", addr, err)
	}
	var sa unix.Sockaddr
	family := unix.AF_INET
	if ip4 := ua.IP.To4(); ip4 != nil {
		s4 := &unix.SockaddrInet4{Port: ua.Port}
		copy(s4.Addr[:], ip4)
		sa = s4
	} else {
		family = unix.AF_INET6
		s6 := &unix.SockaddrInet6{Port: ua.Port}
		copy(s6.Addr[:], ua.IP.To16())
		sa = s6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("udp socket: %w", err)
	}
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	if segment > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_UDP, unix.UDP_SEGMENT, segment); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("UDP_SEGMENT %d: %w", segment, err)
		}
	}
	// A send blocks at most this long when the socket's send buffer is full.
	tv := unix.NsecToTimeval(int64(100e6))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	return &batchSender{fd: fd, iovs: make([]unix.Iovec, max), msgs: make([]mmsghdr, max)}, nil
}

// send sends dgrams (at most max of them) and returns how many the kernel
// took.
func (b *batchSender) send(dgrams [][]byte) (int, error) {
	for i, d := range dgrams {
		b.iovs[i].Base = &d[0]
		b.iovs[i].SetLen(len(d))
		b.msgs[i].hdr.Iov = &b.iovs[i]
		b.msgs[i].hdr.SetIovlen(1)
	}
	r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(b.fd), uintptr(unsafe.Pointer(&b.msgs[0])),
		uintptr(len(dgrams)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func (b *batchSender) close() { unix.Close(b.fd) }
