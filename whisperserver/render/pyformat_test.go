package render

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// pyFormatCases are newName formats as aliasQuery users write them.
var pyFormatCases = []struct {
	format string
	v      float64
}{
	{"y is %d", 6.9}, {"%.1f is last", 23}, {"%s", 0.1}, {"%s", 1e16}, {"%5.2f%%", 3.14159},
	{"%-8d|", -2.5}, {"%g", 1234567}, {"%g", 0.0001}, {"%e", 12345.678}, {"%i", 7}, {"%+.3f", 2},
	{"%r", 5}, {"%10s|", 2.5}, {"%.2s", 123.0}, {"%G", 1e-10}, {"%05d", 42},
}

// TestPyPercentMatchesPython formats every case with python3's % and
// with pyPercent (skipped where python3 is missing, failing under CI).
func TestPyPercentMatchesPython(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := exec.LookPath(py); err != nil {
		testutil.RequireReference(t, "python3", err)
		return
	}
	for _, c := range pyFormatCases {
		out, err := exec.Command(py, "-c", "import sys; sys.stdout.write(sys.argv[1] % float(sys.argv[2]))", c.format, PyRepr(c.v)).Output()
		if err != nil {
			t.Fatalf("python3 %q %% %v: %v", c.format, c.v, err)
		}
		got, err := pyPercent(c.format, c.v)
		if err != nil {
			t.Errorf("%q %% %v: %v", c.format, c.v, err)
			continue
		}
		if got != string(out) {
			t.Errorf("%q %% %v = %q, python %q", c.format, c.v, got, out)
		}
	}
}

func TestPyPercentErrors(t *testing.T) {
	for _, f := range []string{"no conversion", "%d %d", "%", "%x", "%q", "%999999999d", "%.5000f"} {
		if s, err := pyPercent(f, 1); err == nil {
			t.Errorf("%q: no error, got %q", f, s)
		}
	}
}

func FuzzPyPercent(f *testing.F) {
	for _, c := range pyFormatCases {
		f.Add(c.format, c.v)
	}
	f.Fuzz(func(t *testing.T, format string, v float64) {
		s, err := pyPercent(format, v)
		if err == nil && len(s) > len(format)+2*maxFormatWidth+400 {
			t.Fatalf("%q: %d bytes", format, len(s))
		}
		if err != nil && s != "" {
			t.Fatalf("%q: text %q with error %v", format, s, err)
		}
		_ = strings.TrimSpace(s)
	})
}
