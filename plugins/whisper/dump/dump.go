// Package dump keeps the whisper output's unwritten points across a
// restart, in the manner of go-carbon's cache dump: what the writers could
// not write before the stop timeout is written to one file at stop and
// read back into the cache at the next start, then the file is removed.
//
// The file is versioned and checksummed, written under a temporary name,
// synced and renamed into place, so a crash while writing leaves the
// previous state (or none), never half a file. It records the data folder
// it belongs to: a dump made for another data folder is refused. It
// imports nothing of Heka.
package dump

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/whisper/cache"
)

// Version is the format version written by Write.
const Version = 1

const magic = "DCWSPDMP"

// Limits a file must respect to be read; beyond them it is refused as
// corrupt rather than allocated.
const (
	maxName   = 4096
	maxPoints = 1 << 28
)

// ErrCorrupt is wrapped by errors about files that are not a whole, valid dump.
var ErrCorrupt = errors.New("not a valid whisper cache dump")

// ErrForeign is wrapped by errors about dumps made for another data folder.
var ErrForeign = errors.New("dump belongs to another data folder")

// Write writes batches, made for the data folder base, to path atomically.
func Write(path, base string, batches []cache.Batch) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing dump: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := crc32.NewIEEE()
	w := bufio.NewWriterSize(io.MultiWriter(tmp, h), 1<<20)
	var b [8]byte
	u32 := func(v uint32) { binary.LittleEndian.PutUint32(b[:4], v); w.Write(b[:4]) }
	u64 := func(v uint64) { binary.LittleEndian.PutUint64(b[:], v); w.Write(b[:]) }
	w.WriteString(magic)
	u32(Version)
	u32(uint32(len(base)))
	w.WriteString(base)
	u64(uint64(len(batches)))
	for _, bt := range batches {
		u32(uint32(len(bt.Name)))
		w.WriteString(bt.Name)
		u32(uint32(len(bt.Points)))
		for _, p := range bt.Points {
			u64(uint64(p.Time()))
			u64(math.Float64bits(p.Value()))
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing dump %s: %w", tmp.Name(), err)
	}
	binary.LittleEndian.PutUint32(b[:4], h.Sum32())
	if _, err := tmp.Write(b[:4]); err != nil {
		return fmt.Errorf("writing dump %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing dump %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing dump %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("renaming dump into place: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Read reads the dump at path. It returns (nil, nil) when there is none, an
// error wrapping ErrCorrupt for a damaged or unknown file and one wrapping
// ErrForeign for a dump made for another data folder than base.
func Read(path, base string) ([]cache.Batch, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading dump: %w", err)
	}
	if len(data) < len(magic)+4+4 || string(data[:len(magic)]) != magic {
		return nil, fmt.Errorf("%s: %w (unknown format)", path, ErrCorrupt)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if v := binary.LittleEndian.Uint32(data[len(magic):]); v != Version {
		return nil, fmt.Errorf("%s: %w (format version %d, this build reads %d)", path, ErrCorrupt, v, Version)
	}
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%s: %w (checksum mismatch: truncated or damaged)", path, ErrCorrupt)
	}
	r := &reader{b: body[len(magic)+4:]}
	owner := string(r.bytes(int(r.u32())))
	if r.err == nil && owner != base {
		return nil, fmt.Errorf("%s: %w: made for %s, this output writes %s", path, ErrForeign, owner, base)
	}
	n := r.u64()
	out := []cache.Batch{} // not nil: a valid, empty dump is still a dump
	for i := uint64(0); i < n && r.err == nil; i++ {
		nl := r.u32()
		if nl == 0 || nl > maxName {
			r.err = errors.New("bad name length")
			break
		}
		name := string(r.bytes(int(nl)))
		np := r.u32()
		if np > maxPoints || uint64(np)*16 > uint64(len(r.b)) {
			r.err = errors.New("bad point count")
			break
		}
		pts := make([]cache.Point, np)
		for j := range pts {
			t := int64(r.u64())
			pts[j] = cache.MakePoint(t, math.Float64frombits(r.u64()))
		}
		out = append(out, cache.Batch{Name: name, Points: pts})
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errors.New("trailing bytes")
	}
	if r.err != nil {
		return nil, fmt.Errorf("%s: %w (%v)", path, ErrCorrupt, r.err)
	}
	return out, nil
}

// MoveAside renames a refused dump so that it is kept for inspection but
// not read again; it returns the new name.
func MoveAside(path string) (string, error) {
	aside := path + ".refused-" + strconv.FormatInt(time.Now().Unix(), 10)
	if err := os.Rename(path, aside); err != nil {
		return "", fmt.Errorf("moving refused dump aside: %w", err)
	}
	return aside, nil
}

// RemoveStale removes temporary files a Write to path interrupted by a
// crash left behind; they never replaced the dump.
func RemoveStale(path string) {
	stale, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*"))
	for _, f := range stale {
		_ = os.Remove(f)
	}
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		if r.err == nil {
			r.err = io.ErrUnexpectedEOF
		}
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u32() uint32 {
	if b := r.bytes(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.bytes(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}
