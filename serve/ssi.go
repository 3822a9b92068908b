package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pwebs/pwebs/cache"
	"github.com/pwebs/pwebs/cgi"
	"github.com/pwebs/pwebs/ssi"
)

// Bounds of SSI processing in serve (the ssi package bounds the rest).
const (
	// maxSSIPage bounds the source of one SSI page read into memory.
	maxSSIPage = 16 << 20
	// maxSSIPages bounds the parse trees kept.
	maxSSIPages = 1024
	// maxSubRedirects bounds the local redirects a script included by a
	// page may make.
	maxSubRedirects = 5
)

// errNotIncludable is returned for an include target that cannot give
// output (a folder with no index file).
var errNotIncludable = errors.New("serve: the include target is a folder without an index file")

// parsedPage is a cached parse tree with the identity of the file it came
// from.
type parsedPage struct {
	page    *ssi.Page
	ino     uint64
	size    int64
	modTime time.Time
}

// isSSI reports whether a file is an SSI page: by its extension, or, with
// xbithack, an .html file whose owner-execute bit is set.
func (st *state) isSSI(name string, fi fs.FileInfo) bool {
	ext := strings.ToLower(filepath.Ext(name))
	if ext == "" {
		return false
	}
	for _, e := range st.cfg.SSI.Extensions {
		if strings.EqualFold(e, ext) {
			return true
		}
	}
	return st.cfg.SSI.XBitHack && (ext == ".html" || ext == ".htm") && fi.Mode()&0o100 != 0
}

// page returns the parse tree of the SSI page open as f, from the cache
// when the file has not changed.
func (st *state) page(name string, f io.Reader, fi fs.FileInfo) (*ssi.Page, error) {
	ino := inodeOf(fi)
	if pp, ok := st.pages.Get(name); ok && pp.ino == ino && pp.size == fi.Size() && pp.modTime.Equal(fi.ModTime()) {
		return pp.page, nil
	}
	if fi.Size() > maxSSIPage {
		return nil, fmt.Errorf("%s: SSI page larger than %d bytes", name, maxSSIPage)
	}
	src := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, src); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := ssi.Parse(name, src)
	st.pages.Add(name, &parsedPage{page: p, ino: ino, size: fi.Size(), modTime: fi.ModTime()})
	return p, nil
}

func inodeOf(fi fs.FileInfo) uint64 {
	if s, ok := fi.Sys().(*syscall.Stat_t); ok {
		return s.Ino
	}
	return 0
}

// changeTime is the later of a file's modification and status-change
// times: a file moved in, or replaced by an older copy, still counts as
// changed.
func changeTime(fi fs.FileInfo) time.Time {
	t := fi.ModTime()
	if s, ok := fi.Sys().(*syscall.Stat_t); ok {
		if ct := time.Unix(s.Ctim.Sec, s.Ctim.Nsec); ct.After(t) {
			t = ct
		}
	}
	return t
}

// ssiWriter takes an SSI page's output for the response: in memory while
// the page may still be cached (it is then answered with a length and
// validators), and streamed with chunked coding from the moment the page
// does something slow, such as including a script, so that what is above
// is not held back.
type ssiWriter struct {
	c         *conn
	typ       string
	buf       []byte
	streaming bool
	chunked   bool
}

func (w *ssiWriter) Write(p []byte) (int, error) {
	if !w.streaming {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	c := w.c
	if c.broken {
		return 0, errClientGone
	}
	if c.resp.noBody || len(p) == 0 {
		return len(p), nil
	}
	if w.chunked {
		c.wbuf = strconv.AppendInt(c.wbuf, int64(len(p)), 16)
		c.wbuf = append(c.wbuf, "\r\n"...)
		c.wbuf = append(c.wbuf, p...)
		c.wbuf = append(c.wbuf, "\r\n"...)
	} else {
		c.wbuf = append(c.wbuf, p...)
	}
	c.resp.bodyBytes += int64(len(p))
	if len(c.wbuf) >= writeBufSize && !c.flush() {
		return 0, errClientGone
	}
	return len(p), nil
}

// WriteString is Write for the page's text between directives, which the
// evaluator holds as strings: buffered without a conversion.
func (w *ssiWriter) WriteString(s string) (int, error) {
	if !w.streaming {
		w.buf = append(w.buf, s...)
		return len(s), nil
	}
	return w.Write([]byte(s))
}

// stream sends the head and what the page wrote so far, and streams from
// then on.
func (w *ssiWriter) stream() error {
	if w.streaming {
		return w.flush()
	}
	c := w.c
	w.streaming = true
	c.appendStatus(200)
	c.appendHeader("Content-Type", w.typ)
	if !c.resp.noBody {
		if c.req.Minor == 1 {
			c.wbuf = append(c.wbuf, "Transfer-Encoding: chunked\r\n"...)
			w.chunked = true
		} else {
			c.closeAfter = true
		}
	}
	c.appendEndHead()
	buf := w.buf
	w.buf = nil
	if _, err := w.Write(buf); err != nil {
		return err
	}
	return w.flush()
}

func (w *ssiWriter) flush() error {
	if !w.c.flush() {
		return errClientGone
	}
	return nil
}

// finish ends a streamed response: the last chunk when all went well,
// otherwise a cut connection, so the client sees it is incomplete.
func (w *ssiWriter) finish(err error) {
	c := w.c
	if err != nil {
		c.closeAfter = true
		return
	}
	if w.chunked && !c.broken && !c.resp.noBody {
		c.wbuf = append(c.wbuf, "0\r\n\r\n"...)
	}
}

// serveSSI answers an SSI page: from the cache when its output depends
// only on files, rendered otherwise. p is the page's URL path (its
// DOCUMENT_URI); key is the path its output is cached under (a folder's
// own path for its index page, whose absent lists the index names tried
// before it).
func (c *conn) serveSSI(s *site, key, p []byte, file string, f io.Reader, fi fs.FileInfo, pathInfo []byte, tok cache.Token, absent []string) {
	if !c.staticMethod() {
		return
	}
	page, err := c.st.page(file, f, fi)
	if err != nil {
		c.srv.log.Error(err.Error(), "client", c.remoteAddr())
		c.writeError(500)
		return
	}
	typ := c.contentType(s, fi.Name())
	w := &c.ssiw
	*w = ssiWriter{c: c, typ: typ, buf: c.ssiBuf[:0]}
	uri := string(p)
	run := &c.ssiRun
	*run = ssiRun{
		st: c.st, s: s, c: c, top: w,
		state:    ssi.NewState(time.Now(), nil),
		pageFile: file, pageURI: uri, pathInfo: string(pathInfo),
		query: string(c.req.rawQuery), hasQuery: c.req.hasQuery,
		ctx: c.srv.baseCtx,
	}
	run.addDep(file, fi)
	for _, a := range absent {
		run.addDep(a, nil)
	}
	report, err := page.Execute(w, uri, run, &c.st.cfg.SSI, run.state)
	if w.streaming {
		w.finish(err)
		if err != nil && !errors.Is(err, errClientGone) {
			c.srv.log.Error(fmt.Sprintf("%s: %v", file, err), "client", c.remoteAddr())
		}
		return
	}
	body := w.buf
	c.ssiBuf = body[:0]
	if err != nil {
		c.srv.log.Error(fmt.Sprintf("%s: %v", file, err), "client", c.remoteAddr())
		c.writeError(500)
		return
	}
	if ch := c.st.cache; ch != nil && report.Cacheable && !run.uncacheable && int64(len(body)) <= int64(c.st.cfg.Cache.MaxFileSize) {
		h := fnv.New64a()
		h.Write(body)
		etag := "\"s" + strconv.FormatUint(h.Sum64(), 16) + "\""
		e := c.st.newEntry(typ, bytes.Clone(body), run.lastMod, etag, "", c.st.expires.lookup(typ), run.deps)
		c.cacheKey(s, key, "")
		ch.Add(c.ownedKey(), e, tok)
		c.serveEntry(e)
		return
	}
	ct := content{typ: typ, size: int64(len(body)), body: body}
	c.serveContent(&ct)
}

// ssiRun is one rendering of an SSI page: the ssi.Host the evaluator
// talks to. It serves requests (c set) and the pwebs ssi command (c nil).
type ssiRun struct {
	st    *state
	s     *site
	c     *conn      // the request; nil outside one
	top   *ssiWriter // the response writer; nil outside a request
	state *ssi.State
	ctx   context.Context

	pageFile, pageURI, pathInfo, query string
	hasQuery                           bool // the request had a '?', perhaps with nothing after it

	// nestedQuery is the query string of the nested page being executed,
	// when its include named one (nested is then true): while it runs,
	// QUERY_STRING and QUERY_STRING_UNESCAPED are its own, as in Apache;
	// every other variable stays the page's.
	nestedQuery string
	nested      bool

	vars   []ssi.Var
	varIdx map[string]string

	deps        []cache.Dep
	seen        map[string]bool
	lastMod     time.Time
	uncacheable bool // something the evaluator cannot see made the output depend on more than files

	// errorf reports a problem at a page's line; onto the error log by
	// default.
	errorf func(name string, line int, msg string)
	// cgiBase is the script request of the CLI (c nil).
	cgiBase *cgi.Request
}

var _ ssi.Host = (*ssiRun)(nil)

// addDep records a file the output depends on, as seen now; fi nil records
// a file that does not exist. The record is what a cache entry of the
// output is invalidated by: without a cache (the cache off, or the pwebs
// ssi command), nothing is recorded.
func (r *ssiRun) addDep(path string, fi fs.FileInfo) {
	if r.st.cache == nil {
		return
	}
	if r.seen == nil {
		r.seen = make(map[string]bool)
	}
	if r.seen[path] {
		return
	}
	r.seen[path] = true
	r.deps = append(r.deps, cache.DepOf(path, fi))
	if fi != nil {
		if t := changeTime(fi); t.After(r.lastMod) {
			r.lastMod = t
		}
	}
}

// baseRequest is the script request of the page itself.
func (r *ssiRun) baseRequest() *cgi.Request {
	if r.cgiBase != nil {
		cp := *r.cgiBase
		return &cp
	}
	sc := &script{file: r.pageFile, name: []byte(r.pageURI), pathInfo: []byte(r.pathInfo), docRoot: r.s.dir, prefixDir: r.s.dir}
	return r.c.cgiRequest(r.s, sc)
}

// loadVars builds the request's variables once.
func (r *ssiRun) loadVars() {
	if r.varIdx != nil {
		return
	}
	r.varIdx = make(map[string]string)
	add := func(k, v string) {
		if _, dup := r.varIdx[k]; dup {
			return
		}
		r.varIdx[k] = v
		r.vars = append(r.vars, ssi.Var{Name: k, Value: v})
	}
	base := r.baseRequest()
	for _, kv := range cgi.Env(base, &r.st.cfg.CGI) {
		k, v, _ := strings.Cut(kv, "=")
		if k != "REDIRECT_STATUS" || base.RedirectStatus != 0 { // php-cgi's, not the page's, unless the page answers a redirect
			add(k, v)
		}
	}
	add("DOCUMENT_URI", r.pageURI)
	add("DOCUMENT_ARGS", r.query)
	if r.pathInfo != "" {
		add("DOCUMENT_PATH_INFO", r.pathInfo)
	}
	add("USER_NAME", ownerName(r.pageFile))
	add("DOCUMENT_NAME", filepath.Base(r.pageFile))
	if r.hasQuery {
		add("QUERY_STRING_UNESCAPED", ssi.QueryStringUnescaped(r.query))
	}
	slices.SortStableFunc(r.vars, func(a, b ssi.Var) int { return envRank(a.Name) - envRank(b.Name) })
}

// envRank places a variable in the order in which Apache builds an SSI
// page's environment, the order printenv shows: the request's header
// fields (in their own order), then ap_add_common_vars' variables,
// ap_add_cgi_vars' and mod_include's own. A variable Apache does not set
// goes with the last of ap_add_common_vars', as its REMOTE_IDENT does.
func envRank(name string) int {
	if strings.HasPrefix(name, "HTTP_") || name == "CONTENT_TYPE" || name == "CONTENT_LENGTH" {
		return 0
	}
	for i, n := range apacheEnvOrder {
		if n == name {
			return i + 1
		}
	}
	return slices.Index(apacheEnvOrder, "AUTH_TYPE") + 2
}

// apacheEnvOrder is the order of Apache's SSI variables after the request
// header fields. mod_include's DATE_LOCAL, DATE_GMT and LAST_MODIFIED,
// which the evaluator adds, come right before DOCUMENT_URI.
var apacheEnvOrder = []string{
	"PATH", "SERVER_SIGNATURE", "SERVER_SOFTWARE", "SERVER_NAME", "SERVER_ADDR", "SERVER_PORT",
	"REMOTE_HOST", "REMOTE_ADDR", "DOCUMENT_ROOT", "REQUEST_SCHEME", "CONTEXT_PREFIX",
	"CONTEXT_DOCUMENT_ROOT", "SERVER_ADMIN", "SCRIPT_FILENAME", "REMOTE_PORT", "REMOTE_USER", "AUTH_TYPE",
	"GATEWAY_INTERFACE", "SERVER_PROTOCOL", "REQUEST_METHOD", "QUERY_STRING", "REQUEST_URI",
	"SCRIPT_NAME", "PATH_INFO", "PATH_TRANSLATED",
	"DOCUMENT_URI", "DOCUMENT_ARGS", "DOCUMENT_PATH_INFO", "USER_NAME", "DOCUMENT_NAME",
	"QUERY_STRING_UNESCAPED",
}

// ownerName is the name of a file's owner, or its uid.
func ownerName(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	if name, ok := userNames.Load(st.Uid); ok {
		return name.(string)
	}
	uid := strconv.FormatUint(uint64(st.Uid), 10)
	name := uid
	if u, err := user.LookupId(uid); err == nil {
		name = u.Username
	}
	userNames.Store(st.Uid, name)
	return name
}

// userNames caches user names by uid (looking one up reads /etc/passwd).
var userNames sync.Map

// currentQuery is the query string QUERY_STRING and
// QUERY_STRING_UNESCAPED show now: the nested page's while one that was
// included with a query runs, the request's otherwise. ok is false when
// there is none (no '?').
func (r *ssiRun) currentQuery() (q string, ok bool) {
	if r.nested {
		return r.nestedQuery, true
	}
	return r.query, r.hasQuery
}

// Var returns a request variable. The page's own variables are answered
// without building the whole CGI environment.
func (r *ssiRun) Var(name string) (string, bool) {
	switch name {
	case "DOCUMENT_URI":
		return r.pageURI, true
	case "DOCUMENT_NAME":
		return filepath.Base(r.pageFile), true
	case "DOCUMENT_ARGS":
		return r.query, true
	case "QUERY_STRING":
		if r.nested {
			return r.nestedQuery, true
		}
	case "QUERY_STRING_UNESCAPED":
		q, ok := r.currentQuery()
		if !ok {
			return "", false
		}
		return ssi.QueryStringUnescaped(q), true
	case "DOCUMENT_PATH_INFO":
		return r.pathInfo, r.pathInfo != ""
	case "USER_NAME":
		return ownerName(r.pageFile), true
	}
	r.loadVars()
	v, ok := r.varIdx[name]
	return v, ok
}

// Vars returns every request variable, in Apache's order.
func (r *ssiRun) Vars() []ssi.Var {
	r.loadVars()
	if !r.nested {
		return r.vars
	}
	vars := slices.Clone(r.vars)
	qsu := ssi.QueryStringUnescaped(r.nestedQuery)
	found := false
	for i := range vars {
		switch vars[i].Name {
		case "QUERY_STRING":
			vars[i].Value = r.nestedQuery
		case "QUERY_STRING_UNESCAPED":
			vars[i].Value, found = qsu, true
		}
	}
	if !found {
		vars = append(vars, ssi.Var{Name: "QUERY_STRING_UNESCAPED", Value: qsu})
	}
	return vars
}

// Error records a problem of a page at a line.
func (r *ssiRun) Error(name string, line int, msg string) {
	if r.errorf != nil {
		r.errorf(name, line, msg)
		return
	}
	client := ""
	if r.c != nil {
		client = r.c.remoteAddr()
	}
	r.st.log.Error(fmt.Sprintf("%s:%d: %s", name, line, msg), "client", client)
}

// goStreaming switches the response to streaming before something slow.
func (r *ssiRun) goStreaming() error {
	r.uncacheable = true
	if r.top != nil {
		return r.top.stream()
	}
	return nil
}

// IncludeFile writes the file at URL path p. p names a file as it is,
// as Apache's include file does: a '?', a '#' or a '%' in it is part of
// the name.
func (r *ssiRun) IncludeFile(w io.Writer, p string) error { return r.include(w, literalPath(p), 0) }

// literalPath escapes what resolveSub would otherwise read as the start of
// a query string or a fragment, or as a percent escape, in the URL path p.
func literalPath(p string) string {
	if !strings.ContainsAny(p, "%?#") {
		return p
	}
	return strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(p)
}

// IncludeVirtual writes what an internal GET of uri answers.
func (r *ssiRun) IncludeVirtual(w io.Writer, uri string) error { return r.include(w, uri, 0) }

// subTarget is what an include or stat names.
type subTarget struct {
	p        []byte // the clean URL path
	file     string // absolute file path
	f        io.ReadCloser
	fi       fs.FileInfo
	sc       *script // set for a script
	pathInfo []byte
	query    string // the query string, without its '?'
	hasQuery bool   // the URI had a '?', perhaps with nothing after it
	dir      bool   // a folder without an index file: it has a size and a date, but no output

	// Room for p and for fi, so that a target costs one allocation.
	pbuf [64]byte
	info fdInfo
}

// resolveSub resolves a URI of an include, fsize or flastmod the way a
// request for it would be: the fragment dropped, cleaned, dotfiles
// refused, through a [cgi] alias or the site's root, index files for a
// folder. A folder named with a final slash that has no index file is
// returned with dir set, and no file open. Missing files are recorded as
// dependencies. The caller closes t.f.
func (r *ssiRun) resolveSub(uri string) (*subTarget, error) {
	path, _, _ := strings.Cut(uri, "#")
	path, query, hasQuery := strings.Cut(path, "?")
	t := new(subTarget)
	t.query, t.hasQuery = query, hasQuery
	buf := t.pbuf[:0]
	if len(path)+1 > len(t.pbuf) {
		buf = make([]byte, 0, len(path)+1)
	}
	clean, st := cleanPath(buf, []byte(path))
	if st != 0 {
		return nil, fmt.Errorf("%s: bad path (status %d)", uri, st)
	}
	if hiddenPath(clean) {
		return nil, fmt.Errorf("%s: %w", uri, fs.ErrPermission)
	}
	if err := r.accessible(clean); err != nil {
		return nil, fmt.Errorf("%s: %w", uri, err)
	}
	if a := r.st.aliasFor(clean); a != nil {
		sub := clean[len(a.prefix)-1:]
		file, info := sub, []byte(nil)
		if _, err := a.root.Stat(relPath(sub)); err != nil {
			var ok bool
			if file, info, _, ok = splitPathInfo(a.root, sub); !ok {
				return nil, fmt.Errorf("%s: %w", uri, err)
			}
		}
		name := append([]byte(a.prefix[:len(a.prefix)-1]), file...)
		t.p, t.sc = clean, &script{file: filepath.Join(a.dir, filepath.FromSlash(relPath(file))), name: name,
			pathInfo: info, docRoot: r.s.dir, prefix: a.prefix, prefixDir: a.dir, inDir: true}
		return t, nil
	}
	s := r.s
	f, fi, err := s.openFast(clean, &t.info)
	if err != nil {
		if file, info, ffi, ok := splitPathInfo(s.fs(), clean); ok {
			abs := s.absPath(file)
			if r.st.cgi != nil && r.st.cgi.IsScript(abs, false) {
				t.p, t.sc = file, &script{file: abs, name: file, pathInfo: info, docRoot: s.dir, prefixDir: s.dir}
				return t, nil
			}
			if r.st.isSSI(abs, ffi) {
				f, err := s.openFile(relPath(file))
				if err == nil {
					t.p, t.file, t.f, t.fi, t.pathInfo = file, abs, f, ffi, info
					return t, nil
				}
			}
		}
		r.addDep(s.absPath(clean), nil)
		return nil, fmt.Errorf("%s: %w", uri, err)
	}
	if fi.IsDir() {
		f.Close()
		rel := relPath(clean)
		for _, name := range s.index {
			ip := append(append([]byte(nil), trimSlash(clean)...), '/')
			ip = append(ip, name...)
			ff, ffi, err := s.openFast(ip, nil)
			if err != nil {
				r.addDep(filepath.Join(s.dir, filepath.FromSlash(joinRel(rel, name))), nil)
				continue
			}
			if !ffi.Mode().IsRegular() {
				ff.Close()
				continue
			}
			clean, f, fi = ip, ff, ffi
			break
		}
		if fi.IsDir() {
			if clean[len(clean)-1] != '/' {
				// Apache answers a folder named without its slash with a
				// redirect, which no include follows.
				return nil, fmt.Errorf("%s: %w", uri, errNotIncludable)
			}
			t.p, t.file, t.fi, t.dir = clean, s.absPath(clean), fi, true
			return t, nil
		}
	}
	abs := s.absPath(clean)
	if r.st.cgi != nil && r.st.cgi.IsScript(abs, false) {
		f.Close()
		t.p, t.sc = clean, &script{file: abs, name: clean, docRoot: s.dir, prefixDir: s.dir}
		return t, nil
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: %w", uri, fs.ErrPermission)
	}
	t.p, t.file, t.f, t.fi = clean, abs, f, fi
	return t, nil
}

// errNotAllowed is an include of a path under restrict or auth that the
// request may not see.
var errNotAllowed = errors.New("the client may not see it (restrict or auth)")

// accessible checks the clean path p of an include against the site's
// restrict and auth with the request's client and credentials, as a
// request for it would be checked (Apache's subrequests are). A page that
// includes such a path shows what the client may see, so its output is
// not cached. The pwebs ssi command, with no client, is let through.
func (r *ssiRun) accessible(p []byte) error {
	s := r.s
	if len(s.restrict) == 0 && len(s.auth) == 0 {
		return nil
	}
	rs, z := s.restrictionFor(p), s.authZoneFor(p)
	if rs == nil && z == nil {
		return nil
	}
	r.uncacheable = true
	if r.c == nil {
		return nil
	}
	if rs != nil && !rs.admits(r.c.remoteAddr()) {
		return errNotAllowed
	}
	if z != nil {
		v, _ := r.c.req.Lookup("Authorization")
		user, password, ok := basicCredentials(v)
		if !ok {
			return errNotAllowed
		}
		if matched, err := z.users.match(user, password, r.c.srv.log); err != nil || !matched {
			return errNotAllowed
		}
	}
	return nil
}

// include writes what the URI names: a nested SSI page (with the same
// State, so recursion is seen), a script's output, or a static file.
func (r *ssiRun) include(w io.Writer, uri string, redirects int) error {
	if done, err := r.includePlain(w, uri); done {
		return err
	}
	t, err := r.resolveSub(uri)
	if err != nil {
		return err
	}
	if t.sc != nil {
		return r.runSub(w, t.sc, t.query, redirects, false)
	}
	if t.dir {
		return fmt.Errorf("%s: %w", uri, errNotIncludable)
	}
	defer t.f.Close()
	if r.st.isSSI(t.file, t.fi) {
		page, err := r.st.page(t.file, t.f, t.fi)
		if err != nil {
			return err
		}
		r.addDep(t.file, t.fi)
		if !t.hasQuery {
			_, err = page.Execute(w, string(t.p), r, &r.st.cfg.SSI, r.state)
			return err
		}
		savedQuery, savedNested := r.nestedQuery, r.nested
		r.nestedQuery, r.nested = t.query, true
		_, err = page.Execute(w, string(t.p), r, &r.st.cfg.SSI, r.state)
		r.nestedQuery, r.nested = savedQuery, savedNested
		return err
	}
	r.addDep(t.file, t.fi)
	r.state.Depend(t.file)
	return copyFile(w, t.f, t.fi.Size())
}

// includePlain writes the file uri names when it is a plain file (not a
// script, a nested page or a folder) and nothing asks for its stat: no
// cache records it as a dependency, and XBitHack does not look at its mode.
// It then costs an open, a read and a close: a read shorter than the buffer
// is the whole file, and a folder answers the read with EISDIR. It reports
// false, having written nothing, for anything else, which resolveSub and
// include then handle as usual (and report, if it is an error).
func (r *ssiRun) includePlain(w io.Writer, uri string) (bool, error) {
	if r.st.cache != nil || r.st.cfg.SSI.XBitHack {
		return false, nil
	}
	path, _, _ := strings.Cut(uri, "#")
	path, _, _ = strings.Cut(path, "?")
	var pbuf [128]byte
	if len(path)+1 > len(pbuf) {
		return false, nil
	}
	clean, st := cleanPath(pbuf[:0], []byte(path))
	if st != 0 || len(clean) < 2 || clean[len(clean)-1] == '/' || hiddenPath(clean) || r.st.aliasFor(clean) != nil {
		return false, nil
	}
	s := r.s
	abs := s.absPath(clean)
	if r.st.isSSI(abs, nil) || r.st.cgi != nil && r.st.cgi.IsScript(abs, false) {
		return false, nil
	}
	fd, ok, err := s.openFD(relPath(clean))
	if !ok || err != nil {
		return false, nil
	}
	f := fdFile{fd}
	defer f.Close()
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	n, err := f.Read(buf)
	switch {
	case errors.Is(err, syscall.EISDIR):
		return false, nil
	case err == io.EOF:
		n = 0
	case err != nil:
		return true, fmt.Errorf("%s: %w", uri, err)
	}
	if n == len(buf) {
		// A bigger file: make sure it is a regular one before any of it
		// goes out, then copy the rest.
		var fst syscall.Stat_t
		if err := syscall.Fstat(fd, &fst); err != nil {
			return true, fmt.Errorf("%s: %w", uri, err)
		}
		if fst.Mode&syscall.S_IFMT != syscall.S_IFREG {
			return true, fmt.Errorf("%s: %w", uri, fs.ErrPermission)
		}
	}
	if s.stats != nil {
		s.stats.Opens.Add(1)
	}
	// No r.state.Depend: the evaluator's dependency list and its verdict
	// on caching serve only the cache, which is off here.
	if _, err := w.Write(buf[:n]); err != nil {
		return true, err
	}
	if n < len(buf) {
		return true, nil
	}
	return true, copyFile(w, f, -1)
}

// copyFile writes the content of f, a regular file of size bytes when
// it was opened, to w through a pooled buffer (io.Copy would make a 32 KiB
// one for every include). Once size bytes are in, a read that comes short
// of what was asked is the end of the file, so a small file costs one read,
// not two.
func copyFile(w io.Writer, f io.Reader, size int64) error {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	if size >= 0 && size < int64(len(buf)) {
		// One byte more than the file had: one that grew meanwhile is
		// still read to its end.
		buf = buf[:size+1]
	}
	var total int64
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			total += int64(n)
		}
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		case n < len(buf) && total >= size:
			return nil
		}
		buf = *bp
	}
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// Stat returns the size and modification time of what kind/p names: a
// folder's own when it has no index file. Kind "file" names a file as it
// is, as IncludeFile does.
func (r *ssiRun) Stat(kind, p string) (int64, time.Time, error) {
	if kind == "file" {
		p = literalPath(p)
	}
	t, err := r.resolveSub(p)
	if err != nil {
		return 0, time.Time{}, err
	}
	if t.dir {
		// A folder's size and date change with its entries, which no
		// dependency records.
		r.uncacheable = true
		return t.fi.Size(), t.fi.ModTime(), nil
	}
	if t.sc != nil {
		fi, err := os.Stat(t.sc.file)
		if err != nil {
			return 0, time.Time{}, err
		}
		r.addDep(t.sc.file, fi)
		return fi.Size(), fi.ModTime(), nil
	}
	t.f.Close()
	r.addDep(t.file, t.fi)
	return t.fi.Size(), t.fi.ModTime(), nil
}

// runSub runs a script for an include virtual (exec false) or an exec
// cgi (exec true) and writes its body, whatever its status, as Apache
// does. A script that redirects to a local path is followed; one that
// redirects elsewhere is an error for include, and a link to where it
// points for exec.
//
// The script's environment is Apache's for a subrequest of the page:
// REQUEST_URI is the page's request's, SERVER_PROTOCOL is INCLUDED, and
// the page's variables follow the script's own: those set by the pages,
// then DOCUMENT_NAME, DOCUMENT_URI, DOCUMENT_ARGS, DOCUMENT_PATH_INFO and
// QUERY_STRING_UNESCAPED.
func (r *ssiRun) runSub(w io.Writer, sc *script, query string, redirects int, exec bool) error {
	h := r.st.cgi
	if h == nil {
		return errors.New("CGI is not configured")
	}
	if err := r.goStreaming(); err != nil {
		return err
	}
	req := r.baseRequest()
	req.Method = "GET"
	req.Proto = "INCLUDED"
	req.ScriptFilename = sc.file
	req.ScriptName = string(sc.name)
	req.PathInfo = string(sc.pathInfo)
	req.QueryString = query
	req.ContextPrefix, req.ContextDocumentRoot = sc.prefix, sc.prefixDir
	req.Body, req.ContentLength = nil, 0
	set := r.state.Vars()
	req.Extra = make([]cgi.Field, 0, len(set)+5)
	for _, v := range set {
		req.Extra = append(req.Extra, cgi.Field{Name: v.Name, Value: v.Value})
	}
	req.Extra = append(req.Extra,
		cgi.Field{Name: "DOCUMENT_NAME", Value: filepath.Base(r.pageFile)},
		cgi.Field{Name: "DOCUMENT_URI", Value: r.pageURI},
		cgi.Field{Name: "DOCUMENT_ARGS", Value: r.query})
	if r.pathInfo != "" {
		req.Extra = append(req.Extra, cgi.Field{Name: "DOCUMENT_PATH_INFO", Value: r.pathInfo})
	}
	if q, ok := r.currentQuery(); ok {
		req.Extra = append(req.Extra, cgi.Field{Name: "QUERY_STRING_UNESCAPED", Value: ssi.QueryStringUnescaped(q)})
	}
	sw := &subWriter{w: w, run: r}
	var _ cgi.RedirectNoter = sw
	res, err := h.Serve(r.ctx, sw, req)
	if err != nil {
		return fmt.Errorf("%s: %w", sc.file, err)
	}
	if res.LocalRedirect != "" {
		if redirects >= maxSubRedirects {
			return fmt.Errorf("%s: too many redirects", sc.file)
		}
		return r.include(w, res.LocalRedirect, redirects+1)
	}
	if sw.redirect != "" {
		if !exec {
			return fmt.Errorf("%s redirected to %s", sc.file, sw.redirect)
		}
		loc := htmlEscaper.Replace(sw.redirect)
		_, err := io.WriteString(w, `<a href="`+loc+`">`+loc+`</a>`)
		return err
	}
	return nil
}

// htmlEscaper escapes as Apache's ap_escape_html does.
var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

// subWriter takes the body of a script an SSI page includes; its header
// is not sent.
type subWriter struct {
	w        io.Writer
	run      *ssiRun
	redirect string // where a script that redirected to another site pointed; its body is dropped
}

// WriteHeader does nothing: an included script's header is not sent.
func (sw *subWriter) WriteHeader(status int, fields []cgi.Field) error { return nil }

// NoteRedirect records a Location to another site sent with no Status:
// the script's body is dropped, and the include is an error (a link, for
// exec cgi). A script's own Status: 302 is included like any other.
func (sw *subWriter) NoteRedirect(location string) { sw.redirect = location }

func (sw *subWriter) Write(p []byte) (int, error) {
	if sw.redirect != "" {
		return len(p), nil
	}
	return sw.w.Write(p)
}

func (sw *subWriter) Flush() error {
	if sw.run.top != nil && sw.run.top.streaming {
		return sw.run.top.flush()
	}
	return nil
}

func (sw *subWriter) Raw() (io.Writer, error) {
	return nil, errors.New("an nph- script cannot be included")
}

// ExecCmd runs cmd with /bin/sh -c in the page's folder and writes its
// standard output; its standard error goes to the error log. It is stopped,
// with its whole process group, after the CGI timeout.
func (r *ssiRun) ExecCmd(w io.Writer, cmd string, env []ssi.Var) error {
	if err := r.goStreaming(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.st.cfg.CGI.Timeout.Duration)
	defer cancel()
	x := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	x.Dir = filepath.Dir(r.pageFile)
	x.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	for _, v := range env {
		if v.Name != "PATH" {
			x.Env = append(x.Env, v.Name+"="+v.Value)
		}
	}
	x.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	x.Cancel = func() error { return syscall.Kill(-x.Process.Pid, syscall.SIGKILL) }
	x.WaitDelay = time.Second
	var stderr bytes.Buffer
	x.Stdout = &flushingWriter{w: w, run: r}
	x.Stderr = &limitedBuffer{b: &stderr, max: 4096}
	err := x.Run()
	if stderr.Len() > 0 {
		r.Error(r.pageFile, 0, "exec cmd stderr: "+strings.TrimSpace(stderr.String()))
	}
	return err
}

// ExecCGI runs the script at uri and writes its output. As in Apache, the
// script gets the page's query string and path info, and uri may have
// neither.
func (r *ssiRun) ExecCGI(w io.Writer, uri string) error {
	t, err := r.resolveSub(uri)
	if err != nil {
		return err
	}
	if t.sc == nil {
		if t.f != nil {
			t.f.Close()
		}
		return fmt.Errorf("%s is not a CGI script", uri)
	}
	if t.hasQuery || len(t.sc.pathInfo) > 0 {
		return fmt.Errorf("%s: exec cgi takes no query string or path info; the script gets the page's", uri)
	}
	sc := *t.sc
	sc.pathInfo = []byte(r.pathInfo)
	return r.runSub(w, &sc, r.query, 0, true)
}

// flushingWriter writes a command's output and flushes the response after
// each write, so it streams.
type flushingWriter struct {
	w   io.Writer
	run *ssiRun
}

func (f *flushingWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil && f.run.top != nil && f.run.top.streaming {
		err = f.run.top.flush()
	}
	return n, err
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
