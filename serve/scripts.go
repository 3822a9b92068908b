package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pwebs/pwebs/cache"
	"github.com/pwebs/pwebs/cgi"
	"github.com/pwebs/pwebs/logging"
)

// maxRedirects bounds internal redirects (a script's local Location), as
// Apache's LimitInternalRecursion does.
const maxRedirects = 10

// script is a resolved script: the file to run and how the URL named it.
type script struct {
	file      string // absolute path of the script file
	name      []byte // SCRIPT_NAME: the URL path of the script
	pathInfo  []byte // PATH_INFO: what the URL had after the script, decoded
	docRoot   string // DOCUMENT_ROOT
	prefix    string // CONTEXT_PREFIX (an alias), "" for the document root
	prefixDir string // CONTEXT_DOCUMENT_ROOT
	inDir     bool   // reached through a [cgi] dirs alias
}

// splitPathInfo finds the first leading part of the clean path p that
// names a regular file under root: p is that file followed by path info
// ("/app.cgi" and "/extra/path"). ok is false when no such file exists.
func splitPathInfo(root *os.Root, p []byte) (file, info []byte, fi fs.FileInfo, ok bool) {
	for i := 1; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		st, err := root.Stat(relPath(p[:i]))
		if err != nil {
			return nil, nil, nil, false
		}
		if st.Mode().IsRegular() {
			return p[:i], p[i:], st, true
		}
		if !st.IsDir() {
			return nil, nil, nil, false
		}
	}
	return nil, nil, nil, false
}

// serveAlias answers a path under a [cgi] dirs alias: every file there is
// a script; folders are refused; nothing is ever sent as a file.
func (c *conn) serveAlias(s *site, a *alias, p []byte) {
	sub := p[len(a.prefix)-1:] // keeps its leading '/'
	fi, err := a.root.Stat(relPath(sub))
	var info []byte
	file := sub
	switch {
	case err == nil && fi.IsDir():
		c.srv.log.Info("attempt to invoke a folder as a script: "+a.dir+string(sub), "client", c.remoteAddr(), logging.RefererKey, c.referer())
		c.writeError(403)
		return
	case err == nil && !fi.Mode().IsRegular():
		c.writeError(403)
		return
	case err == nil && len(sub) > 1 && sub[len(sub)-1] == '/':
		// "/script.cgi/": the slash is path info (RFC 3875 4.1.5).
		file, info = sub[:len(sub)-1], sub[len(sub)-1:]
	case err != nil:
		var ok bool
		file, info, _, ok = splitPathInfo(a.root, sub)
		if !ok {
			c.fileErrorAt(a.dir+string(sub), err)
			return
		}
	}
	name := make([]byte, 0, len(a.prefix)+len(file))
	name = append(append(name, a.prefix[:len(a.prefix)-1]...), file...)
	c.runScript(s, &script{
		file:      filepath.Join(a.dir, filepath.FromSlash(relPath(file))),
		name:      name,
		pathInfo:  info,
		docRoot:   s.dir,
		prefix:    a.prefix,
		prefixDir: a.dir,
		inDir:     true,
	})
}

// scriptAt reports whether the regular file at URL path p of site s is a
// script (by its extension or interpreter), and returns it resolved.
func (c *conn) scriptAt(s *site, p, info []byte) (*script, bool) {
	h := c.st.cgi
	if h == nil {
		return nil, false
	}
	file := s.absPath(p)
	if !h.IsScript(file, false) {
		return nil, false
	}
	return &script{file: file, name: p, pathInfo: info, docRoot: s.dir, prefixDir: s.dir}, true
}

// servePathInfo answers a path that names no file: the first file along
// it may be a script that takes the rest as PATH_INFO. When there is no
// file along it, the site's fallback answers if it has one. Anything else
// is the original error (404).
func (c *conn) servePathInfo(s *site, p []byte, openErr error, tok cache.Token) {
	file, info, fi, ok := splitPathInfo(s.fs(), p)
	if ok {
		if sc, ok := c.scriptAt(s, file, info); ok {
			c.runScript(s, sc)
			return
		}
		if c.st.isSSI(fi.Name(), fi) {
			// An SSI page takes path info too (DOCUMENT_PATH_INFO); its
			// output is not cached under this path.
			f, ffi, err := s.open(file)
			if err == nil {
				defer f.Close()
				c.serveSSI(s, file, file, s.absPath(file), f, ffi, info, tok, nil)
				return
			}
		}
	} else if c.fallBack(s, p) {
		// Nothing along the path exists: a front controller answers.
		return
	}
	c.fileError(s, p, openErr)
}

// runScript runs a CGI script for the current request and streams its
// response. After an internal redirect (c.redirects > 0) the request has
// no body left for the script.
func (c *conn) runScript(s *site, sc *script) {
	r := &c.req
	h := c.st.cgi
	if r.method == mOPTIONS {
		c.answerOptions("GET, HEAD, POST, OPTIONS")
		return
	}
	req := c.cgiRequest(s, sc)
	body := &c.bodyReader
	hasBody := c.redirects == 0 && !body.done
	if hasBody {
		body.lent = true
		req.Body = body
		req.ContentLength = r.contentLength
		if r.chunked {
			req.ContentLength = -1
		}
		// The script may read its stdin at any time: send 100 Continue
		// now, from this goroutine, rather than from the one that copies
		// the body.
		if !body.continued {
			body.continued = true
			c.wbuf = append(c.wbuf, "HTTP/1.1 100 Continue\r\n\r\n"...)
			if !c.flush() {
				return
			}
		}
	}

	ctx, cancel := context.WithCancel(c.srv.baseCtx)
	defer cancel()
	bg := &c.bg
	bg.reset(c, cancel)
	if hasBody {
		body.onDone = bg.start
	} else {
		bg.start()
	}
	w := &c.cgiw
	*w = cgiWriter{c: c}
	res, err := h.Serve(ctx, w, req)
	body.lent = false
	body.onDone = nil
	bg.stop()

	switch {
	case err == nil && res.LocalRedirect != "":
		c.internalRedirect(req, res.LocalRedirect)
		return
	case err == nil:
		w.finish()
		return
	case errors.Is(err, cgi.ErrAborted), errors.Is(err, errClientGone), errors.Is(err, errBodyCut):
		// The client is gone (or the server is stopping): send nothing.
		// An nph- script's status, if it sent one, is what is logged.
		c.closeAfter = true
		c.broken = true
		if w.raw {
			c.resp.status = c.cgiStatus
		}
		return
	case res.HeaderSent:
		// Too late for an error page: end the connection without the
		// final chunk, so the client sees the response is incomplete.
		c.closeAfter = true
		return
	}
	status := 500
	switch {
	case errors.Is(err, cgi.ErrNotFound):
		status = 404
	case errors.Is(err, cgi.ErrForbidden):
		status = 403
	case errors.Is(err, cgi.ErrBodyTooLarge), errors.Is(err, errBodyTooLarge):
		status = 413
	case errors.Is(err, errBadChunk):
		status = 400
	case errors.Is(err, errBodyTimeout):
		status = 408
	case errors.Is(err, cgi.ErrBusy), errors.Is(err, cgi.ErrClosed):
		c.writeErrorWith(503, "Retry-After", "5")
		return
	case errors.Is(err, cgi.ErrStart) && errors.Is(err, fs.ErrNotExist):
		// The interpreter is not installed.
		c.srv.log.Error(fmt.Sprintf("cannot run %s: %v", sc.file, err), "client", c.remoteAddr(), logging.RefererKey, c.referer())
		c.writeErrorWith(503, "Retry-After", "60")
		return
	case errors.Is(err, cgi.ErrTimeout):
		status = 504
	}
	switch status {
	case 404, 403:
		c.srv.log.Info(fmt.Sprintf("script %s: %v", sc.file, err), "client", c.remoteAddr(), logging.RefererKey, c.referer())
	case 413, 400, 408:
		// The body could not be read (the script did not start): the
		// connection cannot go on after it.
		c.srv.log.Info(fmt.Sprintf("script %s: %v", sc.file, err), "client", c.remoteAddr(), logging.RefererKey, c.referer())
		c.closeAfter = true
	}
	c.writeError(status)
}

// cgiRequest fills a script run's request from the current request.
func (c *conn) cgiRequest(s *site, sc *script) *cgi.Request {
	r := &c.req
	remoteIP, remotePort, _ := net.SplitHostPort(c.remoteAddr())
	localIP, localPort, _ := net.SplitHostPort(c.localAddr())
	serverName, serverPort := s.name, localPort
	host := r.host
	if r.absHost != nil {
		host = r.absHost
	}
	if len(host) > 0 {
		hn, hp := splitHost(host)
		serverName = hn
		if hp != "" {
			serverPort = hp
		}
	}
	req := &cgi.Request{
		Method:         string(r.Method),
		RequestURI:     string(r.Target),
		Proto:          r.protoString(),
		Scheme:         "http",
		ScriptFilename: sc.file,
		ScriptName:     string(sc.name),
		PathInfo:       string(sc.pathInfo),
		QueryString:    string(r.rawQuery),
		DocumentRoot:   sc.docRoot,
		RemoteAddr:     remoteIP,
		RemotePort:     remotePort,
		ServerName:     serverName,
		ServerPort:     serverPort,
		ServerAddr:     localIP,
		ServerAdmin:    s.serverAdmin,
		ServerSoftware: c.st.software,
		MaxBodyBytes:   s.maxBodyBytes,
		Client:         c.remoteAddr(),
		RemoteUser:     c.authUser,
		Redirect:       c.redirectVars,
		RedirectStatus: c.redirectStatus,
	}
	if c.authUser != "" {
		req.AuthType = "Basic"
	}
	if sc.prefix != "" {
		req.ContextPrefix, req.ContextDocumentRoot = sc.prefix, sc.prefixDir
	} else {
		req.ContextDocumentRoot = sc.docRoot
	}
	req.Header = make([]cgi.Field, 0, len(r.headers))
	for _, f := range r.headers {
		v := f.value
		switch {
		case r.absHost != nil && equalFold(f.name, "host"):
			// The target's host replaces the Host field (RFC 9112 3.2.2).
			v = r.absHost
		case c.redirects > 0 && (equalFold(f.name, "content-length") || equalFold(f.name, "transfer-encoding")):
			// After an internal redirect the body is gone: the GET has none.
			continue
		}
		req.Header = append(req.Header, cgi.Field{Name: string(f.name), Value: string(v)})
	}
	return req
}

// internalRedirect serves a script's local Location as a GET of that path
// (a HEAD stays a HEAD: its response has no body). The target sees the
// script's variables renamed REDIRECT_*, REDIRECT_URL and
// REDIRECT_STATUS=200, as Apache passes them.
func (c *conn) internalRedirect(req *cgi.Request, loc string) {
	if c.redirects+1 >= maxRedirects {
		c.srv.log.Error(fmt.Sprintf("request exceeded the limit of %d internal redirects", maxRedirects), "client", c.remoteAddr(), logging.RefererKey, c.referer())
		c.writeError(500)
		return
	}
	env := cgi.Env(req, &c.st.cfg.CGI)
	vars := make([]cgi.Field, 0, len(env)+1)
	vars = append(vars, cgi.Field{Name: "REDIRECT_URL", Value: string(c.pathBuf)})
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if k != "REDIRECT_STATUS" && k != "REDIRECT_URL" {
			vars = append(vars, cgi.Field{Name: "REDIRECT_" + k, Value: v})
		}
	}
	c.redirectVars, c.redirectStatus = vars, 200
	c.keepOrigPath()
	c.resp.origStatus = 200
	path, query, hasQuery := strings.Cut(loc, "?")
	c.redirectTo(path, query, hasQuery)
}

// redirectTo dispatches the request again as a GET (a HEAD stays a HEAD)
// of path and query, without its body, its conditions or its range.
func (c *conn) redirectTo(path, query string, hasQuery bool) {
	r := &c.req
	if r.method != mHEAD {
		r.Method = methodGET
		r.method = mGET
	}
	r.rawPath = []byte(path)
	r.rawQuery, r.hasQuery = []byte(query), hasQuery
	r.conditional = false
	r.rangeSpec, r.ifMatch, r.ifNoneMatch, r.ifModifiedSince, r.ifUnmodifiedSince, r.ifRange = nil, nil, nil, nil, nil, nil
	c.redirects++
	c.dispatch()
}

var methodGET = []byte("GET")

// splitHost splits a Host value into name and port.
func splitHost(h []byte) (string, string) {
	s := string(h)
	if len(s) > 0 && s[0] == '[' {
		if i := indexByteString(s, ']'); i >= 0 {
			if i+1 < len(s) && s[i+1] == ':' {
				return s[:i+1], s[i+2:]
			}
			return s[:i+1], ""
		}
	}
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func indexByteString(s string, b byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return i
		}
	}
	return -1
}

// cgiWriter is how a script's response reaches the connection: serve owns
// the framing (chunked on HTTP/1.1 without a Content-Length, until close on
// HTTP/1.0), the Date and Server fields, and HEAD.
type cgiWriter struct {
	c       *conn
	chunked bool
	noBody  bool
	raw     bool
}

var _ cgi.ResponseWriter = (*cgiWriter)(nil)

// WriteHeader starts the response.
func (w *cgiWriter) WriteHeader(status int, fields []cgi.Field) error {
	c := w.c
	c.startHead(status)
	c.appendExtraFields(fields)
	hasLength := false
	for _, f := range fields {
		if foldEqual([]byte(f.Name), "content-length") {
			hasLength = true
		}
		c.appendHeader(f.Name, f.Value)
	}
	w.noBody = c.req.method == mHEAD || status == 204 || status == 304
	if !w.noBody && !hasLength {
		if c.req.Minor == 1 {
			c.wbuf = append(c.wbuf, "Transfer-Encoding: chunked\r\n"...)
			w.chunked = true
		} else {
			c.closeAfter = true // the body ends when the connection does
		}
	}
	c.appendEndHead()
	return nil
}

// Write appends body bytes (as a chunk when chunked) to the write buffer.
func (w *cgiWriter) Write(p []byte) (int, error) {
	c := w.c
	if c.broken {
		return 0, errClientGone
	}
	if w.noBody || len(p) == 0 {
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
	return len(p), nil
}

// Flush sends what was written so far.
func (w *cgiWriter) Flush() error {
	if !w.c.flush() {
		return errClientGone
	}
	return nil
}

// Raw gives an nph- script the connection itself.
func (w *cgiWriter) Raw() (io.Writer, error) {
	c := w.c
	if !c.flush() {
		return nil, errClientGone
	}
	w.raw = true
	c.closeAfter = true
	c.resp.headerSent = true
	return rawWriter{c}, nil
}

// finish ends a response that ran to its end.
func (w *cgiWriter) finish() {
	c := w.c
	if w.chunked && !c.broken {
		c.wbuf = append(c.wbuf, "0\r\n\r\n"...)
	}
	if w.raw {
		c.resp.status = c.cgiStatus
	}
}

// rawWriter writes an nph- script's bytes straight to the client.
type rawWriter struct{ c *conn }

func (rw rawWriter) Write(p []byte) (int, error) {
	c := rw.c
	if c.broken {
		return 0, errClientGone
	}
	if c.cgiStatus == 0 {
		c.cgiStatus = nphStatus(p)
	}
	c.setWriteDeadline(monoNow())
	n, err := c.nc.Write(p)
	c.resp.bodyBytes += int64(n)
	if err != nil {
		c.broken = true
		return n, errClientGone
	}
	return n, nil
}

// nphStatus reads the status code of an "HTTP/1.x NNN" line, or 200.
func nphStatus(p []byte) int {
	if len(p) >= 12 && string(p[:5]) == "HTTP/" && p[8] == ' ' {
		if n, err := strconv.Atoi(string(p[9:12])); err == nil {
			return n
		}
	}
	return 200
}

// bgRead watches the connection while a script runs, as net/http's
// background read does: a read that ends (the client closed) cancels the
// script; a byte that arrives (a pipelined request) is kept for the next
// parse. It runs only once the request body has been read. On a raw
// connection it reads a duplicate of the socket, with its own place in the
// poller: the script may run inside readServe's callback, which holds the
// connection's read lock.
type bgRead struct {
	mu      sync.Mutex
	c       *conn
	cancel  context.CancelFunc
	running bool
	stopped bool
	done    chan struct{}
	f       *os.File // the duplicate read, on a raw connection
	b       [1]byte
	n       int
}

func (bg *bgRead) reset(c *conn, cancel context.CancelFunc) {
	bg.mu.Lock()
	bg.c, bg.cancel, bg.running, bg.stopped, bg.n, bg.f = c, cancel, false, false, 0, nil
	bg.mu.Unlock()
}

// start begins the watch (once; not after stop).
func (bg *bgRead) start() {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	if bg.running || bg.stopped {
		return
	}
	c := bg.c
	var rd io.Reader = c.nc
	if c.raw.ready {
		nfd := dupFD(c.raw.rc)
		if nfd < 0 {
			return // no watch: the script runs to its end
		}
		// The duplicate shares the socket's O_NONBLOCK, so it goes into
		// the poller.
		bg.f = os.NewFile(uintptr(nfd), "client")
		rd = bg.f
	} else {
		c.nc.SetReadDeadline(time.Time{})
	}
	bg.running = true
	bg.done = make(chan struct{})
	go func() {
		defer close(bg.done)
		n, err := rd.Read(bg.b[:])
		bg.n = n
		if n == 0 && err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			bg.cancel() // the client closed or reset the connection
		}
	}()
}

// stop ends the watch and keeps the byte it read, if any.
func (bg *bgRead) stop() {
	bg.mu.Lock()
	bg.stopped = true
	running := bg.running
	bg.mu.Unlock()
	if !running {
		return
	}
	c := bg.c
	if bg.f != nil {
		bg.f.SetReadDeadline(aLongTimeAgo)
		<-bg.done
		bg.f.Close()
		bg.f = nil
	} else {
		c.nc.SetReadDeadline(aLongTimeAgo)
		<-bg.done
		c.rdl = aLongTimeAgo
	}
	if bg.n == 1 {
		if c.rend == len(c.rbuf) {
			c.rbuf = append(c.rbuf, 0)
			c.rbuf = c.rbuf[:cap(c.rbuf)]
		}
		c.rbuf[c.rend] = bg.b[0]
		c.rend++
	}
}
