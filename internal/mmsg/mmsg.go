//go:build linux && (amd64 || arm64)

// Package mmsg holds what the batched UDP system calls (recvmmsg(2),
// sendmmsg(2)) need on Linux and that golang.org/x/sys/unix does not
// provide: the struct mmsghdr layout, and a net.UDPAddr as a unix.Sockaddr.
// It is shared by the statsd input's receiver and the benchmarks' sender.
package mmsg

import (
	"net"

	"golang.org/x/sys/unix"
)

// Hdr is Linux's struct mmsghdr on 64-bit platforms: one message header
// and the byte count the kernel sets for it.
type Hdr struct {
	Hdr unix.Msghdr
	Len uint32
	_   [4]byte
}

// Sockaddr converts a to the address family and unix.Sockaddr for a socket
// (IPv4 for IPv4 and IPv4-mapped addresses, else IPv6 with its zone).
func Sockaddr(a *net.UDPAddr) (int, unix.Sockaddr) {
	if ip4 := a.IP.To4(); ip4 != nil {
		sa := &unix.SockaddrInet4{Port: a.Port}
		copy(sa.Addr[:], ip4)
		return unix.AF_INET, sa
	}
	sa := &unix.SockaddrInet6{Port: a.Port}
	copy(sa.Addr[:], a.IP.To16())
	if a.Zone != "" {
		if ifi, err := net.InterfaceByName(a.Zone); err == nil {
			sa.ZoneId = uint32(ifi.Index)
		}
	}
	return unix.AF_INET6, sa
}
