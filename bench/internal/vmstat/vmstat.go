// Package vmstat reads VictoriaMetrics' own counters from its /metrics
// page, for the benches that run it as a peer.
package vmstat

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Counts returns the rows VictoriaMetrics added to storage and the rows
// still pending in its buffers, read from url (its /metrics); zeros when
// it cannot be read within 5 s.
func Counts(url string) (rows, pending int64) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	for _, line := range strings.Split(string(b), "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch {
		case name == "vm_rows_added_to_storage_total":
			rows += int64(v)
		case strings.HasPrefix(name, "vm_pending_rows{"):
			pending += int64(v)
		}
	}
	return rows, pending
}
