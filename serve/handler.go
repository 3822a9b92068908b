package serve

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pwebs/pwebs/cache"
	"github.com/pwebs/pwebs/logging"
)

// serveRequest answers the request in c.req: it waits for a max_clients
// slot, dispatches, drains what is left of the body and logs.
func (c *conn) serveRequest() {
	r := &c.req
	c.resp = response{}
	c.respHead = c.respHead[:0]
	c.site = nil
	c.resetRouting()
	c.cgiStatus = 0
	c.queued = 0
	c.pathBuf = c.pathBuf[:0]
	c.closeAfter = !r.keepAlive()
	c.resp.noBody = r.method == mHEAD

	limit := int64(c.st.cfg.MaxBodyBytes)
	if r.chunked || r.contentLength > 0 {
		limit = c.bodyLimit()
	}
	c.bodyReader.reset(c, limit)
	if err := c.prebuffer(limit); err != nil {
		// The client stopped sending its body, or went away.
		c.closeAfter = true
		if errors.Is(err, errBodyTimeout) {
			c.writeError(408)
		} else {
			c.broken = true
			c.resp.status = 400 // logged; the client is not there to read it
		}
		c.logRequest()
		return
	}
	if !c.acquireSlot() {
		c.closeAfter = true
		c.writeErrorWith(503, "Retry-After", "5")
		c.logRequest()
		return
	}
	defer c.releaseSlot()

	func() {
		defer c.recoverHandler()
		if r.contentLength > limit {
			c.closeAfter = true
			c.writeError(413)
			return
		}
		c.dispatch()
	}()
	// What the handler left of the body is read and dropped, unless the
	// connection closes anyway.
	if !c.closeAfter && !c.broken && !c.bodyReader.discard() {
		c.closeAfter = true
	}
	if c.closeAfter && !c.bodyReader.done {
		c.linger = true
	}
	c.srv.stats.Requests.Add(1)
	c.logRequest()
}

// recoverHandler turns a panic in a handler into a 500 (or a closed
// connection if the head was already sent) and an error log record.
func (c *conn) recoverHandler() {
	p := recover()
	if p == nil {
		return
	}
	c.srv.log.Error(fmt.Sprintf("panic serving %s: %v", c.req.Target, p), "client", c.remoteAddr(), "stack", string(debug.Stack()))
	if c.resp.headerSent {
		c.closeAfter = true
		c.broken = true
		return
	}
	c.wbuf = c.wbuf[:0]
	c.writeError(500)
}

// prebufferMax is the largest request body read in full before its
// request waits for a max_clients slot, as nginx reads a body into its
// client_body_buffer_size (16 KiB) before passing it on.
const prebufferMax = 16 << 10

// prebuffer reads a small body announced by Content-Length into the read
// buffer before the request takes a slot, so that a client sending its body
// slowly holds a connection but never a slot. A body that waits for
// "100 Continue", a chunked body and a bigger body are read by the handler,
// as they come.
func (c *conn) prebuffer(limit int64) error {
	r := &c.req
	n := r.contentLength
	if r.chunked || n <= 0 || n > prebufferMax || n > limit || (r.expectContinue && r.Minor > 0) {
		return nil
	}
	for int64(c.rend-c.rpos) < n {
		if err := c.fill(); err != nil {
			return err
		}
	}
	return nil
}

// bodyLimit is max_body_bytes of the site the request is for.
func (c *conn) bodyLimit() int64 {
	host := c.req.host
	if c.req.absHost != nil {
		host = c.req.absHost
	}
	return c.st.siteFor(host).maxBodyBytes
}

// acquireSlot waits for a max_clients slot, at most queue_timeout.
func (c *conn) acquireSlot() bool {
	q := c.st.slots
	c.slot = q
	var start time.Time
	ok := q.acquire(c.st.cfg.QueueTimeout.Duration, func() {
		c.srv.logFull("server reached max_clients (%d); requests are queued", q.max)
		start = time.Now()
	})
	if !start.IsZero() {
		c.queued = time.Since(start)
	}
	return ok
}

// resetRouting forgets the internal redirects, error page, fallback and
// authenticated user of the previous request.
func (c *conn) resetRouting() {
	c.authUser = ""
	c.redirects = 0
	c.errDoc = errDoc{}
	c.redirectVars, c.redirectStatus = nil, 0
	c.origPath = nil
	c.fellBack = false
}

// releaseSlot frees the slot taken, in the queue it was taken from (a
// reload that changed max_clients makes a new one).
func (c *conn) releaseSlot() { c.slot.release() }

// answerMalformed answers a request that could not be parsed, and logs it.
func (c *conn) answerMalformed(status int) {
	c.resp = response{}
	c.respHead = c.respHead[:0]
	c.pathBuf = c.pathBuf[:0]
	c.site = nil
	c.resetRouting()
	c.closeAfter = true
	c.bodyReader = body{done: true} // whatever follows is not read
	if c.nreq == 0 && c.rend == 0 {
		return
	}
	c.linger = true
	// The head may be partly parsed: log the raw first line, not fields.
	line := firstLine(c.rbuf[c.rpos:c.rend])
	if c.headBytes == 0 {
		// The head was not read whole: what was received of it.
		c.headBytes = min(c.rend-c.rpos, int(c.st.cfg.MaxHeaderBytes))
	}
	c.req.reset()
	c.req.Line = line
	c.writeError(status)
	c.flush()
	c.logRequest()
}

// testHook, when a test sets it, sees every request first; it returns true
// when it answered the request itself. It is nil outside tests.
var testHook atomic.Pointer[func(c *conn) bool]

// dispatch routes the request: a cached hit, a file, a folder.
func (c *conn) dispatch() {
	r := &c.req
	if h := testHook.Load(); h != nil && (*h)(c) {
		return
	}
	if len(r.rawPath) == 1 && r.rawPath[0] == '*' {
		// OPTIONS *: the server's own methods.
		c.answerOptions("GET, HEAD, POST, OPTIONS")
		return
	}
	if cap(c.pathBuf) < len(r.rawPath)+1 {
		c.pathBuf = make([]byte, 0, len(r.rawPath)+64)
	}
	clean, status := cleanPath(c.pathBuf[:0], r.rawPath)
	if status != 0 {
		c.writeError(status)
		return
	}
	c.pathBuf = clean
	host := r.host
	if r.absHost != nil {
		// An absolute-form target names the host (RFC 9112 3.2.2). pwebs
		// is not a proxy: a host it does not serve, or https, gets 421.
		host = r.absHost
		if !c.st.knownHost(host) || hasPrefixFold(r.Target, "https:") {
			c.srv.log.Info("misdirected request for "+string(r.Target)+": pwebs is not a proxy", "client", c.remoteAddr(), logging.RefererKey, c.referer())
			c.writeError(421)
			return
		}
	}
	s := c.st.siteFor(host)
	c.site = s
	if len(s.redirects) > 0 && c.redirects == 0 && !c.fellBack {
		// Only the path the client asked for is redirected.
		if rd, rest := s.redirectFor(clean); rd != nil {
			c.answerRedirect(rd, rest)
			return
		}
	}
	if hiddenPath(clean) {
		c.writeError(403)
		return
	}
	if len(s.restrict) > 0 && c.errDoc.status == 0 && !c.allowed(s, clean) {
		return
	}
	if len(s.auth) > 0 && c.errDoc.status == 0 {
		// (An error page is public: the error it explains may be this
		// 401.)
		if z := s.authZoneFor(clean); z != nil && !c.authorize(z, clean) {
			return
		}
	}
	if a := c.st.aliasFor(clean); a != nil {
		c.serveAlias(s, a, clean)
		return
	}
	c.serveFile(s, clean)
}

// answerOptions answers OPTIONS with the methods allowed.
func (c *conn) answerOptions(allow string) {
	c.appendStatus(200)
	c.appendHeader("Allow", allow)
	c.appendContentLength(0)
	c.appendEndHead()
}

// serveFile serves the file or folder at the clean URL path p of site s:
// from the cache when it holds the answer, otherwise through the path
// resolver.
func (c *conn) serveFile(s *site, p []byte) {
	ch := c.st.cache
	if ch != nil && (c.req.method == mGET || c.req.method == mHEAD) {
		if e, ok := ch.Get(c.cacheKey(s, p, "")); ok {
			c.serveEntry(e)
			return
		}
		// A folder without an index file: its listing may be cached (the
		// entry is dropped when a file, an index among them, appears).
		if s.listing && len(s.fallbacks) == 0 && p[len(p)-1] == '/' {
			col, desc := sortParams(c.req.rawQuery)
			if e, ok := ch.Get(c.cacheKey(s, p, listingVariant(col, desc, wantsJSON(c.req.accept)))); ok {
				c.serveEntry(e)
				return
			}
		}
	}
	var tok cache.Token
	if ch != nil {
		tok = ch.Begin() // before anything is looked at on disk
	}
	// An SSI page is read through its descriptor alone; a folder or a
	// static file becomes an os.File (osFile) for what it is served with.
	f, fi, err := s.openFast(p, &c.fi)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			c.servePathInfo(s, p, err, tok)
			return
		}
		c.fileError(s, p, err)
		return
	}
	defer func() { f.Close() }()
	osFile := func(name string) *os.File {
		if fd, ok := f.(fdFile); ok {
			of := os.NewFile(uintptr(fd.fd), name)
			f = of
			return of
		}
		return f.(*os.File)
	}
	if fi.IsDir() {
		if p[len(p)-1] != '/' {
			c.redirectSlash(p)
			return
		}
		c.serveDir(s, p, osFile(s.absPath(p)), tok)
		return
	}
	if !fi.Mode().IsRegular() {
		c.writeError(403)
		return
	}
	if sc, ok := c.scriptAt(s, trimSlash(p), nil); ok {
		if p[len(p)-1] == '/' {
			sc.pathInfo = slash // "/app.cgi/" runs the script with PATH_INFO "/"
		}
		c.runScript(s, sc)
		return
	}
	if c.st.isSSI(fi.Name(), fi) {
		var info []byte
		if p[len(p)-1] == '/' {
			info = slash
		}
		c.serveSSI(s, trimSlash(p), trimSlash(p), s.absPath(trimSlash(p)), f, fi, info, tok, nil)
		return
	}
	if p[len(p)-1] == '/' {
		// "/file.txt/" names no folder.
		c.writeError(404)
		return
	}
	if !c.staticMethod() {
		return
	}
	abs := s.absPath(p)
	c.serveRegular(s, p, abs, osFile(abs), fi, tok, nil)
}

// trimSlash drops a trailing slash (but not the root's).
func trimSlash(p []byte) []byte {
	if len(p) > 1 && p[len(p)-1] == '/' {
		return p[:len(p)-1]
	}
	return p
}

// staticMethod answers 405 (or OPTIONS, or 501 for an unknown method) for
// methods a static resource does not allow, and reports whether the
// request may go on.
func (c *conn) staticMethod() bool {
	switch c.req.method {
	case mGET, mHEAD:
		return true
	case mOPTIONS:
		c.answerOptions("GET, HEAD, OPTIONS")
		return false
	case mOther:
		// A method pwebs does not know at all (RFC 9110 9.1), as Apache
		// answers it.
		c.writeErrorWith(501, "Allow", "GET, HEAD, OPTIONS")
		return false
	}
	c.writeErrorWith(405, "Allow", "GET, HEAD, OPTIONS")
	return false
}

// contentType returns the Content-Type for a file name.
func (c *conn) contentType(s *site, name string) string {
	if t, ok := c.st.types.Lookup(name); ok {
		return t
	}
	return s.defaultType
}

// relPath turns a clean URL path into a name relative to a root.
func relPath(p []byte) string {
	if len(p) <= 1 {
		return "."
	}
	q := p[1:]
	if q[len(q)-1] == '/' {
		q = q[:len(q)-1]
	}
	return string(q)
}

// redirectSlash answers 301 to the folder's path with its slash, keeping
// the query string.
func (c *conn) redirectSlash(p []byte) {
	if c.errDoc.status != 0 {
		// An error page that names a folder without its slash: a 301
		// would stand for every error, and browsers keep it.
		c.errorPageFailed(301)
		return
	}
	loc := make([]byte, 0, len(p)+len(c.req.rawQuery)+2)
	loc = appendEscapedPath(loc, p)
	loc = append(loc, '/')
	if c.req.hasQuery {
		loc = append(loc, '?')
		loc = append(loc, c.req.rawQuery...)
	}
	c.redirect(301, loc)
}

// fileError maps an error from opening or reading a file to a response
// and, when it is not the client's doing, an error log record.
func (c *conn) fileError(s *site, p []byte, err error) {
	c.fileErrorAt(s.dir+string(p), err)
}

// fileErrorAt is fileError for the file path file (a site's root and the
// URL path, or a [cgi] folder's file).
func (c *conn) fileErrorAt(file string, err error) {
	status := statusOf(err)
	switch status {
	case 404:
		c.srv.log.Info("File does not exist: "+file, "client", c.remoteAddr(), logging.RefererKey, c.referer())
	case 403:
		c.srv.log.Info(fmt.Sprintf("Permission denied: %s: %v", file, err), "client", c.remoteAddr(), logging.RefererKey, c.referer())
	case 503:
		c.srv.log.Error(fmt.Sprintf("%s: %v", file, err), "client", c.remoteAddr(), logging.RefererKey, c.referer())
		c.writeErrorWith(503, "Retry-After", "1")
		return
	default:
		c.srv.log.Error(fmt.Sprintf("%s: %v", file, err), "client", c.remoteAddr(), logging.RefererKey, c.referer())
	}
	c.writeError(status)
}

// statusOf maps a file system error to a status: missing files 404,
// refused ones 403, exhausted descriptors and leased files 503, anything
// else 500.
func statusOf(err error) int {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ENAMETOOLONG),
		errors.Is(err, syscall.ELOOP):
		return 404
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EACCES):
		return 403
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE), errors.Is(err, errRootMissing),
		errors.Is(err, syscall.EAGAIN):
		// EAGAIN: another process holds a lease on the file; it is
		// released within fs.lease-break-time.
		return 503
	}
	// os.Root reports a path that escapes it (a symlink leading out) with
	// an error of its own.
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Err != nil && (pe.Err == errPathEscapes || pe.Err.Error() == "path escapes from parent") {
		return 404
	}
	return 500
}
