package mongotop

import (
	"fmt"
	"strings"
	"testing"
)

func BenchmarkParseLineText(b *testing.B) {
	line := []byte("            app.fs.chunks    120ms    20ms    100ms                        ")
	b.SetBytes(int64(len(line)))
	for i := 0; i < b.N; i++ {
		if _, rows, err := ParseLine(line); err != nil || len(rows) != 1 {
			b.Fatal(err)
		}
	}
}

// jsonDoc is a --json sample of n namespaces.
func jsonDoc(n int) string {
	var sb strings.Builder
	sb.WriteString(`{"totals":{`)
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"app.coll%d":{"total":{"time":%d,"count":3},"read":{"time":1,"count":1},"write":{"time":%d,"count":2}}`, i, i+1, i)
	}
	sb.WriteString(`},"time":"2026-11-25T09:44:37.001Z"}`)
	return sb.String()
}

func BenchmarkParseLineJSON100(b *testing.B) {
	line := []byte(jsonDoc(100))
	b.SetBytes(int64(len(line)))
	for i := 0; i < b.N; i++ {
		if _, rows, err := ParseLine(line); err != nil || len(rows) != 100 {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunText measures the whole path (read, parse, name, pack) for
// text samples of 10 namespaces; ns/op is per sample.
func BenchmarkRunText(b *testing.B) {
	var sb strings.Builder
	for s := 0; s < 100; s++ {
		sb.WriteString("                    ns    total    read    write    2026-11-25T09:44:37Z\n")
		for i := 0; i < 10; i++ {
			fmt.Fprintf(&sb, "        app.fs.chunks%d    %dms    20ms    100ms\n", i, 120+i)
		}
		sb.WriteString("\n")
	}
	in := sb.String()
	b.SetBytes(int64(len(in)) / 100)
	b.ResetTimer()
	for i := 0; i < b.N; i += 100 {
		st, err := Run(strings.NewReader(in), Options{Namer: Namer{Prefix: "mongotop"}, Send: func([]byte) error { return nil }})
		if err != nil || st.Gauges != 3000 {
			b.Fatal(err, st)
		}
	}
}
