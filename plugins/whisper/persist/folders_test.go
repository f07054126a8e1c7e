package persist

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// newTestFolders returns folders over a new data folder (with the given
// subfolders made) inside a new root, and the root.
func newTestFolders(t *testing.T, max int, dirs ...string) (*folders, string, string) {
	t.Helper()
	root := t.TempDir()
	base := filepath.Join(root, "data")
	for _, d := range append([]string{base, filepath.Join(root, "outside")}, dirs...) {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	baseFd, err := unix.Open(base, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := newFolders(base, baseFd, max)
	t.Cleanup(func() {
		f.closeAll()
		unix.Close(baseFd)
	})
	return f, base, root
}

// sameDir reports whether fd is the folder at path.
func sameDir(t *testing.T, fd int, path string) bool {
	t.Helper()
	var a, b unix.Stat_t
	if err := unix.Fstat(fd, &a); err != nil {
		t.Fatalf("fstat %d: %v", fd, err)
	}
	if err := unix.Stat(path, &b); err != nil {
		t.Fatal(err)
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

func TestFoldersLeastRecentlyUsedOut(t *testing.T) {
	f, base, _ := newTestFolders(t, 2, "a", "b", "c")
	now := time.Now().Unix()
	fds := map[string]int{}
	for _, d := range []string{"a", "b", "a", "c"} {
		fd, err := f.getFd(d, now)
		if err != nil {
			t.Fatal(err)
		}
		if !sameDir(t, fd, filepath.Join(base, d)) {
			t.Fatalf("descriptor for %s is another folder", d)
		}
		if old, ok := fds[d]; ok && old != fd {
			t.Errorf("%s opened again while open", d)
		}
		fds[d] = fd
	}
	if len(f.open) != 2 || f.open["b"] != nil || f.open["a"] == nil || f.open["c"] == nil {
		t.Errorf("open %v, want a and c (b least recently used)", f.open)
	}
	// b's descriptor was closed (unless reused for c).
	if fds["b"] != fds["c"] {
		if _, err := unix.FcntlInt(uintptr(fds["b"]), unix.F_GETFD, 0); err != unix.EBADF {
			t.Errorf("evicted descriptor still open: %v", err)
		}
	}
	fd, err := f.getFd(".", now)
	if err != nil || !sameDir(t, fd, base) {
		t.Errorf("data folder itself: %v", err)
	}
}

func TestFoldersRefuseOutside(t *testing.T) {
	f, base, root := newTestFolders(t, 8, "in/deep")
	outside := filepath.Join(root, "outside")
	links := map[string]string{
		"abs-out": outside,
		"rel-out": "../outside",
		"abs-in":  filepath.Join(base, "in"), // absolute, but stays inside: allowed
		"rel-in":  "in/deep",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(base, name)); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().Unix()
	for _, rel := range []string{"abs-out", "rel-out", "abs-out/x", "in/../../outside"} {
		if _, err := f.getFd(rel, now); !errors.Is(err, errOutside) {
			t.Errorf("%s: err %v, want errOutside", rel, err)
		}
	}
	for rel, want := range map[string]string{"abs-in": "in", "rel-in": "in/deep", "abs-in/deep": "in/deep"} {
		fd, err := f.getFd(rel, now)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if !sameDir(t, fd, filepath.Join(base, want)) {
			t.Errorf("%s: not the folder %s", rel, want)
		}
	}
	if _, err := f.getFd("missing/x", now); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing folder: err %v, want fs.ErrNotExist", err)
	}
	if len(f.open) != 3 {
		t.Errorf("%d open, want 3 (refused and missing folders are not kept)", len(f.open))
	}
}

// TestFoldersReopened: a folder swapped for a symlink leading out is used
// (by its old descriptor, which still is the real folder) at most until
// recheckAfter has passed; then it is refused.
func TestFoldersReopened(t *testing.T) {
	f, base, root := newTestFolders(t, 8, "app")
	now := time.Now().Unix()
	fd, err := f.getFd("app", now)
	if err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(root, "moved")
	if err := os.Rename(filepath.Join(base, "app"), moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "outside"), filepath.Join(base, "app")); err != nil {
		t.Fatal(err)
	}
	if fd2, err := f.getFd("app", now+recheckAfter-1); err != nil || fd2 != fd {
		t.Errorf("within recheckAfter: fd %d err %v, want the open %d", fd2, err, fd)
	}
	if _, err := f.getFd("app", now+recheckAfter); !errors.Is(err, errOutside) {
		t.Errorf("after recheckAfter: err %v, want errOutside", err)
	}
	if len(f.open) != 0 {
		t.Errorf("open %v, want none", f.open)
	}
}

// TestFolderRemovedAndMadeAgain: a metric's folder removed while the
// writer holds it open is made again with the file, and written.
func TestFolderRemovedAndMadeAgain(t *testing.T) {
	base := t.TempDir()
	p, c, lb := start(t, base, rules(t, "10s:1h"), nil)
	now := time.Now().Unix()
	c.Add([]byte("app.x"), now-20, 1)
	testutil.Eventually(t, 20*time.Second, func() bool { return p.Stats().PointsWritten == 1 }, "stats %+v\n%s", p.Stats(), lb)
	if err := os.RemoveAll(filepath.Join(base, "app")); err != nil {
		t.Fatal(err)
	}
	c.Add([]byte("app.x"), now-10, 2)
	testutil.Eventually(t, 20*time.Second, func() bool { return p.Stats().PointsWritten == 2 }, "stats %+v\n%s", p.Stats(), lb)
	if st := p.Stats(); st.Creates != 2 || st.UpdateErrors != 0 || st.CreateErrors != 0 {
		t.Errorf("stats %+v, want 2 creates and no errors", st)
	}
	if _, err := os.Stat(filepath.Join(base, "app", "x.wsp")); err != nil {
		t.Error(err)
	}
}

// getFd is get for tests that compare descriptors.
func (f *folders) getFd(rel string, now int64) (int, error) {
	d, err := f.get(rel, now)
	if err != nil {
		return -1, err
	}
	return d.fd, nil
}
