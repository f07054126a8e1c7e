// Package dashboards serves the dashboard files of a folder: JSON files,
// one dashboard each (docs/dashboards.md), read-only, read again when they
// change. A file that cannot be used is logged with its reason and listed
// as broken; it never stops the others.
package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// Limits on what one folder and one file may hold.
const (
	MaxFiles     = 1000
	MaxFileBytes = 1 << 20
	MaxCharts    = 100
	MaxTargets   = 50
	MaxTargetLen = 4000
	MaxTitleLen  = 200
)

// Units a chart may name (as the front end shows them).
var Units = []string{"", "auto", "ms", "s", "B", "B/s", "%", "/s", "none"}

// YAxisModes a chart may name.
var YAxisModes = []string{"", "auto", "zero", "percent"}

// namePattern: a dashboard's name is its file name without ".json".
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)

// Dashboard is one file's content.
type Dashboard struct {
	Title       string  `json:"title"`
	Description string  `json:"description,omitempty"`
	From        string  `json:"from,omitempty"`
	Until       string  `json:"until,omitempty"`
	Refresh     int     `json:"refresh,omitempty"`
	Charts      []Chart `json:"charts"`
}

// Chart is one chart of a dashboard.
type Chart struct {
	Title   string   `json:"title"`
	Targets []string `json:"targets"`
	Unit    string   `json:"unit,omitempty"`
	YAxis   string   `json:"yAxis,omitempty"`
	YMin    *float64 `json:"yMin,omitempty"`
	YMax    *float64 `json:"yMax,omitempty"`
}

// Summary is a dashboard in the list.
type Summary struct {
	Name   string `json:"name"`
	Title  string `json:"title,omitempty"`
	Charts int    `json:"charts"`
	File   string `json:"file"`
	Error  string `json:"error,omitempty"`
}

type entry struct {
	mod   time.Time
	size  int64
	dash  *Dashboard
	err   error
	file  string
	title string
}

// Folder is the dashboards of one folder, kept up to date.
type Folder struct {
	dir string
	log *slog.Logger

	mu      sync.Mutex
	entries map[string]*entry
	dirErr  error
}

// New returns the dashboards of dir ("" gives an empty folder).
func New(dir string, log *slog.Logger) *Folder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Folder{dir: dir, log: log, entries: map[string]*entry{}}
	f.refresh()
	return f
}

// List returns every dashboard, broken ones with their error, by name.
func (f *Folder) List() ([]Summary, error) {
	f.refresh()
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Summary, 0, len(f.entries))
	for name, e := range f.entries {
		s := Summary{Name: name, File: e.file}
		if e.err != nil {
			s.Error = e.err.Error()
		} else {
			s.Title = e.dash.Title
			s.Charts = len(e.dash.Charts)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, f.dirErr
}

// ErrNotFound: no dashboard file of that name.
var ErrNotFound = errors.New("no such dashboard")

// Get returns one dashboard, ErrNotFound, or why its file cannot be used.
func (f *Folder) Get(name string) (*Dashboard, error) {
	if !namePattern.MatchString(name) {
		return nil, ErrNotFound
	}
	f.refresh()
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.entries[name]
	if !ok {
		return nil, ErrNotFound
	}
	if e.err != nil {
		return nil, fmt.Errorf("%s: %w", e.file, e.err)
	}
	return e.dash, nil
}

// refresh reads the folder again on every request (one directory read:
// cheap for MaxFiles files): new and changed files (modification time or
// size) are parsed, removed ones dropped.
func (f *Folder) refresh() {
	if f.dir == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	des, err := os.ReadDir(f.dir)
	if err != nil {
		if f.dirErr == nil || f.dirErr.Error() != err.Error() {
			f.log.Warn("dashboards: cannot read the folder", "dir", f.dir, "error", err)
		}
		f.dirErr = fmt.Errorf("dashboards folder: %w", err)
		f.entries = map[string]*entry{}
		return
	}
	f.dirErr = nil
	seen := map[string]bool{}
	for _, de := range des {
		if len(seen) >= MaxFiles {
			f.log.Warn("dashboards: too many files, the rest are ignored", "dir", f.dir, "max", MaxFiles)
			break
		}
		fn := de.Name()
		if de.IsDir() || !strings.HasSuffix(fn, ".json") || strings.HasPrefix(fn, ".") {
			continue
		}
		name := strings.TrimSuffix(fn, ".json")
		path := filepath.Join(f.dir, fn)
		seen[name] = true
		info, err := de.Info()
		if err != nil {
			f.set(name, &entry{file: path, err: fmt.Errorf("cannot stat: %w", err)})
			continue
		}
		if old, ok := f.entries[name]; ok && old.mod.Equal(info.ModTime()) && old.size == info.Size() {
			continue
		}
		e := &entry{file: path, mod: info.ModTime(), size: info.Size()}
		if !namePattern.MatchString(name) {
			e.err = errors.New("file name: want letters, digits, '_', '-' or '.' (at most 100), starting with a letter or digit")
		} else {
			e.dash, e.err = readFile(path)
		}
		f.set(name, e)
	}
	for name := range f.entries {
		if !seen[name] {
			f.log.Info("dashboards: file removed", "file", f.entries[name].file)
			delete(f.entries, name)
		}
	}
}

func (f *Folder) set(name string, e *entry) {
	if e.err != nil {
		f.log.Warn("dashboards: file not used", "file", e.file, "error", e.err)
	} else {
		f.log.Info("dashboards: loaded", "file", e.file, "title", e.dash.Title, "charts", len(e.dash.Charts))
	}
	f.entries[name] = e
}

// readFile reads and checks one dashboard file (regular files only, at
// most MaxFileBytes).
func readFile(path string) (*Dashboard, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot stat: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	b, err := io.ReadAll(io.LimitReader(fh, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("larger than %d bytes", MaxFileBytes)
	}
	return Parse(b)
}

// Parse decodes and checks a dashboard: unknown keys are errors (a typo
// must not be silently ignored).
func Parse(b []byte) (*Dashboard, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d Dashboard
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("not a dashboard: %w", jsonError(b, err))
	}
	if dec.More() {
		return nil, errors.New("not a dashboard: more than one JSON value")
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// jsonError adds the line and column of a syntax error.
func jsonError(b []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(b[:se.Offset], []byte("\n"))
		col := int(se.Offset) - bytes.LastIndexByte(b[:se.Offset], '\n') - 1
		return fmt.Errorf("line %d, column %d: %w", line, col, err)
	}
	return err
}

// Validate checks the keys' values.
func (d *Dashboard) Validate() error {
	var errs []error
	if strings.TrimSpace(d.Title) == "" {
		errs = append(errs, errors.New(`"title" is missing or empty`))
	}
	if len(d.Title) > MaxTitleLen {
		errs = append(errs, fmt.Errorf(`"title" is longer than %d bytes`, MaxTitleLen))
	}
	if d.Charts == nil {
		errs = append(errs, errors.New(`"charts" is missing`))
	}
	if len(d.Charts) > MaxCharts {
		errs = append(errs, fmt.Errorf(`"charts": more than %d`, MaxCharts))
	}
	if d.Refresh < 0 {
		errs = append(errs, errors.New(`"refresh" must not be negative`))
	}
	for i, c := range d.Charts {
		if err := c.validate(); err != nil {
			errs = append(errs, fmt.Errorf("chart %d (%q): %w", i+1, c.Title, err))
		}
		if len(errs) > 10 {
			break
		}
	}
	return errors.Join(errs...)
}

func (c Chart) validate() error {
	var errs []error
	if len(c.Title) > MaxTitleLen {
		errs = append(errs, fmt.Errorf(`"title" is longer than %d bytes`, MaxTitleLen))
	}
	if len(c.Targets) == 0 {
		errs = append(errs, errors.New(`"targets" is missing or empty`))
	}
	if len(c.Targets) > MaxTargets {
		errs = append(errs, fmt.Errorf(`"targets": more than %d`, MaxTargets))
	}
	for j, t := range c.Targets {
		if strings.TrimSpace(t) == "" {
			errs = append(errs, fmt.Errorf("target %d is empty", j+1))
		} else if len(t) > MaxTargetLen {
			errs = append(errs, fmt.Errorf("target %d is longer than %d bytes", j+1, MaxTargetLen))
		}
	}
	if !contains(Units, c.Unit) {
		errs = append(errs, fmt.Errorf(`"unit" %q: want one of %s`, c.Unit, strings.Join(quoted(Units[1:]), ", ")))
	}
	if !contains(YAxisModes, c.YAxis) {
		errs = append(errs, fmt.Errorf(`"yAxis" %q: want one of %s`, c.YAxis, strings.Join(quoted(YAxisModes[1:]), ", ")))
	}
	for _, v := range []*float64{c.YMin, c.YMax} {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
			errs = append(errs, errors.New(`"yMin"/"yMax" must be finite`))
		}
	}
	if c.YMin != nil && c.YMax != nil && *c.YMin >= *c.YMax {
		errs = append(errs, errors.New(`"yMin" must be below "yMax"`))
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func quoted(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
