package cgi

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// envMap turns Env's result into a map, failing on a repeated name.
func envMap(t *testing.T, env []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("variable without '=': %q", kv)
		}
		if _, dup := m[k]; dup {
			t.Fatalf("variable %s set twice", k)
		}
		m[k] = v
	}
	return m
}

func TestEnv(t *testing.T) {
	full := func() *Request {
		return &Request{
			Method: "POST", RequestURI: "/blog/index.php/2026/11?x=1&y=%41", Proto: "HTTP/1.0", Scheme: "http",
			ScriptFilename: "/srv/www/blog/index.php", ScriptName: "/blog/index.php", PathInfo: "/2026/11",
			QueryString: "x=1&y=%41", DocumentRoot: "/srv/www/",
			RemoteAddr: "::1", RemotePort: "51234",
			ServerName: "example.org", ServerPort: "8080", ServerAddr: "::1", ServerAdmin: "admin@example.org", ServerSoftware: "pwebs/1.0",
			Header: []Field{
				{"Host", "example.org:8080"},
				{"Content-Type", "application/x-www-form-urlencoded"},
				{"Content-Length", "7"},
				{"Accept", "text/html"},
				{"accept", "text/plain"},
				{"Cookie", "a=1"},
				{"Cookie", "b=2"},
				{"Proxy", "http://evil/"},
				{"Authorization", "Basic dTpw"},
				{"Proxy-Authorization", "Basic dTpw"},
				{"X_Forwarded_For", "spoof"},
				{"X Space", "bad"},
				{"X-Ünicode", "bad"},
				{"X-Nul", "a\x00b"},
				{"", "empty name"},
				{"X-Empty", ""},
			},
			Body:          bytes.NewReader([]byte("a=b&c=d")),
			ContentLength: 7,
		}
	}
	tests := []struct {
		name   string
		req    func() *Request
		opts   Options
		want   map[string]string // exact values
		absent []string
	}{
		{
			name: "full",
			req:  full,
			want: map[string]string{
				"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "pwebs/1.0", "SERVER_NAME": "example.org",
				"SERVER_ADDR": "::1", "SERVER_PORT": "8080", "SERVER_ADMIN": "admin@example.org", "SERVER_SIGNATURE": "",
				"SERVER_PROTOCOL": "HTTP/1.0", "REQUEST_SCHEME": "http", "REQUEST_METHOD": "POST",
				"REQUEST_URI": "/blog/index.php/2026/11?x=1&y=%41", "QUERY_STRING": "x=1&y=%41",
				"SCRIPT_NAME": "/blog/index.php", "SCRIPT_FILENAME": "/srv/www/blog/index.php",
				"PATH_INFO": "/2026/11", "PATH_TRANSLATED": "/srv/www/2026/11", "DOCUMENT_ROOT": "/srv/www/",
				"CONTEXT_PREFIX": "", "CONTEXT_DOCUMENT_ROOT": "",
				"REMOTE_ADDR": "::1", "REMOTE_HOST": "::1", "REMOTE_PORT": "51234",
				"REDIRECT_STATUS": "200", "PATH": "/usr/local/bin:/usr/bin:/bin",
				"CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": "7",
				"HTTP_HOST": "example.org:8080", "HTTP_ACCEPT": "text/html, text/plain", "HTTP_COOKIE": "a=1; b=2",
				"HTTP_X_EMPTY": "",
			},
			absent: []string{"HTTPS", "REMOTE_USER", "AUTH_TYPE", "HTTP_PROXY", "HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION",
				"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_X_FORWARDED_FOR", "HTTP_X_SPACE", "HTTP_X_NUL", "HTTP_", "HOME", "LD_LIBRARY_PATH"},
		},
		{
			name: "authenticated over TLS, authorization passed",
			req: func() *Request {
				r := full()
				r.HTTPS, r.Scheme, r.RemoteUser, r.AuthType = true, "https", "alice", "Basic"
				return r
			},
			opts: Options{PassAuthorization: true},
			want: map[string]string{"HTTPS": "on", "REQUEST_SCHEME": "https", "REMOTE_USER": "alice", "AUTH_TYPE": "Basic",
				"HTTP_AUTHORIZATION": "Basic dTpw"},
			absent: []string{"HTTP_PROXY", "HTTP_PROXY_AUTHORIZATION"},
		},
		{
			name: "after an internal redirect",
			req: func() *Request {
				r := full()
				r.RedirectStatus = 404
				r.Redirect = []Field{{"REDIRECT_URL", "/nope"}, {"REDIRECT_QUERY_STRING", "a=1"}, {"REDIRECT_BAD NAME", "x"}, {"REDIRECT_NUL", "a\x00"}}
				return r
			},
			want:   map[string]string{"REDIRECT_STATUS": "404", "REDIRECT_URL": "/nope", "REDIRECT_QUERY_STRING": "a=1"},
			absent: []string{"REDIRECT_BAD NAME", "REDIRECT_NUL"},
		},
		{
			name: "script directory, no path info, no body",
			req: func() *Request {
				return &Request{Method: "GET", RequestURI: "/cgi-bin/", Proto: "HTTP/1.1", ScriptName: "/cgi-bin/index.cgi",
					ContextPrefix: "/cgi-bin/", ContextDocumentRoot: "/srv/cgi-bin", ContentLength: -1}
			},
			want:   map[string]string{"CONTEXT_PREFIX": "/cgi-bin/", "CONTEXT_DOCUMENT_ROOT": "/srv/cgi-bin", "REQUEST_URI": "/cgi-bin/", "QUERY_STRING": ""},
			absent: []string{"PATH_INFO", "PATH_TRANSLATED", "CONTENT_LENGTH", "CONTENT_TYPE"},
		},
		{
			name: "empty body announced by Content-Length: 0",
			req: func() *Request {
				return &Request{Method: "POST", Header: []Field{{"Content-Length", "0"}}, ContentLength: 0}
			},
			want: map[string]string{"CONTENT_LENGTH": "0"},
		},
		{
			name: "unknown length is left out",
			req: func() *Request {
				return &Request{Method: "POST", Body: strings.NewReader("x"), ContentLength: -1}
			},
			absent: []string{"CONTENT_LENGTH"},
		},
		{
			name: "decoded path info with UTF-8 and a NUL",
			req: func() *Request {
				return &Request{PathInfo: "/wiki/Zürich", DocumentRoot: "/srv/www", ContentLength: -1, QueryString: "a\x00"}
			},
			want:   map[string]string{"PATH_INFO": "/wiki/Zürich", "PATH_TRANSLATED": "/srv/www/wiki/Zürich"},
			absent: []string{"QUERY_STRING"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := envMap(t, Env(tt.req(), &tt.opts))
			for k, v := range tt.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s: got %q (set %v), want %q", k, g, ok, v)
				}
			}
			for _, k := range tt.absent {
				if v, ok := got[k]; ok {
					t.Errorf("%s: got %q, want it unset", k, v)
				}
			}
		})
	}
}

// TestEnvOnlyKnownNames checks that nothing but the documented variables and
// HTTP_* ever appears.
func TestEnvOnlyKnownNames(t *testing.T) {
	known := []string{"GATEWAY_INTERFACE", "SERVER_SOFTWARE", "SERVER_NAME", "SERVER_ADDR", "SERVER_PORT", "SERVER_ADMIN",
		"SERVER_SIGNATURE", "SERVER_PROTOCOL", "REQUEST_SCHEME", "HTTPS", "REQUEST_METHOD", "REQUEST_URI", "QUERY_STRING",
		"SCRIPT_NAME", "SCRIPT_FILENAME", "PATH_INFO", "PATH_TRANSLATED", "DOCUMENT_ROOT", "CONTEXT_PREFIX",
		"CONTEXT_DOCUMENT_ROOT", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_PORT", "AUTH_TYPE", "REMOTE_USER", "REDIRECT_STATUS",
		"PATH", "CONTENT_TYPE", "CONTENT_LENGTH"}
	r := &Request{HTTPS: true, RemoteUser: "u", AuthType: "Basic", PathInfo: "/x", DocumentRoot: "/d", ContentLength: 3,
		Header: []Field{{"Content-Type", "a/b"}, {"X-A", "1"}}}
	for _, kv := range Env(r, &Options{}) {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(known, k) && !strings.HasPrefix(k, "HTTP_") {
			t.Errorf("unexpected variable %s", k)
		}
	}
}

func TestSearchArgs(t *testing.T) {
	for _, tt := range []struct {
		q    string
		want []string
	}{
		{"", nil},
		{"a=b", nil},
		{"hello", []string{"hello"}},
		{"hello+world", []string{"hello", "world"}},
		{"caf%C3%A9+%2B1", []string{"café", "+1"}},
		{"bad%zz", nil},
		{"nul%00", nil},
		{"x%3Dy", []string{"x=y"}},
		{strings.Repeat("a+", maxSearchArgs), nil},
	} {
		if got := searchArgs(tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("searchArgs(%q) = %q, want %q", tt.q, got, tt.want)
		}
	}
}

func BenchmarkEnv(b *testing.B) {
	r := &Request{
		Method: "GET", RequestURI: "/blog/index.php/2026/11?x=1", Proto: "HTTP/1.1", Scheme: "http",
		ScriptFilename: "/srv/www/blog/index.php", ScriptName: "/blog/index.php", PathInfo: "/2026/11",
		QueryString: "x=1", DocumentRoot: "/srv/www", RemoteAddr: "127.0.0.1", RemotePort: "51234",
		ServerName: "localhost", ServerPort: "8080", ServerAddr: "127.0.0.1", ServerSoftware: "pwebs/1.0",
		Header: []Field{
			{"Host", "localhost:8080"}, {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"},
			{"Accept", "text/html,application/xhtml+xml"}, {"Accept-Language", "en-US,en;q=0.5"},
			{"Accept-Encoding", "gzip, deflate"}, {"Connection", "keep-alive"}, {"Cookie", "PHPSESSID=abc123"},
			{"Upgrade-Insecure-Requests", "1"},
		},
		ContentLength: -1,
	}
	o := DefaultOptions()
	b.ReportAllocs()
	for b.Loop() {
		Env(r, &o)
	}
}

func TestEnvExtra(t *testing.T) {
	r := &Request{Method: "GET", ContentLength: -1, Header: []Field{{"X-A", "header"}},
		Extra: []Field{{"SSI_VAR", "one"}, {"HTTP_X_A", "shadow"}, {"PATH", "/evil"}, {"bad-name", "x"}, {"9x", "y"}}}
	env := Env(r, nil)
	got := map[string][]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = append(got[k], v)
	}
	for k, want := range map[string]string{"SSI_VAR": "one", "HTTP_X_A": "header", "PATH": safePath} {
		if len(got[k]) != 1 || got[k][0] != want {
			t.Errorf("%s = %q, want one %q", k, got[k], want)
		}
	}
	for _, k := range []string{"bad-name", "9x"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s was passed", k)
		}
	}
}
