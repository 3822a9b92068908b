package serve

import (
	"bytes"
	"encoding/binary"
)

// Limits of the request parser that are not configurable.
const (
	// maxRequestLine bounds the request line; longer lines get 414, as
	// Apache's LimitRequestLine and nginx's large_client_header_buffers do.
	maxRequestLine = 8 << 10
	// maxHeaders bounds the header fields of one request; more get 431.
	maxHeaders = 100
)

// Methods the engine tells apart without comparing strings.
const (
	mOther uint8 = iota
	mGET
	mHEAD
	mPOST
	mOPTIONS
	mPUT
	mDELETE
	mTRACE
	mCONNECT
	mPATCH
)

// header is one request header field; both slices point into the read buffer.
type header struct {
	name, value []byte
}

// Request is one parsed request head. Its byte slices point into the
// connection's read buffer and are valid only until the next request is read
// on that connection; nothing may keep them past the response.
type Request struct {
	Line   []byte // the request line, without CRLF
	Method []byte
	Target []byte // the request-target as sent
	Proto  []byte // "HTTP/1.1"
	Minor  int    // the HTTP/1.x minor version: 0 or 1 (higher minors are answered as 1.1)

	method   uint8
	rawPath  []byte // path part of Target, still percent-encoded
	rawQuery []byte // after '?', without it; nil when Target has no '?'
	hasQuery bool
	absHost  []byte // authority of an absolute-form target
	host     []byte // the Host header
	hosts    int

	headers []header

	contentLength  int64 // -1: none
	chunked        bool
	connClose      bool
	connKeepAlive  bool
	expectContinue bool

	ifMatch, ifNoneMatch, ifModifiedSince, ifUnmodifiedSince, ifRange []byte
	rangeSpec                                                         []byte
	acceptEncoding                                                    []byte
	accept                                                            []byte
	authorization                                                     []byte
	conditional                                                       bool // any of the If-* fields or Range is present
}

// reset clears r for the next request, keeping the header slice's array.
func (r *Request) reset() {
	h := r.headers[:0]
	*r = Request{headers: h, contentLength: -1}
}

// Lookup returns the value of the first header field named name,
// case-insensitively. It does not allocate.
func (r *Request) Lookup(name string) ([]byte, bool) {
	v, _, ok := r.Field(name, 0)
	return v, ok
}

// foldEqual reports whether b and s are equal ignoring ASCII case in both.
func foldEqual(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lower[b[i]] != lower[s[i]] {
			return false
		}
	}
	return true
}

// Header calls fn for each header field in order.
func (r *Request) eachHeader(fn func(name, value []byte)) {
	for i := range r.headers {
		fn(r.headers[i].name, r.headers[i].value)
	}
}

// keepAlive reports whether the connection may carry another request after
// this one, as the request alone decides it.
func (r *Request) keepAlive() bool {
	if r.connClose {
		return false
	}
	if r.Minor == 0 {
		return r.connKeepAlive
	}
	return true
}

// protoString returns the protocol as spoken, for scripts and logs.
func (r *Request) protoString() string {
	if r.Minor == 0 {
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}

// headEnd tells whether buf holds a whole request head, resuming at
// offset from. It returns an offset end such that buf[:end] ends with CRLF
// CRLF and holds the head (parseHead then finds where the head really
// ends), or 0 when more bytes are needed; next is where to resume. Data
// that ends with CRLF CRLF (a head that arrived whole, or pipelined heads)
// needs no search at all; otherwise one fast search finds the empty line,
// and an incomplete head is scanned line by line, so that a bare LF or bare
// CR is refused at once rather than waited on.
func headEnd(buf []byte, from int) (end, next int, status int) {
	if n := len(buf); n >= 4 && buf[n-1] == '\n' && buf[n-2] == '\r' && buf[n-3] == '\n' && buf[n-4] == '\r' {
		return n, n, 0
	}
	if i := bytes.Index(buf[from:], crlfcrlf); i >= 0 {
		return from + i + 4, from + i + 4, 0
	}
	i := from
	for {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			// A CR followed by anything but LF is already an error.
			if k := bytes.IndexByte(buf[i:], '\r'); k >= 0 && k+1 < len(buf)-i {
				return 0, i, 400
			}
			return 0, i, 0
		}
		lineEnd := i + j
		if lineEnd == 0 || buf[lineEnd-1] != '\r' {
			return 0, i, 400 // bare LF
		}
		if bytes.IndexByte(buf[i:lineEnd-1], '\r') >= 0 {
			return 0, i, 400 // bare CR inside a line
		}
		i = lineEnd + 1
	}
}

var crlfcrlf = []byte("\r\n\r\n")

// fieldValueByte marks the bytes allowed in a field value: HTAB, visible
// ASCII, space and obs-text. CR, LF and other controls end or break a line.
var fieldValueByte = [256]bool{}

// targetByte marks the bytes allowed in a request-target: anything
// visible (obs-text included), no space or control.
var targetByte = [256]bool{}

func init() {
	fieldValueByte['\t'] = true
	for c := 0x20; c < 0x100; c++ {
		fieldValueByte[c] = c != 0x7f
		targetByte[c] = c > 0x20 && c != 0x7f
	}
}

// parseHead parses the request head at the start of buf (which ends with
// CRLF CRLF, so that every scan stops) into r, in one pass over its bytes.
// It returns the length of the head, up to and including its empty line,
// and 0 or the status of the error response: 400 for malformed or ambiguous framing (bare CR or LF,
// obs-fold, a space before a colon, conflicting lengths...), 414 for a long
// request line, 431 for too many fields, 501 for an unknown transfer
// coding, 505 for an HTTP version other than 1.x, 417 for an unknown
// expectation.
func parseHead(buf []byte, r *Request) (int, int) {
	r.reset()
	i, st := parseRequestLine(buf, r)
	if st != 0 {
		return 0, st
	}
	for {
		c := buf[i]
		if c == '\r' {
			if buf[i+1] != '\n' {
				return 0, 400
			}
			i += 2
			break
		}
		if c == ' ' || c == '\t' {
			return 0, 400 // obs-fold
		}
		start := i
		for tchars[buf[i]] {
			i++
		}
		if buf[i] != ':' || i == start {
			return 0, 400 // includes whitespace before the colon
		}
		name := buf[start:i]
		i++
		for buf[i] == ' ' || buf[i] == '\t' {
			i++
		}
		vstart := i
		i = scanValue(buf, i)
		if buf[i] != '\r' || buf[i+1] != '\n' {
			return 0, 400 // a bare CR, a bare LF or a control byte
		}
		vend := i
		for vend > vstart && (buf[vend-1] == ' ' || buf[vend-1] == '\t') {
			vend--
		}
		i += 2
		if len(r.headers) == maxHeaders {
			return 0, 431
		}
		value := buf[vstart:vend]
		r.headers = append(r.headers, header{name, value})
		if st := r.noteHeader(name, value); st != 0 {
			return 0, st
		}
	}
	return i, r.checkFraming()
}

// scanValue returns the offset of the first byte from i that may not be
// in a field value (the CR that ends the line, for a valid one). It checks
// eight bytes at a time: a word with no byte below 0x20 and no 0x7f is all
// valid; any other word is checked byte by byte.
func scanValue(buf []byte, i int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for i+8 <= len(buf) {
		x := binary.LittleEndian.Uint64(buf[i:])
		below := (x - ones*0x20) &^ x & highs // some byte < 0x20
		y := x ^ (ones * 0x7f)
		del := (y - ones) &^ y & highs // some byte == 0x7f
		if below|del != 0 {
			break
		}
		i += 8
	}
	for fieldValueByte[buf[i]] {
		i++
	}
	return i
}

// parseRequestLine parses the request line at the start of buf and
// returns the offset of the next line.
func parseRequestLine(buf []byte, r *Request) (int, int) {
	i := 0
	for tchars[buf[i]] {
		i++
	}
	if i == 0 || buf[i] != ' ' {
		if lineLen(buf) > maxRequestLine {
			return 0, 414
		}
		return 0, 400
	}
	r.Method = buf[:i]
	r.method = methodCode(r.Method)
	i++
	ts := i
	for targetByte[buf[i]] {
		i++
	}
	if i == ts || buf[i] != ' ' {
		if lineLen(buf) > maxRequestLine {
			return 0, 414
		}
		return 0, 400 // HTTP/0.9, a missing target, or a control byte
	}
	r.Target = buf[ts:i]
	if i > maxRequestLine {
		return 0, 414
	}
	i++
	if len(buf)-i < 10 {
		return 0, 400
	}
	p := buf[i : i+8]
	if buf[i+8] != '\r' || buf[i+9] != '\n' {
		return 0, 400
	}
	r.Line = buf[:i+8]
	r.Proto = p
	if string(p[:5]) != "HTTP/" || p[6] != '.' || !isDigit(p[5]) || !isDigit(p[7]) {
		return 0, 400
	}
	if p[5] != '1' {
		return 0, 505
	}
	r.Minor = int(p[7] - '0')
	if r.Minor > 1 {
		r.Minor = 1
	}
	return i + 10, parseTarget(r)
}

// lineLen is the length of the first line of buf.
func lineLen(buf []byte) int {
	if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		return i
	}
	return len(buf)
}

// parseTarget splits the request-target into path and query, accepting the
// origin form ("/path?q"), the absolute form ("http://host/path?q") and the
// asterisk form ("*", for OPTIONS only).
func parseTarget(r *Request) int {
	t := r.Target
	switch {
	case t[0] == '/':
	case len(t) == 1 && t[0] == '*':
		if r.method != mOPTIONS {
			return 400
		}
		r.rawPath = t
		return 0
	case hasPrefixFold(t, "http://") || hasPrefixFold(t, "https://"):
		rest := t[bytes.IndexByte(t, ':')+3:]
		end := bytes.IndexAny(rest, "/?")
		if end < 0 {
			end = len(rest)
		}
		r.absHost = rest[:end]
		if len(r.absHost) == 0 || !validHost(r.absHost) {
			return 400
		}
		t = rest[end:]
		if len(t) == 0 {
			r.rawPath = slash
			return 0
		}
		if t[0] == '?' {
			r.rawPath = slash
			r.rawQuery, r.hasQuery = t[1:], true
			return 0
		}
	default:
		return 400
	}
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		r.rawPath, r.rawQuery, r.hasQuery = t[:i], t[i+1:], true
	} else {
		r.rawPath = t
	}
	if i := bytes.IndexByte(r.rawPath, '#'); i >= 0 {
		return 400 // a fragment is never sent
	}
	return 0
}

var slash = []byte("/")

// noteHeader records the fields the engine acts on.
func (r *Request) noteHeader(name, value []byte) int {
	// Every field acted on starts with one of these letters; most others
	// are passed over after one table look-up.
	switch lower[name[0]] {
	case 'a', 'c', 'e', 'h', 'i', 'r', 't':
	default:
		return 0
	}
	switch len(name) {
	case 4:
		if equalFold(name, "host") {
			r.host = value
			r.hosts++
		}
	case 5:
		if equalFold(name, "range") {
			r.rangeSpec = value
			r.conditional = true
		}
	case 6:
		if equalFold(name, "expect") {
			if !equalFold(value, "100-continue") {
				return 417
			}
			r.expectContinue = true
		} else if equalFold(name, "accept") {
			r.accept = value
		}
	case 8:
		if equalFold(name, "if-match") {
			r.ifMatch = value
			r.conditional = true
		} else if equalFold(name, "if-range") {
			r.ifRange = value
			r.conditional = true
		}
	case 10:
		if equalFold(name, "connection") {
			forEachToken(value, func(tok []byte) {
				if equalFold(tok, "close") {
					r.connClose = true
				} else if equalFold(tok, "keep-alive") {
					r.connKeepAlive = true
				}
			})
		}
	case 13:
		if equalFold(name, "if-none-match") {
			r.ifNoneMatch = value
			r.conditional = true
		} else if equalFold(name, "authorization") {
			r.authorization = value
		}
	case 14:
		if equalFold(name, "content-length") {
			n, ok := parseContentLength(value)
			if !ok {
				return 400
			}
			if r.contentLength >= 0 && r.contentLength != n {
				return 400 // two different lengths
			}
			r.contentLength = n
		}
	case 15:
		if equalFold(name, "accept-encoding") {
			r.acceptEncoding = value
		}
	case 17:
		if equalFold(name, "if-modified-since") {
			r.ifModifiedSince = value
			r.conditional = true
		} else if equalFold(name, "transfer-encoding") {
			st := 0
			forEachToken(value, func(tok []byte) {
				switch {
				case st != 0:
				case r.chunked:
					st = 400 // chunked must be the last coding, and only once
				case equalFold(tok, "chunked"):
					r.chunked = true
				case equalFold(tok, "gzip"), equalFold(tok, "deflate"), equalFold(tok, "compress"), equalFold(tok, "identity"):
					st = 501
				default:
					st = 501
				}
			})
			if st != 0 {
				return st
			}
			if !r.chunked {
				return 400
			}
		}
	case 19:
		if equalFold(name, "if-unmodified-since") {
			r.ifUnmodifiedSince = value
			r.conditional = true
		}
	}
	return 0
}

// checkFraming refuses requests whose length or host is in doubt.
func (r *Request) checkFraming() int {
	if r.chunked && r.contentLength >= 0 {
		return 400 // Content-Length with Transfer-Encoding
	}
	if r.chunked && r.Minor == 0 {
		return 400 // Transfer-Encoding in HTTP/1.0 is faulty framing
	}
	if r.hosts > 1 {
		return 400
	}
	if r.Minor == 1 && r.hosts == 0 {
		return 400 // HTTP/1.1 requires Host
	}
	if r.hosts == 1 && !validHost(r.host) {
		return 400
	}
	return 0
}

// parseContentLength accepts 1*DIGIT that fits in an int64.
func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// validHost accepts a host name, an IPv4 address or a bracketed IPv6
// address, each with an optional port, as RFC 3986 reg-name allows.
func validHost(h []byte) bool {
	if len(h) == 0 {
		return true // "Host:" with an empty value is allowed by RFC 9112
	}
	if h[0] == '[' {
		end := bytes.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		for _, c := range h[1:end] {
			if !isHexDigit(c) && c != ':' && c != '.' {
				return false
			}
		}
		h = h[end+1:]
		if len(h) == 0 {
			return true
		}
		if h[0] != ':' {
			return false
		}
		return allDigits(h[1:])
	}
	if i := bytes.LastIndexByte(h, ':'); i >= 0 {
		if !allDigits(h[i+1:]) {
			return false
		}
		h = h[:i]
	}
	for _, c := range h {
		if !(isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '%' ||
			c == '!' || c == '$' || c == '&' || c == '\'' || c == '(' || c == ')' ||
			c == '*' || c == '+' || c == ',' || c == ';' || c == '=') {
			return false
		}
	}
	return true
}

func methodCode(m []byte) uint8 {
	switch string(m) {
	case "GET":
		return mGET
	case "HEAD":
		return mHEAD
	case "POST":
		return mPOST
	case "OPTIONS":
		return mOPTIONS
	case "PUT":
		return mPUT
	case "DELETE":
		return mDELETE
	case "TRACE":
		return mTRACE
	case "CONNECT":
		return mCONNECT
	case "PATCH":
		return mPATCH
	}
	return mOther
}

// forEachToken calls fn for each comma-separated element of a list field,
// trimmed, skipping empty elements.
func forEachToken(v []byte, fn func(tok []byte)) {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		var tok []byte
		if i < 0 {
			tok, v = v, nil
		} else {
			tok, v = v[:i], v[i+1:]
		}
		tok = trimOWS(tok)
		if len(tok) > 0 {
			fn(tok)
		}
	}
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold reports whether b equals s, ignoring ASCII case in b; s must
// be lower case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lower[b[i]] != s[i] {
			return false
		}
	}
	return true
}

// lower maps ASCII upper-case letters to lower case and every other byte to
// itself.
var lower = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] = byte(i + 'a' - 'A')
		}
	}
	return t
}()

func hasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && equalFold(b[:len(s)], s)
}

// tchars are the token characters of RFC 9110.
var tchars = [256]bool{}

func init() {
	for c := 'a'; c <= 'z'; c++ {
		tchars[c] = true
		tchars[c-'a'+'A'] = true
	}
	for c := '0'; c <= '9'; c++ {
		tchars[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		tchars[c] = true
	}
}

func isTchar(c byte) bool    { return tchars[c] }
func isDigit(c byte) bool    { return '0' <= c && c <= '9' }
func isAlnum(c byte) bool    { return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isHexDigit(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func allDigits(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}
