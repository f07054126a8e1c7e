package whisperfile

import (
	"path/filepath"
	"testing"
	"time"

	gowhisper "github.com/lomik/go-whisper"
)

// FetchLen, from the header alone, is the number of values Fetch returns.
func TestFetchLen(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().Unix()
	for _, written := range []bool{false, true} { // an empty archive reads as nulls
		path := filepath.Join(dir, map[bool]string{false: "empty.wsp", true: "full.wsp"}[written])
		w, err := gowhisper.Create(path, gowhisper.Retentions{
			ptr(gowhisper.NewRetention(10, 60)), ptr(gowhisper.NewRetention(60, 60))}, gowhisper.Sum, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		if written {
			if err := w.Update(1, int(now-100)); err != nil {
				t.Fatal(err)
			}
		}
		w.Close()
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range [][3]int64{
			{now - 300, now, -1}, {now - 599, now - 5, -1}, {now - 600, now, -1}, {now - 601, now, -1},
			{now - 3600, now, -1}, {now - 7200, now - 100, -1}, {now - 50, now - 50, -1},
			{now - 10000, now - 5000, -1}, {now + 10, now + 100, -1}, {now - 100, now + 1000, -1},
			{now - 300, now, 1}, {now - 3000, now, 1},
		} {
			got, err := f.Fetch(r[0], r[1], now, int(r[2]))
			if err != nil {
				t.Fatalf("Fetch%v: %v", r, err)
			}
			want := int64(0)
			if got != nil {
				want = int64(len(got.Values))
			}
			if n, err := f.FetchLen(r[0], r[1], now, int(r[2])); err != nil || n != want {
				t.Errorf("%s: FetchLen%v = %d, %v; Fetch returned %d values", path, r, n, err, want)
			}
		}
		if _, err := f.FetchLen(now, now-10, now, -1); err == nil {
			t.Error("FetchLen of a reversed range: no error")
		}
		f.Close()
	}
}
