package mongotop

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestRunBlocksAndReports(t *testing.T) {
	in := strings.Join([]string{
		"ns    total    read    write    2026-11-25T09:44:37Z",
		"app.users    12ms    5ms    7ms",
		"oops",
		"",
		"ns    total    read    write    2026-11-25T09:44:38Z",
		"app.users    1ms    1ms    0ms",
		`{"totals":{"app.x":{"read":1,"write":2}}}`,
		"app.last 3ms 2ms 1ms", // no final newline
	}, "\n")
	var datagrams []string
	var report bytes.Buffer
	st, err := Run(strings.NewReader(in), Options{
		Namer:  Namer{Prefix: "mongotop"},
		Send:   func(d []byte) error { datagrams = append(datagrams, string(d)); return nil },
		Report: &report,
		Tag:    "t",
	})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(datagrams, "\n")
	want := strings.Join([]string{
		"mongotop.app.users.total:12|g", "mongotop.app.users.read:5|g", "mongotop.app.users.write:7|g",
		"mongotop.app.users.total:1|g", "mongotop.app.users.read:1|g", "mongotop.app.users.write:0|g",
		"mongotop.app.x.total:3|g", "mongotop.app.x.read:1|g", "mongotop.app.x.write:2|g",
		"mongotop.app.last.total:3|g", "mongotop.app.last.read:2|g", "mongotop.app.last.write:1|g",
	}, "\n")
	if all != want {
		t.Errorf("gauges:\n%s\nwant:\n%s", all, want)
	}
	if st.Lines != 8 || st.Malformed != 1 || st.Gauges != 12 || st.Datagrams != len(datagrams) {
		t.Errorf("stats %+v", st)
	}
	if got := report.String(); !strings.HasPrefix(got, "t: line 3: skipped: ") || !strings.Contains(got, `"oops"`) {
		t.Errorf("report %q", got)
	}
}

func TestRunLongLineAndSendErrors(t *testing.T) {
	long := strings.Repeat("x", MaxLine+10)
	in := "a.b 1ms 1ms 1ms\n" + long + "\na.c 2ms 2ms 2ms\n"
	var report bytes.Buffer
	sends := 0
	st, err := Run(strings.NewReader(in), Options{
		PacketSize: 40,
		Send: func(d []byte) error {
			sends++
			return errors.New("connection refused")
		},
		Report: &report,
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Lines != 3 || st.Malformed != 1 || st.Gauges != 6 || st.SendErrors != sends || sends < 2 || st.Datagrams != 0 {
		t.Errorf("stats %+v, %d sends", st, sends)
	}
	if !strings.Contains(report.String(), "line 2: skipped: line too long") {
		t.Errorf("no too-long report: %q", report.String())
	}
	if n := strings.Count(report.String(), "connection refused"); n != 1 {
		t.Errorf("send failure reported %d times, want once:\n%s", n, report.String())
	}
}

type failingReader struct{ r io.Reader }

func (f failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errors.New("disk on fire")
	}
	return n, err
}

func TestRunReadError(t *testing.T) {
	var got []string
	st, err := Run(failingReader{strings.NewReader("a.b 1ms 1ms 1ms\n")}, Options{
		Send: func(d []byte) error { got = append(got, string(d)); return nil },
	})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("error %v", err)
	}
	if st.Gauges != 3 || len(got) == 0 {
		t.Errorf("gauges read before the error were not sent: %+v %q", st, got)
	}
}

// TestRunLongJSONDocument checks a --json document larger than the read
// buffer (a server with thousands of collections) and CRLF line ends.
func TestRunLongJSONDocument(t *testing.T) {
	doc := jsonDoc(3000) // about 360 KB on one line
	in := "a.b 1ms 1ms 1ms\r\n" + doc + "\r\n" + doc
	gauges := 0
	st, err := Run(strings.NewReader(in), Options{
		Namer: Namer{Prefix: "m"},
		Send: func(d []byte) error {
			if len(d) > DefaultPacketSize {
				t.Errorf("datagram of %d bytes", len(d))
			}
			gauges += strings.Count(string(d), "\n") + 1
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Malformed != 0 || st.Gauges != 3+2*9000 || gauges != st.Gauges {
		t.Errorf("stats %+v, %d gauges received", st, gauges)
	}
}
