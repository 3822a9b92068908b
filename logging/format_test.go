package logging

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pwebs/pwebs/internal/strftime"
)

// headers is a HeaderLookup for tests; Field is case-insensitive, does not
// allocate, and counts positions as indexes.
type headers []struct {
	name  string
	value []byte
}

// hdrs returns the headers name, value, name, value...
func hdrs(kv ...string) headers {
	var h headers
	for i := 0; i+1 < len(kv); i += 2 {
		h = append(h, struct {
			name  string
			value []byte
		}{kv[i], []byte(kv[i+1])})
	}
	return h
}

func (h headers) Field(name string, from int) ([]byte, int, bool) {
	for i := from; i < len(h); i++ {
		if strings.EqualFold(h[i].name, name) {
			return h[i].value, i + 1, true
		}
	}
	return nil, len(h), false
}

var testTime = time.Date(2026, time.November, 21, 10, 4, 5, 123456789, time.UTC)

// sampleRecord returns a typical answered GET.
func sampleRecord() *Record {
	return &Record{
		Time:        testTime,
		Duration:    2345678 * time.Microsecond,
		Queue:       1500 * time.Microsecond,
		RemoteAddr:  "127.0.0.1:50312",
		LocalAddr:   "127.0.0.1:8080",
		Method:      []byte("GET"),
		Path:        []byte("/index.html"),
		Query:       []byte("a=1&b=2"),
		Proto:       []byte("HTTP/1.1"),
		RequestLine: []byte("GET /index.html?a=1&b=2 HTTP/1.1"),
		Status:      200,
		BodyBytes:   2326,
		VHost:       "www.example.com",
		ReqHeader: hdrs(
			"Referer", "http://example.com/start.html",
			"User-Agent", "Mozilla/5.0 (X11; Linux x86_64)",
			"Cookie", "theme=dark; SESSID = abc123 ; empty=",
			"X-Empty", "",
		),
		RespHeader: hdrs("Content-Type", "text/html; charset=utf-8", "ETag", `"abc"`),
	}
}

// combinedLine matches one Combined Log Format line, fields escaped.
var combinedLine = regexp.MustCompile(`^(\S+) (\S+) (\S+) \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "((?:[^"\\]|\\.)*)" (\d{3}|-) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"\n$`)

func TestParseFormatErrors(t *testing.T) {
	tests := []struct {
		format string
		want   string // in the error message
	}{
		{"", "empty"},
		{"%", "ends inside a directive"},
		{"%h %", "ends inside a directive"},
		{"%Z", `"%Z" at byte 0: unknown`},
		{"%h %{Referer", "missing '}'"},
		{"%{Referer}", "ends inside a directive"},
		{"%i", "a name in braces is required"},
		{"%{}o", "a name in braces is required"},
		{"%{%Y-%m-%d %Q}t", `"%{%Y-%m-%d %Q}t" at byte 0: strftime: invalid format: "%Q" at byte 9 of the format: unknown conversion`},
		{"%h %{end:%H:%Ea}t", `"%{end:%H:%Ea}t" at byte 3: strftime: invalid format: "%Ea" at byte 3 of the format: the E modifier does not apply to %a`},
		{"%{begin:%d/%b/%Y %}t", "a % at the end"},
		{"%{100%}t", "a % at the end"},
		{"%{%_}t", "a % at the end"},
		{"%{%H:%M:%9000S}t", "longer than 8191 bytes"},
		{"%{msecs}t", `"msecs" is neither a strftime format`},
		{"%{foo}t", "it has no % conversion"},
		{"%{SEC}t", "neither a strftime format"},
		{"%{begin:sec:}t", `"sec:" is neither`},
		{"%{end:begin}t", `"begin" is neither`},
		{"%{begin:begin:}t", `"begin:" is neither`},
		{"%{minutes}T", "the unit must be"},
		{"%{bogus}p", "canonical, local or remote"},
		{"%{tid}P", "not supported: pwebs serves requests on goroutines"},
		{"%{hextid}P", "not supported"},
		{"%{x}a", "{c}"},
		{"%1000{Referer}i", "at most 3 digits"},
		{"%e", "a name in braces is required"},
		{"%f", "not supported"},
		{"%{x}R", "not supported"},
		{"%Z", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			_, err := ParseFormat(tt.format)
			if err == nil {
				t.Fatalf("ParseFormat(%q): got no error, want one containing %q", tt.format, tt.want)
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("got %q, want it to wrap ErrFormat", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestAppend(t *testing.T) {
	pid := fmt.Sprint(os.Getpid())
	tests := []struct {
		format string
		mod    func(r *Record)
		want   string
	}{
		{"combined", nil, `127.0.0.1 - - [21/Nov/2026:10:04:05 +0000] "GET /index.html?a=1&b=2 HTTP/1.1" 200 2326 "http://example.com/start.html" "Mozilla/5.0 (X11; Linux x86_64)"`},
		{"common", nil, `127.0.0.1 - - [21/Nov/2026:10:04:05 +0000] "GET /index.html?a=1&b=2 HTTP/1.1" 200 2326`},
		{Combined, func(r *Record) { r.User = "alice"; r.BodyBytes = 0; r.ReqHeader = nil },
			`127.0.0.1 - alice [21/Nov/2026:10:04:05 +0000] "GET /index.html?a=1&b=2 HTTP/1.1" 200 - "-" "-"`},
		// A request the client closed before sending anything, as Apache logs a 408.
		{"combined", func(r *Record) { *r = Record{Time: testTime, RemoteAddr: "[::1]:41000", Status: 408} },
			`::1 - - [21/Nov/2026:10:04:05 +0000] "-" 408 - "-" "-"`},
		{"%t", func(r *Record) { r.Time = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 5*3600+30*60)) }, `[02/Jan/2026:03:04:05 +0530]`},
		{"%t", func(r *Record) { r.Time = time.Date(2026, 7, 9, 23, 59, 59, 0, time.FixedZone("", -7*3600)) }, `[09/Jul/2026:23:59:59 -0700]`},
		{"%{end}t", nil, `[21/Nov/2026:10:04:07 +0000]`},
		{"%{begin}t", nil, `[21/Nov/2026:10:04:05 +0000]`},
		{"%{sec}t %{msec}t %{usec}t", nil, fmt.Sprintf("%d %d %d", testTime.Unix(), testTime.UnixMilli(), testTime.UnixMicro())},
		{"%{msec_frac}t %{usec_frac}t", nil, "123 123456"},
		{"%{end:usec_frac}t %{begin:sec}t", nil, fmt.Sprintf("469134 %d", testTime.Unix())},
		{"%{queue}t", nil, "1500"},
		{"%h %a %{c}a %A %p %{local}p %{canonical}p %{remote}p", nil, "127.0.0.1 127.0.0.1 127.0.0.1 127.0.0.1 8080 8080 8080 50312"},
		{"%h %p %{remote}p", func(r *Record) { r.RemoteAddr = "[2001:db8::1]:443"; r.LocalAddr = "[::1]:8443" }, "2001:db8::1 8443 443"},
		{"%h %{remote}p", func(r *Record) { r.RemoteAddr = "" }, "- -"},
		{"%l %u", func(r *Record) { r.User = `bob "the" builder` }, `- bob \"the\" builder`},
		{"%r|%m|%U|%q|%H", nil, "GET /index.html?a=1&b=2 HTTP/1.1|GET|/index.html|?a=1&b=2|HTTP/1.1"},
		{"%U%q", func(r *Record) { r.Query = nil }, "/index.html"},
		{"%m %U %H", func(r *Record) { r.Method, r.Path, r.Proto = nil, nil, nil }, "- - -"},
		{"%s %>s %<s", func(r *Record) { r.Status, r.OrigStatus = 404, 302 }, "302 404 302"},
		{"%s %>s", nil, "200 200"},
		{"%s", func(r *Record) { r.Status = 0 }, "-"},
		{"%s %>s", func(r *Record) { r.Status, r.OrigStatus = 1000, 99 }, "99 1000"},
		{"%l %400l %!400l", nil, "- - -"},
		{"%b %B", nil, "2326 2326"},
		{"%b %B", func(r *Record) { r.BodyBytes = 0 }, "- 0"},
		{"%D %T %{s}T %{ms}T %{us}T %{MS}T", nil, "2345678 2 2 2345 2345678 2345"},
		{"%v", nil, "www.example.com"},
		{"%v", func(r *Record) { r.VHost = "" }, "-"},
		{"%{referer}i|%{X-Missing}i|%{X-Empty}i", nil, "http://example.com/start.html|-|"},
		{"%{Content-Type}o %{content-type}o %{ETag}o %{X-None}o", nil, `text/html text/html \"abc\" -`},
		{"%{Content-Type}o", func(r *Record) { r.RespHeader = hdrs("Content-Type", "image/png") }, "image/png"},
		// A repeated field prints every value, joined as Apache merges them.
		{`"%{Referer}i" "%{User-Agent}i"`, func(r *Record) {
			r.ReqHeader = hdrs("User-Agent", "Mozilla/5.0", "referer", "http://a/", "X", "y", "User-Agent", `evil"bot`, "Referer", "http://b/")
		}, `"http://a/, http://b/" "Mozilla/5.0, evil\"bot"`},
		{"%{X-A}i|%{X-B}i", func(r *Record) { r.ReqHeader = hdrs("X-A", "", "X-A", "1", "X-B", "2", "X-B", "") }, ", 1|2, "},
		{"[%{Set-Cookie}o] [%{X-Foo}o] [%{Content-Type}o]", func(r *Record) {
			r.RespHeader = hdrs("Content-Type", "text/plain; charset=iso-8859-1", "Set-Cookie", "a=1", "Set-Cookie", "b=2", "X-Foo", "one", "X-Foo", "two", "Content-Type", "text/html")
		}, "[a=1, b=2] [one, two] [text/plain]"},
		{"%{a}C %{b}C", func(r *Record) { r.ReqHeader = hdrs("Cookie", "a=1", "Cookie", "b=2") }, "1 -"},
		{"%{theme}C %{sessid}C %{empty}C %{none}C", nil, "dark abc123 - -"},
		{"%{theme}C", func(r *Record) { r.ReqHeader = hdrs() }, "-"},
		{"%P %{pid}P", nil, pid + " " + pid},
		{"100%% %%h", nil, "100% %h"},
		{`a\tb\\c\"d\qe`, nil, "a\tb\\c\"d\\qe"},
		{`%h\n%>s`, nil, "127.0.0.1\n200"},
		{"%200,304{Referer}i %!200,304{Referer}i %404{Referer}i", nil, "http://example.com/start.html - -"},
		{"%!200s %404,200>s", nil, "- 200"},
		{"%400P", nil, "-"},
		{"%X %k %O", nil, "- 0 2326"},
		{"%X %k %O", func(r *Record) { r.KeepAlive, r.KeepAlives, r.HeadBytes = true, 2, 225 }, "+ 2 2551"},
		{"%X", func(r *Record) { r.Aborted, r.KeepAlive = true, true }, "X"},
		{"%O %k", func(r *Record) { r.BodyBytes, r.KeepAlives = 0, -1 }, "0 0"},
		{"%I %O %S", func(r *Record) { r.InBytes, r.HeadBytes = 80, 200 }, "80 2526 2606"},
		{"%I %S", func(r *Record) { r.InBytes, r.HeadBytes, r.BodyBytes = -1, 0, 0 }, "0 0"},
		{"%L %{UNIQUE_ID}e|%{HTTPS}e%l", nil, "- -|--"},
		{"%200{FOO}e %!200X", nil, "- -"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			f, err := ParseFormat(tt.format)
			if err != nil {
				t.Fatal(err)
			}
			r := sampleRecord()
			if tt.mod != nil {
				tt.mod(r)
			}
			got := string(f.Append(nil, r))
			if want := tt.want + "\n"; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// TestAppendTimeFormat checks %{format}t, the strftime formats, with
// begin: and end:, beside the other forms of %{...}t, in the location of
// Record.Time. The expected texts are those Apache 2.4 prints for the same
// formats.
func TestAppendTimeFormat(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+30*60)
	west := time.FixedZone("", -7*3600)
	// sampleRecord's request began at testTime, 10:04:05.123456789 UTC,
	// and ended 2.345678 s later, at 10:04:07.469134789.
	tests := []struct {
		format string
		mod    func(r *Record)
		want   string
	}{
		{"%{%d/%b/%Y:%H:%M:%S %z}t", nil, "21/Nov/2026:10:04:05 +0000"},
		{"%{begin:%d/%b/%Y %T}t", nil, "21/Nov/2026 10:04:05"},
		{"%{end:%d/%b/%Y %T}t", nil, "21/Nov/2026 10:04:07"},
		{"%{%d/%b/%Y:%H:%M:%S}t.%{msec_frac}t", nil, "21/Nov/2026:10:04:05.123"},
		{"[%{%d/%b/%Y:%H:%M:%S}t.%{usec_frac}t %{%z}t]", nil, "[21/Nov/2026:10:04:05.123456 +0000]"},
		{"%{end:%H:%M:%S}t.%{end:msec_frac}t", nil, "10:04:07.469"},
		{"%{%Y-%m-%dT%H:%M:%S%z}t %{end:%Y-%m-%dT%H:%M:%S%z}t", func(r *Record) { r.Time = testTime.In(ist) },
			"2026-11-21T15:34:05+0530 2026-11-21T15:34:07+0530"},
		{"%{%a %d %b %Y %H:%M:%S %Z %z}t", func(r *Record) { r.Time = testTime.In(ist) }, "Sat 21 Nov 2026 15:34:05 IST +0530"},
		{"%{%F %T %z}t|%{%Z}t|", func(r *Record) { r.Time = testTime.In(west) }, "2026-11-21 03:04:05 -0700||"},
		// The response ended the next day, the next year.
		{"%{%Y-%m-%d %H:%M:%S}t %{end:%Y-%m-%d %H:%M:%S}t", func(r *Record) {
			r.Time, r.Duration = time.Date(2026, 12, 31, 23, 59, 59, 900e6, ist), 200*time.Millisecond
		}, "2026-12-31 23:59:59 2027-01-01 00:00:00"},
		{"%{%_d|%-m|%^a|%#Z|%10Y|%e|%j|%I %p|%5H}t", func(r *Record) { r.Time = time.Date(2026, 3, 5, 20, 7, 9, 0, ist) },
			" 5|3|THU|ist|0000002026| 5|064|08 PM|00020"},
		{"%{%s}t %{end:%s}t %{sec}t", nil, fmt.Sprintf("%d %d %d", testTime.Unix(), testTime.Unix()+2, testTime.Unix())},
		{"%{sec}t %{begin:sec}t %{end:sec}t", nil, "1795255445 1795255445 1795255447"},
		{"%{msec}t %{begin:msec}t %{end:msec}t", nil, "1795255445123 1795255445123 1795255447469"},
		{"%{usec}t %{begin:usec}t %{end:usec}t", nil, "1795255445123456 1795255445123456 1795255447469134"},
		{"%{msec_frac}t %{begin:msec_frac}t %{end:msec_frac}t", nil, "123 123 469"},
		{"%{usec_frac}t %{begin:usec_frac}t %{end:usec_frac}t", nil, "123456 123456 469134"},
		{"%{msec_frac}t %{usec_frac}t", func(r *Record) { r.Time = testTime.Truncate(time.Second).Add(7 * time.Microsecond) }, "000 000007"},
		{"%200{%H}t %404{%H}t %!200{end:%H}t", nil, "10 - -"},
		// As Apache: one begin: is taken off, the format's text is not
		// escaped, and %n and %t print a newline and a tab.
		{"%{begin:begin:%H}t", nil, "begin:10"},
		{`%{"%H"}t %{%n%t}t`, nil, "\"10\" \n\t"},
		// Longer than the text Format keeps between lines.
		{"%{%A, %d %B %Y %H:%M:%S %Z %z (%s), %c}t", nil,
			"Saturday, 21 November 2026 10:04:05 UTC +0000 (1795255445), Sat Nov 21 10:04:05 2026"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			f, err := ParseFormat(tt.format)
			if err != nil {
				t.Fatal(err)
			}
			r := sampleRecord()
			if tt.mod != nil {
				tt.mod(r)
			}
			// Twice: the second line copies the text kept from the first.
			for range 2 {
				if got, want := string(f.Append(nil, r)), tt.want+"\n"; got != want {
					t.Errorf("got %q, want %q", got, want)
				}
			}
		})
	}
}

// TestAppendTimeReused checks that one Format, which reuses the text of the
// last %t or %{format}t it printed, prints each time right when consecutive
// lines change location but not second, change second, or come from several
// goroutines at once.
func TestAppendTimeReused(t *testing.T) {
	plus1 := time.FixedZone("", 3600)
	base := time.Date(2026, 11, 21, 10, 4, 5, 0, time.UTC)
	tests := []struct {
		t    time.Time
		d    time.Duration
		want string
	}{
		{base, 0, "[21/Nov/2026:10:04:05 +0000] [21/Nov/2026:10:04:05 +0000]"},
		{base.Add(999 * time.Millisecond), 0, "[21/Nov/2026:10:04:05 +0000] [21/Nov/2026:10:04:05 +0000]"},
		{base.In(plus1), 0, "[21/Nov/2026:11:04:05 +0100] [21/Nov/2026:11:04:05 +0100]"},
		{base, time.Second, "[21/Nov/2026:10:04:05 +0000] [21/Nov/2026:10:04:06 +0000]"},
		{base.Add(time.Second), 0, "[21/Nov/2026:10:04:06 +0000] [21/Nov/2026:10:04:06 +0000]"},
		{base.In(plus1), 0, "[21/Nov/2026:11:04:05 +0100] [21/Nov/2026:11:04:05 +0100]"},
		{base, 0, "[21/Nov/2026:10:04:05 +0000] [21/Nov/2026:10:04:05 +0000]"},
	}
	for _, format := range []string{"%t %{end}t", "[%{%d/%b/%Y:%H:%M:%S %z}t] [%{end:%d/%b/%Y:%H:%M:%S %z}t]"} {
		f, err := ParseFormat(format)
		if err != nil {
			t.Fatal(err)
		}
		for i, tt := range tests {
			r := &Record{Time: tt.t, Duration: tt.d}
			if got, want := string(f.Append(nil, r)), tt.want+"\n"; got != want {
				t.Errorf("%s: line %d: got %q, want %q", format, i, got, want)
			}
		}
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 2000 {
					tt := tests[(g+i)%len(tests)]
					r := &Record{Time: tt.t, Duration: tt.d}
					if got, want := string(f.Append(nil, r)), tt.want+"\n"; got != want {
						t.Errorf("%s: goroutine %d, line %d: got %q, want %q", format, g, i, got, want)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}

// TestEscapeEveryByte checks each of the 256 byte values against Apache's
// ap_escape_logitem: printable ASCII but '"' and '\' as is; \b \n \r \t \v;
// \" and \\; every other byte as \xhh in lower case.
func TestEscapeEveryByte(t *testing.T) {
	for c := range 256 {
		var want string
		switch {
		case c == '\b':
			want = `\b`
		case c == '\n':
			want = `\n`
		case c == '\r':
			want = `\r`
		case c == '\t':
			want = `\t`
		case c == '\v':
			want = `\v`
		case c == '"' || c == '\\':
			want = `\` + string(rune(c))
		case c >= 0x20 && c <= 0x7e:
			want = string(rune(c))
		default:
			want = fmt.Sprintf(`\x%02x`, c)
		}
		if got := string(appendEscaped(nil, []byte{byte(c)})); got != want {
			t.Errorf("byte %#02x: got %q, want %q", c, got, want)
		}
		// The same byte at each place of a text that spans two words and a
		// tail, as string and as bytes: plain runs are skipped eight bytes
		// at a time, and no place may hide it.
		for at := range 19 {
			in := []byte(strings.Repeat("a", 19))
			in[at] = byte(c)
			full := strings.Repeat("a", at) + want + strings.Repeat("a", 18-at)
			if got := string(appendEscaped(nil, in)); got != full {
				t.Errorf("byte %#02x at %d of []byte: got %q, want %q", c, at, got, full)
			}
			if got := string(appendEscaped(nil, string(in))); got != full {
				t.Errorf("byte %#02x at %d of string: got %q, want %q", c, at, got, full)
			}
		}
	}
}

// escapeByByte is appendEscaped written the plain way, one byte at a time,
// for FuzzAppendEscaped to compare against.
func escapeByByte(s []byte) []byte {
	var out []byte
	for _, c := range s {
		switch {
		case c == '\b':
			out = append(out, `\b`...)
		case c == '\n':
			out = append(out, `\n`...)
		case c == '\r':
			out = append(out, `\r`...)
		case c == '\t':
			out = append(out, `\t`...)
		case c == '\v':
			out = append(out, `\v`...)
		case c == '"' || c == '\\':
			out = append(out, '\\', c)
		case c >= 0x20 && c <= 0x7e:
			out = append(out, c)
		default:
			out = fmt.Appendf(out, `\x%02x`, c)
		}
	}
	return out
}

// FuzzAppendEscaped compares appendEscaped, which skips plain bytes eight at
// a time, with the plain byte-by-byte escape, on any input.
func FuzzAppendEscaped(f *testing.F) {
	f.Add([]byte("GET /index.html?a=1&b=2 HTTP/1.1"))
	f.Add([]byte("Mozilla/5.0 (X11; Linux x86_64) \"quoted\" \\ caf\xc3\xa9\x7f\x00\x1f"))
	f.Add([]byte("\x80\x7f\x20\x21\x22\x5b\x5c\x5d\x1f\xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		want := escapeByByte(in)
		if got := appendEscaped([]byte("x"), in); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Errorf("%q: got %q, want %q", in, got[1:], want)
		}
		if got := appendEscaped(nil, string(in)); !bytes.Equal(got, want) {
			t.Errorf("%q as string: got %q, want %q", in, got, want)
		}
	})
}

// hostileRequests are request lines and headers a client controls.
var hostileRequests = []struct {
	name        string
	requestLine string
	ua, referer string
}{
	{"quotes", `GET /a"b" HTTP/1.1`, `say "hi"`, `"`},
	{"backslashes", `GET /a\b\\c\" HTTP/1.1`, `\`, `\"`},
	{"newline-like", "GET /x\r\nHost: forged\n127.0.0.1 - - [01/Jan/2000:00:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"", "a\tb\x00c\x7f", "\x1b[31mred"},
	{"escaped newline text", `GET /\n\r\t HTTP/1.1`, `\x0a`, `\\n`},
	{"utf-8", "GET /café/日本 HTTP/1.1", "Mözilla ☃", "http://例え.jp/"},
	{"invalid utf-8", "GET /\xff\xfe\xc3 HTTP/1.1", "\xc0\xaf", "\xed\xa0\x80"},
	{"tls handshake", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "", ""},
}

func TestHostileRequestStaysOneLine(t *testing.T) {
	f, err := ParseFormat("combined")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range hostileRequests {
		t.Run(tt.name, func(t *testing.T) {
			r := sampleRecord()
			r.RequestLine = []byte(tt.requestLine)
			r.ReqHeader = hdrs("User-Agent", tt.ua, "Referer", tt.referer)
			line := f.Append(nil, r)
			checkCombinedLine(t, line)
			m := combinedLine.FindSubmatch(line)
			if got, want := unescape(string(m[5])), tt.requestLine; got != want {
				t.Errorf("request field unescapes to %q, want %q", got, want)
			}
			if got, want := unescape(string(m[9])), tt.ua; got != want {
				t.Errorf("User-Agent field unescapes to %q, want %q", got, want)
			}
		})
	}
}

// checkCombinedLine fails unless line is one Combined Log Format line made of
// printable ASCII.
func checkCombinedLine(t *testing.T, line []byte) {
	t.Helper()
	for i, c := range line[:len(line)-1] {
		if c < 0x20 || c >= 0x7f {
			t.Fatalf("byte %d of %q is %#02x, want printable ASCII", i, line, c)
		}
	}
	if !combinedLine.Match(line) {
		t.Fatalf("got %q, want one Combined Log Format line", line)
	}
}

// unescape reverses appendEscaped, to show that no information is lost.
func unescape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b = append(b, s[i])
			continue
		}
		i++
		switch s[i] {
		case 'b':
			b = append(b, '\b')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'v':
			b = append(b, '\v')
		case 'x':
			var c byte
			fmt.Sscanf(s[i+1:i+3], "%02x", &c)
			b = append(b, c)
			i += 2
		default:
			b = append(b, s[i])
		}
	}
	return string(b)
}

func FuzzAppendCombined(f *testing.F) {
	for _, h := range hostileRequests {
		f.Add(h.requestLine, h.ua, h.referer, "bob", "/p", "q=1")
	}
	format, err := ParseFormat("combined")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, requestLine, ua, referer, user, path, query string) {
		r := sampleRecord()
		r.RequestLine, r.Path, r.Query = []byte(requestLine), []byte(path), []byte(query)
		r.User = strings.Map(func(r rune) rune { // %u is not quoted: Apache leaves spaces
			if r == ' ' {
				return '_'
			}
			return r
		}, user)
		r.ReqHeader = hdrs("User-Agent", ua, "Referer", referer)
		line := format.Append(nil, r)
		checkCombinedLine(t, line)
		m := combinedLine.FindSubmatch(line)
		if got := unescape(string(m[5])); requestLine != "" && got != requestLine {
			t.Errorf("request field unescapes to %q, want %q", got, requestLine)
		}
	})
}

func FuzzParseFormat(f *testing.F) {
	for _, s := range []string{"combined", "common", Combined, `%{end:usec_frac}t %!200,304{Referer}i \n%%`, "%{x", "%400", `\`,
		"%{%d/%b/%Y:%H:%M:%S}t.%{msec_frac}t", "%{begin:%_d %^a %10Y %n}t %{end:%s %c %Q}t", "%{%H%}t %{msecs}t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		format, err := ParseFormat(s)
		if err != nil {
			return
		}
		r := sampleRecord()
		r.RequestLine = []byte("GET /\n\"x\" HTTP/1.1")
		line := format.Append(nil, r)
		// Newlines only come from the format's own text (its literals,
		// and a strftime format's %n or newline), plus the last one.
		want := 1
		for _, it := range format.items {
			switch it.op {
			case opLiteral:
				want += strings.Count(it.text, "\n")
			case opTimeFormat:
				want += strings.Count(strftime.Format(it.text, it.when(r)), "\n")
			}
		}
		want-- // the final newline is in the last literal
		if got := strings.Count(string(line), "\n"); got != want {
			t.Errorf("format %q: got %d newlines in %q, want %d", s, got, line, want)
		}
		if len(line) == 0 || line[len(line)-1] != '\n' {
			t.Errorf("format %q: got %q, want a line ending in a newline", s, line)
		}
	})
}

// TestUses checks what a format tells its caller it needs: Duration (%D,
// %T, a time at the end) and the response head (%{Name}o, %O).
func TestUses(t *testing.T) {
	tests := []struct {
		format             string
		duration, respHead bool
	}{
		{"combined", false, false},
		{"common", false, false},
		{"%h %t %{begin:msec}t %{queue}t", false, false},
		{"%D", true, false},
		{"%T", true, false},
		{"%{ms}T", true, false},
		{"%{us}T", true, false},
		{"%{end:sec}t", true, false},
		{"%{%d/%b/%Y}t %{begin:%H}t", false, false},
		{"%{end:%H:%M:%S}t", true, false},
		{"%400D", true, false},
		{"%{Content-Type}o", false, true},
		{"%h %!200{Location}o %D", true, true},
		{"%{Referer}i %{c}a", false, false},
		{"%O", false, true},
		{"%S", false, true},
		{"%I", false, false},
		{"%X %k %L %{A}e %B", false, false},
	}
	for _, tt := range tests {
		f, err := ParseFormat(tt.format)
		if err != nil {
			t.Fatalf("%q: %v", tt.format, err)
		}
		if got := f.UsesDuration(); got != tt.duration {
			t.Errorf("%q: UsesDuration %v, want %v", tt.format, got, tt.duration)
		}
		if got := f.UsesResponseHeader(); got != tt.respHead {
			t.Errorf("%q: UsesResponseHeader %v, want %v", tt.format, got, tt.respHead)
		}
	}
}

// BenchmarkAppend formats lines of the two standard formats, and of
// combined with a strftime time to the millisecond: for lines of one second
// (a busy log, where the time's text is copied from the line before) and
// for lines a second apart (where each time is formatted anew, and its text
// kept in a new allocation, which a real log makes once a second).
func BenchmarkAppend(b *testing.B) {
	const msecCombined = `%h %l %u [%{%d/%b/%Y:%H:%M:%S}t.%{msec_frac}t %{%z}t] "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`
	for _, bc := range []struct {
		name, format string
		step         time.Duration // between the lines' times
	}{
		{"combined", "combined", 0},
		{"common", "common", 0},
		{"strftime", msecCombined, 0},
		{"combined new second", "combined", time.Second},
		{"strftime new second", msecCombined, time.Second},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f, err := ParseFormat(bc.format)
			if err != nil {
				b.Fatal(err)
			}
			r := sampleRecord()
			r.Time = time.Now()
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			for b.Loop() {
				r.Time = r.Time.Add(bc.step)
				buf = f.Append(buf[:0], r)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}
