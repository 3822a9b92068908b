package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var siteFiles = map[string]string{
	"index.html":           "<h1>home</h1>\n",
	"style.css":            "body{}\n",
	"app.js":               "let a = 1;\n",
	"mod.mjs":              "export {};\n",
	"data.json":            "{}\n",
	"pic.PNG":              "\x89PNG....",
	"notes.unknownext":     "??",
	"noext":                "plain",
	"digits.txt":           "0123456789",
	"only-htm/index.htm":   "htm index",
	"both/index.html":      "html index",
	"both/index.htm":       "htm index",
	"empty/":               "",
	"list/b.txt":           "bb",
	"list/a.txt":           "a",
	"list/c-big.txt":       strings.Repeat("c", 3000),
	"list/.secret":         "hidden",
	"list/sub/":            "",
	".git/config":          "[core]",
	".env":                 "SECRET=1",
	".well-known/x.txt":    "well known",
	"emptyfile.txt":        "",
	"dir with space/f.txt": "space",
}

func TestStaticFile(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	resp, body := ts.get("/digits.txt")
	if resp.StatusCode != 200 || body != "0123456789" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	want := map[string]string{
		"Content-Type":   "text/plain; charset=utf-8",
		"Content-Length": "10",
		"Accept-Ranges":  "bytes",
		"Server":         "pwebs/" + Version,
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: got %q, want %q", k, got, v)
		}
	}
	fi, _ := os.Stat(filepath.Join(ts.root, "digits.txt"))
	if got := resp.Header.Get("Last-Modified"); got != fi.ModTime().UTC().Format(http.TimeFormat) {
		t.Errorf("Last-Modified: got %q, want %q", got, fi.ModTime().UTC().Format(http.TimeFormat))
	}
	if !regexp.MustCompile(`^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$`).MatchString(resp.Header.Get("ETag")) {
		t.Errorf("ETag %q is not a strong tag", resp.Header.Get("ETag"))
	}
	if d, err := http.ParseTime(resp.Header.Get("Date")); err != nil || time.Since(d) > time.Minute {
		t.Errorf("Date %q: %v", resp.Header.Get("Date"), err)
	}

	resp, body = ts.do("HEAD", "/digits.txt", nil)
	if resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Length") != "10" {
		t.Errorf("HEAD: got %d %q length %q", resp.StatusCode, body, resp.Header.Get("Content-Length"))
	}
	resp, body = ts.get("/emptyfile.txt")
	if resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Length") != "0" {
		t.Errorf("empty file: got %d %q length %q", resp.StatusCode, body, resp.Header.Get("Content-Length"))
	}
	resp, body = ts.get("/dir%20with%20space/f.txt")
	if resp.StatusCode != 200 || body != "space" {
		t.Errorf("escaped path: got %d %q", resp.StatusCode, body)
	}
}

func TestMimeTypes(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	tests := []struct{ path, want string }{
		{"/index.html", "text/html; charset=utf-8"},
		{"/style.css", "text/css; charset=utf-8"},
		{"/app.js", "text/javascript; charset=utf-8"},
		{"/mod.mjs", "text/javascript; charset=utf-8"},
		{"/data.json", "application/json; charset=utf-8"},
		{"/pic.PNG", "image/png"},
		{"/notes.unknownext", "application/octet-stream"},
		{"/noext", "application/octet-stream"},
	}
	for _, tt := range tests {
		resp, _ := ts.get(tt.path)
		if got := resp.Header.Get("Content-Type"); got != tt.want {
			t.Errorf("%s: Content-Type %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestIndexAndRedirect(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	tests := []struct {
		path   string
		status int
		body   string
		loc    string
	}{
		{"/", 200, "<h1>home</h1>\n", ""},
		{"/both/", 200, "html index", ""},
		{"/only-htm/", 200, "htm index", ""},
		{"/both", 301, "", "/both/"},
		{"/both?x=1&y=%20", 301, "", "/both/?x=1&y=%20"},
		{"/dir%20with%20space", 301, "", "/dir%20with%20space/"},
		{"/digits.txt/", 404, "", ""},
	}
	for _, tt := range tests {
		resp, body := ts.get(tt.path)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.path, resp.StatusCode, tt.status)
			continue
		}
		if tt.body != "" && body != tt.body {
			t.Errorf("%s: body %q, want %q", tt.path, body, tt.body)
		}
		if got := resp.Header.Get("Location"); got != tt.loc {
			t.Errorf("%s: Location %q, want %q", tt.path, got, tt.loc)
		}
	}
}

func TestRanges(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	_, _ = ts.get("/digits.txt")
	resp0, _ := ts.get("/digits.txt")
	etag := resp0.Header.Get("ETag")
	lastMod := resp0.Header.Get("Last-Modified")
	tests := []struct {
		name   string
		hdr    []string
		status int
		body   string
		cr     string
	}{
		{"first bytes", []string{"Range", "bytes=0-3"}, 206, "0123", "bytes 0-3/10"},
		{"middle", []string{"Range", "bytes=2-4"}, 206, "234", "bytes 2-4/10"},
		{"open end", []string{"Range", "bytes=7-"}, 206, "789", "bytes 7-9/10"},
		{"suffix", []string{"Range", "bytes=-2"}, 206, "89", "bytes 8-9/10"},
		{"suffix too long", []string{"Range", "bytes=-20"}, 206, "0123456789", "bytes 0-9/10"},
		{"end past size", []string{"Range", "bytes=5-100"}, 206, "56789", "bytes 5-9/10"},
		{"unsatisfiable", []string{"Range", "bytes=10-"}, 416, "", "bytes */10"},
		{"malformed ignored", []string{"Range", "bytes=a-b"}, 200, "0123456789", ""},
		{"other unit ignored", []string{"Range", "lines=1-2"}, 200, "0123456789", ""},
		{"reversed ignored", []string{"Range", "bytes=5-1"}, 200, "0123456789", ""},
		{"if-range etag match", []string{"Range", "bytes=0-0", "If-Range", etag}, 206, "0", "bytes 0-0/10"},
		{"if-range etag stale", []string{"Range", "bytes=0-0", "If-Range", `"other"`}, 200, "0123456789", ""},
		{"if-range date match", []string{"Range", "bytes=0-0", "If-Range", lastMod}, 206, "0", "bytes 0-0/10"},
		{"if-range date stale", []string{"Range", "bytes=0-0", "If-Range", "Mon, 02 Jan 2006 15:04:05 GMT"}, 200, "0123456789", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.get("/digits.txt", tt.hdr...)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status != 416 && body != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
			if got := resp.Header.Get("Content-Range"); got != tt.cr {
				t.Errorf("Content-Range %q, want %q", got, tt.cr)
			}
		})
	}
	t.Run("multipart", func(t *testing.T) {
		resp, body := ts.get("/digits.txt", "Range", "bytes=0-1,5-6")
		if resp.StatusCode != 206 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		ct := resp.Header.Get("Content-Type")
		if !strings.HasPrefix(ct, "multipart/byteranges; boundary=") {
			t.Fatalf("Content-Type %q", ct)
		}
		if fmt.Sprint(len(body)) != resp.Header.Get("Content-Length") {
			t.Errorf("Content-Length %s, body is %d bytes", resp.Header.Get("Content-Length"), len(body))
		}
		for _, part := range []string{"Content-Range: bytes 0-1/10\r\n\r\n01\r\n", "Content-Range: bytes 5-6/10\r\n\r\n56\r\n"} {
			if !strings.Contains(body, part) {
				t.Errorf("multipart body lacks %q:\n%s", part, body)
			}
		}
	})
}

func TestConditional(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	resp0, _ := ts.get("/digits.txt")
	etag := resp0.Header.Get("ETag")
	lastMod := resp0.Header.Get("Last-Modified")
	tests := []struct {
		name   string
		method string
		hdr    []string
		status int
	}{
		{"if-none-match", "GET", []string{"If-None-Match", etag}, 304},
		{"if-none-match weak", "GET", []string{"If-None-Match", "W/" + etag}, 304},
		{"if-none-match list", "GET", []string{"If-None-Match", `"x", ` + etag}, 304},
		{"if-none-match star", "GET", []string{"If-None-Match", "*"}, 304},
		{"if-none-match other", "GET", []string{"If-None-Match", `"x"`}, 200},
		{"if-none-match head", "HEAD", []string{"If-None-Match", etag}, 304},
		{"if-modified-since same", "GET", []string{"If-Modified-Since", lastMod}, 304},
		{"if-modified-since later", "GET", []string{"If-Modified-Since", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, 304},
		{"if-modified-since earlier", "GET", []string{"If-Modified-Since", "Mon, 02 Jan 2006 15:04:05 GMT"}, 200},
		{"if-modified-since garbage", "GET", []string{"If-Modified-Since", "yesterday"}, 200},
		{"inm wins over ims", "GET", []string{"If-None-Match", `"x"`, "If-Modified-Since", lastMod}, 200},
		{"if-match ok", "GET", []string{"If-Match", etag}, 200},
		{"if-match weak fails", "GET", []string{"If-Match", "W/" + etag}, 412},
		{"if-match other", "GET", []string{"If-Match", `"x"`}, 412},
		{"if-unmodified-since earlier", "GET", []string{"If-Unmodified-Since", "Mon, 02 Jan 2006 15:04:05 GMT"}, 412},
		{"if-unmodified-since same", "GET", []string{"If-Unmodified-Since", lastMod}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.do(tt.method, "/digits.txt", nil, tt.hdr...)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == 304 {
				if body != "" || resp.Header.Get("ETag") != etag {
					t.Errorf("304 with body %q, ETag %q", body, resp.Header.Get("ETag"))
				}
			}
		})
	}
}

func TestMethods(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	// Known methods a file does not allow get 405; unknown ones 501.
	for _, m := range []string{"PUT", "DELETE", "PATCH", "POST", "TRACE", "BREW", "get"} {
		want, page := 405, "405 Method Not Allowed"
		if m == "BREW" || m == "get" {
			want, page = 501, "501 Not Implemented"
		}
		resp, body := ts.do(m, "/digits.txt", strings.NewReader("x"))
		if resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d", m, resp.StatusCode, want)
		}
		if got := resp.Header.Get("Allow"); got != "GET, HEAD, OPTIONS" {
			t.Errorf("%s: Allow %q", m, got)
		}
		if !strings.Contains(body, page) {
			t.Errorf("%s: error page %q", m, body)
		}
	}
	resp, _ := ts.do("OPTIONS", "/digits.txt", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Allow") == "" {
		t.Errorf("OPTIONS: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	raw := ts.roundTrip("OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if statusOfRaw(raw) != "200" || !strings.Contains(raw, "Allow: ") {
		t.Errorf("OPTIONS *: %q", raw)
	}
}

func TestErrorPage(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	resp, body := ts.get("/missing.html")
	if resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || !strings.Contains(body, "<title>404 Not Found</title>") {
		t.Errorf("error page: %q %q", resp.Header.Get("Content-Type"), body)
	}
	if resp.Header.Get("Server") != "pwebs/"+Version || resp.Header.Get("Date") == "" {
		t.Errorf("Server %q Date %q", resp.Header.Get("Server"), resp.Header.Get("Date"))
	}
	if !strings.Contains(ts.errlog.String(), "File does not exist") {
		t.Errorf("no error log line for the 404:\n%s", ts.errlog.String())
	}
}

func TestDotfilesAndTraversal(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	secret := filepath.Join(ts.dir, "secret.txt")
	must(t, os.WriteFile(secret, []byte("TOPSECRET"), 0o644))
	must(t, os.Symlink(secret, filepath.Join(ts.root, "abs-link")))
	must(t, os.Symlink("../secret.txt", filepath.Join(ts.root, "rel-link")))
	tests := []struct {
		target string
		status string
	}{
		{"/.git/config", "403"},
		{"/.env", "403"},
		{"/list/.secret", "403"},
		{"/%2egit/config", "403"},
		{"/.well-known/x.txt", "200"},
		{"/../secret.txt", "400"},
		{"/%2e%2e/secret.txt", "400"},
		{"/%2E%2E/secret.txt", "400"},
		{"/list/..%2f..%2fsecret.txt", "404"},
		{"/list/..%5c..%5csecret.txt", "403"},
		{"/list/..\\..\\secret.txt", "403"},
		{"/secret.txt%00.html", "404"},
		{"/abs-link", "404"},
		{"/rel-link", "404"},
		{"/./../secret.txt", "400"},
		{"//../secret.txt", "400"},
	}
	for _, tt := range tests {
		raw := ts.roundTrip("GET " + tt.target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if got := statusOfRaw(raw); got != tt.status {
			t.Errorf("%s: status %s, want %s", tt.target, got, tt.status)
		}
		if strings.Contains(raw, "TOPSECRET") || strings.Contains(raw, "SECRET=1") || strings.Contains(raw, "[core]") {
			t.Errorf("%s: a protected file was served", tt.target)
		}
	}
}

func TestListing(t *testing.T) {
	files := map[string]string{}
	for k, v := range siteFiles {
		files[k] = v
	}
	files["list/<b>&\"x y'.txt"] = "tricky"
	files["list/ümlaut ä.txt"] = "u"
	ts := startServer(t, "", files)
	old := time.Now().Add(-48 * time.Hour)
	must(t, os.Chtimes(filepath.Join(ts.root, "list", "b.txt"), old, old))

	resp, body := ts.get("/list/")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("listing: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(resp.Header.Get("Vary"), "Accept") {
		t.Errorf("Vary %q lacks Accept", resp.Header.Get("Vary"))
	}
	for _, want := range []string{
		`href="%3Cb%3E&amp;%22x%20y%27.txt"`,
		`&lt;b&gt;&amp;&#34;x y&#39;.txt`,
		`href="%C3%BCmlaut%20%C3%A4.txt"`,
		`href="sub/"`,
		`href="../"`,
		`2.9 KiB`,
		`name="viewport"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("listing lacks %s", want)
		}
	}
	for _, bad := range []string{"<b>&", ".secret"} {
		if strings.Contains(body, bad) {
			t.Errorf("listing contains %q", bad)
		}
	}
	// A row is only what it shows: icons come from the style sheet and
	// cells from their column, so a listing of thousands stays small.
	row := `<tr><td><a href="b.txt">b.txt</a><td><time>` + old.UTC().Format("2006-01-02 15:04") + `</time><td>2 B` + "\n"
	if !strings.Contains(body, row) {
		t.Errorf("listing lacks the row %q", row)
	}
	order := func(body string, names ...string) []int {
		var idx []int
		for _, n := range names {
			idx = append(idx, strings.Index(body, ">"+n+"<"))
		}
		return idx
	}
	isSorted := func(idx []int) bool {
		for i := 1; i < len(idx); i++ {
			if idx[i-1] < 0 || idx[i] < 0 || idx[i-1] > idx[i] {
				return false
			}
		}
		return true
	}
	if !isSorted(order(body, "sub/", "a.txt", "b.txt", "c-big.txt")) {
		t.Errorf("default order is not folders first, then by name")
	}
	_, body = ts.get("/list/?C=N;O=D")
	if !isSorted(order(body, "sub/", "c-big.txt", "b.txt", "a.txt")) {
		t.Errorf("C=N;O=D is not by name descending")
	}
	_, body = ts.get("/list/?C=S;O=D")
	if !isSorted(order(body, "sub/", "c-big.txt", "b.txt", "a.txt")) {
		t.Errorf("C=S;O=D is not by size descending")
	}
	_, body = ts.get("/list/?C=M;O=A")
	if !isSorted(order(body, "sub/", "b.txt", "a.txt")) {
		t.Errorf("C=M;O=A is not oldest first")
	}
	if !strings.Contains(body, `href="?C=M;O=D"`) {
		t.Errorf("the sorted column does not link to the other order")
	}

	resp, body = ts.get("/list/", "Accept", "application/json")
	if resp.Header.Get("Content-Type") != "application/json; charset=utf-8" || !strings.Contains(resp.Header.Get("Vary"), "Accept") {
		t.Fatalf("JSON listing: %q Vary %q", resp.Header.Get("Content-Type"), resp.Header.Get("Vary"))
	}
	var l struct {
		Path    string `json:"path"`
		Entries []struct {
			Name, Type, URL string
			Size            int64
		} `json:"entries"`
	}
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatalf("JSON: %v\n%s", err, body)
	}
	found := false
	for _, e := range l.Entries {
		if e.Name == "<b>&\"x y'.txt" && e.Type == "file" && e.Size == 6 && e.URL == "%3Cb%3E&%22x%20y%27.txt" {
			found = true
		}
		if strings.HasPrefix(e.Name, ".") {
			t.Errorf("JSON lists the dotfile %q", e.Name)
		}
	}
	if !found || l.Path != "/list/" {
		t.Errorf("JSON listing lacks the tricky file or has the wrong path: %s", body)
	}
	resp, _ = ts.get("/list/", "Accept", "text/html,application/json;q=0.9")
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("a browser's Accept got %q", resp.Header.Get("Content-Type"))
	}
}

func TestListingOff(t *testing.T) {
	ts := startServer(t, "listing = false\n", siteFiles)
	resp, _ := ts.get("/list/")
	if resp.StatusCode != 403 {
		t.Errorf("listing off: status %d, want 403", resp.StatusCode)
	}
	resp, _ = ts.get("/both/")
	if resp.StatusCode != 200 {
		t.Errorf("index with listing off: status %d", resp.StatusCode)
	}
}

func TestVirtualHosts(t *testing.T) {
	conf := `
[[vhost]]
names = ["blog.example", "www.blog.example"]
document_root = "sites/blog"
listing = false

[[vhost]]
names = ["Shop.Example"]
document_root = "sites/shop"
index = ["start.html"]
`
	dir := t.TempDir()
	_ = dir
	ts := startServerWith(t, conf, map[string]string{
		"htdocs/index.html":     "main",
		"sites/blog/index.html": "blog",
		"sites/blog/list/a.txt": "a",
		"sites/shop/start.html": "shop",
		"sites/shop/index.html": "not me",
	})
	tests := []struct {
		host, path, want string
		status           int
	}{
		{"blog.example", "/", "blog", 200},
		{"BLOG.example:8080", "/", "blog", 200},
		{"www.blog.example.", "/", "blog", 200},
		{"shop.example", "/", "shop", 200},
		{"unknown.example", "/", "main", 200},
		{"127.0.0.1", "/", "main", 200},
		{"blog.example", "/list/", "", 403},
	}
	for _, tt := range tests {
		resp, body := ts.get(tt.path, "Host", tt.host)
		if resp.StatusCode != tt.status || (tt.want != "" && body != tt.want) {
			t.Errorf("Host %s %s: got %d %q, want %d %q", tt.host, tt.path, resp.StatusCode, body, tt.status, tt.want)
		}
	}
	// An absolute-form target names the host, whatever Host says.
	raw := ts.roundTrip("GET http://blog.example/ HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n")
	if !strings.HasSuffix(raw, "blog") {
		t.Errorf("absolute-form target: %q", raw)
	}
	for target, want := range map[string]string{
		"http://127.0.0.1/digits.txt": "404", // an address of this server: served (no such file here)
		"http://localhost:8080/":      "200",
		"http://evil.example/":        "421", // pwebs is not a proxy
		"https://blog.example/":       "421",
		"HTTP://BLOG.EXAMPLE./":       "200",
	} {
		raw := ts.roundTrip("GET " + target + " HTTP/1.1\r\nHost: blog.example\r\nConnection: close\r\n\r\n")
		if statusOfRaw(raw) != want {
			t.Errorf("%s: status %s, want %s", target, statusOfRaw(raw), want)
		}
	}
}

// startServerWith is startServer with files laid out from the config's
// folder (so vhost roots can sit beside htdocs).
func startServerWith(t *testing.T, conf string, files map[string]string) *testServer {
	htdocs := map[string]string{}
	other := map[string]string{}
	for k, v := range files {
		if rest, ok := strings.CutPrefix(k, "htdocs/"); ok {
			htdocs[rest] = v
		} else {
			other[k] = v
		}
	}
	// The vhost folders must exist before the config is loaded.
	return startServerPre(t, conf, htdocs, func(dir string) { writeFiles(t, dir, other) })
}

func TestLargeFileSendfile(t *testing.T) {
	big := make([]byte, 3<<20+17)
	for i := range big {
		big[i] = byte(i * 7)
	}
	ts := startServer(t, "", map[string]string{"big.bin": string(big)})
	before := ts.srv.Stats().Sendfiles.Load()
	resp, body := ts.get("/big.bin")
	if resp.StatusCode != 200 || body != string(big) {
		t.Fatalf("big file: %d, %d bytes (want %d)", resp.StatusCode, len(body), len(big))
	}
	if ts.srv.Stats().Sendfiles.Load() == before {
		t.Errorf("the big file did not go out by sendfile")
	}
	resp, body = ts.get("/big.bin", "Range", "bytes=1000000-1000009")
	if resp.StatusCode != 206 || body != string(big[1000000:1000010]) {
		t.Errorf("range of a big file: %d %q", resp.StatusCode, body)
	}
	resp, body = ts.do("HEAD", "/big.bin", nil)
	if resp.Header.Get("Content-Length") != fmt.Sprint(len(big)) || body != "" {
		t.Errorf("HEAD of a big file: %q %d", resp.Header.Get("Content-Length"), len(body))
	}
}

func TestListenIPv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback here")
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "htdocs"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "htdocs", "v6.txt"), []byte("six"), 0o644))
	cfg, err := ParseConfig("pwebs.conf", dir, []byte(fmt.Sprintf("listen = [%q]\n", addr)))
	must(t, err)
	srv, err := New(cfg, Logs{})
	must(t, err)
	must(t, srv.Listen())
	go srv.Serve()
	defer srv.Shutdown(context.Background())
	resp, err := http.Get("http://" + addr + "/v6.txt")
	must(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "six" {
		t.Errorf("over IPv6: %q", b)
	}
}

// TestNamedPipe: a named pipe in the document root is refused at once
// (403, as other files that are not regular), not opened and waited on
// until a writer comes.
func TestNamedPipe(t *testing.T) {
	for _, conf := range []string{"", "[cache]\nenabled = false\n"} {
		ts := startServer(t, conf, siteFiles)
		pipe := filepath.Join(ts.root, "pipe.txt")
		must(t, unix.Mkfifo(pipe, 0o644))
		t.Cleanup(func() {
			// Let a reader that waits in open(2) go, should one.
			if fd, err := unix.Open(pipe, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
				unix.Close(fd)
			}
		})
		for _, method := range []string{"GET", "HEAD"} {
			rc := ts.dial()
			rc.nc.SetDeadline(time.Now().Add(3 * time.Second))
			rc.send(method + " /pipe.txt HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, _ := rc.read(method); resp.StatusCode != 403 {
				t.Errorf("%q: %s of a named pipe: %d, want 403", conf, method, resp.StatusCode)
			}
		}
		// A folder whose index file is a pipe: the index is skipped, and
		// the folder listed, without waiting for a writer.
		must(t, os.Mkdir(filepath.Join(ts.root, "pipedir"), 0o755))
		ipipe := filepath.Join(ts.root, "pipedir", "index.html")
		must(t, unix.Mkfifo(ipipe, 0o644))
		t.Cleanup(func() {
			if fd, err := unix.Open(ipipe, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
				unix.Close(fd)
			}
		})
		rc := ts.dial()
		rc.nc.SetDeadline(time.Now().Add(3 * time.Second))
		rc.send("GET /pipedir/ HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := rc.read("GET"); resp.StatusCode != 200 {
			t.Errorf("%q: a folder whose index is a named pipe: %d, want its listing", conf, resp.StatusCode)
		}
		// Both resolvers open it without waiting for a writer.
		for _, dirFD := range []int{openDirFD(ts.root), -1} {
			done := make(chan int, 1)
			go func() {
				f, st := resolveRaw(ts.srv.state.Load().def.fs(), dirFD, make([]byte, 0, 64), []byte("/pipe.txt"))
				if f != nil {
					f.Close()
				}
				done <- st
			}()
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				t.Fatalf("opening a named pipe (dirFD %d) waits for a writer", dirFD)
			}
			if dirFD >= 0 {
				unix.Close(dirFD)
			}
		}
	}
}

// TestLeasedFile: a file another process holds a write lease on answers
// at once (opening it without waiting is refused while the lease is
// broken), rather than keep a request spinning or waiting.
func TestLeasedFile(t *testing.T) {
	ts := startServer(t, "", map[string]string{"leased.txt": "leased"})
	f, err := os.OpenFile(filepath.Join(ts.root, "leased.txt"), os.O_WRONLY, 0)
	must(t, err)
	defer f.Close()
	if _, err := unix.FcntlInt(f.Fd(), unix.F_SETLEASE, unix.F_WRLCK); err != nil {
		t.Skipf("no lease: %v", err)
	}
	rc := ts.dial()
	rc.nc.SetDeadline(time.Now().Add(3 * time.Second))
	rc.send("GET /leased.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _ := rc.read("GET"); resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a leased file: %d Retry-After %q, want 503 with Retry-After while the lease holds", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	unix.FcntlInt(f.Fd(), unix.F_SETLEASE, unix.F_UNLCK)
	if resp, body := ts.get("/leased.txt"); resp.StatusCode != 200 || body != "leased" {
		t.Errorf("after the lease: %d %q", resp.StatusCode, body)
	}
}

// TestFutureLastModified: a file dated in the future is sent with the
// request's time as Last-Modified, never one later than the Date (RFC
// 9110 8.8.2.1), from the cache too, and the preconditions compare with
// that time.
func TestFutureLastModified(t *testing.T) {
	big := strings.Repeat("f", sendfileMin+100)
	future := time.Now().AddDate(5, 0, 0)
	between := time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat)
	for _, conf := range []string{"", "[cache]\nenabled = false\n"} {
		ts := startServer(t, conf, map[string]string{"small.txt": "small", "big.txt": big})
		for _, name := range []string{"small.txt", "big.txt"} {
			must(t, os.Chtimes(filepath.Join(ts.root, name), future, future))
			want := map[string]string{"small.txt": "small", "big.txt": big}[name]
			for i := 0; i < 3; i++ { // a miss, then hits
				resp, body := ts.get("/" + name)
				lm, err1 := http.ParseTime(resp.Header.Get("Last-Modified"))
				date, err2 := http.ParseTime(resp.Header.Get("Date"))
				if resp.StatusCode != 200 || body != want || err1 != nil || err2 != nil || lm.After(date) {
					t.Fatalf("%q %s, request %d: %d, %d bytes, Last-Modified %q, Date %q", conf, name, i,
						resp.StatusCode, len(body), resp.Header.Get("Last-Modified"), resp.Header.Get("Date"))
				}
			}
			if resp, _ := ts.get("/"+name, "If-Unmodified-Since", between); resp.StatusCode != 200 {
				t.Errorf("%q %s: If-Unmodified-Since a year from now: %d, want 200", conf, name, resp.StatusCode)
			}
			resp, _ := ts.get("/"+name, "If-Modified-Since", between)
			lm, _ := http.ParseTime(resp.Header.Get("Last-Modified"))
			date, _ := http.ParseTime(resp.Header.Get("Date"))
			if resp.StatusCode != 304 || lm.After(date) {
				t.Errorf("%q %s: If-Modified-Since a year from now: %d, Last-Modified %q, Date %q, want 304",
					conf, name, resp.StatusCode, resp.Header.Get("Last-Modified"), resp.Header.Get("Date"))
			}
		}
	}
}
