package serve

import (
	"bytes"
	"time"

	"github.com/pwebs/pwebs/logging"
)

// AccessLogger receives one record per answered request; *logging.Logger
// is one. It must not keep the record.
type AccessLogger interface {
	Access(r *logging.Record)
}

// respHeadUser is an AccessLogger that tells whether its lines show fields
// of the response head; one that does not is given every head.
type respHeadUser interface {
	UsesResponseHeader() bool
}

// accessSwitch is an AccessLogger that tells whether it writes access
// lines at all (a reload may turn them on or off): when it does not,
// requests build no record for it, and a new connection formats no
// address.
type accessSwitch interface {
	LogsAccess() bool
}

// keepRespHead reports whether the access log wants a copy of each response
// head.
func (s *Server) keepRespHead() bool {
	if s.access == nil {
		return false
	}
	return s.respHeadUser == nil || s.respHeadUser.UsesResponseHeader()
}

// respHead is a copy of the response head as sent, so that the access log
// can show response fields (%{Name}o). It implements logging.HeaderLookup.
type respHead []byte

var (
	_ logging.HeaderLookup = respHead(nil)
	_ logging.HeaderLookup = (*Request)(nil)
)

// Field returns the value of the first field named name at or after byte
// offset from (0: the first field, after the status line), and the offset
// of the line after it.
func (h respHead) Field(name string, from int) ([]byte, int, bool) {
	b := []byte(h)
	pos := from
	if pos == 0 {
		// Skip the status line.
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			pos = i + 1
		}
	}
	for pos < len(b) {
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			break
		}
		line := b[pos : pos+i]
		pos += i + 1
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		if foldEqual(line[:colon], name) {
			return trimOWS(line[colon+1:]), pos, true
		}
	}
	return nil, len(b), false
}

// Field returns the value of the first header field named name at or after
// index from, and the index after it, for the access log (%{Name}i). It does
// not allocate.
func (r *Request) Field(name string, from int) ([]byte, int, bool) {
	for i := from; i < len(r.headers); i++ {
		if foldEqual(r.headers[i].name, name) {
			return r.headers[i].value, i + 1, true
		}
	}
	return nil, len(r.headers), false
}

// logRequest records the answered request in the access log.
func (c *conn) logRequest() {
	in := int64(c.headBytes)
	c.headBytes = 0 // the next request's head is counted afresh
	al := c.srv.access
	if al == nil || c.srv.accessSwitch != nil && !c.srv.accessSwitch.LogsAccess() {
		return
	}
	r := &c.req
	rec := &c.rec
	// Duration is left to the logger, which reads the clock only when its
	// format prints it.
	*rec = logging.Record{
		Time:        c.firstByte,
		Queue:       c.queued,
		RemoteAddr:  c.remoteAddr(),
		LocalAddr:   c.localAddr(),
		Method:      r.Method,
		User:        c.authUser,
		Path:        c.loggedPath(),
		Query:       r.rawQuery,
		Proto:       r.Proto,
		RequestLine: r.Line,
		Status:      c.resp.status,
		OrigStatus:  c.resp.origStatus,
		BodyBytes:   c.resp.bodyBytes,
		HeadBytes:   int64(len(c.respHead)), // kept when the format prints %O or %S
		InBytes:     in + max(c.bodyReader.total, 0),
		Aborted:     c.broken,
		KeepAlive:   !c.closeAfter,
		KeepAlives:  c.nreq - 1,
		VHost:       c.vhostName(),
		ReqHeader:   r,
		RespHeader:  &c.respHead,
	}
	if c.firstByte.IsZero() {
		rec.Time = time.Now()
	}
	al.Access(rec)
}

// referer is the request's Referer, for the error log's records about the
// request (logging.RefererKey): "" when it has none.
func (c *conn) referer() string {
	v, _ := c.req.Lookup("Referer")
	return string(v)
}

// vhostName is %v: the name of the site that answered.
func (c *conn) vhostName() string {
	if c.site != nil {
		return c.site.name
	}
	return c.st.def.name
}

// firstLine is the request line as received, for a request that could not
// be parsed: up to the first line end, bounded.
func firstLine(b []byte) []byte {
	if i := bytes.IndexAny(b, "\r\n"); i >= 0 {
		b = b[:i]
	}
	if len(b) > maxRequestLine {
		b = b[:maxRequestLine]
	}
	return b
}

// loggedPath is the clean path %U logs: the request's own, not that of an
// internal redirect, error page or fallback that answered it (Apache's %U
// looks at the original request too).
func (c *conn) loggedPath() []byte {
	if c.origPath != nil {
		return c.origPath
	}
	return c.pathBuf
}
