package whisperfile

import (
	"path/filepath"
	"testing"
	"time"

	gowhisper "github.com/lomik/go-whisper"
)

// BenchmarkFetchDay reads one day at 10 s (8,640 points) from a full file.
func BenchmarkFetchDay(b *testing.B) {
	path := filepath.Join(b.TempDir(), "day.wsp")
	w, err := gowhisper.Create(path, gowhisper.Retentions{ptr(gowhisper.NewRetention(10, 8640)), ptr(gowhisper.NewRetention(60, 10080))}, gowhisper.Average, 0)
	if err != nil {
		b.Fatal(err)
	}
	now := int(time.Now().Unix())
	var pts []*gowhisper.TimeSeriesPoint
	for ts := now - 86400 + 10; ts <= now; ts += 10 {
		pts = append(pts, &gowhisper.TimeSeriesPoint{Time: ts, Value: float64(ts % 97)})
	}
	if err := w.UpdateMany(pts); err != nil {
		b.Fatal(err)
	}
	w.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		s, err := f.Fetch(int64(now-86400), int64(now), int64(now), -1)
		f.Close()
		if err != nil || len(s.Values) < 8639 {
			b.Fatalf("%v %d", err, len(s.Values))
		}
	}
}
