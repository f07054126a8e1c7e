package persist

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/whisper/schema"
)

// ErrCorrupt is wrapped by errors about files that are not valid whisper files.
var ErrCorrupt = errors.New("corrupt whisper file")

// Header is a whisper file's metadata.
type Header struct {
	Method       schema.Method
	MaxRetention int
	XFilesFactor float32
	Archives     schema.Archives
	Size         int64 // file size the header implies
}

// ReadHeader reads and checks the header of an open whisper file: a known
// aggregation method, 1 to 64 archives laid out back to back from the end
// of the header, finest first, and a file at least as long as they need.
// A file that fails is reported as ErrCorrupt and never written.
func ReadHeader(f *os.File) (Header, error) {
	var h Header
	meta := make([]byte, 16)
	if _, err := f.ReadAt(meta, 0); err != nil {
		if errors.Is(err, io.EOF) {
			return h, fmt.Errorf("%w: shorter than a header", ErrCorrupt)
		}
		return h, err
	}
	method := binary.BigEndian.Uint32(meta[0:])
	h.MaxRetention = int(binary.BigEndian.Uint32(meta[4:]))
	h.XFilesFactor = math.Float32frombits(binary.BigEndian.Uint32(meta[8:]))
	count := binary.BigEndian.Uint32(meta[12:])
	h.Method = schema.Method(method)
	if !h.Method.Valid() {
		return h, fmt.Errorf("%w: aggregation method %d is not average, sum, last, max or min", ErrCorrupt, method)
	}
	if count == 0 || count > 64 {
		return h, fmt.Errorf("%w: %d archives", ErrCorrupt, count)
	}
	if !(h.XFilesFactor >= 0 && h.XFilesFactor <= 1) {
		return h, fmt.Errorf("%w: xFilesFactor %v", ErrCorrupt, h.XFilesFactor)
	}
	info := make([]byte, 12*count)
	if _, err := f.ReadAt(info, 16); err != nil {
		if errors.Is(err, io.EOF) {
			return h, fmt.Errorf("%w: archive list cut short", ErrCorrupt)
		}
		return h, err
	}
	offset := int64(16 + 12*count)
	maxRet := 0
	for i := uint32(0); i < count; i++ {
		off := int64(binary.BigEndian.Uint32(info[12*i:]))
		spp := binary.BigEndian.Uint32(info[12*i+4:])
		pts := binary.BigEndian.Uint32(info[12*i+8:])
		if off != offset {
			return h, fmt.Errorf("%w: archive %d at offset %d, want %d", ErrCorrupt, i, off, offset)
		}
		if spp == 0 || pts == 0 || spp > math.MaxInt32 || pts > math.MaxInt32 || uint64(spp)*uint64(pts) > math.MaxInt32 {
			return h, fmt.Errorf("%w: archive %d has %d seconds per point, %d points", ErrCorrupt, i, spp, pts)
		}
		if i > 0 && int(spp) <= h.Archives[i-1].SecondsPerPoint {
			return h, fmt.Errorf("%w: archives not ordered finest first", ErrCorrupt)
		}
		a := schema.Archive{SecondsPerPoint: int(spp), Points: int(pts)}
		h.Archives = append(h.Archives, a)
		offset += int64(pts) * 12
		if r := a.Retention(); r > maxRet {
			maxRet = r
		}
	}
	if h.MaxRetention != maxRet {
		return h, fmt.Errorf("%w: max retention %d, archives cover %d", ErrCorrupt, h.MaxRetention, maxRet)
	}
	h.Size = offset
	fi, err := f.Stat()
	if err != nil {
		return h, err
	}
	if fi.Size() < h.Size {
		return h, fmt.Errorf("%w: %d bytes, the header needs %d", ErrCorrupt, fi.Size(), h.Size)
	}
	return h, nil
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
