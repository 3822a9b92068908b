package serve

import (
	"bytes"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"time"
)

// Bounds of range requests.
const (
	// maxRanges bounds the ranges of one request; a request with more is
	// answered with the whole body, as a multipart answer that large would
	// cost more than the whole.
	maxRanges = 64
)

// content is what serveContent answers from: a body in memory or an open
// file, with its validators. It is the one place that implements
// conditional requests, ranges and HEAD for every static response.
type content struct {
	typ     string
	size    int64
	modTime time.Time
	etag    string   // strong, quoted
	body    []byte   // the body in memory, or nil
	file    *os.File // the body on disk when body is nil
	// gzip is a gzip variant of body, offered with Vary: Accept-Encoding
	// to clients that accept gzip; gzipETag is its own validator.
	gzip     []byte
	gzipETag string
	// vary is an extra Vary value (a listing varies on Accept).
	vary string
	// cacheControl, when set, is sent as Cache-Control (see expires).
	cacheControl string
}

// makeETag builds a strong ETag from a file's modification time and size,
// as Apache's default FileETag MTime Size does.
func makeETag(fi fs.FileInfo) string {
	b := make([]byte, 0, 40)
	b = append(b, '"')
	b = strconv.AppendInt(b, fi.ModTime().UnixNano(), 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.Size(), 16)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		b = append(b, '-')
		b = strconv.AppendUint(b, st.Ino, 16)
	}
	b = append(b, '"')
	return string(b)
}

// gzipETag derives the validator of a gzip variant from the identity one.
func gzipETag(etag string) string {
	if len(etag) < 2 {
		return etag
	}
	return etag[:len(etag)-1] + "-gzip\""
}

// serveContent answers a GET or HEAD from ct: it evaluates the
// preconditions of RFC 9110 section 13 in their order, then ranges, then
// sends the head and the body. It first brings ct.modTime back to the
// request's time if it is later (see lastModified), so that the
// preconditions compare with the Last-Modified the response shows.
func (c *conn) serveContent(ct *content) {
	ct.modTime = c.lastModified(ct.modTime)
	r := &c.req
	useGzip := ct.gzip != nil && acceptsGzip(r.acceptEncoding)
	if len(r.rangeSpec) > 0 {
		useGzip = false // ranges are served from the identity body
	}
	etag := ct.etag
	if useGzip {
		etag = ct.gzipETag
	}
	if r.conditional {
		switch st := c.checkPreconditions(ct, etag); st {
		case 304:
			c.appendStatus(304)
			c.appendValidators(ct, etag)
			c.appendVary(ct)
			c.appendEndHead()
			c.resp.noBody = true
			return
		case 412:
			c.writeError(412)
			return
		}
	}
	if len(r.rangeSpec) > 0 && ct.size > 0 && c.rangeApplies(ct) {
		ranges, ok := parseRange(r.rangeSpec, ct.size)
		switch {
		case !ok:
			// A malformed Range field is ignored (RFC 9110 14.2).
		case len(ranges) == 0:
			c.writeErrorWith(416, "Content-Range", "bytes */"+strconv.FormatInt(ct.size, 10))
			return
		case len(ranges) == 1:
			c.serveRange(ct, ranges[0])
			return
		default:
			c.serveMultipart(ct, ranges)
			return
		}
	}
	body, size := ct.body, ct.size
	if useGzip {
		body, size = ct.gzip, int64(len(ct.gzip))
	}
	c.appendStatus(200)
	c.appendHeader("Content-Type", ct.typ)
	c.appendContentLength(size)
	c.appendValidators(ct, etag)
	c.wbuf = append(c.wbuf, "Accept-Ranges: bytes\r\n"...)
	if useGzip {
		c.wbuf = append(c.wbuf, "Content-Encoding: gzip\r\n"...)
	}
	c.appendVary(ct)
	c.appendEndHead()
	if r.method == mHEAD {
		return
	}
	c.sendBody(ct, body, 0, size)
}

// sendBody sends size bytes of the body from off: from memory, or from
// the file (read into the write buffer when small, by sendfile when not).
func (c *conn) sendBody(ct *content, body []byte, off, size int64) {
	if body != nil || ct.file == nil {
		b := body[off : off+size]
		if len(b) <= inlineBody {
			c.wbuf = append(c.wbuf, b...)
		} else {
			c.writeBody(b)
		}
		c.resp.bodyBytes += size
		return
	}
	if size <= inlineBody && len(c.wbuf)+int(size) <= cap(c.wbuf) {
		n := len(c.wbuf)
		c.wbuf = c.wbuf[:n+int(size)]
		m, err := ct.file.ReadAt(c.wbuf[n:], off)
		if int64(m) != size {
			// The file shrank: the length promised cannot be kept.
			c.wbuf = c.wbuf[:n+m]
			c.resp.bodyBytes += int64(m)
			c.broken = true
			c.flush()
			c.srv.log.Warn("file changed while being sent: "+ct.file.Name(), "client", c.remoteAddr(), "error", err)
			return
		}
		c.resp.bodyBytes += size
		return
	}
	n, err := c.sendFile(ct.file, off, size)
	c.resp.bodyBytes += n
	if err == errTruncated {
		c.srv.log.Warn("file changed while being sent: "+ct.file.Name(), "client", c.remoteAddr())
	}
}

// lastModified returns the Last-Modified a response may show for a
// modification time t: t, or the time the request arrived if t is later
// (a file dated in the future, or the clock set back). The Date field
// shows that time or a later one, and RFC 9110 8.8.2.1 forbids a
// Last-Modified later than the Date; Apache clamps the same way.
func (c *conn) lastModified(t time.Time) time.Time {
	now := c.firstByte
	if now.IsZero() {
		now = time.Now()
	}
	if t.After(now) {
		return now
	}
	return t
}

// appendValidators adds Last-Modified and ETag, and the Cache-Control of
// ct (expires), which a 304 repeats (RFC 9110 15.4.5) and an error page
// does not carry.
func (c *conn) appendValidators(ct *content, etag string) {
	if !ct.modTime.IsZero() {
		c.wbuf = append(c.wbuf, "Last-Modified: "...)
		c.wbuf = ct.modTime.UTC().AppendFormat(c.wbuf, httpTimeFormat)
		c.wbuf = append(c.wbuf, "\r\n"...)
	}
	if etag != "" {
		c.wbuf = append(c.wbuf, "ETag: "...)
		c.wbuf = append(c.wbuf, etag...)
		c.wbuf = append(c.wbuf, "\r\n"...)
	}
	if ct.cacheControl != "" && c.errDoc.status == 0 {
		c.appendHeader("Cache-Control", ct.cacheControl)
	}
}

func (c *conn) appendVary(ct *content) {
	c.wbuf = appendVary(c.wbuf, ct)
}

// checkPreconditions returns 304, 412 or 0 (go on), evaluating If-Match,
// If-Unmodified-Since, If-None-Match and If-Modified-Since in the order
// RFC 9110 13.2.2 gives.
func (c *conn) checkPreconditions(ct *content, etag string) int {
	r := &c.req
	if len(r.ifMatch) > 0 {
		if !matchETag(r.ifMatch, etag, true) && !matchETag(r.ifMatch, ct.etag, true) {
			return 412
		}
	} else if len(r.ifUnmodifiedSince) > 0 && !ct.modTime.IsZero() {
		if t, ok := parseHTTPTime(r.ifUnmodifiedSince); ok && ct.modTime.Truncate(time.Second).After(t) {
			return 412
		}
	}
	if len(r.ifNoneMatch) > 0 {
		if matchETag(r.ifNoneMatch, etag, false) {
			if r.method == mGET || r.method == mHEAD {
				return 304
			}
			return 412
		}
	} else if len(r.ifModifiedSince) > 0 && !ct.modTime.IsZero() && (r.method == mGET || r.method == mHEAD) {
		if t, ok := parseHTTPTime(r.ifModifiedSince); ok && !ct.modTime.Truncate(time.Second).After(t) {
			return 304
		}
	}
	return 0
}

// rangeApplies evaluates If-Range: a range is served only when the
// validator it names still matches (a strong ETag, or the exact date).
func (c *conn) rangeApplies(ct *content) bool {
	v := c.req.ifRange
	if len(v) == 0 {
		return true
	}
	if v[0] == '"' || hasPrefixFold(v, "w/") {
		return len(v) > 0 && v[0] == '"' && string(v) == ct.etag
	}
	t, ok := parseHTTPTime(v)
	return ok && !ct.modTime.IsZero() && ct.modTime.Truncate(time.Second).Equal(t)
}

// matchETag reports whether the list field v ("*" or entity tags) matches
// etag, with the strong comparison or the weak one.
func matchETag(v []byte, etag string, strong bool) bool {
	if etag == "" {
		return false
	}
	v = trimOWS(v)
	if len(v) == 1 && v[0] == '*' {
		return true
	}
	for len(v) > 0 {
		v = bytes.TrimLeft(v, " \t,")
		if len(v) == 0 {
			break
		}
		weak := false
		if hasPrefixFold(v, "w/") {
			weak = true
			v = v[2:]
		}
		if len(v) == 0 || v[0] != '"' {
			return false
		}
		end := bytes.IndexByte(v[1:], '"')
		if end < 0 {
			return false
		}
		tag := v[:end+2]
		v = v[end+2:]
		if string(tag) == etag && !(strong && weak) {
			return true
		}
	}
	return false
}

// httpRange is one satisfiable byte range: start and length.
type httpRange struct{ start, length int64 }

// parseRange reads a Range field for a body of size bytes. ok is false for
// a field that is malformed or not in bytes (it is then ignored); an empty
// result with ok means no range is satisfiable (416). Overlapping ranges are
// served as asked; a set whose total exceeds the body, or with more than
// maxRanges ranges, is ignored and the whole body is served.
func parseRange(v []byte, size int64) (ranges []httpRange, ok bool) {
	v = trimOWS(v)
	if !hasPrefixFold(v, "bytes=") {
		return nil, false
	}
	v = v[6:]
	var total int64
	count := 0
	for len(v) > 0 {
		var spec []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			spec, v = trimOWS(v[:i]), v[i+1:]
		} else {
			spec, v = trimOWS(v), nil
		}
		if len(spec) == 0 {
			continue
		}
		count++
		if count > maxRanges {
			return nil, false
		}
		dash := bytes.IndexByte(spec, '-')
		if dash < 0 {
			return nil, false
		}
		first, last := spec[:dash], spec[dash+1:]
		var rg httpRange
		switch {
		case len(first) == 0:
			// Suffix range: the last n bytes.
			n, good := parseDigits(last)
			if !good {
				return nil, false
			}
			if n == 0 {
				continue
			}
			n = min(n, size)
			rg = httpRange{size - n, n}
		default:
			start, good := parseDigits(first)
			if !good {
				return nil, false
			}
			end := size - 1
			if len(last) > 0 {
				e, good := parseDigits(last)
				if !good || e < start {
					return nil, false
				}
				end = min(e, size-1)
			}
			if start >= size {
				continue // unsatisfiable; others may be
			}
			rg = httpRange{start, end - start + 1}
		}
		total += rg.length
		ranges = append(ranges, rg)
	}
	if count == 0 {
		return nil, false
	}
	if total > size && len(ranges) > 1 {
		return nil, false
	}
	return ranges, true
}

func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// serveRange answers 206 with one range.
func (c *conn) serveRange(ct *content, rg httpRange) {
	c.appendStatus(206)
	c.appendHeader("Content-Type", ct.typ)
	c.wbuf = append(c.wbuf, "Content-Range: bytes "...)
	c.wbuf = strconv.AppendInt(c.wbuf, rg.start, 10)
	c.wbuf = append(c.wbuf, '-')
	c.wbuf = strconv.AppendInt(c.wbuf, rg.start+rg.length-1, 10)
	c.wbuf = append(c.wbuf, '/')
	c.wbuf = strconv.AppendInt(c.wbuf, ct.size, 10)
	c.wbuf = append(c.wbuf, "\r\n"...)
	c.appendContentLength(rg.length)
	c.appendValidators(ct, ct.etag)
	c.wbuf = append(c.wbuf, "Accept-Ranges: bytes\r\n"...)
	c.appendVary(ct)
	c.appendEndHead()
	if c.req.method == mHEAD {
		return
	}
	c.sendBody(ct, ct.body, rg.start, rg.length)
}

// serveMultipart answers 206 with a multipart/byteranges body.
func (c *conn) serveMultipart(ct *content, ranges []httpRange) {
	boundary := strconv.FormatUint(rand.Uint64(), 16) + strconv.FormatUint(rand.Uint64(), 16)
	parts := make([][]byte, len(ranges))
	var total int64
	for i, rg := range ranges {
		var h []byte
		h = append(h, "\r\n--"...)
		h = append(h, boundary...)
		h = append(h, "\r\nContent-Type: "...)
		h = append(h, ct.typ...)
		h = append(h, "\r\nContent-Range: bytes "...)
		h = strconv.AppendInt(h, rg.start, 10)
		h = append(h, '-')
		h = strconv.AppendInt(h, rg.start+rg.length-1, 10)
		h = append(h, '/')
		h = strconv.AppendInt(h, ct.size, 10)
		h = append(h, "\r\n\r\n"...)
		parts[i] = h
		total += int64(len(h)) + rg.length
	}
	closing := "\r\n--" + boundary + "--\r\n"
	total += int64(len(closing))
	c.appendStatus(206)
	c.appendHeader("Content-Type", "multipart/byteranges; boundary="+boundary)
	c.appendContentLength(total)
	c.appendValidators(ct, ct.etag)
	c.wbuf = append(c.wbuf, "Accept-Ranges: bytes\r\n"...)
	c.appendEndHead()
	if c.req.method == mHEAD {
		return
	}
	for i, rg := range ranges {
		c.wbuf = append(c.wbuf, parts[i]...)
		c.resp.bodyBytes += int64(len(parts[i]))
		c.sendBody(ct, ct.body, rg.start, rg.length)
		if c.broken {
			return
		}
	}
	c.wbuf = append(c.wbuf, closing...)
	c.resp.bodyBytes += int64(len(closing))
}

// acceptsGzip reports whether an Accept-Encoding value allows gzip with a
// non-zero quality. As RFC 9110 12.5.3 has it, "*" stands only for the
// codings the field does not name: a gzip (or x-gzip) entry decides
// wherever it stands in the list, and "*" decides only when there is
// none. It does not allocate.
func acceptsGzip(v []byte) bool {
	named, namedOK, starOK := false, false, false
	forEachToken(v, func(tok []byte) {
		name := tok
		q := []byte(nil)
		if i := bytes.IndexByte(tok, ';'); i >= 0 {
			name, q = trimOWS(tok[:i]), trimOWS(tok[i+1:])
		}
		switch {
		case equalFold(name, "gzip") || equalFold(name, "x-gzip"):
			named = true
			namedOK = namedOK || !zeroQ(q)
		case len(name) == 1 && name[0] == '*':
			starOK = starOK || !zeroQ(q)
		}
	})
	if named {
		return namedOK
	}
	return starOK
}

// zeroQ reports whether a parameter list sets q=0.
func zeroQ(params []byte) bool {
	for len(params) > 0 {
		var p []byte
		if i := bytes.IndexByte(params, ';'); i >= 0 {
			p, params = trimOWS(params[:i]), params[i+1:]
		} else {
			p, params = trimOWS(params), nil
		}
		if len(p) >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=' {
			for _, ch := range p[2:] {
				if ch != '0' && ch != '.' {
					return false
				}
			}
			return true
		}
	}
	return false
}

// parseHTTPTime reads the three date forms of RFC 9110 5.6.7.
func parseHTTPTime(v []byte) (time.Time, bool) {
	s := string(v)
	for _, layout := range []string{httpTimeFormat, "Monday, 02-Jan-06 15:04:05 GMT", "Mon Jan _2 15:04:05 2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

var _ = io.EOF
