package mongotop

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Options configure Run.
type Options struct {
	Namer Namer
	// PacketSize bounds a datagram (default DefaultPacketSize).
	PacketSize int
	// Send sends one datagram of newline-separated gauges.
	Send func(datagram []byte) error
	// Report receives one line per malformed input line and per failed send.
	Report io.Writer
	// Tag starts every report line (e.g. the program name).
	Tag string
}

// Stats count what Run did.
type Stats struct {
	Lines      int // lines read
	Malformed  int // lines (or --json entries) skipped
	Gauges     int // gauges sent
	Datagrams  int // datagrams sent
	SendErrors int // datagrams that could not be sent
}

// Run reads mongotop's output from r until it ends, sending one gauge per
// namespace and kind. Both output forms are recognised line by line: a line
// starting with '{' is a --json document, anything else is the text grid
// (header, rows, blank lines between samples). Gauges are sent at the end of
// each text block and of each --json document, and whenever the input has
// nothing more buffered, so a live mongotop's samples go out as they come. A
// malformed line is reported and skipped. The error is a read error of r,
// never a malformed line or a failed send (those are counted).
func Run(r io.Reader, o Options) (Stats, error) {
	var st Stats
	br := bufio.NewReaderSize(r, 64<<10)
	p := &Packer{Size: o.PacketSize}
	var gauge []byte
	lastSendErr := ""
	flush := func() {
		for _, d := range p.Take() {
			if err := o.Send(d); err != nil {
				st.SendErrors++
				// Report a new kind of failure, not every repeat of it.
				if msg := err.Error(); msg != lastSendErr {
					lastSendErr = msg
					o.report("send failed (further identical failures are only counted): %v", err)
				}
				continue
			}
			st.Datagrams++
		}
	}
	for {
		line, readErr := readLine(br)
		if line != nil || readErr == nil || errors.Is(readErr, errLineTooLong) {
			st.Lines++
			if errors.Is(readErr, errLineTooLong) {
				st.Malformed++
				o.report("line %d: skipped: %v", st.Lines, readErr)
				readErr = nil
			} else {
				kind, rows, err := ParseLine(line)
				if err != nil {
					st.Malformed++
					o.report("line %d: skipped: %v: %s", st.Lines, err, quote(line))
				}
				for _, row := range rows {
					base, err := o.Namer.Base(row.Namespace)
					if err != nil {
						st.Malformed++
						o.report("line %d: skipped: %v", st.Lines, err)
						continue
					}
					for i, k := range Kinds {
						gauge = AppendGauge(gauge[:0], base+"."+k, row.Millis[i])
						p.Add(gauge)
						st.Gauges++
					}
				}
				if kind != Rows || bytes.HasPrefix(bytes.TrimSpace(line), []byte("{")) {
					// The end of a text block, or a whole --json sample.
					flush()
				}
			}
		}
		if readErr != nil {
			flush()
			if readErr == io.EOF {
				return st, nil
			}
			return st, fmt.Errorf("reading input: %w", readErr)
		}
		if br.Buffered() == 0 {
			// The next read may wait for mongotop's next sample: send now.
			flush()
		}
	}
}

var errLineTooLong = fmt.Errorf("%w (over %d bytes)", ErrTooLong, MaxLine)

// readLine returns the next line without its '\n'. A line over MaxLine is
// read to its end and discarded with errLineTooLong. At the end of input it
// returns the last unterminated line (if any) with io.EOF.
func readLine(br *bufio.Reader) ([]byte, error) {
	var long []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(long)+len(chunk) > MaxLine+1 {
				tooLong, long = true, nil
			} else if err == bufio.ErrBufferFull || long != nil {
				long = append(long, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if tooLong {
			if err != nil && err != io.EOF {
				return nil, err
			}
			// At the end of input, the next call returns io.EOF.
			return nil, errLineTooLong
		}
		line := chunk
		if long != nil {
			line = long
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		if err != nil && len(line) == 0 {
			return nil, err
		}
		return line, err
	}
}

func (o Options) report(format string, args ...interface{}) {
	if o.Report == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if o.Tag != "" {
		msg = o.Tag + ": " + msg
	}
	fmt.Fprintln(o.Report, msg)
}

// quote shows a line in a report: quoted, and cut if long.
func quote(b []byte) string {
	const max = 200
	if len(b) > max {
		return fmt.Sprintf("%q…", b[:max])
	}
	return fmt.Sprintf("%q", b)
}
