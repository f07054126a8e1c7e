package whisperfile

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
)

// File is a whisper file opened read-only, as the server reads it. It
// follows whisper.py 1.1 for the archive choice and the interval alignment
// of fetches; the header is checked against the file size, so a truncated
// or corrupt file gives an error instead of garbage.
type File struct {
	Header
	f    *os.File
	size int64
}

// Open opens path read-only and reads and checks its header.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	wf, err := newFile(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return wf, nil
}

func newFile(f *os.File) (*File, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: not a regular file", ErrCorrupt)
	}
	h, err := ReadHeader(f)
	if err != nil {
		return nil, err
	}
	return &File{Header: h, f: f, size: st.Size()}, nil
}

// Close closes the file.
func (w *File) Close() error { return w.f.Close() }

// Size is the file size in bytes.
func (w *File) Size() int64 { return w.size }

// Series is the result of a fetch: Values[i] is the point at Start+i*Step;
// NaN marks a gap (None in whisper.py).
type Series struct {
	Archive int
	Start   int64
	End     int64
	Step    int64
	Values  []float64
}

// ChooseArchive returns the archive whisper.py reads for a fetch starting at
// from: the highest-precision archive whose retention covers now-from.
func (h *Header) ChooseArchive(from, now int64) int {
	diff := now - from
	for i, a := range h.Archives {
		if int64(a.Retention()) >= diff {
			return i
		}
	}
	return len(h.Archives) - 1
}

// Fetch reads [from, until] as whisper.py's fetch does, relative to now.
// archive < 0 lets the file choose (ChooseArchive). It returns nil, nil when
// the range lies entirely in the future or beyond the retention, like
// whisper.py returns None.
func (w *File) Fetch(from, until, now int64, archive int) (*Series, error) {
	i, from, until, ok, err := w.plan(from, until, now, archive)
	if err != nil || !ok {
		return nil, err
	}
	return w.fetchArchive(i, from, until)
}

// FetchLen is the most values Fetch returns for the same arguments, from
// the header alone (nothing is read): what a reader may reserve before
// reading. It is exact but where a range one longer than the archive
// wraps around the ring.
func (w *File) FetchLen(from, until, now int64, archive int) (int64, error) {
	i, from, until, ok, err := w.plan(from, until, now, archive)
	if err != nil || !ok {
		return 0, err
	}
	a := w.Archives[i]
	_, _, n, _, err := intervals(i, int64(a.SecondsPerPoint), int64(a.Points), from, until)
	return n, err
}

// plan is the archive and the range (clamped to now and the retention)
// Fetch reads; ok is false when nothing is.
func (w *File) plan(from, until, now int64, archive int) (int, int64, int64, bool, error) {
	if from > until {
		return 0, 0, 0, false, fmt.Errorf("invalid time interval: from time '%d' is after until time '%d'", from, until)
	}
	oldest := now - int64(w.MaxRetention)
	if archive >= 0 {
		if archive >= len(w.Archives) {
			return 0, 0, 0, false, fmt.Errorf("no archive %d (the file has %d)", archive, len(w.Archives))
		}
		oldest = now - int64(w.Archives[archive].Retention())
	}
	if from > now || until < oldest {
		return 0, 0, 0, false, nil
	}
	if from < oldest {
		from = oldest
	}
	if until > now {
		until = now
	}
	if archive < 0 {
		archive = w.ChooseArchive(from, now)
	}
	return archive, from, until, true, nil
}

// intervals is whisper.py's arithmetic for a fetch of archive i (step,
// points) over [from, until]: the first and the end interval, the number
// of intervals n and the number of values read (n, wrapped around the
// ring as whisper.py does).
func intervals(i int, step, points, from, until int64) (fromInterval, untilInterval, n, count int64, err error) {
	fromInterval = from - FloorMod(from, step) + step
	untilInterval = until - FloorMod(until, step) + step
	if fromInterval == untilInterval {
		untilInterval += step
	}
	n = (untilInterval - fromInterval) / step
	if n > points+1 {
		return 0, 0, 0, 0, fmt.Errorf("range of %d points is longer than archive %d (%d points)", n, i, points)
	}
	count = n % points
	if count == 0 {
		count = points
	}
	return fromInterval, untilInterval, n, count, nil
}

func (w *File) fetchArchive(i int, from, until int64) (*Series, error) {
	a, offset := w.Archives[i], w.Offset(i)
	step, points := int64(a.SecondsPerPoint), int64(a.Points)
	fromInterval, untilInterval, n, count, err := intervals(i, step, points, from, until)
	if err != nil {
		return nil, err
	}
	s := &Series{Archive: i, Start: fromInterval, End: untilInterval, Step: step}
	var first [PointSize]byte
	if _, err := w.f.ReadAt(first[:], offset); err != nil {
		return nil, fmt.Errorf("reading archive %d: %w", i, err)
	}
	base := int64(binary.BigEndian.Uint32(first[:]))
	if base == 0 {
		s.Values = nanSlice(n)
		return s, nil
	}
	// n points from fromInterval, wrapping around the ring; whisper.py reads
	// (untilOffset-fromOffset) mod size bytes, which is n points unless the
	// range is longer than the archive (count, from intervals).
	fromIdx := FloorMod(FloorDiv(fromInterval-base, step), points)
	buf := make([]byte, count*PointSize)
	head := min(count, points-fromIdx)
	if head > 0 {
		if _, err := w.f.ReadAt(buf[:head*PointSize], offset+fromIdx*PointSize); err != nil {
			return nil, fmt.Errorf("reading archive %d: %w", i, err)
		}
	}
	if rest := count - head; rest > 0 {
		if _, err := w.f.ReadAt(buf[head*PointSize:], offset); err != nil {
			return nil, fmt.Errorf("reading archive %d: %w", i, err)
		}
	}
	s.Values = nanSlice(count)
	t := fromInterval
	for k := int64(0); k < count; k++ {
		p := buf[k*PointSize:]
		if int64(binary.BigEndian.Uint32(p)) == t {
			s.Values[k] = math.Float64frombits(binary.BigEndian.Uint64(p[4:]))
		}
		t += step
	}
	return s, nil
}

// ArchiveSpan scans archive i and returns the timestamps of its oldest and
// newest stored points (ok false when the archive holds none).
func (w *File) ArchiveSpan(i int) (oldest, newest int64, ok bool, err error) {
	a := w.Archives[i]
	buf := make([]byte, a.Size())
	if _, err := w.f.ReadAt(buf, w.Offset(i)); err != nil {
		return 0, 0, false, fmt.Errorf("reading archive %d: %w", i, err)
	}
	for j := 0; j < a.Points; j++ {
		ts := int64(binary.BigEndian.Uint32(buf[j*PointSize:]))
		if ts == 0 || ts%int64(a.SecondsPerPoint) != 0 {
			continue
		}
		v := math.Float64frombits(binary.BigEndian.Uint64(buf[j*PointSize+4:]))
		if math.IsNaN(v) {
			continue
		}
		if !ok || ts < oldest {
			oldest = ts
		}
		if !ok || ts > newest {
			newest = ts
		}
		ok = true
	}
	return oldest, newest, ok, nil
}

func nanSlice(n int64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.NaN()
	}
	return v
}
