// Package store gives the HTTP handlers safe, bounded access to the whisper
// folder: names are turned into paths only by internal/metricpath, every
// path is checked to stay inside the folder with its symlinks resolved,
// files are opened read-only, and a semaphore bounds how many are open at
// once, so hundreds of concurrent requests cannot exhaust file descriptors.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/whisperfile"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/index"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/render"
)

// Errors a handler maps to HTTP statuses.
var (
	ErrNotFound = errors.New("no such metric")
	ErrBadName  = errors.New("invalid metric name")
	ErrOutside  = errors.New("metric path leaves the whisper folder")
	ErrTooMany  = errors.New("too many series")
)

// Store is the read side of one whisper folder.
type Store struct {
	Root  string
	Index *index.Index
	Log   *slog.Logger
	sem   chan struct{}
	// headers caches each file's longest retention for Intervals.
	headers headerCache
	// FileErrors counts files that could not be read (corrupt, vanished).
	FileErrors atomic.Int64
}

// New returns a store over the indexed folder with at most maxOpen files
// open at once.
func New(ix *index.Index, maxOpen int, log *slog.Logger) *Store {
	if maxOpen <= 0 {
		maxOpen = 256
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{Root: ix.Root(), Index: ix, Log: log, sem: make(chan struct{}, maxOpen)}
}

// With opens the metric's file read-only and calls fn with it.
func (s *Store) With(ctx context.Context, name string, fn func(*whisperfile.File) error) error {
	path, err := metricpath.Path(s.Root, name)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadName, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.sem }()
	ok, err := metricpath.Within(s.Root, path)
	if err != nil || !ok {
		if _, statErr := os.Lstat(path); errors.Is(statErr, os.ErrNotExist) {
			return fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		return fmt.Errorf("%w: %s", ErrOutside, name)
	}
	f, err := whisperfile.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		s.FileErrors.Add(1)
		return fmt.Errorf("reading %s: %w", name, err)
	}
	defer f.Close()
	if err := fn(f); err != nil {
		s.FileErrors.Add(1)
		return fmt.Errorf("reading %s: %w", name, err)
	}
	return nil
}

// FetchOptions tune Fetch.
type FetchOptions struct {
	XFilesFactor float64
	// Budget, when set, is decremented by the number of series fetched;
	// Fetch fails with ErrTooMany when it would go below zero.
	Budget *int64
	// OnError is called for each metric that cannot be read; the metric
	// is left out (graphite-web does the same) and the others returned.
	OnError func(name string, err error)
	// Reserve, when set, is asked for the bytes the series will hold
	// before they are read: the whole glob's estimate (the first file's
	// size times the names) at once, then whatever a file needs beyond
	// it. Its error ends the fetch, returned as it is.
	Reserve func(bytes int64) error
}

// Fetch returns the series of every metric matching pattern over
// [start, end] as whisper.py would read them at now, sorted by name.
// Consolidation defaults to each file's own aggregation method.
func (s *Store) Fetch(ctx context.Context, pattern string, start, end, now int64, o FetchOptions) ([]*render.Series, error) {
	limit := 0
	if o.Budget != nil {
		limit = int(max(*o.Budget, 0))
	}
	names, err := s.names(ctx, pattern, limit)
	if err != nil {
		if errors.Is(err, index.ErrTooMany) {
			return nil, fmt.Errorf("%w: %v", ErrTooMany, err)
		}
		return nil, err
	}
	if o.Budget != nil {
		if int64(len(names)) > *o.Budget {
			return nil, fmt.Errorf("%w: %q matches %d series, over the limit", ErrTooMany, pattern, len(names))
		}
		*o.Budget -= int64(len(names))
	}
	out := make([]*render.Series, 0, len(names))
	pay := prepay{reserve: o.Reserve}
	var refused error
	for i, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ser *render.Series
		err := s.With(ctx, name, func(f *whisperfile.File) error {
			if o.Reserve != nil {
				n, err := f.FetchLen(start, end, now, -1)
				if err != nil {
					return err
				}
				all := 0
				if i == 0 {
					all = len(names)
				}
				if refused = pay.take(render.SeriesSize(n, name, pattern), all); refused != nil {
					return nil // not the file's fault: not counted in FileErrors
				}
			}
			ws, err := f.Fetch(start, end, now, -1)
			if err != nil || ws == nil {
				return err
			}
			ser = &render.Series{Name: name, PathExpression: pattern, Start: ws.Start, End: ws.End, Step: ws.Step,
				Values: ws.Values, ValuesPerPoint: 1, ConsolidationFunc: f.Method.String(), XFilesFactor: o.XFilesFactor,
				Tags: s.tags(name)}
			return nil
		})
		if refused != nil {
			return nil, refused
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errors.Is(err, ErrNotFound) {
				continue // removed meanwhile
			}
			s.Log.Warn("metric unreadable", "metric", name, "error", err)
			if o.OnError != nil {
				o.OnError(name, err)
			}
			continue
		}
		if ser != nil {
			out = append(out, ser)
		}
	}
	return out, nil
}

// names resolves a pattern: a seriesByTag call through the tag index,
// anything else as a path glob.
func (s *Store) names(ctx context.Context, pattern string, limit int) ([]string, error) {
	exprs, ok := render.TagExprs(pattern)
	if !ok {
		return s.Index.Leaves(ctx, pattern, limit)
	}
	names, err := s.Index.FindSeries(exprs)
	var te *index.TagError
	if errors.As(err, &te) {
		return nil, &render.InputError{Msg: te.Msg}
	}
	return names, err
}

// tags returns a series' tags as graphite-web's TimeSeries has them.
func (s *Store) tags(name string) map[string]string {
	if t, ok := s.Index.SeriesTags(name); ok {
		m := make(map[string]string, len(t))
		for _, tg := range t {
			m[tg.Key] = tg.Value
		}
		return m
	}
	return render.ParseTags(name)
}

// prepay reserves the memory of a glob's series: for all of them, at the
// first file's size, before any is read (the names of one glob mostly
// share a retention), then whatever a later file needs beyond what is left.
type prepay struct {
	reserve func(bytes int64) error
	left    int64 // reserved and not yet used
}

// take accounts need bytes for one file; all > 0 (the first file) reserves
// need for all files first.
func (p *prepay) take(need int64, all int) error {
	if all > 0 {
		if err := p.reserve(need * int64(all)); err != nil {
			return err
		}
		p.left = need*int64(all) - need
		return nil
	}
	if need <= p.left {
		p.left -= need
		return nil
	}
	if err := p.reserve(need - p.left); err != nil {
		return err
	}
	p.left = 0
	return nil
}
