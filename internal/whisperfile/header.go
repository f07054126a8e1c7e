// Package whisperfile owns the whisper file format: constants, aggregation
// methods, archive lists, header encode/decode and validation. It also reads the header of Graphite whisper files and updates
// existing files in place, point for point the way Graphite's whisper.py
// (update_many) does: the same archive choice per point, the same slot
// arithmetic in each ring, the same propagation into coarser archives with
// xFilesFactor and the aggregation method. It does so with few system calls
// (one open without following symlinks, one read for the header and the
// first archive's base point, the writes, one close), because at a million
// metrics a writer's time is mostly system calls. It imports nothing of
// Heka.
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
	metadataSize    = MetadataSize
	archiveInfoSize = ArchiveInfoSize
	pointSize       = PointSize
	maxArchives     = MaxArchives
	// HeaderRead is enough bytes to decode any header at once: the largest
	// header (64 archives) plus the first archive's base point.
	HeaderRead = 1024
)

// Header is a whisper file's metadata.
type Header struct {
	Method       Method
	MaxRetention int
	XFilesFactor float32
	Archives     Archives
	Size         int64 // file size the header implies
}

// dataStart is where the first archive starts (the others follow back to
// back; parseHeader checks that).
func (h *Header) dataStart() int64 { return int64(metadataSize + archiveInfoSize*len(h.Archives)) }

// DecodeHeader decodes and checks a header from b (the start of a file, at
// most HeaderRead bytes needed), reusing h.Archives; see parseHeader.
func DecodeHeader(b []byte, h *Header) error { return parseHeader(b, h) }

// CheckSize checks that a file of size bytes holds every archive.
func (h *Header) CheckSize(size int64) error { return h.checkSize(size) }

// parseHeader reads and checks a header from b (the start of a file), reusing
// h.Archives: a known aggregation method, 1 to 64 archives laid out back to
// back from the end of the header, finest first. A file that fails is
// reported as ErrCorrupt and never written.
func parseHeader(b []byte, h *Header) error {
	if len(b) < metadataSize {
		return fmt.Errorf("%w: shorter than a header", ErrCorrupt)
	}
	method := binary.BigEndian.Uint32(b[0:])
	h.MaxRetention = int(binary.BigEndian.Uint32(b[4:]))
	h.XFilesFactor = math.Float32frombits(binary.BigEndian.Uint32(b[8:]))
	count := binary.BigEndian.Uint32(b[12:])
	h.Method = Method(method)
	h.Archives = h.Archives[:0]
	if !h.Method.Valid() {
		return fmt.Errorf("%w: aggregation method %d is not one of whisper.py's eight", ErrCorrupt, method)
	}
	if count == 0 || count > maxArchives {
		return fmt.Errorf("%w: %d archives", ErrCorrupt, count)
	}
	if !(h.XFilesFactor >= 0 && h.XFilesFactor <= 1) {
		return fmt.Errorf("%w: xFilesFactor %v", ErrCorrupt, h.XFilesFactor)
	}
	if len(b) < metadataSize+archiveInfoSize*int(count) {
		return fmt.Errorf("%w: archive list cut short", ErrCorrupt)
	}
	info := b[metadataSize:]
	offset := int64(metadataSize + archiveInfoSize*count)
	maxRet := 0
	for i := uint32(0); i < count; i++ {
		off := int64(binary.BigEndian.Uint32(info[12*i:]))
		spp := binary.BigEndian.Uint32(info[12*i+4:])
		pts := binary.BigEndian.Uint32(info[12*i+8:])
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
		offset += int64(pts) * pointSize
		if r := a.Retention(); r > maxRet {
			maxRet = r
		}
	}
	if h.MaxRetention != maxRet {
		return fmt.Errorf("%w: max retention %d, archives cover %d", ErrCorrupt, h.MaxRetention, maxRet)
	}
	h.Size = offset
	return nil
}

// EncodeHeader returns the header of a new whisper file with these archives
// (laid out back to back after it), aggregation method and xFilesFactor,
// and the size of the whole file.
func EncodeHeader(m Method, xff float32, as Archives) (hdr []byte, size int64) {
	hdr = make([]byte, metadataSize+archiveInfoSize*len(as))
	binary.BigEndian.PutUint32(hdr[0:], uint32(m))
	binary.BigEndian.PutUint32(hdr[4:], uint32(as.MaxRetention()))
	binary.BigEndian.PutUint32(hdr[8:], math.Float32bits(xff))
	binary.BigEndian.PutUint32(hdr[12:], uint32(len(as)))
	size = int64(len(hdr))
	for i, a := range as {
		info := hdr[metadataSize+archiveInfoSize*i:]
		binary.BigEndian.PutUint32(info[0:], uint32(size))
		binary.BigEndian.PutUint32(info[4:], uint32(a.SecondsPerPoint))
		binary.BigEndian.PutUint32(info[8:], uint32(a.Points))
		size += int64(a.Points) * pointSize
	}
	return hdr, size
}

// checkSize checks that a file of size bytes holds every archive.
func (h *Header) checkSize(size int64) error {
	if size < h.Size {
		return fmt.Errorf("%w: %d bytes, the header needs %d", ErrCorrupt, size, h.Size)
	}
	return nil
}

// ReadHeader reads and checks the header of an open whisper file, and that
// the file is long enough for its archives.
func ReadHeader(f *os.File) (Header, error) {
	var h Header
	b := make([]byte, HeaderRead)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return h, err
	}
	if err := parseHeader(b[:n], &h); err != nil {
		return h, err
	}
	fi, err := f.Stat()
	if err != nil {
		return h, err
	}
	return h, h.checkSize(fi.Size())
}

// ReadHeaderFile reads the header of the whisper file at path.
func ReadHeaderFile(path string) (Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, err
	}
	defer f.Close()
	return ReadHeader(f)
}
