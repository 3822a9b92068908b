package cgi

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func parseString(s string) (scriptHeader, string, error) {
	br := bufio.NewReaderSize(strings.NewReader(s), maxHeaderLine)
	h, err := parseHeader(br)
	rest, _ := io.ReadAll(br)
	return h, string(rest), err
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		status   int    // from response()
		local    string // from response()
		fields   []Field
		rest     string
		err      error // nil, ErrBadHeader, or errTooLong
		warnings int
	}{
		{name: "minimal", in: "Content-Type: text/html\n\n<p>hi", status: 200,
			fields: []Field{{"Content-Type", "text/html"}}, rest: "<p>hi"},
		{name: "CRLF and spaces", in: "Content-Type:   text/plain  \r\nX-A:b\r\n\r\nbody\r\n", status: 200,
			fields: []Field{{"Content-Type", "text/plain"}, {"X-A", "b"}}, rest: "body\r\n"},
		{name: "no fields at all", in: "\nbody", status: 200, rest: "body"},
		{name: "status with reason", in: "Status: 404 Not Found\nContent-Type: text/plain\n\nnope", status: 404,
			fields: []Field{{"Content-Type", "text/plain"}}, rest: "nope"},
		{name: "status lower case, code only", in: "status: 503\n\n", status: 503},
		{name: "last status wins", in: "Status: 500\nStatus: 201 Created\n\n", status: 201},
		{name: "several Set-Cookie kept in order", in: "Set-Cookie: a=1\nContent-Type: text/html\nSet-Cookie: b=2; Path=/\n\n", status: 200,
			fields: []Field{{"Set-Cookie", "a=1"}, {"Content-Type", "text/html"}, {"Set-Cookie", "b=2; Path=/"}}},
		{name: "local redirect", in: "Location: /index.html?x=1\n\n", local: "/index.html?x=1",
			fields: []Field{{"Location", "/index.html?x=1"}}},
		{name: "local location with status goes as it is", in: "Status: 302 Found\nLocation: /login\n\n", status: 302,
			fields: []Field{{"Location", "/login"}}},
		{name: "absolute URL is a 302", in: "Location: https://example.org/\n\n", status: 302,
			fields: []Field{{"Location", "https://example.org/"}}},
		{name: "protocol-relative is not local", in: "Location: //evil.example/\n\n", status: 302,
			fields: []Field{{"Location", "//evil.example/"}}},
		{name: "backslash trick is not local", in: "Location: /\\evil.example/\n\n", status: 302,
			fields: []Field{{"Location", "/\\evil.example/"}}},
		{name: "relative location is a 302", in: "Location: page.html\n\n", status: 302,
			fields: []Field{{"Location", "page.html"}}},
		{name: "second Location dropped", in: "Location: /a\nLocation: /b\n\n", local: "/a",
			fields: []Field{{"Location", "/a"}}, warnings: 1},
		{name: "folded line", in: "X-Long: one\n two\n\tthree\n\n", status: 200,
			fields: []Field{{"X-Long", "one two three"}}},
		{name: "invalid name dropped", in: "X Bad: 1\nX(y): 2\nGood: 3\n\n", status: 200,
			fields: []Field{{"Good", "3"}}, warnings: 2},
		{name: "control character in value dropped", in: "X-A: a\x01b\nX-B: ok\x7f\nX-C: tab\tok\n\n", status: 200,
			fields: []Field{{"X-C", "tab\tok"}}, warnings: 2},
		{name: "server-owned fields dropped", in: "Connection: close\nTransfer-Encoding: chunked\nDate: x\nServer: y\nKeep-Alive: 5\nContent-Type: a/b\n\n", status: 200,
			fields: []Field{{"Content-Type", "a/b"}}, warnings: 5},
		{name: "content length kept", in: "Content-Length: 5\nContent-Length: 5\n\nhello", status: 200,
			fields: []Field{{"Content-Length", "5"}}, rest: "hello"},
		{name: "conflicting content lengths dropped", in: "Content-Length: 5\nContent-Length: 6\n\n", status: 200, warnings: 1},
		{name: "invalid content length dropped", in: "Content-Length: -1\nContent-Length: 1e3\n\n", status: 200, warnings: 2},
		{name: "empty value", in: "X-Empty:\n\n", status: 200, fields: []Field{{"X-Empty", ""}}},
		{name: "colon in value", in: "X-Time: 12:30:00\n\n", status: 200, fields: []Field{{"X-Time", "12:30:00"}}},
		{name: "body right after", in: "A: b\n\n\n\nx", status: 200, fields: []Field{{"A", "b"}}, rest: "\n\nx"},

		{name: "empty output", in: "", err: ErrBadHeader},
		{name: "no blank line", in: "Content-Type: text/html\n", err: ErrBadHeader},
		{name: "no newline at all", in: "Content-Type: text/html", err: ErrBadHeader},
		{name: "garbage", in: "<html>hello</html>\n\n", err: ErrBadHeader},
		{name: "fold first", in: " X: y\n\n", err: ErrBadHeader},
		{name: "bad status", in: "Status: abc\n\n", err: ErrBadHeader},
		{name: "status 1xx", in: "Status: 100 Continue\n\n", err: ErrBadHeader},
		{name: "status 600", in: "Status: 600\n\n", err: ErrBadHeader},
		{name: "status glued", in: "Status: 2000\n\n", err: ErrBadHeader},
		{name: "line too long", in: "X: " + strings.Repeat("a", maxHeaderLine) + "\n\n", err: errTooLong},
		{name: "too many lines", in: strings.Repeat("X: y\n", maxHeaderFields+1) + "\n", err: ErrBadHeader},
		{name: "block too large", in: strings.Repeat("X: "+strings.Repeat("a", 1000)+"\n", 100) + "\n", err: ErrBadHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, rest, err := parseString(tt.in)
			if tt.err != nil || err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("got error %v, want %v", err, tt.err)
				}
				if !errors.Is(err, ErrBadHeader) {
					t.Fatalf("got error %v, which does not wrap ErrBadHeader", err)
				}
				return
			}
			status, local := h.response()
			if status != tt.status || local != tt.local {
				t.Errorf("got status %d local %q, want %d %q", status, local, tt.status, tt.local)
			}
			if !slices.Equal(h.Fields, tt.fields) {
				t.Errorf("got fields %q, want %q", h.Fields, tt.fields)
			}
			if rest != tt.rest {
				t.Errorf("got rest %q, want %q", rest, tt.rest)
			}
			if len(h.Warnings) != tt.warnings {
				t.Errorf("got warnings %q, want %d", h.Warnings, tt.warnings)
			}
			if h.Size != len(tt.in)-len(tt.rest) {
				t.Errorf("got size %d, want %d", h.Size, len(tt.in)-len(tt.rest))
			}
		})
	}
}

// errReader fails after its data.
type errReader struct{ s string }

func (e *errReader) Read(p []byte) (int, error) {
	if e.s == "" {
		return 0, os.ErrDeadlineExceeded
	}
	n := copy(p, e.s)
	e.s = e.s[n:]
	return n, nil
}

func TestParseHeaderReadError(t *testing.T) {
	_, err := parseHeader(bufio.NewReaderSize(&errReader{"Content-Type: a/b\n"}, maxHeaderLine))
	if !errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, ErrBadHeader) {
		t.Errorf("got %v, want the read error and not ErrBadHeader", err)
	}
}

func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		"Content-Type: text/html\n\nbody",
		"Status: 302 Found\r\nLocation: /x\r\n\r\n",
		"Location: /x\n\n",
		"X: a\n b\n\n",
		"Content-Length: 3\nContent-Length: 4\n\n",
		"garbage",
		"\n",
	} {
		f.Add([]byte(s))
	}
	if files, _ := filepath.Glob("testdata/*"); len(files) > 0 {
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil && len(b) < 4096 {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		src := strings.NewReader(string(in))
		br := bufio.NewReaderSize(src, maxHeaderLine)
		h, err := parseHeader(br)
		consumed := int(src.Size()) - src.Len() - br.Buffered()
		if consumed > maxHeaderBytes+maxHeaderLine {
			t.Fatalf("consumed %d bytes, bound is %d", consumed, maxHeaderBytes+maxHeaderLine)
		}
		if err != nil {
			if !errors.Is(err, ErrBadHeader) {
				t.Fatalf("error %v does not wrap ErrBadHeader", err)
			}
			return
		}
		if h.Size != consumed {
			t.Fatalf("size %d, consumed %d", h.Size, consumed)
		}
		status, local := h.response()
		if local != "" && (status != 0 || !isLocalPath(local)) {
			t.Fatalf("local redirect %q with status %d", local, status)
		}
		if local == "" && (status < 200 || status > 599) {
			t.Fatalf("status %d", status)
		}
		nLoc := 0
		for _, f := range h.Fields {
			if !validName(f.Name) || !validValue(f.Value) || strings.ContainsAny(f.Value, "\r\n") {
				t.Fatalf("invalid field %q", f)
			}
			if strings.EqualFold(f.Name, "Status") || dropped[strings.ToLower(f.Name)] {
				t.Fatalf("field %q should not be passed", f.Name)
			}
			if strings.EqualFold(f.Name, "Location") {
				nLoc++
			}
		}
		if nLoc > 1 {
			t.Fatalf("%d Location fields", nLoc)
		}
	})
}
