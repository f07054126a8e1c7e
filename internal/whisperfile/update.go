package whisperfile

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"
)

// Point is one value at a Unix time.
type Point struct {
	Time  int64
	Value float64
}

// ErrSymlink is wrapped by Update's error when the file is a symbolic
// link: it is never followed (the link could lead outside the data folder).
var ErrSymlink = errors.New("whisper file is a symbolic link")

// maxSeries bounds one propagation read: a coarser archive step over a
// finer one, times 12 bytes (a real file needs a few kB; a crafted header
// could ask for gigabytes).
const maxSeries = 16 << 20

// Result says what an Update did with its points.
type Result struct {
	Written int // points handed to an archive
	TooOld  int // points older than the file's longest retention, dropped as whisper.py drops them
}

// Updater updates existing whisper files. It keeps its buffers between
// calls, so steady-state updates do not allocate; it is not safe for
// concurrent use.
type Updater struct {
	f      *Writable // the file being updated
	own    Writable  // UpdateAt's file, reused
	buf    []byte
	pts    []Point
	al     []Point // one archive's points, aligned to its step, one per interval
	pack   []byte
	series []byte
	vals   []float64
}

// Writable is an open whisper file with its parsed header, so that a caller
// keeping it open (Updater.OpenWritable) updates it with UpdateFile without opening
// the file, reading its header and closing it each time. It is not safe
// for concurrent use, and it is up to its holder to notice that the path
// it was opened by now names another file (Dev, Ino) or none.
type Writable struct {
	fd    int
	hdr   Header
	offs  []int64 // where each archive starts
	bases []int64 // each archive's base interval (its first slot's time); -1: not read yet
	// Dev and Ino identify the file opened.
	Dev, Ino uint64
}

// Header returns the file's header as read when it was opened.
func (f *Writable) Header() *Header { return &f.hdr }

// Close closes the file's descriptor.
func (f *Writable) Close() error {
	if f.fd < 0 {
		return nil
	}
	err := syscall.Close(f.fd)
	f.fd = -1
	return err
}

// Update writes pts (in any order; of two points for one interval the
// later in time wins, and of two for the same second the later in pts)
// into the existing whisper file at path, as of Unix time now, with
// whisper.py's rules:
//
//   - each point goes to the finest archive whose retention covers its age
//     (now - time); points older than every archive are dropped (TooOld);
//   - in an archive, points are aligned down to its step and written at the
//     slot given by the distance to the archive's base interval (the time of
//     its first slot; set by the first write), wrapping around the ring;
//   - each coarser archive then gets, for every interval touched, the
//     aggregate of the finer archive's points in it, if the share of them
//     that is known reaches xFilesFactor; the next coarser one only if some
//     value was propagated.
//
// The file is opened without following a symlink (ErrSymlink), and its
// header is checked on every update; full also checks that it is a regular
// file as long as its header says (one fstat more). The Header returned is
// valid until the next call.
func (u *Updater) Update(path string, pts []Point, now int64, full bool) (h *Header, res Result, err error) {
	return u.UpdateAt(unix.AT_FDCWD, "", path, pts, now, full)
}

// UpdateAt is Update for the file name in the folder dir, open as dirfd
// (so the kernel walks one path component instead of the whole path); dir
// is used only to name the file in errors.
func (u *Updater) UpdateAt(dirfd int, dir, name string, pts []Point, now int64, full bool) (h *Header, res Result, err error) {
	f := &u.own
	if err := u.open(f, dirfd, dir, name, full); err != nil {
		return nil, res, err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = &fs.PathError{Op: "close", Path: lazyPath{dir, name}.String(), Err: cerr}
		}
	}()
	res, err = u.update(f, lazyPath{dir, name}, pts, now)
	return &f.hdr, res, err
}

// OpenWritable opens the file name in the folder dir (open as dirfd; dir only
// names the file in errors) for UpdateFile, checking it as UpdateAt does
// (full: also its type and size). The caller closes it.
func (u *Updater) OpenWritable(dirfd int, dir, name string, full bool) (*Writable, error) {
	f := &Writable{fd: -1}
	if err := u.open(f, dirfd, dir, name, full); err != nil {
		return nil, err
	}
	return f, nil
}

// UpdateFile is UpdateAt for a file kept open (OpenWritable), with the header read
// when it was opened: it costs only the archives' own reads and writes. An
// archive's base interval is remembered between updates once the archive
// has been written (a ring's base only moves by whole rings, which leaves
// every slot where it was), and read again while it is empty. name names
// the file in errors. After an error the file should be closed and
// opened again.
func (u *Updater) UpdateFile(f *Writable, name string, pts []Point, now int64) (Result, error) {
	for i, b := range f.bases {
		if b == 0 {
			f.bases[i] = -1
		}
	}
	return u.update(f, lazyPath{"", name}, pts, now)
}

// open opens and checks the file into f.
func (u *Updater) open(f *Writable, dirfd int, dir, name string, full bool) error {
	path := lazyPath{dir, name}
	f.fd = -1
	// O_NOATIME: with relatime, reading a file written since its last
	// access would otherwise cost an inode update (a journal entry) on
	// every update. The kernel allows it only to the file's owner.
	flags := syscall.O_RDWR | syscall.O_NOFOLLOW | syscall.O_CLOEXEC
	fd, err := syscall.Openat(dirfd, name, flags|syscall.O_NOATIME, 0)
	if err == syscall.EPERM {
		fd, err = syscall.Openat(dirfd, name, flags, 0)
	}
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return fmt.Errorf("%s: %w", path, ErrSymlink)
		}
		return &fs.PathError{Op: "open", Path: path.String(), Err: err}
	}
	f.fd = fd
	if err := u.readHeader(f, path, full); err != nil {
		_ = f.Close()
		return err
	}
	return nil
}

// readHeader reads and checks f's header and lays out its archives.
func (u *Updater) readHeader(f *Writable, path lazyPath, full bool) error {
	if u.buf == nil {
		u.buf = make([]byte, HeaderRead)
	}
	u.f = f
	n, err := u.readAt(u.buf, 0)
	if err != nil {
		return fmt.Errorf("reading header of %s: %w", path, err)
	}
	h := &f.hdr
	if err := parseHeader(u.buf[:n], h); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if full || f != &u.own {
		var st syscall.Stat_t
		if err := syscall.Fstat(f.fd, &st); err != nil {
			return &fs.PathError{Op: "stat", Path: path.String(), Err: err}
		}
		f.Dev, f.Ino = uint64(st.Dev), uint64(st.Ino)
		if full {
			if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
				return fmt.Errorf("%s: %w: not a regular file", path, ErrCorrupt)
			}
			if err := h.checkSize(st.Size); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
	}
	f.offs, f.bases = f.offs[:0], f.bases[:0]
	off := h.dataStart()
	for _, a := range h.Archives {
		f.offs = append(f.offs, off)
		f.bases = append(f.bases, -1)
		off += int64(a.Points) * pointSize
	}
	if first := f.offs[0]; first+4 <= int64(n) {
		f.bases[0] = int64(binary.BigEndian.Uint32(u.buf[first:]))
	}
	return nil
}

// update writes pts into the open file f.
func (u *Updater) update(f *Writable, path lazyPath, pts []Point, now int64) (res Result, err error) {
	u.f = f
	h := &f.hdr
	u.pts = append(u.pts[:0], pts...)
	slices.SortStableFunc(u.pts, func(a, b Point) int { return cmp.Compare(a.Time, b.Time) })
	// Newest first, finest archive first, as whisper.py commits them.
	end := len(u.pts)
	for i, a := range h.Archives {
		ret := int64(a.Retention())
		start := end
		for start > 0 && now-u.pts[start-1].Time <= ret {
			start--
		}
		if start < end {
			if err := u.archiveUpdate(i, u.pts[start:end]); err != nil {
				return res, fmt.Errorf("updating %s: %w", path, err)
			}
			res.Written += end - start
		}
		end = start
	}
	res.TooOld = end
	return res, nil
}

// lazyPath names a file in errors; the path is joined only when one is
// formatted, not on every update.
type lazyPath struct{ dir, name string }

func (p lazyPath) String() string { return filepath.Join(p.dir, p.name) }

// archiveUpdate writes chronologically sorted points into archive i and
// propagates them into the coarser archives.
func (u *Updater) archiveUpdate(i int, pts []Point) error {
	step := int64(u.f.hdr.Archives[i].SecondsPerPoint)
	al := u.al[:0]
	for _, p := range pts {
		iv := p.Time - FloorMod(p.Time, step)
		if len(al) > 0 && al[len(al)-1].Time == iv {
			al[len(al)-1].Value = p.Value
			continue
		}
		al = append(al, Point{iv, p.Value})
	}
	u.al = al
	base, err := u.base(i)
	if err != nil {
		return err
	}
	if base == 0 { // the archive's first write: its first run starts the ring
		base = al[0].Time
	}
	for s := 0; s < len(al); {
		e := s + 1
		for e < len(al) && al[e].Time == al[e-1].Time+step {
			e++
		}
		if err := u.writeRun(i, base, al[s:e]); err != nil {
			return err
		}
		s = e
	}

	higher := i
	for lower := i + 1; lower < len(u.f.hdr.Archives); lower++ {
		lstep := int64(u.f.hdr.Archives[lower].SecondsPerPoint)
		further := false
		last := int64(math.MinInt64)
		for _, p := range al {
			iv := p.Time - FloorMod(p.Time, lstep)
			if iv == last {
				continue
			}
			last = iv
			ok, err := u.propagate(iv, higher, lower)
			if err != nil {
				return err
			}
			further = further || ok
		}
		if !further {
			break
		}
		higher = lower
	}
	return nil
}

// writeRun writes points of consecutive intervals into archive i's ring.
func (u *Updater) writeRun(i int, base int64, run []Point) error {
	a := u.f.hdr.Archives[i]
	step, size := int64(a.SecondsPerPoint), int64(a.Points)*pointSize
	if len(run) > a.Points { // longer than the ring: its oldest would be overwritten anyway
		run = run[len(run)-a.Points:]
	}
	rel := FloorMod(FloorDiv(run[0].Time-base, step)*pointSize, size)
	b := u.pack[:0]
	for _, p := range run {
		b = binary.BigEndian.AppendUint32(b, uint32(p.Time))
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(p.Value))
	}
	u.pack = b
	first := min(int64(len(b)), size-rel)
	if err := u.writeAt(b[:first], u.f.offs[i]+rel); err != nil {
		return err
	}
	switch {
	case first < int64(len(b)):
		if err := u.writeAt(b[first:], u.f.offs[i]); err != nil {
			return err
		}
		u.f.bases[i] = run[first/pointSize].Time
	case rel == 0:
		u.f.bases[i] = run[0].Time
	}
	return nil
}

// propagate aggregates archive hi's points in the lower archive's interval
// starting at ts into archive lo, if enough of them are known. It reports
// whether it wrote a value.
func (u *Updater) propagate(ts int64, hi, lo int) (bool, error) {
	H, L := u.f.hdr.Archives[hi], u.f.hdr.Archives[lo]
	hstep, lstep := int64(H.SecondsPerPoint), int64(L.SecondsPerPoint)
	hsize, lsize := int64(H.Points)*pointSize, int64(L.Points)*pointSize
	start := ts - FloorMod(ts, lstep)
	hbase, err := u.base(hi)
	if err != nil {
		return false, err
	}
	var relFirst int64
	if hbase != 0 {
		relFirst = FloorMod(FloorDiv(start-hbase, hstep)*pointSize, hsize)
	}
	relLast := (relFirst + lstep/hstep*pointSize) % hsize
	var n int64
	if relFirst < relLast {
		n = relLast - relFirst
	} else {
		n = hsize - relFirst + relLast
	}
	if n > maxSeries {
		return false, fmt.Errorf("%w: propagating %d bytes from archive %d", ErrCorrupt, n, hi)
	}
	if int64(cap(u.series)) < n {
		u.series = make([]byte, n)
	}
	s := u.series[:n]
	if relFirst < relLast {
		if err := u.readFull(s, u.f.offs[hi]+relFirst); err != nil {
			return false, err
		}
	} else {
		k := hsize - relFirst
		if err := u.readFull(s[:k], u.f.offs[hi]+relFirst); err != nil {
			return false, err
		}
		if err := u.readFull(s[k:], u.f.offs[hi]); err != nil {
			return false, err
		}
	}
	count := len(s) / pointSize
	vals := u.vals[:0]
	cur := start
	for k := 0; k < count; k++ {
		if int64(binary.BigEndian.Uint32(s[k*pointSize:])) == cur {
			vals = append(vals, math.Float64frombits(binary.BigEndian.Uint64(s[k*pointSize+4:])))
		}
		cur += hstep
	}
	u.vals = vals
	if len(vals) == 0 || float64(len(vals))/float64(count) < float64(u.f.hdr.XFilesFactor) {
		return false, nil
	}
	var pt [pointSize]byte
	binary.BigEndian.PutUint32(pt[:], uint32(start))
	binary.BigEndian.PutUint64(pt[4:], math.Float64bits(aggregate(u.f.hdr.Method, vals, count)))
	lbase, err := u.base(lo)
	if err != nil {
		return false, err
	}
	var rel int64
	if lbase != 0 {
		rel = FloorMod(FloorDiv(start-lbase, lstep)*pointSize, lsize)
	}
	if err := u.writeAt(pt[:], u.f.offs[lo]+rel); err != nil {
		return false, err
	}
	if rel == 0 {
		u.f.bases[lo] = start
	}
	return true, nil
}

// aggregate combines the known values of one coarser interval exactly as
// whisper.py 1.1's aggregate does: max and min keep the first of equal
// values and skip NaN comparisons the same way; avg_zero divides the sum of
// the known values by the number of finer slots in the interval (total),
// counting unknown slots as zero; absmax and absmin pick by absolute value
// and keep the sign (the first of equal absolute values, as Python's max and
// min with key=abs).
func aggregate(m Method, vals []float64, total int) float64 {
	switch m {
	case Sum, Average, AvgZero:
		s := 0.0
		for _, v := range vals {
			s += v
		}
		switch m {
		case Average:
			return s / float64(len(vals))
		case AvgZero:
			return s / float64(total)
		}
		return s
	case Last:
		return vals[len(vals)-1]
	case Max, Min, AbsMax, AbsMin:
		return pick(m, vals)
	}
	panic(fmt.Sprintf("whisperfile: aggregation method %d passed the header check", m))
}

// pick returns the value Python's max or min (with key=abs for absmax and
// absmin) returns: the first value that no later value beats strictly.
func pick(m Method, vals []float64) float64 {
	r := vals[0]
	for _, v := range vals[1:] {
		if better(m, v, r) {
			r = v
		}
	}
	return r
}

// better reports whether v replaces the current pick r.
func better(m Method, v, r float64) bool {
	switch m {
	case Max:
		return v > r
	case Min:
		return v < r
	case AbsMax:
		return math.Abs(v) > math.Abs(r)
	}
	return math.Abs(v) < math.Abs(r)
}

// base returns archive i's base interval (0: the archive was never written).
func (u *Updater) base(i int) (int64, error) {
	if u.f.bases[i] < 0 {
		var b [4]byte
		if err := u.readFull(b[:], u.f.offs[i]); err != nil {
			return 0, err
		}
		u.f.bases[i] = int64(binary.BigEndian.Uint32(b[:]))
	}
	return u.f.bases[i], nil
}

// readAt reads up to len(b) bytes at off; fewer only at the end of the file.
func (u *Updater) readAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		m, err := syscall.Pread(u.f.fd, b[n:], off+int64(n))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("read at %d: %w", off, err)
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}

func (u *Updater) readFull(b []byte, off int64) error {
	n, err := u.readAt(b, off)
	if err == nil && n < len(b) {
		err = fmt.Errorf("%w: file ends at %d, inside an archive", ErrCorrupt, off+int64(n))
	}
	return err
}

func (u *Updater) writeAt(b []byte, off int64) error {
	for len(b) > 0 {
		m, err := syscall.Pwrite(u.f.fd, b, off)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("write at %d: %w", off, err)
		}
		if m == 0 {
			return fmt.Errorf("write at %d: %w", off, syscall.EIO)
		}
		b, off = b[m:], off+int64(m)
	}
	return nil
}
