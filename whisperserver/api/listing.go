package api

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/index"
)

// page reads offset and limit; a limit over max_find is refused, and
// defaultLimit applies when none is given (-1: no limit).
func (a *API) page(w http.ResponseWriter, r *http.Request, defaultLimit int) (offset, limit int, ok bool) {
	q := r.URL.Query()
	limit = defaultLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			WriteError(w, http.StatusBadRequest, "limit must be a non-negative integer")
			return 0, 0, false
		}
		if a.cfg.MaxFind > 0 && n > a.cfg.MaxFind {
			WriteError(w, http.StatusUnprocessableEntity, fmt.Sprintf("limit %d is over the limit of %d (max_find); page with offset", n, a.cfg.MaxFind))
			return 0, 0, false
		}
		limit = n
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			WriteError(w, http.StatusBadRequest, "offset must be a non-negative integer")
			return 0, 0, false
		}
		offset = n
	}
	return offset, limit, true
}

// stream is a JSON answer written as it is produced: buffered, gzipped
// when the client accepts it, so a list of a million names costs a few
// kilobytes per request rather than the list's size.
type stream struct {
	bw *bufio.Writer
	gz *gzip.Writer
}

func newStream(w http.ResponseWriter, r *http.Request) *stream {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	h.Add("Vary", "Accept-Encoding")
	var out io.Writer = w
	s := &stream{}
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		s.gz, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
		out = s.gz
	}
	w.WriteHeader(http.StatusOK)
	s.bw = bufio.NewWriterSize(out, 32<<10)
	return s
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(params, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

func (s *stream) raw(b string) { _, _ = s.bw.WriteString(b) }

// str writes a JSON string.
func (s *stream) str(v string) {
	if needsEscape(v) {
		b, _ := json.Marshal(v)
		_, _ = s.bw.Write(b)
		return
	}
	_ = s.bw.WriteByte('"')
	_, _ = s.bw.WriteString(v)
	_ = s.bw.WriteByte('"')
}

// child writes one tree entry: {"name","path","leaf","expandable"}.
func (s *stream) child(prefix string, k index.Entry) {
	s.raw(`{"name":`)
	s.str(k.Name)
	s.raw(`,"path":`)
	if prefix == "" {
		s.str(k.Name)
	} else {
		s.str2(prefix, ".", k.Name)
	}
	s.raw(`,"leaf":`)
	s.raw(strconv.FormatBool(k.Leaf))
	s.raw(`,"expandable":`)
	s.raw(strconv.FormatBool(k.Branch))
	s.raw("}")
}

// str2 writes the JSON string a+sep+b without joining them first.
func (s *stream) str2(a, sep, b string) {
	if needsEscape(a) || needsEscape(b) {
		s.str(a + sep + b)
		return
	}
	_ = s.bw.WriteByte('"')
	_, _ = s.bw.WriteString(a)
	_, _ = s.bw.WriteString(sep)
	_, _ = s.bw.WriteString(b)
	_ = s.bw.WriteByte('"')
}

func needsEscape(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			return true
		}
	}
	return false
}

func (s *stream) close() {
	_ = s.bw.Flush()
	if s.gz != nil {
		_ = s.gz.Close()
	}
}

// matchAll reports whether lower-cased name holds every term.
func matchAll(name string, terms []string) bool {
	if len(terms) == 0 {
		return true
	}
	lower := strings.ToLower(name)
	for _, t := range terms {
		if !strings.Contains(lower, t) {
			return false
		}
	}
	return true
}

// metrics lists metric names containing every word of q. Without limit
// the whole list streams (the page filters it in the browser); a limit
// pages it and may not pass max_find.
func (a *API) metrics(w http.ResponseWriter, r *http.Request) {
	terms := strings.Fields(strings.ToLower(r.URL.Query().Get("q")))
	offset, limit, ok := a.page(w, r, -1)
	if !ok {
		return
	}
	all := a.cfg.Store.Index.Names() // shared, sorted, not copied
	s := newStream(w, r)
	defer s.close()
	s.raw(`{"metrics":[`)
	total, written := 0, 0
	for i, name := range all {
		if i%4096 == 0 && r.Context().Err() != nil {
			return // cut: the access log shows the short answer
		}
		if !matchAll(name, terms) {
			continue
		}
		total++
		if total <= offset || (limit >= 0 && written >= limit) {
			continue
		}
		if written > 0 {
			s.raw(",")
		}
		s.str(name)
		written++
	}
	s.raw(`],"total":` + strconv.Itoa(total) + `,"offset":` + strconv.Itoa(offset) +
		`,"truncated":` + strconv.FormatBool(offset+written < total) + "}\n")
}

// tree lists the children of prefix, a page of at most max_find.
func (a *API) tree(w http.ResponseWriter, r *http.Request) {
	prefix := strings.Trim(r.URL.Query().Get("prefix"), ".")
	def := -1
	if a.cfg.MaxFind > 0 {
		def = a.cfg.MaxFind
	}
	offset, limit, ok := a.page(w, r, def)
	if !ok {
		return
	}
	kids, found := a.cfg.Store.Index.Children(prefix)
	if !found {
		WriteError(w, http.StatusNotFound, fmt.Sprintf("no such prefix: %q", prefix))
		return
	}
	end := len(kids)
	if offset > end {
		offset = end
	}
	if limit >= 0 && offset+limit < end {
		end = offset + limit
	}
	s := newStream(w, r)
	defer s.close()
	s.raw(`{"prefix":`)
	s.str(prefix)
	s.raw(`,"children":[`)
	for i, k := range kids[offset:end] {
		if i%4096 == 0 && r.Context().Err() != nil {
			return
		}
		if i > 0 {
			s.raw(",")
		}
		s.child(prefix, k)
	}
	s.raw(`],"total":` + strconv.Itoa(len(kids)) + `,"offset":` + strconv.Itoa(offset) +
		`,"truncated":` + strconv.FormatBool(end < len(kids)) + "}\n")
}
