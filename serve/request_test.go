package serve

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// parse runs the two parsing steps the connection runs on a full head.
func parse(head string) (*Request, int) {
	var r Request
	r.headers = make([]header, 0, maxHeaders)
	buf := []byte(head)
	end, _, st := headEnd(buf, 0)
	if st != 0 {
		return &r, st
	}
	if end == 0 {
		return &r, -1 // incomplete
	}
	n, st := parseHead(buf[:end], &r)
	if st == 0 && n != end {
		panic("head length differs from the end found")
	}
	return &r, st
}

func TestParseHead(t *testing.T) {
	long := strings.Repeat("a", maxRequestLine)
	many := strings.Repeat("X-A: b\r\n", maxHeaders+1)
	tests := []struct {
		name string
		head string
		want int
	}{
		{"simple", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0},
		{"http10 no host", "GET / HTTP/1.0\r\n\r\n", 0},
		{"http11 no host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"bad host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"host v6", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", 0},
		{"empty host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 0},
		{"bare LF", "GET / HTTP/1.1\nHost: a\n\n", 400},
		{"bare LF in header", "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400},
		{"bare CR", "GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
		{"no colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", 400},
		{"empty name", "GET / HTTP/1.1\r\n: a\r\n\r\n", 400},
		{"ctl in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400},
		{"tab in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\r\n\r\n", 0},
		{"obs-text in value", "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n", 0},
		{"CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"two CLs", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400},
		{"same CL twice", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 0},
		{"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n", 400},
		{"negative CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
		{"plus CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400},
		{"huge CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
		{"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 0},
		{"chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400},
		{"gzip chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"chunked not last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
		{"unknown TE", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: bogus\r\n\r\n", 501},
		{"TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"expect continue", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n", 0},
		{"expect other", "POST / HTTP/1.1\r\nHost: a\r\nExpect: tea\r\n\r\n", 417},
		{"http2", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
		{"http1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 0},
		{"bad version", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400},
		{"lower proto", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
		{"http09", "GET /\r\n\r\n", 400},
		{"two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
		{"bad method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"relative target", "GET a HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"absolute target", "GET http://b/x?y HTTP/1.1\r\nHost: a\r\n\r\n", 0},
		{"absolute userinfo", "GET http://u@b/x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 0},
		{"asterisk GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"fragment", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"ctl in target", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"long line", "GET /" + long + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},
		{"too many headers", "GET / HTTP/1.1\r\nHost: a\r\n" + many + "\r\n", 431},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := parse(tt.head)
			if got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	r, st := parse("GET http://Example.com/a%20b?x=1&y HTTP/1.0\r\nHost: other\r\nConnection: Keep-Alive, foo\r\nRange: bytes=0-1\r\nAccept-Encoding: gzip\r\n\r\n")
	if st != 0 {
		t.Fatalf("status %d", st)
	}
	checks := []struct{ name, got, want string }{
		{"method", string(r.Method), "GET"},
		{"path", string(r.rawPath), "/a%20b"},
		{"query", string(r.rawQuery), "x=1&y"},
		{"absHost", string(r.absHost), "Example.com"},
		{"host", string(r.host), "other"},
		{"range", string(r.rangeSpec), "bytes=0-1"},
		{"proto", r.protoString(), "HTTP/1.0"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if !r.keepAlive() || !r.conditional {
		t.Errorf("keepAlive=%v conditional=%v, want both true", r.keepAlive(), r.conditional)
	}
	if v, ok := r.Lookup("accept-ENCODING"); !ok || string(v) != "gzip" {
		t.Errorf("Lookup: got %q, %v", v, ok)
	}
}

func TestHeadEndIncomplete(t *testing.T) {
	for _, head := range []string{"GET / HTTP/1.1\r\nHost: a\r\n", "GET / HTTP/1.1\r", "GET"} {
		if _, st := parse(head); st != -1 {
			t.Errorf("%q: got %d, want incomplete", head, st)
		}
	}
}

func TestKeepAlive(t *testing.T) {
	tests := []struct {
		head string
		want bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n", false},
		{"GET / HTTP/1.0\r\n\r\n", false},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
	}
	for _, tt := range tests {
		r, st := parse(tt.head)
		if st != 0 || r.keepAlive() != tt.want {
			t.Errorf("%q: keepAlive=%v (status %d), want %v", tt.head, r.keepAlive(), st, tt.want)
		}
	}
}

// FuzzParseRequest checks the parser against net/http's: whatever
// http.ReadRequest rejects as malformed, pwebs rejects too, and pwebs never
// panics.
func FuzzParseRequest(f *testing.F) {
	seeds := []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
		"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"GET http://a/b HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Request
		r.headers = make([]header, 0, maxHeaders)
		end, _, st := headEnd(data, 0)
		if st != 0 || end == 0 {
			return
		}
		n, st := parseHead(data[:end], &r)
		if st != 0 {
			return
		}
		end = n
		// pwebs accepted the head: net/http must accept it too, unless the
		// difference is one pwebs deliberately allows.
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data[:end])))
		if err != nil {
			if tolerated(&r, err) {
				return
			}
			t.Fatalf("pwebs accepted a head net/http rejects (%v):\n%q", err, data[:end])
		}
		if req.Method != string(r.Method) {
			t.Fatalf("method: got %q, net/http %q", r.Method, req.Method)
		}
	})
}

// tolerated lists what pwebs accepts on purpose although net/http does not.
func tolerated(r *Request, err error) bool {
	msg := err.Error()
	switch {
	case r.Minor == 1 && string(r.Proto) != "HTTP/1.1":
		return true // HTTP/1.2 and up are answered as 1.1 (RFC 9110 2.5)
	case strings.Contains(msg, "invalid URI") || strings.Contains(msg, "invalid URL"):
		// net/url refuses some characters in paths that RFC 3986 allows
		// after decoding checks pwebs does itself (cleanPath answers 400
		// for bad escapes).
		return true
	}
	return false
}
