package testutil

import (
	"encoding/json"
	"os/exec"
	"strconv"
	"testing"
)

// WhisperPy is what Graphite's own whisper.py (Debian python3-whisper) reads
// from a whisper file: its header, every stored point of every archive, and
// optionally whisper.fetch over a time range.
type WhisperPy struct {
	AggregationMethod string  `json:"aggregationMethod"`
	XFilesFactor      float64 `json:"xFilesFactor"`
	MaxRetention      int     `json:"maxRetention"`
	Archives          []struct {
		SecondsPerPoint int                `json:"secondsPerPoint"`
		Points          int                `json:"points"`
		Values          map[string]float64 `json:"values"` // unix time → value
	} `json:"archives"`
	Fetch *struct {
		From, Until, Step int
		Values            []*float64
	} `json:"fetch"`
}

const whisperPyScript = `
import json, struct, sys, whisper
p = sys.argv[1]
info = whisper.info(p)
out = {'aggregationMethod': info['aggregationMethod'], 'xFilesFactor': info['xFilesFactor'],
       'maxRetention': info['maxRetention'], 'archives': [], 'fetch': None}
with open(p, 'rb') as f:
    for a in info['archives']:
        f.seek(a['offset'])
        data = f.read(a['size'])
        pts = {}
        for i in range(a['points']):
            t, v = struct.unpack(whisper.pointFormat, data[i*whisper.pointSize:(i+1)*whisper.pointSize])
            if t:
                pts[str(t)] = v
        out['archives'].append({'secondsPerPoint': a['secondsPerPoint'], 'points': a['points'], 'values': pts})
if len(sys.argv) > 3:
    (start, end, step), values = whisper.fetch(p, int(sys.argv[2]), int(sys.argv[3]))
    out['fetch'] = {'From': start, 'Until': end, 'Step': step, 'Values': values}
print(json.dumps(out))
`

// PythonWithWhisper is Debian's python3, which sees python3-whisper (the
// python3 on PATH may be another build that does not).
const PythonWithWhisper = "/usr/bin/python3"

// RequireWhisperPy skips the test when whisper.py is not installed, unless
// CI=true, where it fails.
func RequireWhisperPy(t testing.TB) {
	t.Helper()
	RequireReference(t, "Graphite's whisper.py (Debian python3-whisper)",
		exec.Command(PythonWithWhisper, "-c", "import whisper").Run())
}

// ReadWhisperPy reads path with whisper.py; with from/until > 0 it also runs
// whisper.fetch(path, from, until).
func ReadWhisperPy(t testing.TB, path string, from, until int64) WhisperPy {
	t.Helper()
	args := []string{"-c", whisperPyScript, path}
	if from > 0 && until > 0 {
		args = append(args, strconv.FormatInt(from, 10), strconv.FormatInt(until, 10))
	}
	out, err := exec.Command(PythonWithWhisper, args...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("whisper.py reading %s: %v\n%s", path, err, msg)
	}
	var w WhisperPy
	if err := json.Unmarshal(out, &w); err != nil {
		t.Fatalf("whisper.py output for %s: %v\n%s", path, err, out)
	}
	return w
}
