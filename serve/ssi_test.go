package serve

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var ssiFiles = map[string]string{
	"htdocs/page.shtml": `<h1><!--#echo var="DOCUMENT_URI" --></h1>
<!--#include virtual="/parts/header.html" -->
<!--#include file="parts/footer.html" -->
size=<!--#fsize file="parts/footer.html" -->
`,
	"htdocs/parts/header.html": "HEADER\n",
	"htdocs/parts/footer.html": "FOOTER\n",
	"htdocs/date.shtml":        "now=<!--#echo var=\"DATE_GMT\" -->\n",
	"htdocs/nested.shtml":      "outer[<!--#include virtual=\"/inner.shtml\" -->]\n",
	"htdocs/inner.shtml":       "inner:<!--#echo var=\"DOCUMENT_NAME\" --> <!--#include virtual=\"/parts/header.html\" -->",
	"htdocs/loop.shtml":        "before<!--#include virtual=\"/loop2.shtml\" -->after\n",
	"htdocs/loop2.shtml":       "[<!--#include virtual=\"/loop.shtml\" -->]",
	"htdocs/cgi.shtml": `top
<!--#set var="greeting" value="hi there" -->
<!--#include virtual="/cgi-bin/slow.sh?a=b" -->
bottom
`,
	"htdocs/exec.shtml":    "<!--#exec cmd=\"echo from-shell\" -->\n",
	"htdocs/errors.shtml":  "line one\n<!--#include virtual=\"/missing.html\" -->\n<!--#bogus -->\nend\n",
	"htdocs/hidden.shtml":  "<!--#include virtual=\"/.secret\" -->\n",
	"htdocs/.secret":       "SECRET",
	"htdocs/d/index.shtml": "index of d: <!--#echo var=\"DOCUMENT_URI\" -->\n",
	"htdocs/x.html":        "xbit <!--#echo var=\"DOCUMENT_NAME\" -->\n",
	"cgi-bin/slow.sh": `#!/bin/sh
printf 'Content-Type: text/plain\n\n'
sleep 1
echo "cgi query=$QUERY_STRING greeting=$greeting"
`,
}

func startSSIServer(t *testing.T, extra string) *testServer {
	t.Helper()
	conf := "index = [\"index.html\", \"index.shtml\"]\n[cgi]\ndirs = { \"/cgi-bin/\" = \"cgi-bin\" }\n[ssi]\n" + extra
	ts := startServerWith(t, conf, ssiFiles)
	must(t, os.Chmod(filepath.Join(ts.dir, "cgi-bin", "slow.sh"), 0o755))
	return ts
}

func TestSSIPage(t *testing.T) {
	ts := startSSIServer(t, "")
	resp, body := ts.get("/page.shtml")
	want := "<h1>/page.shtml</h1>\nHEADER\n\nFOOTER\n\nsize=  7 \n"
	if resp.StatusCode != 200 || body != want {
		t.Fatalf("page: %d %q, want %q", resp.StatusCode, body, want)
	}
	if resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Last-Modified") == "" {
		t.Fatalf("a page that depends only on files has no validators: %v", resp.Header)
	}
	// Cached: no file is opened again.
	before := ts.opens()
	ts.get("/page.shtml")
	if ts.opens() != before {
		t.Errorf("the cached page opened files")
	}
	resp, _ = ts.get("/page.shtml", "If-None-Match", etag)
	if resp.StatusCode != 304 {
		t.Errorf("If-None-Match: %d", resp.StatusCode)
	}
	// Change only an included file: the page changes, and the old
	// validator no longer gives 304.
	must(t, os.WriteFile(filepath.Join(ts.root, "parts", "footer.html"), []byte("NEW FOOTER\n"), 0o644))
	ts.waitBody("/page.shtml", "<h1>/page.shtml</h1>\nHEADER\n\nNEW FOOTER\n\nsize= 11 \n", 200)
	resp, _ = ts.get("/page.shtml", "If-None-Match", etag)
	if resp.StatusCode != 200 {
		t.Errorf("stale 304 after an included file changed")
	}
	// An include that did not exist and then appears.
	must(t, os.WriteFile(filepath.Join(ts.root, "parts", "header.html"), []byte("H2\n"), 0o644))
	ts.waitBody("/page.shtml", "<h1>/page.shtml</h1>\nH2\n\nNEW FOOTER\n\nsize= 11 \n", 200)
	// Methods, as for a file: 405 for known ones, 501 for unknown ones.
	for _, mc := range []struct {
		method string
		status int
	}{{"POST", 405}, {"DELETE", 405}, {"BREW", 501}, {"OPTIONS", 200}} {
		resp, _ := ts.do(mc.method, "/page.shtml", nil)
		if resp.StatusCode != mc.status || resp.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
			t.Errorf("%s: %d Allow %q, want %d", mc.method, resp.StatusCode, resp.Header.Get("Allow"), mc.status)
		}
	}
}

func TestSSIUncacheable(t *testing.T) {
	ts := startSSIServer(t, "")
	resp, body := ts.get("/date.shtml")
	if !regexp.MustCompile(`^now=\w+, \d\d-\w{3}-\d{4} \d\d:\d\d:\d\d GMT\n$`).MatchString(body) {
		t.Errorf("DATE_GMT: %q", body)
	}
	if resp.Header.Get("ETag") != "" || resp.Header.Get("Last-Modified") != "" {
		t.Errorf("a page that shows the date has validators")
	}
	before := ts.opens()
	ts.get("/date.shtml")
	if ts.opens() == before {
		t.Errorf("a page that shows the date was served from the cache")
	}
}

func TestSSINested(t *testing.T) {
	ts := startSSIServer(t, "")
	_, body := ts.get("/nested.shtml")
	if body != "outer[inner:nested.shtml HEADER\n]\n" { // nested pages see the top page's variables, as in Apache
		t.Errorf("nested: %q", body)
	}
	start := time.Now()
	_, body = ts.get("/loop.shtml")
	if !strings.Contains(body, "[an error occurred while processing this directive]") || !strings.HasPrefix(body, "before") || !strings.HasSuffix(body, "after\n") {
		t.Errorf("recursion: %q", body)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("recursion took %v", time.Since(start))
	}
	_, body = ts.get("/d/")
	if body != "index of d: /d/index.shtml\n" {
		t.Errorf("SSI index page: %q", body)
	}
}

func TestSSIIncludesCGI(t *testing.T) {
	ts := startSSIServer(t, "")
	// The part above the slow script arrives before the script ends.
	rc := ts.dial()
	start := time.Now()
	rc.send("GET /cgi.shtml HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(rc.br, nil)
	must(t, err)
	buf := make([]byte, 3)
	_, err = io.ReadFull(resp.Body, buf)
	must(t, err)
	if string(buf) != "top" {
		t.Fatalf("first bytes %q", buf)
	}
	if d := time.Since(start); d > 800*time.Millisecond {
		t.Errorf("the part above the script came after %v", d)
	}
	rest, _ := io.ReadAll(resp.Body)
	body := "top" + string(rest)
	if !strings.Contains(body, "cgi query=a=b greeting=hi there") || !strings.HasSuffix(body, "bottom\n") {
		t.Errorf("page with a script: %q", body)
	}
	if resp.Header.Get("ETag") != "" {
		t.Errorf("a page that includes a script has an ETag")
	}
}

func TestSSIExecAndErrors(t *testing.T) {
	ts := startSSIServer(t, "")
	_, body := ts.get("/exec.shtml")
	if body != "[an error occurred while processing this directive]\n" {
		t.Errorf("exec while off: %q", body)
	}
	_, body = ts.get("/errors.shtml")
	if !strings.HasPrefix(body, "line one\n[an error") || !strings.HasSuffix(body, "end\n") {
		t.Errorf("errors: %q", body)
	}
	waitFor(t, "error log lines with file and line", func() bool {
		l := ts.errlog.String()
		return strings.Contains(l, "errors.shtml:2:") && strings.Contains(l, "errors.shtml:3:")
	})
	_, body = ts.get("/hidden.shtml")
	if strings.Contains(body, "SECRET") {
		t.Errorf("an include reached a dotfile")
	}

	ts2 := startSSIServer(t, "exec = true\n")
	_, body = ts2.get("/exec.shtml")
	if body != "from-shell\n\n" {
		t.Errorf("exec on: %q", body)
	}
}

func TestSSIXBitHack(t *testing.T) {
	ts := startSSIServer(t, "xbithack = true\n")
	_, body := ts.get("/x.html")
	if body != "xbit <!--#echo var=\"DOCUMENT_NAME\" -->\n" {
		t.Errorf("without the x bit: %q", body)
	}
	must(t, os.Chmod(filepath.Join(ts.root, "x.html"), 0o755))
	ts.waitBody("/x.html", "xbit x.html\n", 200)
}

// TestCopyFile checks that an included file is written whole whatever its
// size, and when it changed size between its stat and its reading.
func TestCopyFile(t *testing.T) {
	const buf = 16 << 10 // copyBufs
	tests := []struct {
		name       string
		size, stat int // the file's size, and the size its stat gave
	}{
		{"empty", 0, 0},
		{"one byte", 1, 1},
		{"small", 100, 100},
		{"buffer less one", buf - 1, buf - 1},
		{"buffer", buf, buf},
		{"buffer and one", buf + 1, buf + 1},
		{"several buffers", 5*buf + 17, 5*buf + 17},
		{"grew by one", 101, 100},
		{"grew past the buffer", 3 * buf, 100},
		{"shrank", 50, 100},
		{"shrank to nothing", 0, 100},
		{"size unknown", 300, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			content := make([]byte, tt.size)
			for i := range content {
				content[i] = byte('a' + i%26)
			}
			name := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(name, content, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var out strings.Builder
			if err := copyFile(&out, f, int64(tt.stat)); err != nil {
				t.Fatal(err)
			}
			if out.String() != string(content) {
				t.Errorf("wrote %d bytes, want the %d of the file", out.Len(), len(content))
			}
		})
	}
}

// bigInclude is larger than the buffer an include is read with.
var bigInclude = strings.Repeat("0123456789abcdef", 2500)

// TestUncachedDescriptors serves, with the cache off, every kind of file
// serveFile opens (a static file, a folder listing, an SSI page including
// files, a folder's index and a missing one, and a missing page) many
// times, and checks that each answer is right and that no descriptor is
// left open: the file read through its descriptor and the os.File made of
// it for a folder or a static file must be closed once, whichever it is.
func TestUncachedDescriptors(t *testing.T) {
	ts := startServer(t, "listing = true\nindex = [\"index.shtml\"]\n[cache]\nenabled = false\n", map[string]string{
		"static.txt":      "static body\n",
		"dir/a.txt":       "a",
		"page.shtml":      `<!--#include virtual="/inc/a.html" -->|<!--#include virtual="/inc/" -->|<!--#include virtual="/nope.html" -->`,
		"inc/a.html":      "A",
		"inc/index.shtml": `I<!--#include file="b.html" -->`,
		"inc/b.html":      "B",
		"big.shtml":       `<!--#include virtual="/inc/big.txt" -->|<!--#include virtual="/inc/a.html?q=1" -->|<!--#include virtual="/inc/a.html/more" -->|<!--#include virtual="/.hidden" -->|<!--#include virtual="/inc" -->`,
		"inc/big.txt":     bigInclude,
		".hidden":         "secret",
	})
	// Descriptors open on files (not sockets), but for the document root's
	// own, which the server keeps.
	fds := func() (n int) {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd here")
		}
		for _, e := range ents {
			if to, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(to, "/") && !strings.HasPrefix(to, "/dev/") {
				n++
			}
		}
		return n
	}
	want := map[string]string{
		"/static.txt": "static body\n",
		"/page.shtml": "A|IB|[an error occurred while processing this directive]",
		"/big.shtml":  bigInclude + "|A|[an error occurred while processing this directive]|[an error occurred while processing this directive]|IB",
	}
	ts.get("/static.txt") // the client's own connection is open from here on
	before := fds()
	for range 50 {
		for p, body := range want {
			if resp, got := ts.get(p); resp.StatusCode != 200 || got != body {
				t.Fatalf("%s: %d %q, want 200 %q", p, resp.StatusCode, got, body)
			}
		}
		if resp, got := ts.get("/dir/"); resp.StatusCode != 200 || !strings.Contains(got, "a.txt") {
			t.Fatalf("/dir/: %d, listing without a.txt", resp.StatusCode)
		}
		if resp, _ := ts.get("/missing.shtml"); resp.StatusCode != 404 {
			t.Fatalf("/missing.shtml: %d, want 404", resp.StatusCode)
		}
	}
	if after := fds(); after > before {
		t.Errorf("%d descriptors open after 200 requests, %d before", after, before)
	}
}

// ssiEnvFiles are pages and scripts that show what variables a page, a
// nested page and an included script see.
var ssiEnvFiles = map[string]string{
	"htdocs/q/top.shtml": `[A <!--#include virtual="sub.shtml?a=%41%20b" -->]
[B <!--#include virtual="sub.shtml" -->]
[E <!--#include virtual="sub.shtml?" -->]
[F <!--#include file="sub.shtml" -->]
[P QS=<!--#echo var="QUERY_STRING" --> QSU=<!--#echo var="QUERY_STRING_UNESCAPED" -->]
`,
	"htdocs/q/sub.shtml": `QS=<!--#echo var="QUERY_STRING" --> QSU=<!--#echo var="QUERY_STRING_UNESCAPED" --> ` +
		`DA=<!--#echo var="DOCUMENT_ARGS" --> DU=<!--#echo var="DOCUMENT_URI" --> RU=<!--#echo var="REQUEST_URI" -->`,
	"htdocs/q/penv.shtml": `<!--#include virtual="env.shtml?a=%41" -->`,
	"htdocs/q/env.shtml":  `<!--#printenv -->`,
	"htdocs/t/incenv.shtml": `<!--#set var="myvar" value="v" --><!--#include virtual="/cgi-bin/env.sh/p?a=1" -->
<!--#include virtual="/q/cgienv.shtml?n=%41" -->`,
	"htdocs/q/cgienv.shtml": `<!--#include virtual="/cgi-bin/env.sh" -->`,
	"htdocs/t/status.shtml": `1:<!--#include virtual="/cgi-bin/status.sh" -->|2:<!--#include virtual="/cgi-bin/away.sh" -->|3:<!--#include virtual="/cgi-bin/here.sh" -->|4:<!--#include virtual="/cgi-bin/s302.sh" -->|`,
	"htdocs/t/exec.shtml":   `1:<!--#exec cgi="/cgi-bin/away.sh" -->|2:<!--#exec cgi="/cgi-bin/status.sh" -->|3:<!--#exec cgi="/cgi-bin/s302.sh" -->|`,
	"htdocs/t/inc.txt":      "included text\n",
	"htdocs/t/empty/":       "",
	"htdocs/t/dirstat.shtml": `<!--#config sizefmt="bytes" timefmt="%s" -->` +
		`<!--#fsize virtual="/t/empty/" -->|<!--#flastmod virtual="/t/empty/" -->|<!--#fsize virtual="/t/empty" -->|<!--#include virtual="/t/empty/" -->|`,
	"htdocs/t/frag.shtml": `<!--#include virtual="/t/inc.txt#frag" -->|<!--#include virtual="inc.txt?a=1#frag" -->|<!--#fsize virtual="/t/inc.txt#x" -->|<!--#include file="inc.txt#x" -->|`,
	"cgi-bin/env.sh": `#!/bin/sh
printf 'Content-Type: text/plain\n\n'
echo "RU=$REQUEST_URI SP=$SERVER_PROTOCOL SN=$SCRIPT_NAME PI=$PATH_INFO QS=$QUERY_STRING DN=$DOCUMENT_NAME DU=$DOCUMENT_URI DA=$DOCUMENT_ARGS QSU=${QUERY_STRING_UNESCAPED-unset} MY=$myvar"
`,
	"cgi-bin/status.sh": `#!/bin/sh
printf 'Status: 404 Not Found\nContent-Type: text/plain\n\nnot found body\n'
`,
	"cgi-bin/away.sh": `#!/bin/sh
printf 'Location: http://example.com/a?b&c\n\nredirect body\n'
`,
	"cgi-bin/here.sh": `#!/bin/sh
printf 'Location: /t/inc.txt\n\n'
`,
	"cgi-bin/s302.sh": `#!/bin/sh
printf 'Status: 302 Found\nLocation: http://example.com/x\nContent-Type: text/plain\n\ns302 body\n'
`,
}

func startSSIEnvServer(t *testing.T, extra string) *testServer {
	t.Helper()
	conf := "[cgi]\ndirs = { \"/cgi-bin/\" = \"cgi-bin\" }\n" + extra
	ts := startServerWith(t, conf, ssiEnvFiles)
	for _, s := range []string{"env.sh", "status.sh", "away.sh", "here.sh", "s302.sh"} {
		must(t, os.Chmod(filepath.Join(ts.dir, "cgi-bin", s), 0o755))
	}
	return ts
}

// TestSSIFolderStat checks that fsize and flastmod of a folder named with
// its slash and without an index file give the folder's own, as Apache's
// do, and that it still cannot be included.
func TestSSIFolderStat(t *testing.T) {
	ts := startSSIEnvServer(t, "")
	fi, err := os.Stat(filepath.Join(ts.root, "t", "empty"))
	must(t, err)
	const errmsg = "[an error occurred while processing this directive]"
	want := commas(fi.Size()) + "|" + strconv.FormatInt(fi.ModTime().Unix(), 10) + "|" + errmsg + "|" + errmsg + "|"
	resp, body := ts.get("/t/dirstat.shtml")
	if body != want {
		t.Errorf("got %q, want %q", body, want)
	}
	if resp.Header.Get("ETag") != "" {
		t.Errorf("a page that shows a folder's size is cached")
	}
}

// commas writes n as sizefmt bytes does.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestSSIFragment checks that an include virtual drops the URI's
// fragment, with the cache on and off (a plain file then takes a shorter
// path), while include file takes a '#' as part of the name.
func TestSSIFragment(t *testing.T) {
	const errmsg = "[an error occurred while processing this directive]"
	want := "included text\n|included text\n| 14 |" + errmsg + "|"
	for _, conf := range []string{"", "[cache]\nenabled = false\n"} {
		ts := startSSIEnvServer(t, conf)
		if _, body := ts.get("/t/frag.shtml"); body != want {
			t.Errorf("%q: got %q, want %q", conf, body, want)
		}
	}
}

// TestSSIIncludeFileLiteral checks that include file, fsize file and
// flastmod file take a '?', a '#' or a '%' as part of the name, as
// Apache's do, where include virtual reads a URI.
func TestSSIIncludeFileLiteral(t *testing.T) {
	files := map[string]string{
		"htdocs/l/page.shtml": `<!--#include file="qm?x.txt" -->|<!--#include file="pct%41.txt" -->|<!--#fsize file="pct%41.txt" -->|` +
			`<!--#fsize file="h#x.txt" -->|<!--#include virtual="pct%41.txt" -->|<!--#include virtual="qm%3Fx.txt" -->|`,
		"htdocs/l/qm?x.txt":   "question\n",
		"htdocs/l/pct%41.txt": "percent\n",
		"htdocs/l/pctA.txt":   "A\n",
		"htdocs/l/h#x.txt":    "hash\n",
	}
	want := "question\n|percent\n|  8 |  5 |A\n|question\n|"
	for _, conf := range []string{"", "[cache]\nenabled = false\n"} {
		ts := startServerWith(t, conf, files)
		if _, body := ts.get("/l/page.shtml"); body != want {
			t.Errorf("%q: got %q, want %q", conf, body, want)
		}
	}
}

// TestSSINestedQuery checks that a page included with a query string sees
// it as QUERY_STRING and QUERY_STRING_UNESCAPED while every other variable
// stays the page's, as in Apache; and that it does not leak into the page
// or later includes, as it does in Apache.
func TestSSINestedQuery(t *testing.T) {
	ts := startSSIEnvServer(t, "")
	sub := func(qs, qsu, da, ru string) string {
		return "QS=" + qs + " QSU=" + qsu + " DA=" + da + " DU=/q/top.shtml RU=" + ru
	}
	tests := []struct {
		target, qs, qsu string
	}{
		{"/q/top.shtml?x=1", "x=1", "x=1"},
		{"/q/top.shtml", "", "(none)"},
		{"/q/top.shtml?", "", ""},
	}
	for _, tt := range tests {
		want := "[A " + sub("a=%41%20b", "a=A b", tt.qs, tt.target) + "]\n" +
			"[B " + sub(tt.qs, tt.qsu, tt.qs, tt.target) + "]\n" +
			"[E " + sub("", "", tt.qs, tt.target) + "]\n" +
			"[F " + sub(tt.qs, tt.qsu, tt.qs, tt.target) + "]\n" +
			"[P QS=" + tt.qs + " QSU=" + tt.qsu + "]\n"
		if _, body := ts.get(tt.target); body != want {
			t.Errorf("%s:\ngot  %q\nwant %q", tt.target, body, want)
		}
	}
	_, body := ts.get("/q/penv.shtml?top=1")
	for _, line := range []string{"\nQUERY_STRING=a=%41\n", "\nQUERY_STRING_UNESCAPED=a=A\n", "\nREQUEST_URI=/q/penv.shtml?top=1\n", "\nDOCUMENT_ARGS=top=1\n"} {
		if !strings.Contains(body, line) {
			t.Errorf("printenv of a page included with a query lacks %q:\n%s", line, body)
		}
	}
}

// TestSSIQueryUnescapedUndefined checks that QUERY_STRING_UNESCAPED is
// undefined for a request without a '?', and empty with a bare '?'.
func TestSSIQueryUnescapedUndefined(t *testing.T) {
	ts := startSSIEnvServer(t, "")
	for target, want := range map[string]string{"/q/env.shtml": "", "/q/env.shtml?": "\nQUERY_STRING_UNESCAPED=\n", "/q/env.shtml?a%20b": "\nQUERY_STRING_UNESCAPED=a b\n"} {
		_, body := ts.get(target)
		got := ""
		if i := strings.Index(body, "\nQUERY_STRING_UNESCAPED="); i >= 0 {
			got = body[i:]
			got = got[:strings.IndexByte(got[1:], '\n')+2]
		}
		if got != want {
			t.Errorf("%s: printenv shows %q, want %q", target, got, want)
		}
	}
}

// TestRenderSSIQuery checks the query of the pwebs ssi command: none, an
// empty one ("?") or one given with or without its '?'; and that a
// message's control bytes reach the terminal escaped.
func TestRenderSSIQuery(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"pwebs.conf":       "document_root = \"htdocs\"\n[log]\naccess = \"\"\nerror = \"-\"\n",
		"htdocs/q.shtml":   `QS=<!--#echo var="QUERY_STRING" --> QSU=<!--#echo var="QUERY_STRING_UNESCAPED" --> RU=<!--#echo var="REQUEST_URI" -->`,
		"htdocs/bad.shtml": "<!--#include virtual=\"/no\x01pe\" -->",
	})
	cfg, err := LoadConfig(filepath.Join(dir, "pwebs.conf"), nil)
	must(t, err)
	for query, want := range map[string]string{
		"":       "QS= QSU=(none) RU=/q.shtml",
		"?":      "QS= QSU= RU=/q.shtml?",
		"a=%41":  "QS=a=%41 QSU=a=A RU=/q.shtml?a=%41",
		"?a=%41": "QS=a=%41 QSU=a=A RU=/q.shtml?a=%41",
	} {
		var out, errw strings.Builder
		n, err := RenderSSI(cfg, "/q.shtml", query, &out, &errw)
		if err != nil || n != 0 || out.String() != want {
			t.Errorf("query %q: %d %v %q, want %q (%s)", query, n, err, out.String(), want, errw.String())
		}
	}
	var out, errw strings.Builder
	if n, _ := RenderSSI(cfg, "/bad.shtml", "", &out, &errw); n != 1 || !strings.Contains(errw.String(), `"/no\x01pe"`) {
		t.Errorf("%d problems, messages %q: want the control byte escaped", n, errw.String())
	}
}

// TestSSIIncludedCGIEnv checks the environment of a script a page
// includes: Apache's for a subrequest of the page.
func TestSSIIncludedCGIEnv(t *testing.T) {
	ts := startSSIEnvServer(t, "")
	_, body := ts.get("/t/incenv.shtml?top=%41")
	want := "RU=/t/incenv.shtml?top=%41 SP=INCLUDED SN=/cgi-bin/env.sh PI=/p QS=a=1 DN=incenv.shtml DU=/t/incenv.shtml DA=top=%41 QSU=top=A MY=v\n" +
		"\nRU=/t/incenv.shtml?top=%41 SP=INCLUDED SN=/cgi-bin/env.sh PI= QS= DN=incenv.shtml DU=/t/incenv.shtml DA=top=%41 QSU=n=A MY=v\n"
	if body != want {
		t.Errorf("with a query:\ngot  %q\nwant %q", body, want)
	}
	_, body = ts.get("/t/incenv.shtml")
	if first, _, _ := strings.Cut(body, "\n"); !strings.Contains(first, " DA= QSU=unset ") {
		t.Errorf("without a query, QUERY_STRING_UNESCAPED is set: %q", first)
	}
}

// TestSSIIncludedCGIStatus checks that an included script's body is
// included whatever its status, that a redirect to another site is an
// error (a link for exec cgi), and that a local one is followed.
func TestSSIIncludedCGIStatus(t *testing.T) {
	ts := startSSIEnvServer(t, "[ssi]\nexec = true\n")
	const errmsg = "[an error occurred while processing this directive]"
	if _, body := ts.get("/t/status.shtml"); body != "1:not found body\n|2:"+errmsg+"|3:included text\n|4:s302 body\n|" {
		t.Errorf("include virtual: %q", body)
	}
	waitFor(t, "the redirect in the error log", func() bool {
		return strings.Contains(ts.errlog.String(), "away.sh redirected to http://example.com/a?b&c")
	})
	want := `1:<a href="http://example.com/a?b&amp;c">http://example.com/a?b&amp;c</a>|2:not found body` + "\n|3:s302 body\n|"
	if _, body := ts.get("/t/exec.shtml"); body != want {
		t.Errorf("exec cgi:\ngot  %q\nwant %q", body, want)
	}
}

// TestSSIExecCGIQuery checks that exec cgi gives the script the page's
// query string and path info, and refuses a URI with its own, as Apache
// does.
func TestSSIExecCGIQuery(t *testing.T) {
	ts := startServerWith(t, "[cgi]\ndirs = { \"/cgi-bin/\" = \"cgi-bin\" }\n[ssi]\nexec = true\n", map[string]string{
		"htdocs/x.shtml": `1:<!--#exec cgi="/cgi-bin/q.sh" -->|2:<!--#exec cgi="/cgi-bin/q.sh?a=1" -->|3:<!--#exec cgi="/cgi-bin/q.sh/p" -->|`,
		"cgi-bin/q.sh":   "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nQS=%s PI=%s' \"$QUERY_STRING\" \"$PATH_INFO\"\n",
	})
	must(t, os.Chmod(filepath.Join(ts.dir, "cgi-bin", "q.sh"), 0o755))
	const errmsg = "[an error occurred while processing this directive]"
	want := "1:QS=top=1 PI=|2:" + errmsg + "|3:" + errmsg + "|"
	if _, body := ts.get("/x.shtml?top=1"); body != want {
		t.Errorf("got %q, want %q", body, want)
	}
}

// TestSSIPrintenvOrder checks that printenv lists the variables in
// Apache's order: the request's header fields, then the server's, the
// CGI ones and the page's.
func TestSSIPrintenvOrder(t *testing.T) {
	ts := startSSIEnvServer(t, "")
	_, body := ts.get("/q/env.shtml?a=b", "X-Foo", "1")
	var headers, names []string
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		name, _, _ := strings.Cut(line, "=")
		if strings.HasPrefix(name, "HTTP_") && len(names) == 0 {
			headers = append(headers, name)
			continue
		}
		names = append(names, name)
	}
	if len(headers) == 0 || headers[0] != "HTTP_HOST" || !slices.Contains(headers, "HTTP_X_FOO") {
		t.Errorf("the header fields do not come first, in their order: %q", headers)
	}
	want := []string{"PATH", "SERVER_SIGNATURE", "SERVER_SOFTWARE", "SERVER_NAME", "SERVER_ADDR", "SERVER_PORT",
		"REMOTE_HOST", "REMOTE_ADDR", "DOCUMENT_ROOT", "REQUEST_SCHEME", "CONTEXT_PREFIX", "CONTEXT_DOCUMENT_ROOT",
		"SERVER_ADMIN", "SCRIPT_FILENAME", "REMOTE_PORT", "GATEWAY_INTERFACE", "SERVER_PROTOCOL", "REQUEST_METHOD",
		"QUERY_STRING", "REQUEST_URI", "SCRIPT_NAME", "DATE_LOCAL", "DATE_GMT", "LAST_MODIFIED", "DOCUMENT_URI",
		"DOCUMENT_ARGS", "USER_NAME", "DOCUMENT_NAME", "QUERY_STRING_UNESCAPED"}
	if !slices.Equal(names, want) {
		t.Errorf("printenv order:\ngot  %q\nwant %q", names, want)
	}
}
