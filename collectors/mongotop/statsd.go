package mongotop

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// DefaultPacketSize keeps a datagram of several gauges under a typical
// Ethernet MTU, as Etsy statsd's own clients do.
const DefaultPacketSize = 1400

// AppendGauge appends "name:value|g" (no line end) to dst. value is never
// negative here: a leading sign would make statsd read it as a change.
func AppendGauge(dst []byte, name string, value float64) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':')
	dst = strconv.AppendFloat(dst, value, 'f', -1, 64)
	return append(dst, '|', 'g')
}

// Packer groups statsd lines into datagrams of at most Size bytes,
// newline-separated, as statsd servers accept them.
type Packer struct {
	Size int
	cur  []byte
	full [][]byte
}

// Add adds one line (without line end). A line longer than Size travels
// alone in its own datagram rather than being lost.
func (p *Packer) Add(line []byte) {
	size := p.Size
	if size <= 0 {
		size = DefaultPacketSize
	}
	if len(p.cur) > 0 && len(p.cur)+1+len(line) > size {
		p.full = append(p.full, p.cur)
		p.cur = nil
	}
	if len(p.cur) > 0 {
		p.cur = append(p.cur, '\n')
	}
	p.cur = append(p.cur, line...)
}

// Take returns the datagrams built so far, the partly filled one included,
// and starts afresh.
func (p *Packer) Take() [][]byte {
	out := p.full
	if len(p.cur) > 0 {
		out = append(out, p.cur)
	}
	p.full, p.cur = nil, nil
	return out
}

// UDPSender sends datagrams to one statsd server.
type UDPSender struct {
	conn    net.Conn
	timeout time.Duration
}

// DialUDP resolves addr ("host:port") and opens a UDP socket to it, giving
// up after timeout.
func DialUDP(addr string, timeout time.Duration) (*UDPSender, error) {
	conn, err := net.DialTimeout("udp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("statsd address %s: %w", addr, err)
	}
	return &UDPSender{conn: conn, timeout: timeout}, nil
}

// Send writes one datagram. An error (for example "connection refused" when
// nothing listens) concerns this datagram only; the sender stays usable.
func (s *UDPSender) Send(b []byte) error {
	if err := s.conn.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil {
		return err
	}
	if _, err := s.conn.Write(b); err != nil {
		return fmt.Errorf("sending to statsd %s: %w", s.conn.RemoteAddr(), err)
	}
	return nil
}

// Close closes the socket.
func (s *UDPSender) Close() error { return s.conn.Close() }
