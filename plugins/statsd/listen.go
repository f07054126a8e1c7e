package statsd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenUDP opens n UDP sockets on addr sharing the port with SO_REUSEPORT:
// the kernel spreads senders over them by source address and port, so the
// datagrams of one sender stay in order on one socket, and each socket has
// its own receive buffer. It returns the sockets and, for each, the receive
// buffer the kernel granted.
func listenUDP(addr string, n, rcvbuf int) ([]*net.UDPConn, []int, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	var conns []*net.UDPConn
	var granted []int
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	// A plain bind first: SO_REUSEPORT would let a second hekad (same user)
	// silently share the port and take part of the traffic; a socket without
	// it cannot join, so this fails when anything already listens there.
	probe, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listening on udp %s: %w", addr, err)
	}
	bindAddr := probe.LocalAddr().String()
	probe.Close()
	for i := 0; i < n; i++ {
		pc, err := lc.ListenPacket(context.Background(), "udp", bindAddr)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("listening on udp %s: %w", bindAddr, err)
		}
		conn := pc.(*net.UDPConn)
		conns = append(conns, conn)
		got, err := setReadBuffer(conn, rcvbuf)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		granted = append(granted, got)
	}
	return conns, granted, nil
}

// setReadBuffer asks for a receive buffer of n bytes, beyond
// net.core.rmem_max when the process may (SO_RCVBUFFORCE needs
// CAP_NET_ADMIN), and returns what the kernel granted (the kernel reports
// twice the usable size; the usable size is returned).
func setReadBuffer(conn *net.UDPConn, n int) (int, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("socket of %s: %w", conn.LocalAddr(), err)
	}
	var got int
	var serr error
	err = raw.Control(func(fd uintptr) {
		if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n); e != nil {
			if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, n); e != nil {
				serr = fmt.Errorf("setting the receive buffer of %s to %d bytes: %w", conn.LocalAddr(), n, e)
				return
			}
		}
		v, e := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		if e != nil {
			serr = fmt.Errorf("reading the receive buffer size of %s: %w", conn.LocalAddr(), e)
			return
		}
		got = v / 2
	})
	if err == nil {
		err = serr
	}
	return got, err
}

// isClosed reports whether err comes from reading a closed socket.
func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed)
}
