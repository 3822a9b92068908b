package cgi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Bounds on the header block a script prints before its body.
const (
	// maxHeaderLine bounds one header line, end of line included; it is
	// also the size of the buffered reader the header is read through
	// (Apache's limit is the same 8 KiB).
	maxHeaderLine = 8 << 10
	// maxHeaderBytes bounds the whole header block.
	maxHeaderBytes = 64 << 10
	// maxHeaderFields bounds the number of header lines.
	maxHeaderFields = 200
)

// scriptHeader is a parsed CGI header block.
type scriptHeader struct {
	Status   int      // from the Status field; 0 when there was none
	Fields   []Field  // the fields to send, in the script's order; no Status, at most one Location
	Warnings []string // why some fields were dropped, for the error log
	Size     int      // bytes of the header block, blank line included
}

// location returns the value of the Location field, or "".
func (h *scriptHeader) location() string {
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, "Location") {
			return f.Value
		}
	}
	return ""
}

// response decides what a parsed header means, as RFC 3875 section 6.2 and
// Apache do: a local Location ("/path", not "//host") with no Status is a
// local redirect, for serve to follow internally as a GET (nothing is sent,
// and the script's body is discarded); any other Location with no Status
// is a 302; no Status at all is a 200.
func (h *scriptHeader) response() (status int, localRedirect string) {
	loc := h.location()
	switch {
	case h.Status != 0:
		return h.Status, ""
	case isLocalPath(loc):
		return 0, loc
	case loc != "":
		return 302, ""
	}
	return 200, ""
}

// isLocalPath reports whether a Location value is a path on this server:
// "/x", but not "//host/x" or "/\host/x", which browsers take as another
// host.
func isLocalPath(loc string) bool {
	return len(loc) > 0 && loc[0] == '/' && (len(loc) == 1 || (loc[1] != '/' && loc[1] != '\\'))
}

// dropped names response header fields the script must not set: serve owns
// framing, the connection, Date and Server.
var dropped = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true,
	"transfer-encoding": true, "te": true, "trailer": true, "upgrade": true,
	"date": true, "server": true,
}

// errTooLong is the inner error of an over-long header line.
var errTooLong = errors.New("header line too long")

// parseHeader reads the CGI header block from br, up to and including the
// blank line that ends it, and leaves the body in br. It reads at most
// maxHeaderBytes plus one buffer; br must have been made with
// bufio.NewReaderSize(src, maxHeaderLine) or a smaller size.
//
// Lines end in LF or CRLF. A line that starts with a space or a tab
// continues the previous field (obsolete folding, joined with one space).
// Field names must be RFC 9110 tokens and values must hold no control
// character but tab; a field that breaks either rule is dropped with a
// warning, as net/http/cgi drops a bad name. A line with no colon, an
// invalid Status, a line longer than maxHeaderLine, a block larger than
// maxHeaderBytes or with more than maxHeaderFields lines, and the end of
// the output before the blank line, are errors wrapping ErrBadHeader, as
// under Apache. An error reading br is returned wrapped as it is, so a
// timeout can be told apart.
func parseHeader(br *bufio.Reader) (scriptHeader, error) {
	var h scriptHeader
	last := -1 // index in h.Fields of the field a folded line continues; -1 for none
	clConflict := false
	for lines := 0; ; lines++ {
		line, err := br.ReadSlice('\n')
		h.Size += len(line)
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			return h, fmt.Errorf("%w: %w (over %d bytes): %.30q", ErrBadHeader, errTooLong, maxHeaderLine, line)
		case err == io.EOF && h.Size == 0:
			return h, fmt.Errorf("%w: end of script output before headers", ErrBadHeader)
		case err == io.EOF:
			return h, fmt.Errorf("%w: premature end of script headers", ErrBadHeader)
		case err != nil:
			return h, fmt.Errorf("reading script headers: %w", err)
		}
		if h.Size > maxHeaderBytes {
			return h, fmt.Errorf("%w: header block over %d bytes", ErrBadHeader, maxHeaderBytes)
		}
		if lines >= maxHeaderFields {
			return h, fmt.Errorf("%w: more than %d header lines", ErrBadHeader, maxHeaderFields)
		}
		line = bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'})
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if lines == 0 {
				return h, fmt.Errorf("%w: malformed header from script: continuation line first: %.30q", ErrBadHeader, line)
			}
			if last >= 0 {
				v := strings.TrimSpace(string(line))
				if !validValue(v) {
					h.Warnings = append(h.Warnings, fmt.Sprintf("dropped header %q: invalid character in value", h.Fields[last].Name))
					h.Fields = append(h.Fields[:last], h.Fields[last+1:]...)
					last = -1
					continue
				}
				h.Fields[last].Value += " " + v
			}
			continue
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			return h, fmt.Errorf("%w: malformed header from script: bad header: %.30q", ErrBadHeader, line)
		}
		last = -1
		n, v := string(name), strings.TrimSpace(string(value))
		lower := strings.ToLower(n)
		switch {
		case !validName(n):
			h.Warnings = append(h.Warnings, fmt.Sprintf("dropped header %.30q: invalid name", n))
			continue
		case !validValue(v):
			h.Warnings = append(h.Warnings, fmt.Sprintf("dropped header %q: invalid character in value", n))
			continue
		case lower == "status":
			code, ok := parseStatus(v)
			if !ok {
				return h, fmt.Errorf("%w: invalid status line from script: %.30q", ErrBadHeader, v)
			}
			h.Status = code
			continue
		case dropped[lower]:
			h.Warnings = append(h.Warnings, fmt.Sprintf("dropped header %q: set by the server", n))
			continue
		case lower == "location" && h.location() != "":
			h.Warnings = append(h.Warnings, fmt.Sprintf("dropped header %q: a second Location", n))
			continue
		case lower == "content-type":
			// A single-value field: a second one replaces the first, as
			// in Apache.
			if i := h.field("Content-Type"); i >= 0 {
				h.Warnings = append(h.Warnings, fmt.Sprintf("header %q sent twice: the last value is kept", n))
				h.Fields[i].Value = v
				last = i
				continue
			}
		case lower == "content-length":
			if !validLength(v) {
				h.Warnings = append(h.Warnings, fmt.Sprintf("dropped header %q: invalid value %.30q", n, v))
				continue
			}
			if prev, ok := h.contentLength(); ok {
				if n, _ := strconv.ParseInt(v, 10, 64); n != prev {
					clConflict = true
				}
				continue
			}
		}
		h.Fields = append(h.Fields, Field{Name: n, Value: v})
		last = len(h.Fields) - 1
	}
	if clConflict {
		h.Warnings = append(h.Warnings, "dropped header \"Content-Length\": conflicting values")
		kept := h.Fields[:0]
		for _, f := range h.Fields {
			if !strings.EqualFold(f.Name, "Content-Length") {
				kept = append(kept, f)
			}
		}
		h.Fields = kept
	}
	return h, nil
}

// field returns the index of the first field called name, or -1.
func (h *scriptHeader) field(name string) int {
	for i, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			return i
		}
	}
	return -1
}

// contentLength returns the value of the Content-Length field, if any.
func (h *scriptHeader) contentLength() (int64, bool) {
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, "Content-Length") {
			n, err := strconv.ParseInt(f.Value, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// parseStatus reads "404" or "404 Not Found". It accepts final status
// codes only (200 to 599): a 1xx is not a response a script can end with.
func parseStatus(v string) (int, bool) {
	if len(v) < 3 || (len(v) > 3 && v[3] != ' ' && v[3] != '\t') {
		return 0, false
	}
	code := 0
	for _, c := range []byte(v[:3]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		code = code*10 + int(c-'0')
	}
	return code, code >= 200 && code <= 599
}

// validLength accepts 1 to 18 decimal digits.
func validLength(v string) bool {
	if len(v) == 0 || len(v) > 18 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// validName reports whether n is an RFC 9110 token.
func validName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validValue reports whether v holds no control character but tab.
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
