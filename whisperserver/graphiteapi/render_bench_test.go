package graphiteapi

import (
	"io"
	"net/http"
	"net/url"
	"testing"
)

// BenchmarkRenderGolden renders targets over the golden files' 8 days
// (2,304 points a series) in JSON through the real handler:
//
//	go test -run '^$' -bench RenderGolden -benchtime 2s ./whisperserver/graphiteapi/
func BenchmarkRenderGolden(b *testing.B) {
	srv := goldenServer(b, 1699999800)
	for _, target := range []string{"g.*", "movingAverage(g.*,5)", "groupByNode(g.tree.*.leaf,1,\"sum\")", "scale(g.*,2)"} {
		b.Run(target, func(b *testing.B) {
			q := url.Values{"target": {target}, "from": {"-8d"}, "until": {"now"}, "format": {"json"}}
			u := srv.URL + "/render?" + q.Encode()
			for i := 0; i < b.N; i++ {
				resp, err := http.Get(u)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatal(resp.Status)
				}
			}
		})
	}
}
