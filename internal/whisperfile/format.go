// Package whisperfile owns Graphite's whisper file format for both sides of
// Dreamcatcher: the header (encode, decode and validation from bytes), the
// eight aggregation methods of whisper.py 1.1 (average, sum, last, max, min,
// avg_zero, absmax, absmin) for roll-up into coarser archives and for the
// storage-aggregation rules, archive choice, fetch, an in-place update_many
// with whisper.py's rules, and the consolidation functions the server
// applies to fetched points (graphite-web's, plus a file's own method).
//
// The writer (plugins/whisper) updates files with Updater; the server
// (whisperserver) reads them with Open and Fetch. The package imports
// neither Heka nor the plugins nor the server.
package whisperfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// ErrCorrupt is wrapped by errors about files that are not valid whisper files.
var ErrCorrupt = errors.New("corrupt whisper file")

const (
	// MetadataSize is the size of a header's fixed part.
	MetadataSize = 16
	// ArchiveInfoSize is the size of one archive's entry in the header.
	ArchiveInfoSize = 12
	// PointSize is the size of one stored point (uint32 time, float64 value).
	PointSize = 12
	// MaxArchives bounds the archive count of a header.
	MaxArchives = 64
	// headerRead is read at once: the largest header (64 archives) plus
	// the first archive's base point.
	headerRead = MetadataSize + ArchiveInfoSize*MaxArchives + PointSize
)

// Archive is one retention level: a point every SecondsPerPoint seconds,
// Points of them.
type Archive struct {
	SecondsPerPoint int
	Points          int
}

// Retention is the time the archive covers, in seconds.
func (a Archive) Retention() int { return a.SecondsPerPoint * a.Points }

// Size is the archive's size in bytes.
func (a Archive) Size() int64 { return int64(a.Points) * PointSize }

// Header is a whisper file's metadata.
type Header struct {
	Method       Method
	MaxRetention int
	XFilesFactor float32
	Archives     []Archive
	Size         int64 // file size the header implies
}

// DataStart is where the first archive starts (the others follow back to
// back; ParseHeader checks that).
func (h *Header) DataStart() int64 { return int64(MetadataSize + ArchiveInfoSize*len(h.Archives)) }

// Offset is where archive i starts in the file.
func (h *Header) Offset(i int) int64 {
	off := h.DataStart()
	for _, a := range h.Archives[:i] {
		off += a.Size()
	}
	return off
}

// ParseHeader decodes and checks a header from b (the start of a file),
// reusing h.Archives: a known aggregation method (1 to 8, whisper.py 1.1),
// an xFilesFactor from 0 to 1, 1 to 64 archives laid out back to back from
// the end of the header, finest first, each a multiple of the finer one's
// step, and a maximum retention equal to the longest archive's. A file that
// fails is reported as ErrCorrupt (and never written).
func ParseHeader(b []byte, h *Header) error {
	if len(b) < MetadataSize {
		return fmt.Errorf("%w: shorter than a header", ErrCorrupt)
	}
	method := binary.BigEndian.Uint32(b[0:])
	h.MaxRetention = int(binary.BigEndian.Uint32(b[4:]))
	h.XFilesFactor = math.Float32frombits(binary.BigEndian.Uint32(b[8:]))
	count := binary.BigEndian.Uint32(b[12:])
	h.Method = Method(method)
	h.Archives = h.Archives[:0]
	if !h.Method.Valid() {
		return fmt.Errorf("%w: unknown aggregation method %d", ErrCorrupt, method)
	}
	if count == 0 || count > MaxArchives {
		return fmt.Errorf("%w: %d archives", ErrCorrupt, count)
	}
	if !(h.XFilesFactor >= 0 && h.XFilesFactor <= 1) {
		return fmt.Errorf("%w: xFilesFactor %v", ErrCorrupt, h.XFilesFactor)
	}
	if len(b) < MetadataSize+ArchiveInfoSize*int(count) {
		return fmt.Errorf("%w: archive list cut short", ErrCorrupt)
	}
	info := b[MetadataSize:]
	offset := int64(MetadataSize + ArchiveInfoSize*count)
	maxRet := 0
	for i := uint32(0); i < count; i++ {
		off := int64(binary.BigEndian.Uint32(info[ArchiveInfoSize*i:]))
		spp := binary.BigEndian.Uint32(info[ArchiveInfoSize*i+4:])
		pts := binary.BigEndian.Uint32(info[ArchiveInfoSize*i+8:])
		if off != offset {
			return fmt.Errorf("%w: archive %d at offset %d, want %d", ErrCorrupt, i, off, offset)
		}
		if spp == 0 || pts == 0 || spp > math.MaxInt32 || pts > math.MaxInt32 || uint64(spp)*uint64(pts) > math.MaxInt32 {
			return fmt.Errorf("%w: archive %d has %d seconds per point, %d points", ErrCorrupt, i, spp, pts)
		}
		if i > 0 {
			prev := h.Archives[i-1].SecondsPerPoint
			if int(spp) <= prev {
				return fmt.Errorf("%w: archives not ordered finest first", ErrCorrupt)
			}
			if int(spp)%prev != 0 {
				return fmt.Errorf("%w: archive %d's %d seconds per point is not a multiple of %d", ErrCorrupt, i, spp, prev)
			}
		}
		a := Archive{SecondsPerPoint: int(spp), Points: int(pts)}
		h.Archives = append(h.Archives, a)
		offset += a.Size()
		maxRet = max(maxRet, a.Retention())
	}
	if h.MaxRetention != maxRet {
		return fmt.Errorf("%w: max retention %d, archives cover %d", ErrCorrupt, h.MaxRetention, maxRet)
	}
	h.Size = offset
	return nil
}

// EncodeHeader returns the header of a new whisper file with these archives
// (laid out back to back after it), aggregation method and xFilesFactor,
// and the size of the whole file, as whisper.py's create writes it.
func EncodeHeader(m Method, xff float32, as []Archive) (hdr []byte, size int64) {
	hdr = make([]byte, MetadataSize+ArchiveInfoSize*len(as))
	maxRet := 0
	for _, a := range as {
		maxRet = max(maxRet, a.Retention())
	}
	binary.BigEndian.PutUint32(hdr[0:], uint32(m))
	binary.BigEndian.PutUint32(hdr[4:], uint32(maxRet))
	binary.BigEndian.PutUint32(hdr[8:], math.Float32bits(xff))
	binary.BigEndian.PutUint32(hdr[12:], uint32(len(as)))
	size = int64(len(hdr))
	for i, a := range as {
		info := hdr[MetadataSize+ArchiveInfoSize*i:]
		binary.BigEndian.PutUint32(info[0:], uint32(size))
		binary.BigEndian.PutUint32(info[4:], uint32(a.SecondsPerPoint))
		binary.BigEndian.PutUint32(info[8:], uint32(a.Points))
		size += a.Size()
	}
	return hdr, size
}

// CheckSize checks that a file of size bytes holds every archive.
func (h *Header) CheckSize(size int64) error {
	if size < h.Size {
		return fmt.Errorf("%w: %d bytes, the header needs %d (truncated?)", ErrCorrupt, size, h.Size)
	}
	return nil
}

// ReadHeader reads and checks the header of a whisper file of the given
// size, and that the file is long enough for its archives.
func ReadHeader(r io.ReaderAt, size int64) (Header, error) {
	var h Header
	b := make([]byte, min(headerRead, max(size, 0)))
	n, err := r.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return h, fmt.Errorf("reading header: %w", err)
	}
	if err := ParseHeader(b[:n], &h); err != nil {
		return h, err
	}
	return h, h.CheckSize(size)
}

// ReadHeaderFile reads the header of the whisper file at path.
func ReadHeaderFile(path string) (Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Header{}, err
	}
	h, err := ReadHeader(f, st.Size())
	if err != nil {
		return h, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}
