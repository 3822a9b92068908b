package serve

import (
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"github.com/pwebs/pwebs/cache"
)

// heads is the pre-rendered part of a cached response's head: every field
// but the status line, Date, Server and Connection. It is built once, when
// the entry is made, and kept in cache.Entry.Extra, so that a hit only
// copies it.
type heads struct {
	ident    []byte // for the identity body
	gzip     []byte // for the gzip variant; nil when there is none
	gzipETag string
	vary     string // an extra Vary value (a listing varies on Accept)
	// cacheControl is the entry's Cache-Control (expires), "" for none.
	cacheControl string

	// modSec is the Unix second of the Last-Modified in ident and gzip
	// (math.MinInt64 when there is none). A request that arrived before
	// that second (the file is dated in the future) is answered through
	// serveContent, which shows the request's time instead.
	modSec int64

	// frc is the RawConn of the file the identity body was read from,
	// kept open so that the body goes out by sendfile(2) (see keepOpen);
	// nil when it is not.
	frc syscall.RawConn
}

// sendfileMin is the smallest cached body sent from its file by
// sendfile(2) rather than copied from memory. Copying costs about 0.5 µs
// per 4 KiB page on the bench machine and a page sent by reference about
// 0.3 µs, against a fixed cost of about 1 µs for the second system call:
// sendfile wins from about 20 KiB on.
const sendfileMin = 32 << 10

// keepOpen keeps a duplicate of f's descriptor with the entry e for a
// regular file's body of at least sendfileMin bytes, within the server's
// budget of open files. The entry's OnDrop closes it. A close while a
// response is being sent from it is safe: the os.File counts its users and
// the descriptor stays open until that sendfile call ends; the send then
// finds the file closed, and sendEntryFile decides what follows. An entry
// that Add refuses must be released by calling OnDrop.
func (s *Server) keepOpen(e *cache.Entry, f *os.File) {
	h := e.Extra.(*heads)
	if len(e.Body) < sendfileMin {
		return
	}
	if s.openFiles.Add(1) > s.maxOpenFiles {
		s.openFiles.Add(-1)
		return
	}
	nfd := -1
	if rc, err := f.SyscallConn(); err == nil {
		nfd = dupFD(rc)
	}
	if nfd < 0 {
		s.openFiles.Add(-1)
		return
	}
	df := os.NewFile(uintptr(nfd), f.Name())
	frc, err := df.SyscallConn()
	if err != nil {
		df.Close()
		s.openFiles.Add(-1)
		return
	}
	h.frc = frc
	e.OnDrop = func() {
		df.Close()
		s.openFiles.Add(-1)
	}
}

// newEntry builds a cache entry for body, with its gzip variant when the
// configuration asks for one and it is worth it, and its response heads.
func (st *state) newEntry(typ string, body []byte, modTime time.Time, etag, vary, cacheControl string, deps []cache.Dep) *cache.Entry {
	e := &cache.Entry{Body: body, Type: typ, ModTime: modTime, ETag: etag, Deps: deps}
	if st.cfg.Cache.Compress && cache.Compressible(typ) {
		e.Gzip = cache.GzipOf(body)
	}
	h := &heads{vary: vary, cacheControl: cacheControl, modSec: math.MinInt64}
	if !modTime.IsZero() {
		h.modSec = modTime.Unix()
	}
	ct := content{typ: typ, size: int64(len(body)), modTime: modTime, etag: etag, gzip: e.Gzip, vary: vary, cacheControl: cacheControl}
	h.ident = appendEntityHead(nil, &ct, int64(len(body)), etag, false)
	if e.Gzip != nil {
		h.gzipETag = gzipETag(etag)
		h.gzip = appendEntityHead(nil, &ct, int64(len(e.Gzip)), h.gzipETag, true)
	}
	e.Extra = h
	e.ExtraSize = len(h.ident) + len(h.gzip) + len(h.gzipETag) + len(vary) + len(cacheControl) + 64
	return e
}

// appendEntityHead renders the fields of a 200 response for ct: type,
// length, validators, ranges, encoding and Vary.
func appendEntityHead(b []byte, ct *content, length int64, etag string, gz bool) []byte {
	b = append(b, "Content-Type: "...)
	b = append(b, ct.typ...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, length, 10)
	b = append(b, "\r\n"...)
	if !ct.modTime.IsZero() {
		b = append(b, "Last-Modified: "...)
		b = ct.modTime.UTC().AppendFormat(b, httpTimeFormat)
		b = append(b, "\r\n"...)
	}
	if etag != "" {
		b = append(b, "ETag: "...)
		b = append(b, etag...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Accept-Ranges: bytes\r\n"...)
	if gz {
		b = append(b, "Content-Encoding: gzip\r\n"...)
	}
	b = appendVary(b, ct)
	if ct.cacheControl != "" {
		b = append(b, "Cache-Control: "...)
		b = append(b, ct.cacheControl...)
		b = append(b, "\r\n"...)
	}
	return b
}

// appendVary adds the Vary field a response from ct needs.
func appendVary(b []byte, ct *content) []byte {
	switch {
	case ct.gzip != nil && ct.vary != "":
		b = append(b, "Vary: Accept-Encoding, "...)
		b = append(b, ct.vary...)
		b = append(b, "\r\n"...)
	case ct.gzip != nil:
		b = append(b, "Vary: Accept-Encoding\r\n"...)
	case ct.vary != "":
		b = append(b, "Vary: "...)
		b = append(b, ct.vary...)
		b = append(b, "\r\n"...)
	}
	return b
}

// cacheKey builds the cache key of a site's clean path and a variant in
// the connection's key buffer. The string it returns aliases that buffer:
// it is only for Cache.Get, which does not keep it; Add needs ownedKey.
func (c *conn) cacheKey(s *site, p []byte, variant string) string {
	k := append(c.keyBuf[:0], s.id)
	k = append(k, p...)
	k = append(k, variant...)
	c.keyBuf = k
	return unsafe.String(unsafe.SliceData(k), len(k))
}

// ownedKey returns the last key built as a string of its own.
func (c *conn) ownedKey() string { return string(c.keyBuf) }

// serveEntry answers a GET or HEAD from a cache entry. This is the hot
// path: without conditional or range fields it appends the status line,
// the pre-rendered head and the body to the write buffer, and makes no
// system call but the write. The pre-rendered Last-Modified may not be
// shown to a request that arrived before it (RFC 9110 8.8.2.1):
// serveContent answers that one.
func (c *conn) serveEntry(e *cache.Entry) {
	h := e.Extra.(*heads)
	r := &c.req
	if r.conditional || c.firstByte.Unix() < h.modSec || c.errDoc.status != 0 {
		// (An error page carries no Cache-Control: its head is rendered
		// here, without it.)
		ct := content{typ: e.Type, size: int64(len(e.Body)), modTime: e.ModTime, etag: e.ETag,
			body: e.Body, gzip: e.Gzip, gzipETag: h.gzipETag, vary: h.vary, cacheControl: h.cacheControl}
		c.serveContent(&ct)
		return
	}
	block, body, frc := h.ident, e.Body, h.frc
	if h.gzip != nil && len(r.acceptEncoding) > 0 && acceptsGzip(r.acceptEncoding) {
		block, body, frc = h.gzip, e.Gzip, nil
	}
	c.appendStatus(200)
	c.wbuf = append(c.wbuf, block...)
	c.appendEndHead()
	if r.method == mHEAD {
		return
	}
	c.resp.bodyBytes = int64(len(body))
	if len(body) <= inlineBody {
		c.wbuf = append(c.wbuf, body...)
		return
	}
	if frc != nil {
		c.sendEntryFile(e, frc)
		return
	}
	c.writeBody(body)
}

// sendEntryFile writes the pending output and then e's identity body from
// the entry's file by sendfile(2) (see keepOpen): the kernel sends the
// file's pages without copying them. When the file gives less, the rest
// may come from the body in memory only if what came from the file was
// the entry's: nothing came (the file was emptied, or refused sendfile),
// or the file was closed under the send because the entry left the cache
// for another reason than a write to its file (evicted, or its name
// replaced: see cache.Entry.Rewritten). Otherwise (the file shrank, or was
// written) the bytes sent may be new ones, which old ones must not follow:
// the connection ends, the response cut short, as sendBody does for a
// file that shrinks.
func (c *conn) sendEntryFile(e *cache.Entry, frc syscall.RawConn) {
	body := e.Body
	if c.broken || !c.raw.ready {
		c.writeBody(body)
		return
	}
	c.setWriteDeadline(monoNow())
	c.srv.stats.Sendfiles.Add(1) // before the client can see the body, as in sendFile
	sent, err := c.sendfile(frc, c.wbuf, int64(len(body)))
	c.wbuf = c.wbuf[:0]
	if err != nil {
		c.broken = true
		return
	}
	if sent == int64(len(body)) {
		return
	}
	if sent == 0 || frc.Control(func(uintptr) {}) != nil && !e.Rewritten() {
		c.writeBody(body[sent:])
		return
	}
	c.broken = true
	name := ""
	if len(e.Deps) > 0 {
		name = e.Deps[0].Path
	}
	c.srv.log.Warn("file changed while being sent: "+name, "client", c.remoteAddr())
}

// serveRegular sends a regular file: through the cache when it is on and
// the file fits, from the open file otherwise. key is the URL path the
// response is cached under (a folder's own path for its index file), and
// absent lists files whose appearance must drop the entry (the index
// names tried before this one).
func (c *conn) serveRegular(s *site, key []byte, file string, f *os.File, fi fs.FileInfo, tok cache.Token, absent []string) {
	typ := c.contentType(s, fi.Name())
	etag := makeETag(fi)
	ch := c.st.cache
	if ch != nil && fi.Size() <= int64(c.st.cfg.Cache.MaxFileSize) {
		body := make([]byte, fi.Size())
		if _, err := io.ReadFull(f, body); err == nil {
			deps := make([]cache.Dep, 0, 1+len(absent))
			deps = append(deps, cache.DepOf(file, fi))
			for _, a := range absent {
				deps = append(deps, cache.DepOf(a, nil))
			}
			e := c.st.newEntry(typ, body, fi.ModTime(), etag, "", c.st.expires.lookup(typ), deps)
			c.srv.keepOpen(e, f)
			c.cacheKey(s, key, "")
			added := ch.Add(c.ownedKey(), e, tok)
			c.serveEntry(e)
			if !added && e.OnDrop != nil {
				e.OnDrop()
			}
			return
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			c.fileError(s, key, err)
			return
		}
	}
	ct := content{typ: typ, size: fi.Size(), modTime: fi.ModTime(), etag: etag, file: f, cacheControl: c.st.expires.lookup(typ)}
	c.serveContent(&ct)
}

// absPath is the file a clean URL path names under a site's root.
func (s *site) absPath(p []byte) string {
	if len(p) > 1 && p[0] == '/' {
		q := p[1:]
		if q[len(q)-1] == '/' {
			q = q[:len(q)-1]
		}
		return joinRoot(s.dir, q)
	}
	return filepath.Join(s.dir, filepath.FromSlash(relPath(p)))
}
