package serve

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// accessLines flushes the test server's access log and returns its lines.
func (ts *testServer) accessLines() []string {
	ts.t.Helper()
	must(ts.t, ts.logger.Flush())
	b, err := os.ReadFile(filepath.Join(ts.dir, "logs", "access_log"))
	must(ts.t, err)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

const errorPagesConf = `error_pages = { 404 = "/errors/404.shtml", 403 = "/cgi-bin/env.sh", 405 = "/errors/405.html", 416 = "<p>No such range</p>", 501 = "https://example.org/help", 500 = "/errors/missing.html", 412 = "default" }
[[vhost]]
names = ["plain.example"]
document_root = "htdocs"
error_pages = {}
[log]
access = "logs/access_log"
format = "%U %s %>s"
error = "-"
`

func TestErrorPages(t *testing.T) {
	ts := startCGIServerTop(t, errorPagesConf, "")
	writeFiles(t, ts.root, map[string]string{
		"errors/404.shtml": `url=<!--#echo var="REDIRECT_URL" --> qs=<!--#echo var="REDIRECT_QUERY_STRING" --> st=<!--#echo var="REDIRECT_STATUS" --> m=<!--#echo var="REDIRECT_REQUEST_METHOD" --> uri=<!--#echo var="REQUEST_URI" --> own=<!--#echo var="QUERY_STRING" -->`,
		"errors/405.html":  "405 page",
		".secret":          "secret",
	})
	tests := []struct {
		name, method, path string
		header             []string
		status             int
		body               string // a substring of the body
		field, value       string // a header field the response must carry
	}{
		{"404 from an SSI page", "GET", "/nope.html?a=1", nil, 404,
			"url=/nope.html qs=a=1 st=404 m=GET uri=/nope.html?a=1 own=", "Content-Type", "text/html; charset=utf-8"},
		{"404 of a POST", "POST", "/nope.html", nil, 404, "qs=(none) st=404 m=POST", "", ""},
		{"403 from a script", "GET", "/.secret", nil, 403, "REDIRECT_STATUS=403\n", "Content-Type", "text/plain"},
		{"405 from a static page, with Allow", "DELETE", "/digits.txt", nil, 405, "405 page", "Allow", "GET, HEAD, OPTIONS"},
		{"405 again, from the cache", "DELETE", "/digits.txt", nil, 405, "405 page", "Allow", "GET, HEAD, OPTIONS"},
		{"416 from text, with Content-Range", "GET", "/digits.txt", []string{"Range", "bytes=100-"}, 416, "<p>No such range</p>", "Content-Range", "bytes */10"},
		{"501 redirected off-site", "BREW", "/digits.txt", nil, 302, "", "Location", "https://example.org/help"},
		{"500 whose page is missing: the built-in page", "GET", "/cgi-bin/early-exit.sh", nil, 500, "500 Internal Server Error", "", ""},
		{"412 left to the built-in page", "GET", "/digits.txt", []string{"If-Match", `"nope"`}, 412, "412 Precondition Failed", "", ""},
		{"a vhost that drops the pages", "GET", "/nope.html", []string{"Host", "plain.example"}, 404, "404 Not Found", "", ""},
		{"a page that exists is not touched", "GET", "/digits.txt", nil, 200, "0123456789", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.method == "POST" {
				body = strings.NewReader("a=1")
			}
			resp, got := ts.do(tt.method, tt.path, body, tt.header...)
			if resp.StatusCode != tt.status || !strings.Contains(got, tt.body) {
				t.Errorf("%s %s: %d %q; want %d and %q", tt.method, tt.path, resp.StatusCode, got, tt.status, tt.body)
			}
			if tt.field != "" && resp.Header.Get(tt.field) != tt.value {
				t.Errorf("%s: %q, want %q", tt.field, resp.Header.Get(tt.field), tt.value)
			}
		})
	}

	// The script that answers an error sees it as Apache shows it: a GET
	// of its own, with the failed request's path, method and status.
	resp, body := ts.do("POST", "/.secret?k=v", strings.NewReader("a=1"), "Content-Type", "application/x-www-form-urlencoded")
	env := envOf(body)
	for k, v := range map[string]string{
		"REDIRECT_STATUS": "403", "REDIRECT_URL": "/.secret", "REDIRECT_QUERY_STRING": "k=v", "REDIRECT_REQUEST_METHOD": "POST",
		"REQUEST_METHOD": "GET", "REQUEST_URI": "/.secret?k=v", "SCRIPT_NAME": "/cgi-bin/env.sh", "QUERY_STRING": "",
	} {
		if env[k] != v {
			t.Errorf("error page script: %s=%q, want %q", k, env[k], v)
		}
	}
	if _, ok := env["CONTENT_LENGTH"]; resp.StatusCode != 403 || ok {
		t.Errorf("error page script after a POST: %d, CONTENT_LENGTH %q", resp.StatusCode, env["CONTENT_LENGTH"])
	}

	// HEAD: the error page's head alone, and the connection goes on.
	rc := ts.dial()
	rc.send("HEAD /nope.html HTTP/1.1\r\nHost: x\r\n\r\nGET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := rc.read("HEAD"); resp.StatusCode != 404 || body != "" {
		t.Errorf("HEAD of a missing page: %d %q", resp.StatusCode, body)
	}
	if _, body := rc.read("GET"); body != "0123456789" {
		t.Errorf("after the HEAD: %q", body)
	}

	if !strings.Contains(ts.errlog.String(), "the error page for status 500") {
		t.Errorf("the failed error page is not in the error log:\n%s", ts.errlog.String())
	}
	// %U is the path asked for, %s the error, %>s what was sent.
	lines := ts.accessLines()
	for _, want := range []string{"/nope.html 404 404", "/.secret 403 403", "/digits.txt 405 405", "/cgi-bin/early-exit.sh 500 500"} {
		found := false
		for _, l := range lines {
			found = found || l == want
		}
		if !found {
			t.Errorf("no access line %q in:\n%s", want, strings.Join(lines, "\n"))
		}
	}
}

// TestErrorPageLoop: an error page that fails in turn, or redirects to
// itself, ends with the built-in page of the first error.
func TestErrorPageLoop(t *testing.T) {
	ts := startCGIServerTop(t, `error_pages = { 404 = "/errors/404.html", 500 = "/cgi-bin/loop.sh" }`+"\n", "")
	resp, body := ts.get("/nope")
	if resp.StatusCode != 404 || !strings.Contains(body, "404 Not Found") {
		t.Errorf("a missing 404 page: %d %q", resp.StatusCode, body)
	}
	resp, body = ts.get("/cgi-bin/early-exit.sh")
	if resp.StatusCode != 500 || !strings.Contains(body, "500 Internal Server Error") {
		t.Errorf("a 500 page that loops: %d %q", resp.StatusCode, body)
	}
}

// TestRedirectVariables: the target of a script's local redirect sees the
// script's variables as REDIRECT_*, as Apache passes them.
func TestRedirectVariables(t *testing.T) {
	ts := startCGIServer(t, "")
	_, body := ts.get("/cgi-bin/redirect-env.sh/info?q=9", "X-Foo", "bar")
	env := envOf(body)
	for k, v := range map[string]string{
		"REDIRECT_STATUS": "200", "REDIRECT_URL": "/cgi-bin/redirect-env.sh/info", "REDIRECT_QUERY_STRING": "q=9",
		"REDIRECT_SCRIPT_NAME": "/cgi-bin/redirect-env.sh", "REDIRECT_PATH_INFO": "/info", "REDIRECT_HTTP_X_FOO": "bar",
		"REDIRECT_REQUEST_URI": "/cgi-bin/redirect-env.sh/info?q=9", "QUERY_STRING": "from=redirect", "SCRIPT_NAME": "/cgi-bin/env.sh",
	} {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	if _, ok := env["REDIRECT_REDIRECT_STATUS"]; ok {
		t.Errorf("REDIRECT_REDIRECT_STATUS is set")
	}
	// Without a redirect there is only php-cgi's REDIRECT_STATUS.
	_, body = ts.get("/cgi-bin/env.sh")
	for k := range envOf(body) {
		if strings.HasPrefix(k, "REDIRECT_") && k != "REDIRECT_STATUS" {
			t.Errorf("a script run without a redirect sees %s", k)
		}
	}
}

const fallbackConf = `fallback = { "/app/" = "/cgi-bin/env.sh", "/api/" = "/cgi-bin/echo-body.sh", "/spa/" = "/spa/index.html", "/gone/" = "/nothing.html" }
[log]
access = "logs/access_log"
format = "%U %>s"
error = "-"
`

func TestFallback(t *testing.T) {
	ts := startCGIServerTop(t, fallbackConf, "")
	writeFiles(t, ts.root, map[string]string{
		"app/real.txt":   "real",
		"app/sub/":       "",
		"spa/index.html": "spa",
		"other/":         "",
	})
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/app/some/route?x=1", 200, "REQUEST_URI=/app/some/route?x=1\n"},
		{"GET", "/app/some/route?x=1", 200, "QUERY_STRING=x=1\n"},
		{"GET", "/app/some/route?x=1", 200, "SCRIPT_NAME=/cgi-bin/env.sh\n"},
		{"GET", "/app/", 200, "REQUEST_URI=/app/\n"},         // a folder with no index, listed otherwise
		{"GET", "/app/sub/", 200, "REQUEST_URI=/app/sub/\n"}, // twice: no cached listing answers it
		{"GET", "/app/sub/", 200, "REQUEST_URI=/app/sub/\n"},
		{"POST", "/api/items", 200, "len=3\n"},
		{"GET", "/app/real.txt", 200, "real"},
		{"GET", "/app/real.txt/extra", 404, "404 Not Found"},
		{"GET", "/spa/deep/link", 200, "spa"},
		{"POST", "/spa/deep/link", 405, ""},
		{"GET", "/other/", 200, "Index of /other/"},
		{"GET", "/elsewhere", 404, ""},
		{"GET", "/gone/x", 404, "404 Not Found"},
	}
	for _, tt := range tests {
		var body io.Reader
		if tt.method == "POST" {
			body = strings.NewReader("a=1")
		}
		resp, got := ts.do(tt.method, tt.path, body)
		if resp.StatusCode != tt.status || !strings.Contains(got, tt.body) {
			t.Errorf("%s %s: %d %q; want %d and %q", tt.method, tt.path, resp.StatusCode, got, tt.status, tt.body)
		}
	}
	// A front controller is not a redirect: no REDIRECT_URL.
	_, body := ts.get("/app/x")
	if env := envOf(body); env["REDIRECT_URL"] != "" || env["REQUEST_METHOD"] != "GET" || env["PATH_INFO"] != "" {
		t.Errorf("fallback script: REDIRECT_URL %q REQUEST_METHOD %q PATH_INFO %q", env["REDIRECT_URL"], env["REQUEST_METHOD"], env["PATH_INFO"])
	}
	lines := strings.Join(ts.accessLines(), "\n")
	if !strings.Contains(lines, "/app/some/route 200") || !strings.Contains(lines, "/spa/deep/link 200") {
		t.Errorf("%%U is not the path asked for:\n%s", lines)
	}
}

const redirectsConf = `redirects = [
  { from = "/old", to = "http://new.example/base", status = 301 },
  { from = "/tmpmove", to = "/new.html" },
  { from = "/see/", to = "https://x.example/other/", status = 303 },
  { from = "/see/keep/", to = "/kept/", status = 307 },
  { from = "/q", to = "/target?fixed=1", status = 308 },
  { from = "/gonedir", status = 410 },
]
error_pages = { 410 = "<p>gone for good</p>" }
[[vhost]]
names = ["other.example"]
document_root = "htdocs"
redirects = []
`

func TestRedirects(t *testing.T) {
	ts := startServer(t, redirectsConf, map[string]string{"older": "older", "new.html": "new", "see": "see", ".dot": "dot"})
	tests := []struct {
		path, host string
		status     int
		location   string
	}{
		{"/old", "", 301, "http://new.example/base"},
		{"/old/a%20b/c?q=1&r=2", "", 301, "http://new.example/base/a%20b/c?q=1&r=2"},
		{"/old/a;v=1/b", "", 301, "http://new.example/base/a;v=1/b"},
		{"/old/.dot", "", 301, "http://new.example/base/.dot"},
		{"/older", "", 200, ""},
		{"/tmpmove?x", "pwebs.example:8080", 302, "http://pwebs.example:8080/new.html?x"},
		{"/see/deep/x.html", "", 303, "https://x.example/other/deep/x.html"},
		{"/see/keep/a", "h", 307, "http://h/kept/a"},
		{"/see", "", 200, ""},
		{"/q?x=2", "h", 308, "http://h/target?fixed=1"},
		{"/gonedir/x", "", 410, ""},
		{"/old", "other.example", 404, ""},
	}
	for _, tt := range tests {
		var header []string
		if tt.host != "" {
			header = []string{"Host", tt.host}
		}
		resp, body := ts.get(tt.path, header...)
		if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location {
			t.Errorf("%s (Host %q): %d Location %q; want %d %q", tt.path, tt.host, resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
		}
		if tt.status == 410 && !strings.Contains(body, "gone for good") {
			t.Errorf("410 does not use the error page: %q", body)
		}
	}
	// HEAD: no body, and the connection goes on.
	rc := ts.dial()
	rc.send("HEAD /old HTTP/1.1\r\nHost: x\r\n\r\nGET /new.html HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := rc.read("HEAD"); resp.StatusCode != 301 || body != "" {
		t.Errorf("HEAD of a redirect: %d %q", resp.StatusCode, body)
	}
	if _, body := rc.read("GET"); body != "new" {
		t.Errorf("after the HEAD: %q", body)
	}
}

func TestExpires(t *testing.T) {
	conf := `expires = { "text/css" = "7d", "IMAGE/*" = "30d", "default" = "1h" }
error_pages = { 404 = "/errors/404.html" }
`
	big := strings.Repeat("b", 1<<20+1) // over the cache's max_file_size: served from the file
	ts := startServer(t, conf, map[string]string{
		"a.css": "a{}", "b.png": "png", "c.txt": "text", "big.bin": big, "dir/x": "x",
		"page.shtml": `<!--#include virtual="c.txt" -->`, "errors/404.html": "not here",
	})
	tests := []struct {
		name, path string
		header     []string
		status     int
		want       string
	}{
		{"exact type", "/a.css", nil, 200, "max-age=604800"},
		{"family", "/b.png", nil, 200, "max-age=2592000"},
		{"default", "/c.txt", nil, 200, "max-age=3600"},
		{"default, from the cache", "/c.txt", nil, 200, "max-age=3600"},
		{"a 304 repeats it", "/c.txt", []string{"If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT"}, 304, "max-age=3600"},
		{"a range", "/c.txt", []string{"Range", "bytes=0-1"}, 206, "max-age=3600"},
		{"a file too big for the cache", "/big.bin", nil, 200, "max-age=3600"},
		{"a cached SSI page", "/page.shtml", nil, 200, "max-age=3600"},
		{"a listing: none", "/dir/", nil, 200, ""},
		{"an error page: none", "/nope", nil, 404, ""},
		{"an error page, again", "/nope", nil, 404, ""},
	}
	for _, tt := range tests {
		resp, _ := ts.get(tt.path, tt.header...)
		if got := resp.Header.Get("Cache-Control"); resp.StatusCode != tt.status || got != tt.want {
			t.Errorf("%s: %d Cache-Control %q; want %d %q", tt.name, resp.StatusCode, got, tt.status, tt.want)
		}
	}
	// The error page itself, asked for, has the default.
	if resp, _ := ts.get("/errors/404.html"); resp.Header.Get("Cache-Control") != "max-age=3600" {
		t.Errorf("the error page asked for: Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
}

// TestErrorPageFaults: an error page that fails is tried once; one that
// names a folder without its slash is a failure, not a 301 for every
// error; a URL of any scheme is a redirect; after a fallback, REDIRECT_URL
// is the path asked for.
func TestErrorPageFaults(t *testing.T) {
	top := `error_pages = { 404 = "/errors/url.shtml", 500 = "/cgi-bin/count-fail.sh", 403 = "/errors", 405 = "ftp://example.org/x" }
fallback = { "/f/" = "/nothing.cgi" }
`
	ts := startCGIServerFiles(t, top, "", map[string]string{
		"cgi-bin/count-fail.sh":   "#!/bin/sh\necho run >> \"$DOCUMENT_ROOT/../fail-runs\"\nexit 3\n",
		"htdocs/errors/url.shtml": `url=<!--#echo var="REDIRECT_URL" -->`,
		"htdocs/.secret":          "s",
	})
	must(t, os.Chmod(filepath.Join(ts.dir, "cgi-bin", "count-fail.sh"), 0o755))
	if resp, body := ts.get("/cgi-bin/early-exit.sh"); resp.StatusCode != 500 || !strings.Contains(body, "500 Internal Server Error") {
		t.Errorf("a failing 500 page: %d %q", resp.StatusCode, body)
	}
	runs, _ := os.ReadFile(filepath.Join(ts.dir, "fail-runs"))
	if n := strings.Count(string(runs), "run"); n != 1 {
		t.Errorf("the failing error page ran %d times, want 1", n)
	}
	if resp, body := ts.get("/.secret"); resp.StatusCode != 403 || resp.Header.Get("Location") != "" || !strings.Contains(body, "403 Forbidden") {
		t.Errorf("an error page naming a folder without its slash: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := ts.do("DELETE", "/digits.txt", nil); resp.StatusCode != 302 || resp.Header.Get("Location") != "ftp://example.org/x" {
		t.Errorf("an ftp:// error page: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := ts.get("/f/route?q=1"); resp.StatusCode != 404 || body != "url=/f/route" {
		t.Errorf("an error after a fallback: %d %q, want 404 url=/f/route", resp.StatusCode, body)
	}
}
