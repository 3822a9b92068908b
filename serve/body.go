package serve

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
)

// Bounds of the chunked decoder.
const (
	// maxChunkLine bounds a chunk-size line with its extensions.
	maxChunkLine = 4 << 10
	// maxTrailerBytes bounds the trailer section after the last chunk.
	maxTrailerBytes = 8 << 10
)

var (
	errBodyTooLarge = errors.New("serve: request body too large")
	errBadChunk     = errors.New("serve: malformed chunked body")
	errBodyTimeout  = errors.New("serve: request body timed out")
	// errBodyCut is a body the client stopped sending before its end.
	errBodyCut = fmt.Errorf("serve: request body cut short: %w", io.ErrUnexpectedEOF)
)

// body reads the current request's body from the connection, decoding the
// chunked coding, bounded by max_body_bytes. Bytes already in the read
// buffer are used first. It is an io.Reader for handlers (CGI stdin).
type body struct {
	c         *conn
	chunked   bool
	remaining int64 // bytes left: of the whole body, or of the current chunk
	inChunk   bool  // inside a chunk's data (chunked only)
	done      bool
	total     int64
	limit     int64
	err       error
	continued bool   // 100 Continue sent, or not needed
	lent      bool   // a script's stdin copier reads it (see keepable)
	onDone    func() // called once the whole body has been read
}

// reset prepares b for the current request of c.
func (b *body) reset(c *conn, limit int64) {
	r := &c.req
	*b = body{c: c, limit: limit, chunked: r.chunked}
	switch {
	case r.chunked:
	case r.contentLength > 0:
		b.remaining = r.contentLength
	default:
		b.done = true
	}
	b.continued = !r.expectContinue || r.Minor == 0
}

// hasBody reports whether the request carries a body.
func (b *body) hasBody() bool { return !b.done || b.total > 0 }

// Read implements io.Reader.
func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	if !b.continued {
		b.continued = true
		c := b.c
		if !c.broken {
			c.wbuf = append(c.wbuf, "HTTP/1.1 100 Continue\r\n\r\n"...)
			if !c.flush() {
				b.err = errClientGone
				return 0, b.err
			}
		}
	}
	if b.chunked && !b.inChunk {
		if err := b.nextChunk(); err != nil {
			b.err = err
			return 0, err
		}
		if b.done {
			return 0, io.EOF
		}
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.c.readBody(p)
	b.remaining -= int64(n)
	b.total += int64(n)
	if b.total > b.limit {
		b.err = errBodyTooLarge
		return n, b.err
	}
	if err != nil {
		if err == io.EOF {
			err = errBodyCut
		}
		b.err = err
		return n, err
	}
	if b.remaining == 0 {
		if b.chunked {
			b.inChunk = false
			if err := b.c.expectCRLF(); err != nil {
				b.err = err
				return n, err
			}
		} else {
			b.finished()
		}
	}
	return n, nil
}

// nextChunk reads a chunk-size line, and after the last chunk the
// trailers.
func (b *body) nextChunk() error {
	line, err := b.c.readLine(maxChunkLine)
	if err != nil {
		return err
	}
	// chunk-size = 1*HEXDIG, then extensions (RFC 9112 7.1.1), which are
	// checked and dropped.
	n := 0
	for n < len(line) && isHexDigit(line[n]) {
		n++
	}
	if n == 0 || n > 15 || !validChunkExt(line[n:]) {
		return errBadChunk
	}
	var size int64
	for _, ch := range line[:n] {
		size = size<<4 | int64(unhex(ch))
	}
	if size == 0 {
		// Trailer fields, then an empty line; they are read and dropped.
		total := 0
		for {
			tl, err := b.c.readLine(maxTrailerBytes)
			if err != nil {
				return err
			}
			if len(tl) == 0 {
				break
			}
			total += len(tl)
			if total > maxTrailerBytes || !validTrailer(tl) {
				return errBadChunk
			}
		}
		b.finished()
		return nil
	}
	if b.total+size > b.limit {
		return errBodyTooLarge
	}
	b.remaining = size
	b.inChunk = true
	return nil
}

// validChunkExt reports whether s, what follows a chunk size, is a list
// of chunk extensions: *( BWS ";" BWS name [ BWS "=" BWS value ] ), the
// name a token, the value a token or a quoted string.
func validChunkExt(s []byte) bool {
	bws := func() {
		for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
			s = s[1:]
		}
	}
	token := func() bool {
		n := 0
		for n < len(s) && tchars[s[n]] {
			n++
		}
		s = s[n:]
		return n > 0
	}
	for {
		bws()
		if len(s) == 0 {
			return true
		}
		if s[0] != ';' {
			return false
		}
		s = s[1:]
		bws()
		if !token() {
			return false
		}
		bws()
		if len(s) == 0 || s[0] != '=' {
			continue
		}
		s = s[1:]
		bws()
		if len(s) > 0 && s[0] == '"' {
			if s = quotedRest(s[1:]); s == nil {
				return false
			}
		} else if !token() {
			return false
		}
	}
}

// quotedRest returns what follows the quoted string whose opening quote
// came just before s, or nil if it is not one (RFC 9110 5.6.4).
func quotedRest(s []byte) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return s[i+1:]
		case c == '\\':
			i++
			if i == len(s) || !fieldValueByte[s[i]] {
				return nil
			}
		case !fieldValueByte[c]:
			return nil
		}
	}
	return nil
}

// validTrailer reports whether line is a trailer field: a token name, a
// colon and a value of field characters.
func validTrailer(line []byte) bool {
	n := 0
	for n < len(line) && tchars[line[n]] {
		n++
	}
	if n == 0 || n == len(line) || line[n] != ':' {
		return false
	}
	for _, c := range line[n+1:] {
		if !fieldValueByte[c] {
			return false
		}
	}
	return true
}

// finished marks the body as read to its end.
func (b *body) finished() {
	b.done = true
	if b.onDone != nil {
		b.onDone()
	}
}

// keepable reports whether what is left of the body can be read and
// dropped after the response, so that the connection may carry another
// request (discard does it). It is false for a broken body, one known to
// be longer than maxDiscard, and one the client waits for 100 Continue to
// send (unless it came already, whole, in the read buffer). The response
// head tells the client (Connection: close) when it is false.
func (b *body) keepable() bool {
	switch {
	case b.c == nil, b.lent:
		// No request yet; or a script reads the body meanwhile, in another
		// goroutine: serveRequest decides after it.
		return true
	case b.done:
		return b.err == nil
	case b.err != nil:
		return false
	case b.chunked:
		return b.continued // its length is unknown: discard finds out
	case !b.continued:
		return b.remaining <= int64(b.c.rend-b.c.rpos)
	}
	return b.remaining <= maxDiscard
}

// discard reads what is left of the body, up to maxDiscard; it reports
// whether the connection can carry another request.
func (b *body) discard() bool {
	if b.done && b.err == nil {
		return true
	}
	if !b.keepable() {
		// The client waits for 100 Continue that will not come, or the
		// body is broken or too long: do not read it.
		return false
	}
	b.continued = true // what is read is there already: no 100 Continue
	var buf [4096]byte
	read := 0
	for read < maxDiscard {
		n, err := b.Read(buf[:])
		read += n
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}

// fill reads more bytes into the read buffer, keeping unread data, with
// the body timeout as deadline. The request's head, which c.req points
// into, is never written over: when the buffer is full, the unread bytes
// move to a new one (twice as big when they fill it), and the old one
// lives on with the request.
func (c *conn) fill() error {
	if c.rend == len(c.rbuf) {
		size := len(c.rbuf)
		if c.rpos == 0 {
			size *= 2
		}
		nb := make([]byte, size)
		c.rend = copy(nb, c.rbuf[c.rpos:c.rend])
		c.rpos = 0
		c.rbuf = nb
	}
	c.setReadDeadline(monoNow().Add(c.st.cfg.BodyTimeout.Duration))
	n, err := c.read(c.rbuf[c.rend:])
	c.rend += n
	if n > 0 {
		return nil
	}
	return bodyErr(err)
}

func bodyErr(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errBodyTimeout
	}
	if err == nil || err == io.EOF {
		return errBodyCut
	}
	return err
}

// readBody reads body bytes into p: from the read buffer when it holds
// any, otherwise straight from the connection.
func (c *conn) readBody(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if c.rpos < c.rend {
		n := copy(p, c.rbuf[c.rpos:c.rend])
		c.rpos += n
		return n, nil
	}
	c.setReadDeadline(monoNow().Add(c.st.cfg.BodyTimeout.Duration))
	n, err := c.read(p)
	if n > 0 {
		return n, nil
	}
	return 0, bodyErr(err)
}

// readLine returns the next CRLF-terminated line from the connection,
// without its CRLF, valid until the next read. Lines longer than max and
// bare LFs are errors.
func (c *conn) readLine(max int) ([]byte, error) {
	for {
		data := c.rbuf[c.rpos:c.rend]
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			if i == 0 || data[i-1] != '\r' || i-1 > max {
				return nil, errBadChunk
			}
			c.rpos += i + 1
			return data[:i-1], nil
		}
		if len(data) > max+1 {
			return nil, errBadChunk
		}
		if err := c.fill(); err != nil {
			return nil, err
		}
	}
}

// expectCRLF consumes the CRLF after a chunk's data.
func (c *conn) expectCRLF() error {
	for c.rend-c.rpos < 2 {
		if err := c.fill(); err != nil {
			return err
		}
	}
	if c.rbuf[c.rpos] != '\r' || c.rbuf[c.rpos+1] != '\n' {
		return errBadChunk
	}
	c.rpos += 2
	return nil
}
