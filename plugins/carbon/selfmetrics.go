package carbon

import (
	"strings"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/carbon/plaintext"
)

// expandPrefix fills {hostname} in a self-metrics prefix with the hostname, its
// dots made underscores so that the host stays one path component (as
// carbon and go-carbon do), and trims stray dots.
func expandPrefix(prefix, host string) string {
	if host == "" {
		host = "unknown"
	}
	host = strings.NewReplacer(".", "_", "/", "_", "\\", "_", " ", "_").Replace(host)
	return strings.Trim(strings.ReplaceAll(prefix, "{hostname}", host), ".")
}

// selfLines renders one self-metrics report: counters as the change since
// the previous report (prev is updated), gauges as they are.
type selfLines struct {
	prefix string
	prev   map[string]uint64
	buf    []byte
}

func newSelfLines(prefix string) *selfLines {
	return &selfLines{prefix: prefix, prev: map[string]uint64{}}
}

func (s *selfLines) begin() { s.buf = s.buf[:0] }

func (s *selfLines) counter(name string, total uint64, ts time.Time) {
	delta := total - s.prev[name]
	if total < s.prev[name] {
		delta = total
	}
	s.prev[name] = total
	s.buf = plaintext.AppendLine(s.buf, s.prefix+"."+name, float64(delta), ts.Unix())
}

func (s *selfLines) gauge(name string, v float64, ts time.Time) {
	s.buf = plaintext.AppendLine(s.buf, s.prefix+"."+name, v, ts.Unix())
}
