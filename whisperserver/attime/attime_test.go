package attime

import (
	"encoding/json"
	"os/exec"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

var exprs = []string{
	"now", "-1h", "-7d", "-30min", "-1w", "-2mon", "-1y", "+1h", "-1d2h", "now-5min", "1700000000",
	"12:30_20231114", "20231114", "noon", "midnight", "teatime", "yesterday", "today", "tomorrow",
	"noon+1h", "6pm", "6am", "10:15pm_yesterday", "11/14/23", "11/14/2023", "jan1", "nov 14", "monday", "sat",
	"midnight-1d", "20231114-1h",
}

func TestMatchesGraphite(t *testing.T) {
	err := exec.Command(testutil.PythonWithWhisper, "-c", "import graphite.render.attime, pytz").Run()
	testutil.RequireReference(t, "graphite-web's attime module", err)
	now := time.Date(2023, 11, 15, 9, 41, 7, 0, time.UTC)
	for _, tz := range []string{"UTC", "Europe/Paris", "America/Chicago"} {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			t.Fatal(err)
		}
		in, _ := json.Marshal(exprs)
		script := `
import json, sys, pytz, calendar
from datetime import datetime
from graphite.render.attime import parseATTime
tz = pytz.timezone(sys.argv[2])
now = datetime.fromtimestamp(int(sys.argv[3]), tz)
out = []
for e in json.loads(sys.argv[1]):
    try:
        out.append(calendar.timegm(parseATTime(e, tz, now).utctimetuple()))
    except Exception as ex:
        out.append(None)
print(json.dumps(out))
`
		cmd := exec.Command(testutil.PythonWithWhisper, "-c", script, string(in), tz, "1700041267")
		cmd.Env = append(cmd.Environ(), "DJANGO_SETTINGS_MODULE=graphite.settings")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("graphite attime: %v", err)
		}
		var want []*int64
		if err := json.Unmarshal(out, &want); err != nil {
			t.Fatal(err)
		}
		for i, e := range exprs {
			got, err := Parse(e, now, loc)
			if want[i] == nil {
				if err == nil {
					t.Errorf("%s %q: got %v, graphite refuses it", tz, e, got)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s %q: %v (graphite: %d)", tz, e, err, *want[i])
				continue
			}
			if got.Unix() != *want[i] {
				t.Errorf("%s %q = %d (%s), graphite %d (%s)", tz, e, got.Unix(), got, *want[i], time.Unix(*want[i], 0).In(loc))
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	now := time.Now()
	for _, e := range []string{"", "-1x", "garbage", "-h", "99:99_20231114", "20231399x", "13/45/2023", "-99999999999999d", string(make([]byte, 200))} {
		if got, err := Parse(e, now, time.UTC); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", e, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, e := range exprs {
		f.Add(e)
	}
	now := time.Date(2023, 11, 15, 9, 41, 7, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = Parse(s, now, time.UTC)
		_, _ = ParseOffset(s)
	})
}
