// Package whisper reads Graphite whisper (.wsp) files, read-only. It follows
// whisper.py 1.1 (the reference Graphite uses) for the header layout, the
// archive choice and the interval alignment of fetches, and it validates the
// header against the file size so a truncated or corrupt file gives an error
// instead of garbage.
package whisper

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/whisperfile"
	"io"
	"math"
	"os"
)

// Sizes from the one whisper format package.
const (
	metadataSize = whisperfile.MetadataSize
	pointSize    = whisperfile.PointSize
)

// Archive describes one archive of a whisper file.
type Archive struct {
	Index           int
	Offset          int64
	SecondsPerPoint int64
	Points          int64
}

// Retention is the time span the archive covers.
func (a Archive) Retention() int64 { return a.SecondsPerPoint * a.Points }

func (a Archive) size() int64 { return a.Points * pointSize }

// Header is a whisper file's metadata.
type Header struct {
	AggregationMethod string
	MaxRetention      int64
	XFilesFactor      float32
	Archives          []Archive
}

// File is an open whisper file (opened read-only).
type File struct {
	Header
	f    *os.File
	size int64
}

// Open opens path read-only and reads and validates its header.
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
		return nil, fmt.Errorf("%w: not a regular file", whisperfile.ErrCorrupt)
	}
	h, err := ReadHeader(f, st.Size())
	if err != nil {
		return nil, err
	}
	return &File{Header: *h, f: f, size: st.Size()}, nil
}

// ReadHeader reads and validates the header of a whisper file of the given
// size with internal/whisperfile's decoder, the writer's own.
func ReadHeader(r io.ReaderAt, size int64) (*Header, error) {
	b := make([]byte, whisperfile.HeaderRead)
	n, err := r.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: reading header: %v", whisperfile.ErrCorrupt, err)
	}
	var fh whisperfile.Header
	if err := whisperfile.DecodeHeader(b[:n], &fh); err != nil {
		return nil, err
	}
	if err := fh.CheckSize(size); err != nil {
		return nil, fmt.Errorf("%w (truncated?)", err)
	}
	h := &Header{
		AggregationMethod: fh.Method.String(),
		MaxRetention:      int64(fh.MaxRetention),
		XFilesFactor:      fh.XFilesFactor,
		Archives:          make([]Archive, len(fh.Archives)),
	}
	off := int64(metadataSize + whisperfile.ArchiveInfoSize*len(fh.Archives))
	for i, a := range fh.Archives {
		h.Archives[i] = Archive{Index: i, Offset: off, SecondsPerPoint: int64(a.SecondsPerPoint), Points: int64(a.Points)}
		off += h.Archives[i].size()
	}
	return h, nil
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
		if a.Retention() >= diff {
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
	if from > until {
		return nil, fmt.Errorf("invalid time interval: from time '%d' is after until time '%d'", from, until)
	}
	oldest := now - w.MaxRetention
	if archive >= 0 {
		if archive >= len(w.Archives) {
			return nil, fmt.Errorf("no archive %d (the file has %d)", archive, len(w.Archives))
		}
		oldest = now - w.Archives[archive].Retention()
	}
	if from > now || until < oldest {
		return nil, nil
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
	return w.fetchArchive(w.Archives[archive], from, until)
}

func (w *File) fetchArchive(a Archive, from, until int64) (*Series, error) {
	step := a.SecondsPerPoint
	fromInterval := from - mod(from, step) + step
	untilInterval := until - mod(until, step) + step
	if fromInterval == untilInterval {
		untilInterval += step
	}
	n := (untilInterval - fromInterval) / step
	if n > a.Points+1 {
		return nil, fmt.Errorf("range of %d points is longer than archive %d (%d points)", n, a.Index, a.Points)
	}
	s := &Series{Archive: a.Index, Start: fromInterval, End: untilInterval, Step: step}
	var first [pointSize]byte
	if _, err := w.f.ReadAt(first[:], a.Offset); err != nil {
		return nil, fmt.Errorf("reading archive %d: %w", a.Index, err)
	}
	base := int64(binary.BigEndian.Uint32(first[:]))
	if base == 0 {
		s.Values = nanSlice(n)
		return s, nil
	}
	// n points from fromInterval, wrapping around the ring; whisper.py reads
	// (untilOffset-fromOffset) mod size bytes, which is n points unless the
	// range is longer than the archive.
	count := n % a.Points
	if count == 0 {
		count = a.Points
	}
	fromIdx := mod(floorDiv(fromInterval-base, step), a.Points)
	buf := make([]byte, count*pointSize)
	first1 := min(count, a.Points-fromIdx)
	if first1 > 0 {
		if _, err := w.f.ReadAt(buf[:first1*pointSize], a.Offset+fromIdx*pointSize); err != nil {
			return nil, fmt.Errorf("reading archive %d: %w", a.Index, err)
		}
	}
	if rest := count - first1; rest > 0 {
		if _, err := w.f.ReadAt(buf[first1*pointSize:], a.Offset); err != nil {
			return nil, fmt.Errorf("reading archive %d: %w", a.Index, err)
		}
	}
	s.Values = nanSlice(count)
	t := fromInterval
	for i := int64(0); i < count; i++ {
		p := buf[i*pointSize:]
		if int64(binary.BigEndian.Uint32(p)) == t {
			s.Values[i] = math.Float64frombits(binary.BigEndian.Uint64(p[4:]))
		}
		t += step
	}
	return s, nil
}

// ArchiveSpan scans archive i and returns the timestamps of its oldest and
// newest stored points (ok false when the archive holds none).
func (w *File) ArchiveSpan(i int) (oldest, newest int64, ok bool, err error) {
	a := w.Archives[i]
	buf := make([]byte, a.size())
	if _, err := w.f.ReadAt(buf, a.Offset); err != nil {
		return 0, 0, false, fmt.Errorf("reading archive %d: %w", i, err)
	}
	for j := int64(0); j < a.Points; j++ {
		ts := int64(binary.BigEndian.Uint32(buf[j*pointSize:]))
		if ts == 0 || ts%a.SecondsPerPoint != 0 {
			continue
		}
		v := math.Float64frombits(binary.BigEndian.Uint64(buf[j*pointSize+4:]))
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

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func nanSlice(n int64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.NaN()
	}
	return v
}
