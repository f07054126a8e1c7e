// Package static embeds the front end (index.html, ES modules, CSS and the
// vendored libraries under vendor/ when `make web` has put them there) so
// whisperserver ships as one binary. Go sources are not served.
package static

import (
	"embed"
	"io/fs"
	"strings"
)

// "*" embeds every file and folder here (vendor/ only if it exists), so
// the build never fails on a missing optional folder.
//
//go:embed *
var files embed.FS

// FS returns the front-end files, Go sources left out.
func FS() fs.FS { return shipped{files} }

type shipped struct{ fs.FS }

func (s shipped) Open(name string) (fs.File, error) {
	if strings.HasSuffix(name, ".go") {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return s.FS.Open(name)
}
