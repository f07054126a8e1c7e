package graphiteapi

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/index"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/store"
)

// tinyWhisper is a whisper file of one archive of one 60 s point.
func tinyWhisper() []byte {
	b := make([]byte, 0, 40)
	b = binary.BigEndian.AppendUint32(b, 1)  // average
	b = binary.BigEndian.AppendUint32(b, 60) // max retention
	b = binary.BigEndian.AppendUint32(b, math.Float32bits(0.5))
	b = binary.BigEndian.AppendUint32(b, 1)  // archives
	b = binary.BigEndian.AppendUint32(b, 28) // offset
	b = binary.BigEndian.AppendUint32(b, 60) // seconds per point
	b = binary.BigEndian.AppendUint32(b, 1)  // points
	return append(b, make([]byte, 12)...)
}

// BenchmarkFind asks the find handler for 100 and 1,000 leaves of a
// folder of 10,000 (as bench/whisperserver does over 100,000), from
// concurrent clients, without the network:
//
//	go test -run '^$' -bench Find -benchtime 2s -cpuprofile /tmp/find.prof ./whisperserver/graphiteapi/
func BenchmarkFind(b *testing.B) {
	dir := b.TempDir()
	data := tinyWhisper()
	for d := 0; d < 10; d++ {
		sub := filepath.Join(dir, "bench", "find", fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for m := 0; m < 1000; m++ {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("m%04d.wsp", m)), data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	ix, err := index.New(dir, index.Options{RescanInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ix.Close() })
	time.Sleep(2100 * time.Millisecond) // past the folders' racy window
	api := New(Config{Store: store.New(ix, 0, nil)})
	r := mux.NewRouter()
	api.Register(r)
	for _, c := range []struct{ name, query, format string }{
		{"100/json", "bench.find.d001.m00*", "json"},
		{"1000/json", "bench.find.*.m00*", "json"},
		{"1000/treejson", "bench.find.*.m00*", "treejson"},
		{"1000/pickle", "bench.find.*.m00*", "pickle"},
	} {
		b.Run(c.name, func(b *testing.B) {
			u := "/metrics/find?format=" + c.format + "&query=" + c.query
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					w := httptest.NewRecorder()
					r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, u, nil))
					if w.Code != http.StatusOK || w.Body.Len() < 100 {
						b.Fatalf("%s: %d %q", u, w.Code, w.Body.String())
					}
				}
			})
		})
	}
}
