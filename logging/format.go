package logging

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pwebs/pwebs/internal/strftime"
)

// Common is Apache's Common Log Format, selected by format = "common".
const Common = `%h %l %u %t "%r" %>s %b`

// Combined is Apache's Combined Log Format, selected by format = "combined"
// (the default).
const Combined = `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`

// ErrFormat is wrapped by every error ParseFormat returns.
var ErrFormat = errors.New("logging: invalid log format")

// Record is one answered request as the access log sees it. serve fills one
// per request and may reuse it; Access keeps nothing from it after it
// returns. Empty fields print as "-", as Apache prints a missing value.
type Record struct {
	Time        time.Time     // when the request's first byte arrived (%t, %{format}t), printed in its own location: pass local time
	Duration    time.Duration // until the last byte of the response (%D in µs, %T in s; Time+Duration is %{end:...}t); 0: Logger.Access measures it from Time when the format prints it
	Queue       time.Duration // time waited for a max_clients slot (%{queue}t, in µs)
	RemoteAddr  string        // client "ip:port" (%h and %a print the IP, %{remote}p the port)
	LocalAddr   string        // server "ip:port" (%A prints the IP, %p the port)
	User        string        // authenticated user (%u); "" prints "-"
	Method      []byte        // %m
	Path        []byte        // %U: the decoded URL path
	Query       []byte        // %q: the query string without '?'; printed with a leading '?' when not empty
	Proto       []byte        // %H, such as "HTTP/1.1"
	RequestLine []byte        // %r: the first line as received, without CRLF (may be garbage on a 400)
	Status      int           // %>s: the final status
	OrigStatus  int           // %s: the status before an internal redirect; 0 means the same as Status
	BodyBytes   int64         // %b ("-" when 0) and %B: body bytes sent
	HeadBytes   int64         // bytes of the response head; %O prints HeadBytes+BodyBytes (no interim 100 Continue)
	InBytes     int64         // %I: bytes received, the request head and the body read (chunk framing aside); %S prints InBytes+HeadBytes+BodyBytes
	Aborted     bool          // %X prints "X": the client went away before the response was sent whole
	KeepAlive   bool          // %X prints "+" (else "-"): the connection may carry another request
	KeepAlives  int           // %k: requests read on the connection before this one
	VHost       string        // %v: the virtual host's first name, or the server name
	ReqHeader   HeaderLookup  // %{Name}i and %{Name}C; nil prints "-"
	RespHeader  HeaderLookup  // %{Name}o; nil prints "-"
}

// HeaderLookup finds the fields of a header by name, case-insensitively.
// Format calls it with the names written in the format string; serve
// implements it without allocating. The returned bytes are only read, and not
// kept.
type HeaderLookup interface {
	// Field returns the value of the first field named name at or after
	// position from, and the position just after that field; ok is false
	// when there is none. Position 0 is the first field; other positions
	// are the implementation's own (an index, an offset), known only from
	// what Field returned. Calling Field again from next finds the next
	// field of the same name, so that a repeated field is seen whole.
	Field(name string, from int) (value []byte, next int, ok bool)
}

// Format is a parsed access log format. It is safe for concurrent use.
type Format struct {
	src      string
	items    []item
	duration bool // an item prints Record.Duration, or a time at the end
	respHead bool // an item prints a response header field (%{Name}o) or the head's size (%O)

	// clf is the last %t text printed: the lines of a busy log share
	// their second, and formatting a time costs more than copying it.
	clf atomic.Pointer[shownTime]
}

// shownTime is a time as %t or a %{format}t prints it, for the second and
// the location it was printed for, which decide the text: neither prints
// a fraction of a second.
type shownTime struct {
	sec  int64
	loc  *time.Location
	n    int
	text [shownTimeMax]byte
}

// shownTimeMax is the longest text kept in a shownTime: that of
// [21/Nov/2026:10:04:05 +0000], or of a %{format}t as long as
// "%A, %d-%B-%Y %H:%M:%S %Z", and some room. A longer text is formatted
// for each line.
const shownTimeMax = 48

type op uint8

const (
	opLiteral op = iota
	opRemoteHost
	opRemoteIP
	opLocalIP
	opUser
	opTimeCLF
	opTimeFormat
	opTimeSec
	opTimeMsec
	opTimeUsec
	opTimeMsecFrac
	opTimeUsecFrac
	opQueue
	opRequestLine
	opMethod
	opPath
	opQuery
	opProto
	opStatus
	opBytesCLF
	opBytes
	opMicros
	opSeconds
	opMillis
	opVHost
	opReqHeader
	opRespHeader
	opCookie
	opLocalPort
	opRemotePort
	opBytesSent
	opBytesReceived
	opBytesBoth
	opConnStatus
	opKeepAlives
)

// item is one piece of a format: literal text or one directive.
type item struct {
	op     op
	text   string                     // the literal, the header or cookie name, the strftime format of %{format}t
	end    bool                       // %{end:...}t: the time the response ended
	shown  *atomic.Pointer[shownTime] // %{format}t: the last text printed
	orig   bool                       // %s or %<s: the status before an internal redirect
	negate bool                       // %!...: print the item unless the status is listed
	conds  []int                      // %400,501...: print the item only for these statuses
}

// ParseFormat reads an access log format: "common", "combined", or an Apache
// LogFormat string. Supported directives: %% %a %A %b %B %D %h %H %k %l %L
// %m %O %p %{local}p %{remote}p %{canonical}p %P %{pid}P %q %r %s %<s %>s %t
// %{format}t %{sec}t %{msec}t %{usec}t %{msec_frac}t %{usec_frac}t (each
// optionally "begin:" or "end:"), %{queue}t %T %{s}T %{ms}T %{us}T %u %U %v
// %X %{VAR}e %{Name}i %{Name}o and %{Name}C, with Apache's status conditions
// (%400,501{Referer}i, %!200{Referer}i). %l, %L and %{VAR}e always print
// "-": pwebs asks no identd, its error log has no log IDs, and it sets no
// environment variables for a request (Apache prints "-" for one that is
// not set). Any other directive is an error, saying so for those pwebs
// leaves out: %I %S %f %R %{tid}P. In the literal text, \n \t \r \\ and \"
// stand for a newline, a tab, a carriage return, a backslash and a double
// quote, as in httpd.conf. Each line ends with a newline.
//
// %{format}t prints the time by the strftime(3) format, in the location of
// Record.Time (local time, as %t), as glibc's strftime does in the C locale
// (see internal/strftime), and unescaped, as Apache prints it. The format
// must convert something (a name without %, such as "msecs", is a typo
// rather than text to print), and a conversion glibc does not know (%Q), a
// modifier it refuses (%Ea), a % at the end or a field width that could
// make the text longer than strftime.MaxLen-1 bytes is an error, where
// Apache would print the format as written, or garbage.
func ParseFormat(s string) (*Format, error) {
	src := s
	switch s {
	case "common":
		s = Common
	case "combined":
		s = Combined
	case "":
		return nil, fmt.Errorf("%w: empty (use \"combined\", \"common\" or a LogFormat string)", ErrFormat)
	}
	f := &Format{src: src}
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			f.items = append(f.items, item{op: opLiteral, text: string(lit)})
			lit = lit[:0]
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case 'n':
				lit = append(lit, '\n')
			case 't':
				lit = append(lit, '\t')
			case 'r':
				lit = append(lit, '\r')
			case '\\', '"':
				lit = append(lit, s[i+1])
			default:
				lit = append(lit, '\\')
				i++
				continue
			}
			i += 2
			continue
		}
		if c != '%' {
			lit = append(lit, c)
			i++
			continue
		}
		it, n, err := parseDirective(s, i)
		if err != nil {
			return nil, err
		}
		i += n
		if it.op == opLiteral && it.conds == nil {
			lit = append(lit, it.text...)
			continue
		}
		flush()
		f.items = append(f.items, it)
		switch {
		case it.op == opMicros, it.op == opMillis, it.op == opSeconds:
			f.duration = true
		case it.end:
			f.duration = true
		case it.op == opRespHeader, it.op == opBytesSent, it.op == opBytesBoth:
			f.respHead = true
		}
	}
	lit = append(lit, '\n')
	flush()
	return f, nil
}

// UsesDuration reports whether a line of f prints Record.Duration, itself
// (%D, %T) or as the time the response ended (%{end:...}t). When it does
// not, the caller may leave Duration zero and save reading the clock.
func (f *Format) UsesDuration() bool { return f.duration }

// UsesResponseHeader reports whether a line of f prints a field of the
// response head (%{Name}o) or its size (%O). When it does not, the caller
// may leave Record.RespHeader nil and Record.HeadBytes 0, and save keeping a
// copy of the head.
func (f *Format) UsesResponseHeader() bool { return f.respHead }

// parseDirective reads the directive that starts at s[at] ('%') and returns
// it with the number of bytes it spans.
func parseDirective(s string, at int) (item, int, error) {
	i := at + 1
	bad := func(format string, args ...any) (item, int, error) {
		end := min(i+1, len(s))
		return item{}, 0, fmt.Errorf("%w: %q at byte %d: %s", ErrFormat, s[at:end], at, fmt.Sprintf(format, args...))
	}
	if i < len(s) && s[i] == '%' {
		return item{op: opLiteral, text: "%"}, 2, nil
	}
	var it item
	wantOrig := -1
	arg := ""
modifiers:
	for i < len(s) {
		switch c := s[i]; {
		case c == '!':
			it.negate = !it.negate
			i++
		case c == '<':
			wantOrig = 1
			i++
		case c == '>':
			wantOrig = 0
			i++
		case c == ',':
			i++
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j-i > 3 {
				return bad("a status condition has at most 3 digits")
			}
			n, _ := strconv.Atoi(s[i:j])
			it.conds = append(it.conds, n)
			i = j
		case c == '{':
			j := strings.IndexByte(s[i+1:], '}')
			if j < 0 {
				i = len(s) - 1
				return bad("missing '}'")
			}
			arg = s[i+1 : i+1+j]
			i += j + 2
		default:
			break modifiers
		}
	}
	if i >= len(s) {
		i = len(s) - 1
		return bad("the format ends inside a directive")
	}
	letter := s[i]
	switch letter {
	case 'h', 'a':
		if arg != "" && arg != "c" {
			return bad("the only argument is {c}")
		}
		it.op = opRemoteHost
		if letter == 'a' {
			it.op = opRemoteIP
		}
	case 'A':
		it.op = opLocalIP
	case 'l', 'L':
		// The remote logname (identd) is never looked up, and the error
		// log writes no log IDs: a literal, merged with the text around
		// it.
		it.op = opLiteral
		it.text = "-"
	case 'e':
		if arg == "" {
			return bad("a name in braces is required, as in %%{UNIQUE_ID}e")
		}
		// pwebs sets no environment variables for a request: every one
		// prints as an unset one does in Apache.
		it.op = opLiteral
		it.text = "-"
	case 'X':
		it.op = opConnStatus
	case 'k':
		it.op = opKeepAlives
	case 'O':
		it.op = opBytesSent
	case 'I':
		it.op = opBytesReceived
	case 'S':
		it.op = opBytesBoth
	case 'f':
		return bad("not supported: pwebs does not record the file that answered a request")
	case 'R':
		return bad("not supported: pwebs has no Apache handlers")
	case 'u':
		it.op = opUser
	case 't':
		if err := parseTimeArg(&it, arg); err != nil {
			return bad("%v", err)
		}
	case 'r':
		it.op = opRequestLine
	case 'm':
		it.op = opMethod
	case 'U':
		it.op = opPath
	case 'q':
		it.op = opQuery
	case 'H':
		it.op = opProto
	case 's':
		it.op = opStatus
		it.orig = wantOrig != 0
	case 'b':
		it.op = opBytesCLF
	case 'B':
		it.op = opBytes
	case 'D':
		it.op = opMicros
	case 'T':
		switch strings.ToLower(arg) {
		case "", "s":
			it.op = opSeconds
		case "ms":
			it.op = opMillis
		case "us":
			it.op = opMicros
		default:
			return bad("the unit must be s, ms or us")
		}
	case 'v':
		it.op = opVHost
	case 'i', 'o', 'C':
		if arg == "" {
			return bad("a name in braces is required, as in %%{Referer}%c", letter)
		}
		it.text = arg
		switch letter {
		case 'i':
			it.op = opReqHeader
		case 'o':
			it.op = opRespHeader
		default:
			it.op = opCookie
		}
	case 'p':
		switch strings.ToLower(arg) {
		case "", "canonical", "local":
			it.op = opLocalPort
		case "remote":
			it.op = opRemotePort
		default:
			return bad("the argument must be canonical, local or remote")
		}
	case 'P':
		if arg != "" && !strings.EqualFold(arg, "pid") {
			return bad("not supported: pwebs serves requests on goroutines, not threads; only the process ID (%%P or %%{pid}P) is")
		}
		it.op = opLiteral
		it.text = strconv.Itoa(os.Getpid())
	default:
		return bad("unknown or unsupported directive")
	}
	return it, i + 1 - at, nil
}

// parseTimeArg fills it from the argument of %{...}t, as Apache's
// mod_log_config reads it: "queue"; or an optional "begin:" or "end:", then
// nothing (the Common Log Format time), "sec", "msec", "usec", "msec_frac",
// "usec_frac", or a strftime format. "begin" and "end" alone are the Common
// Log Format time too.
func parseTimeArg(it *item, arg string) error {
	if arg == "queue" {
		it.op = opQueue
		return nil
	}
	rest := arg
	if r, ok := strings.CutPrefix(arg, "begin"); ok && (r == "" || r[0] == ':') {
		rest = strings.TrimPrefix(r, ":")
	} else if r, ok := strings.CutPrefix(arg, "end"); ok && (r == "" || r[0] == ':') {
		rest = strings.TrimPrefix(r, ":")
		it.end = true
	}
	switch rest {
	case "":
		it.op = opTimeCLF
	case "sec":
		it.op = opTimeSec
	case "msec":
		it.op = opTimeMsec
	case "usec":
		it.op = opTimeUsec
	case "msec_frac":
		it.op = opTimeMsecFrac
	case "usec_frac":
		it.op = opTimeUsecFrac
	default:
		if !strings.Contains(rest, "%") {
			return fmt.Errorf("%q is neither a strftime format (it has no %% conversion, as in %%{%%d/%%b/%%Y}t) nor sec, msec, usec, msec_frac, usec_frac or queue", rest)
		}
		if err := strftime.Check(rest); err != nil {
			return err
		}
		it.op = opTimeFormat
		it.text = rest
		it.shown = new(atomic.Pointer[shownTime])
	}
	return nil
}

// String returns the format as it was given to ParseFormat.
func (f *Format) String() string { return f.src }

// Append appends r's line, newline included, to dst and returns the extended
// slice. Strings from the request are escaped as Apache's mod_log_config
// escapes them, so a request can neither break the line nor forge another.
// Append does not allocate when dst has room for the line, but for the first
// %t, and the first of each %{format}t, of each second (a few dozen bytes).
func (f *Format) Append(dst []byte, r *Record) []byte {
	for i := range f.items {
		it := &f.items[i]
		if it.conds != nil && !it.wanted(r.Status) {
			dst = append(dst, '-')
			continue
		}
		switch it.op {
		case opLiteral:
			dst = append(dst, it.text...)
		case opRemoteHost, opRemoteIP:
			host, _ := splitHostPort(r.RemoteAddr)
			dst = appendField(dst, host)
		case opLocalIP:
			host, _ := splitHostPort(r.LocalAddr)
			dst = appendField(dst, host)
		case opLocalPort:
			_, port := splitHostPort(r.LocalAddr)
			dst = appendField(dst, port)
		case opRemotePort:
			_, port := splitHostPort(r.RemoteAddr)
			dst = appendField(dst, port)
		case opUser:
			dst = appendField(dst, r.User)
		case opTimeCLF:
			dst = appendShownTime(dst, &f.clf, it.when(r), "")
		case opTimeFormat:
			dst = appendShownTime(dst, it.shown, it.when(r), it.text)
		case opTimeSec:
			dst = strconv.AppendInt(dst, it.when(r).Unix(), 10)
		case opTimeMsec:
			dst = strconv.AppendInt(dst, it.when(r).UnixMilli(), 10)
		case opTimeUsec:
			dst = strconv.AppendInt(dst, it.when(r).UnixMicro(), 10)
		case opTimeMsecFrac:
			dst = appendDigits(dst, it.when(r).Nanosecond()/1e6, 3)
		case opTimeUsecFrac:
			dst = appendDigits(dst, it.when(r).Nanosecond()/1e3, 6)
		case opQueue:
			dst = strconv.AppendInt(dst, r.Queue.Microseconds(), 10)
		case opRequestLine:
			dst = appendField(dst, r.RequestLine)
		case opMethod:
			dst = appendField(dst, r.Method)
		case opPath:
			dst = appendField(dst, r.Path)
		case opQuery:
			if len(r.Query) > 0 {
				dst = append(dst, '?')
				dst = appendEscaped(dst, r.Query)
			}
		case opProto:
			dst = appendField(dst, r.Proto)
		case opStatus:
			st := r.Status
			if it.orig && r.OrigStatus != 0 {
				st = r.OrigStatus
			}
			switch {
			case st <= 0:
				dst = append(dst, '-')
			case st >= 100 && st < 1000:
				dst = append(dst, byte('0'+st/100), byte('0'+st/10%10), byte('0'+st%10))
			default:
				dst = strconv.AppendInt(dst, int64(st), 10)
			}
		case opBytesCLF:
			if r.BodyBytes <= 0 {
				dst = append(dst, '-')
			} else {
				dst = strconv.AppendInt(dst, r.BodyBytes, 10)
			}
		case opBytes:
			dst = strconv.AppendInt(dst, max(r.BodyBytes, 0), 10)
		case opBytesSent:
			dst = strconv.AppendInt(dst, max(r.HeadBytes, 0)+max(r.BodyBytes, 0), 10)
		case opBytesReceived:
			dst = strconv.AppendInt(dst, max(r.InBytes, 0), 10)
		case opBytesBoth:
			dst = strconv.AppendInt(dst, max(r.InBytes, 0)+max(r.HeadBytes, 0)+max(r.BodyBytes, 0), 10)
		case opConnStatus:
			switch {
			case r.Aborted:
				dst = append(dst, 'X')
			case r.KeepAlive:
				dst = append(dst, '+')
			default:
				dst = append(dst, '-')
			}
		case opKeepAlives:
			dst = strconv.AppendInt(dst, int64(max(r.KeepAlives, 0)), 10)
		case opMicros:
			dst = strconv.AppendInt(dst, r.Duration.Microseconds(), 10)
		case opMillis:
			dst = strconv.AppendInt(dst, r.Duration.Milliseconds(), 10)
		case opSeconds:
			dst = strconv.AppendInt(dst, int64(r.Duration/time.Second), 10)
		case opVHost:
			dst = appendField(dst, r.VHost)
		case opReqHeader:
			dst = appendHeader(dst, r.ReqHeader, it.text, false)
		case opRespHeader:
			dst = appendHeader(dst, r.RespHeader, it.text, true)
		case opCookie:
			dst = appendCookie(dst, r.ReqHeader, it.text)
		}
	}
	return dst
}

// appendShownTime appends t as %t prints it (layout "") or as the strftime
// layout formats it, copied from last, the text printed before, when that
// was of the same second in the same location; otherwise it keeps the new
// text in last.
func appendShownTime(dst []byte, last *atomic.Pointer[shownTime], t time.Time, layout string) []byte {
	sec, loc := t.Unix(), t.Location()
	if c := last.Load(); c != nil && c.sec == sec && c.loc == loc {
		return append(dst, c.text[:c.n]...)
	}
	start := len(dst)
	if layout == "" {
		dst = appendCLFTime(dst, t)
	} else {
		dst = strftime.AppendFormat(dst, layout, t)
	}
	if n := len(dst) - start; n <= shownTimeMax {
		c := &shownTime{sec: sec, loc: loc, n: n}
		copy(c.text[:], dst[start:])
		last.Store(c)
	}
	return dst
}

// wanted reports whether an item with status conditions is printed.
func (it *item) wanted(status int) bool {
	listed := false
	for _, c := range it.conds {
		if c == status {
			listed = true
			break
		}
	}
	return listed != it.negate
}

// when returns the time a %t item prints: when the request began, or ended.
func (it *item) when(r *Record) time.Time {
	if it.end {
		return r.Time.Add(r.Duration)
	}
	return r.Time
}

// appendField appends s escaped, or "-" when s is empty.
func appendField[T string | []byte](dst []byte, s T) []byte {
	if len(s) == 0 {
		return append(dst, '-')
	}
	return appendEscaped(dst, s)
}

// appendHeader appends the value of header name, or "-" when it is absent.
// A header that is present but empty prints as nothing, as in Apache. A
// header sent several times prints every value, in order, joined by ", ", as
// Apache merges them (a request's fields when it reads them, a CGI script's
// fields and Set-Cookie when it logs them). For Content-Type in the
// response, the first value is printed without parameters such as charset,
// as Apache does.
func appendHeader(dst []byte, h HeaderLookup, name string, resp bool) []byte {
	if h == nil {
		return append(dst, '-')
	}
	v, next, ok := h.Field(name, 0)
	if !ok {
		return append(dst, '-')
	}
	if resp && strings.EqualFold(name, "Content-Type") {
		if i := bytes.IndexByte(v, ';'); i >= 0 {
			v = bytes.TrimRight(v[:i], " \t")
		}
		return appendEscaped(dst, v)
	}
	dst = appendEscaped(dst, v)
	for {
		if v, next, ok = h.Field(name, next); !ok {
			return dst
		}
		dst = append(dst, ',', ' ')
		dst = appendEscaped(dst, v)
	}
}

// appendCookie appends the value of the cookie name from the Cookie request
// header, or "-". Names match case-insensitively and blanks around names and
// values are ignored, as in Apache. Only the first Cookie field is read (a
// client sends one, RFC 6265 5.4).
func appendCookie(dst []byte, h HeaderLookup, name string) []byte {
	if h == nil {
		return append(dst, '-')
	}
	v, _, ok := h.Field("Cookie", 0)
	if !ok {
		return append(dst, '-')
	}
	for len(v) > 0 {
		pair := v
		if i := bytes.IndexByte(v, ';'); i >= 0 {
			pair, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		eq := bytes.IndexByte(pair, '=')
		if eq < 0 {
			continue
		}
		k, val := bytes.Trim(pair[:eq], " \t"), bytes.Trim(pair[eq+1:], " \t")
		if len(val) > 0 && asciiEqualFold(k, name) {
			return appendEscaped(dst, val)
		}
	}
	return append(dst, '-')
}

// asciiEqualFold reports whether b and s are equal ignoring ASCII case, as
// Apache's strcasecmp compares names.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// splitHostPort splits "ip:port" or "[ipv6]:port". A bare IPv6 address, or
// an address without a port, is all host.
func splitHostPort(s string) (host, port string) {
	if s == "" {
		return "", ""
	}
	if s[0] == '[' {
		if end := strings.IndexByte(s, ']'); end > 0 {
			host = s[1:end]
			if end+1 < len(s) && s[end+1] == ':' {
				port = s[end+2:]
			}
			return host, port
		}
		return s, ""
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 || strings.IndexByte(s[:i], ':') >= 0 {
		return s, ""
	}
	return s[:i], s[i+1:]
}
