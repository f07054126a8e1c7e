package carbon_test

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// TestCarbonInputRefusesUnaddressableNames: over real TCP into the real
// hekad, names with glob characters, control characters or invalid UTF-8
// (which no query could address) are dropped, counted as bad lines and
// logged; a UTF-8 name and a plain one pass.
func TestCarbonInputRefusesUnaddressableNames(t *testing.T) {
	p, addr, out := startInput(t, "")
	testutil.WaitTCPListening(t, addr, 5*time.Second)
	bad := []string{"n.star.* 1 1700000000", "n.q? 1 1700000000", "n.[ab] 1 1700000000", "n.{a,b} 1 1700000000",
		"n.ctl\x01x 1 1700000000", "n.bad\xff 1 1700000000"}
	good := []string{"n.ok 1 1700000000", "n.\u00fcber 2 1700000000"}
	conn := dialTCP(t, addr)
	fmt.Fprint(conn, strings.Join(append(bad, good...), "\n")+"\n")
	conn.Close()
	testutil.Eventually(t, 20*time.Second, func() bool {
		got := readLines(out)
		return got[good[0]] && got[good[1]]
	}, "the good lines never arrived")
	testutil.Eventually(t, 15*time.Second, func() bool { return sumSelf(out, ".badLines") == float64(len(bad)) },
		"badLines never summed to %d (now %v)", len(bad), func() float64 { return sumSelf(out, ".badLines") }())
	for l := range readLines(out) {
		for _, b := range bad {
			if l == b {
				t.Errorf("refused line %q reached the output", l)
			}
		}
	}
	testutil.Eventually(t, 15*time.Second, func() bool { return strings.Contains(p.Output(), "bad lines dropped") }, "bad lines never logged")
	if code := p.Stop(syscall.SIGTERM, 15*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c
}
