package serve

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cgiConf is the [cgi] section of the CGI tests, with the interpreters
// that are installed.
func cgiConf(extra string) string {
	c := "[cgi]\ndirs = { \"/cgi-bin/\" = \"cgi-bin\" }\nextensions = [\".cgi\"]\ntimeout = \"2s\"\n" + extra + "[cgi.interpreters]\n"
	for ext, prog := range map[string]string{".pl": "/usr/bin/perl", ".py": "/usr/bin/python3", ".php": "/usr/bin/php-cgi"} {
		if _, err := os.Stat(prog); err == nil {
			c += fmt.Sprintf("%q = %q\n", ext, prog)
		}
	}
	return c
}

// needProgram skips (or, with PWEBS_REQUIRE_ALL=1, fails) a test whose
// interpreter is missing.
func needProgram(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		requireTool(t, path)
	}
}

// scripts are the CGI test scripts: name (relative to the config folder)
// to source. Every one is made executable.
var scripts = map[string]string{
	"cgi-bin/hello.sh": `#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
echo "hello from sh"
`,
	"cgi-bin/env.sh": `#!/bin/sh
printf 'Content-Type: text/plain\n\n'
env | sort
`,
	"cgi-bin/stream.sh": `#!/bin/sh
printf 'Content-Type: text/plain\n\n'
echo line 1
sleep 1
echo line 2
`,
	"cgi-bin/hang.sh": `#!/bin/sh
sleep 30 &
sleep 30
`,
	"cgi-bin/early-exit.sh": `#!/bin/sh
echo "something broke" >&2
exit 3
`,
	"cgi-bin/garbage.sh": `#!/bin/sh
echo "this is not a header"
echo
`,
	"cgi-bin/echo-body.sh": `#!/bin/sh
printf 'Content-Type: text/plain\n\n'
echo "len=$CONTENT_LENGTH"
sha256sum | cut -d' ' -f1
`,
	"cgi-bin/echo-uri.sh": `#!/bin/sh
printf 'Content-Type: text/plain\n\n'
echo "uri=$REQUEST_URI len=$CONTENT_LENGTH"
sha256sum | cut -d' ' -f1
`,
	"cgi-bin/loop.sh": `#!/bin/sh
echo run >> "$DOCUMENT_ROOT/../loop-runs"
printf 'Location: /cgi-bin/loop.sh\n\n'
`,
	"cgi-bin/redirect-env.sh": `#!/bin/sh
printf 'Location: /cgi-bin/env.sh?from=redirect\n\n'
`,
	"cgi-bin/badshebang.sh": "#!/nonexistent/interpreter\necho never\n",
	"cgi-bin/dupct.sh": `#!/bin/sh
printf 'Content-Type: text/plain\nContent-Type: text/html\n\nx'
`,
	"cgi-bin/redirect-local.sh": `#!/bin/sh
printf 'Location: /digits.txt?from=script\n\n'
`,
	"cgi-bin/redirect-status.sh": `#!/bin/sh
printf 'Status: 303 See Other\nLocation: /elsewhere\nContent-Type: text/plain\n\nmoved\n'
`,
	"cgi-bin/redirect-abs.sh": `#!/bin/sh
printf 'Location: http://example.org/x\n\n'
`,
	"cgi-bin/headers.sh": `#!/bin/sh
printf 'Status: 201 Created\nContent-Type: text/x-test\nSet-Cookie: a=1\nSet-Cookie: b=2\nX-Script: yes\nContent-Length: 3\n\nabc'
`,
	"cgi-bin/nph-raw.sh": `#!/bin/sh
printf 'HTTP/1.1 202 Accepted\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nraw!'
`,
	"cgi-bin/nph-linger.sh": `#!/bin/sh
printf 'HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nnph\n'
sleep 2
`,
	"cgi-bin/stderr.sh": `#!/bin/sh
echo "a warning from the script" >&2
printf 'Content-Type: text/plain\n\nok'
`,
	"cgi-bin/long.sh": `#!/bin/sh
printf 'Content-Type: text/plain\n\n'
i=0
while [ $i -lt 200 ]; do echo "line $i"; i=$((i+1)); sleep 0.05; done
`,
	"htdocs/app/run.cgi": `#!/bin/sh
printf 'Content-Type: text/plain\n\n'
echo "script=$SCRIPT_NAME info=$PATH_INFO uri=$REQUEST_URI"
`,
	"htdocs/noexec.cgi": "#!/bin/sh\necho secret source\n",
	"htdocs/hello.pl": `print "Content-Type: text/plain\n\n";
print "perl: $ENV{QUERY_STRING}\n";
print STDERR "perl says hi\n";
`,
	"htdocs/hello.py": `import os, sys
data = sys.stdin.read()
sys.stdout.write("Content-Type: text/plain\n\n")
sys.stdout.write("python: %s %d\n" % (os.environ.get("REQUEST_METHOD"), len(data)))
`,
	"htdocs/blog/index.php": `<?php
header("X-PHP: yes");
echo "php self=", $_SERVER["PHP_SELF"], " script=", $_SERVER["SCRIPT_NAME"], " uri=", $_SERVER["REQUEST_URI"];
echo " info=", $_SERVER["PATH_INFO"] ?? "", " get=", $_GET["x"] ?? "", "\n";
`,
	"htdocs/form.php": `<?php
echo "name=", $_POST["name"] ?? "", " method=", $_SERVER["REQUEST_METHOD"], "\n";
if (isset($_FILES["up"])) {
  echo "file=", $_FILES["up"]["name"], " size=", $_FILES["up"]["size"], " sha=", hash_file("sha256", $_FILES["up"]["tmp_name"]), "\n";
}
setcookie("flavour", "oat");
echo "cookie=", $_COOKIE["c"] ?? "", "\n";
`,
	"htdocs/session.php": `<?php
session_start();
$_SESSION["n"] = ($_SESSION["n"] ?? 0) + 1;
echo "visits=", $_SESSION["n"], "\n";
`,
	"htdocs/redirect.php": `<?php
header("Location: /digits.txt");
`,
}

func startCGIServer(t *testing.T, extra string) *testServer {
	t.Helper()
	return startCGIServerTop(t, "", extra)
}

// startCGIServerTop is startCGIServer with top-level keys too.
func startCGIServerTop(t *testing.T, top, extra string) *testServer {
	t.Helper()
	return startCGIServerFiles(t, top, extra, nil)
}

// startCGIServerFiles is startCGIServerTop with more files, written before
// the config is loaded (names relative to the config's folder).
func startCGIServerFiles(t *testing.T, top, extra string, more map[string]string) *testServer {
	t.Helper()
	files := map[string]string{"htdocs/digits.txt": "0123456789"}
	for k, v := range scripts {
		files[k] = v
	}
	for k, v := range more {
		files[k] = v
	}
	ts := startServerWith(t, top+cgiConf(extra), files)
	for name := range scripts {
		if name != "htdocs/noexec.cgi" && !strings.HasSuffix(name, ".php") && !strings.HasSuffix(name, ".pl") && !strings.HasSuffix(name, ".py") {
			must(t, os.Chmod(filepath.Join(ts.dir, name), 0o755))
		}
	}
	return ts
}

func envOf(body string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(body, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func TestCGIHelloAndEnv(t *testing.T) {
	ts := startCGIServer(t, "")
	resp, body := ts.get("/cgi-bin/hello.sh")
	if resp.StatusCode != 200 || body != "hello from sh\n" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("hello: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
	resp, body = ts.get("/cgi-bin/env.sh/extra/caf%C3%A9?x=1&y=%20z", "X-Foo", "a", "Proxy", "http://evil/", "Authorization", "Basic Zm9vOmJhcg==")
	env := envOf(body)
	want := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"REQUEST_METHOD":    "GET",
		"SCRIPT_NAME":       "/cgi-bin/env.sh",
		"PATH_INFO":         "/extra/café",
		"QUERY_STRING":      "x=1&y=%20z",
		"REQUEST_URI":       "/cgi-bin/env.sh/extra/caf%C3%A9?x=1&y=%20z",
		"SERVER_PROTOCOL":   "HTTP/1.1",
		"SERVER_SOFTWARE":   "pwebs/" + Version,
		"REMOTE_ADDR":       "127.0.0.1",
		"SERVER_ADDR":       "127.0.0.1",
		"REDIRECT_STATUS":   "200",
		"HTTP_X_FOO":        "a",
		"DOCUMENT_ROOT":     ts.root,
		"SCRIPT_FILENAME":   filepath.Join(ts.dir, "cgi-bin", "env.sh"),
		"CONTEXT_PREFIX":    "/cgi-bin/",
		"REQUEST_SCHEME":    "http",
		"PATH":              "/usr/local/bin:/usr/bin:/bin",
		"PATH_TRANSLATED":   ts.root + "/extra/café",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	for _, k := range []string{"HTTP_PROXY", "HTTP_AUTHORIZATION", "REMOTE_USER", "HTTPS"} {
		if _, ok := env[k]; ok {
			t.Errorf("%s is set", k)
		}
	}
	if env["REMOTE_PORT"] == "" || env["SERVER_PORT"] == "" || env["SERVER_NAME"] == "" {
		t.Errorf("REMOTE_PORT %q SERVER_PORT %q SERVER_NAME %q", env["REMOTE_PORT"], env["SERVER_PORT"], env["SERVER_NAME"])
	}
	// SERVER_PROTOCOL is what was spoken.
	raw := ts.roundTrip("GET /cgi-bin/env.sh HTTP/1.0\r\n\r\n")
	if !strings.Contains(raw, "SERVER_PROTOCOL=HTTP/1.0") {
		t.Errorf("HTTP/1.0 request: %q", raw)
	}
}

func TestCGIExtensionScripts(t *testing.T) {
	ts := startCGIServer(t, "")
	resp, body := ts.get("/app/run.cgi/a/b?q")
	if resp.StatusCode != 200 || body != "script=/app/run.cgi info=/a/b uri=/app/run.cgi/a/b?q\n" {
		t.Errorf("extension script: %d %q", resp.StatusCode, body)
	}
	resp, body = ts.get("/app/run.cgi/")
	if resp.StatusCode != 200 || !strings.Contains(body, "info=/ ") {
		t.Errorf("trailing slash: %d %q", resp.StatusCode, body)
	}
	// The source of a script is never sent, whatever the URL form.
	for _, p := range []string{"/noexec.cgi", "/noexec.cgi.", "/noexec%2ecgi", "/NOEXEC.CGI", "/noexec.cgi::$DATA", "/noexec.cgi/", "/noexec.cgi%00", "/cgi-bin/", "/cgi-bin", "/cgi-bin/hello.sh%00.txt"} {
		raw := ts.roundTrip("GET " + p + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if strings.Contains(raw, "secret source") || strings.Contains(raw, "#!/bin/sh") {
			t.Errorf("%s: the script's source was sent", p)
		}
		if st := statusOfRaw(raw); st == "200" {
			t.Errorf("%s: status 200", p)
		}
	}
	resp, _ = ts.get("/noexec.cgi")
	if resp.StatusCode != 403 {
		t.Errorf("not executable: %d, want 403", resp.StatusCode)
	}
	resp, _ = ts.get("/cgi-bin/missing.sh")
	if resp.StatusCode != 404 {
		t.Errorf("missing script: %d, want 404", resp.StatusCode)
	}
}

func TestCGIInterpreters(t *testing.T) {
	ts := startCGIServer(t, "")
	t.Run("perl", func(t *testing.T) {
		needProgram(t, "/usr/bin/perl")
		resp, body := ts.get("/hello.pl?a=b")
		if resp.StatusCode != 200 || body != "perl: a=b\n" {
			t.Errorf("perl: %d %q", resp.StatusCode, body)
		}
		waitFor(t, "perl's stderr in the error log", func() bool { return strings.Contains(ts.errlog.String(), "perl says hi") })
	})
	t.Run("python", func(t *testing.T) {
		needProgram(t, "/usr/bin/python3")
		resp, body := ts.do("POST", "/hello.py", strings.NewReader("12345"))
		if resp.StatusCode != 200 || body != "python: POST 5\n" {
			t.Errorf("python: %d %q", resp.StatusCode, body)
		}
	})
}

func TestCGIStreaming(t *testing.T) {
	ts := startCGIServer(t, "")
	for _, proto := range []string{"HTTP/1.1", "HTTP/1.0"} {
		rc := ts.dial()
		start := time.Now()
		rc.send("GET /cgi-bin/stream.sh " + proto + "\r\nHost: x\r\n\r\n")
		var got []string
		var firstAt time.Duration
		for {
			line, err := rc.br.ReadString('\n')
			if err != nil {
				break
			}
			if strings.HasPrefix(line, "line 1") {
				firstAt = time.Since(start)
			}
			got = append(got, line)
			if strings.HasPrefix(line, "line 2") || strings.HasPrefix(line, "0\r") {
				if proto == "HTTP/1.1" && strings.HasPrefix(line, "line 2") {
					continue
				}
				if proto == "HTTP/1.1" {
					break
				}
			}
		}
		all := strings.Join(got, "")
		if !strings.Contains(all, "line 1") || !strings.Contains(all, "line 2") {
			t.Fatalf("%s: %q", proto, all)
		}
		if proto == "HTTP/1.1" && !strings.Contains(all, "Transfer-Encoding: chunked") {
			t.Errorf("HTTP/1.1 stream is not chunked:\n%s", all)
		}
		if proto == "HTTP/1.0" && strings.Contains(all, "chunked") {
			t.Errorf("HTTP/1.0 stream is chunked")
		}
		// The first line arrives while the script still sleeps.
		if firstAt == 0 || firstAt > 900*time.Millisecond {
			t.Errorf("%s: first line after %v: output is not streamed", proto, firstAt)
		}
	}
}

func TestCGIBody(t *testing.T) {
	ts := startCGIServer(t, "")
	data := bytes.Repeat([]byte("0123456789abcdef"), 40000) // 640,000 bytes
	sum := sha256.Sum256(data)
	want := fmt.Sprintf("len=%d\n%s\n", len(data), hex.EncodeToString(sum[:]))
	resp, body := ts.do("POST", "/cgi-bin/echo-body.sh", bytes.NewReader(data))
	if resp.StatusCode != 200 || body != want {
		t.Errorf("known length: %d %q", resp.StatusCode, body)
	}
	// Chunked, written by hand in odd pieces, with Expect: 100-continue.
	rc := ts.dial()
	rc.send("POST /cgi-bin/echo-body.sh HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n")
	line, _ := rc.br.ReadString('\n')
	if line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("no 100 Continue: %q", line)
	}
	rc.br.ReadString('\n')
	w := bufio.NewWriter(rc.nc)
	for off := 0; off < len(data); {
		n := min(len(data)-off, 1+off%7919)
		fmt.Fprintf(w, "%x\r\n", n)
		w.Write(data[off : off+n])
		w.WriteString("\r\n")
		off += n
	}
	w.WriteString("0\r\n\r\n")
	must(t, w.Flush())
	resp, body = rc.read("POST")
	if resp.StatusCode != 200 || body != want {
		t.Errorf("chunked: %d %q, want %q", resp.StatusCode, body, want)
	}
	// The connection goes on after a script's response.
	rc.send("GET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body = rc.read("GET"); body != "0123456789" {
		t.Errorf("after a script: %q", body)
	}
}

// TestBodySizes: bodies around the read buffer's sizes, with a length and
// chunked, reach the script whole, and the request head (which the
// environment and the access log are made from) is intact after them.
func TestBodySizes(t *testing.T) {
	ts := startCGIServerTop(t, "[log]\naccess = \"logs/access_log\"\nerror = \"-\"\n", "")
	var want []string
	for _, n := range []int{1, 3000, 3900, 4000, 4096, 5000, 8000, 12000, 16384, 16385, 20000, 70000} {
		data := bytes.Repeat([]byte("x"), n)
		sum := sha256.Sum256(data)
		hash := hex.EncodeToString(sum[:])
		for _, chunked := range []bool{false, true} {
			uri := fmt.Sprintf("/cgi-bin/echo-uri.sh?n=%d&chunked=%v", n, chunked)
			head := "POST " + uri + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
			var raw string
			if chunked {
				raw = head + "Transfer-Encoding: chunked\r\n\r\n"
				for off := 0; off < n; off += 3000 {
					piece := data[off:min(n, off+3000)]
					raw += fmt.Sprintf("%x\r\n%s\r\n", len(piece), piece)
				}
				raw += "0\r\n\r\n"
			} else {
				raw = head + fmt.Sprintf("Content-Length: %d\r\n\r\n", n) + string(data)
			}
			rc := ts.dial()
			rc.send(raw)
			resp, body := rc.read("POST")
			wantBody := fmt.Sprintf("uri=%s len=%d\n%s\n", uri, n, hash)
			if resp.StatusCode != 200 || body != wantBody {
				t.Errorf("%d bytes, chunked %v: %d %q, want %q", n, chunked, resp.StatusCode, body, wantBody)
			}
			// A static file asked with a body of that size.
			rc.send(fmt.Sprintf("GET /digits.txt?n=%d HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", n, n, data))
			if resp, body = rc.read("GET"); resp.StatusCode != 200 || body != "0123456789" {
				t.Errorf("static with %d bytes: %d %q", n, resp.StatusCode, body)
			}
			rc.nc.Close()
			want = append(want, "POST "+uri+" HTTP/1.1", fmt.Sprintf("GET /digits.txt?n=%d HTTP/1.1", n))
		}
	}
	ts.flushLogs()
	lines := readLogs(t, filepath.Join(ts.dir, "logs", "access_log"))
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d", len(lines), len(want))
	}
	for i, l := range lines {
		if m := combinedRE.FindStringSubmatch(l); m == nil || m[5] != want[i] || m[6] != "200" {
			t.Errorf("line %d: %q, want %q and 200", i, l, want[i])
		}
	}
}

// TestCGIRedirectsAndFaults: internal redirects are bounded and keep a
// HEAD a HEAD; the redirected GET has no body; scripts that cannot run, or
// send a field twice, or whose body cannot be read, get the right answer.
func TestCGIRedirectsAndFaults(t *testing.T) {
	ts := startCGIServerTop(t, "max_body_bytes = \"1KiB\"\n[[vhost]]\nnames = [\"big.example\"]\ndocument_root = \"htdocs\"\nmax_body_bytes = \"1MiB\"\n", "")
	// A script that redirects to itself: 500 after the limit.
	resp, _ := ts.get("/cgi-bin/loop.sh")
	if resp.StatusCode != 500 {
		t.Errorf("redirect loop: status %d, want 500", resp.StatusCode)
	}
	runs, _ := os.ReadFile(filepath.Join(ts.dir, "loop-runs"))
	if n := strings.Count(string(runs), "run"); n != maxRedirects {
		t.Errorf("the looping script ran %d times, want %d", n, maxRedirects)
	}
	// HEAD through a local redirect: no body, and the next request on the
	// connection is answered as itself.
	for _, target := range []string{"/cgi-bin/redirect-local.sh", "/cgi-bin/redirect-env.sh"} {
		rc := ts.dial()
		rc.send("HEAD " + target + " HTTP/1.1\r\nHost: x\r\n\r\nGET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, body := rc.read("HEAD"); resp.StatusCode != 200 || body != "" {
			t.Errorf("HEAD %s: %d %q", target, resp.StatusCode, body)
		}
		if _, body := rc.read("GET"); body != "0123456789" {
			t.Errorf("after HEAD %s: %q", target, body)
		}
	}
	// A POST redirected: the target's GET has no body, hence no
	// CONTENT_LENGTH (RFC 3875 4.1.2).
	resp, body := ts.do("POST", "/cgi-bin/redirect-env.sh", strings.NewReader("a=1"), "Content-Type", "application/x-www-form-urlencoded")
	env := envOf(body)
	if _, ok := env["CONTENT_LENGTH"]; resp.StatusCode != 200 || ok || env["REQUEST_METHOD"] != "GET" || env["QUERY_STRING"] != "from=redirect" {
		t.Errorf("redirected POST: %d CONTENT_LENGTH %q method %q query %q", resp.StatusCode, env["CONTENT_LENGTH"], env["REQUEST_METHOD"], env["QUERY_STRING"])
	}
	// "/script/": the slash is PATH_INFO.
	_, body = ts.get("/cgi-bin/env.sh/")
	if env := envOf(body); env["SCRIPT_NAME"] != "/cgi-bin/env.sh" || env["PATH_INFO"] != "/" {
		t.Errorf("trailing slash: SCRIPT_NAME %q PATH_INFO %q", env["SCRIPT_NAME"], env["PATH_INFO"])
	}
	// An absolute-form target: its host is HTTP_HOST.
	raw := ts.roundTrip("GET http://" + ts.addr + "/cgi-bin/env.sh HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
	if !strings.Contains(raw, "\nHTTP_HOST="+ts.addr+"\n") {
		t.Errorf("absolute form: HTTP_HOST is not %s:\n%s", ts.addr, raw)
	}
	// A #! line naming a missing interpreter is the script's fault.
	if resp, _ := ts.get("/cgi-bin/badshebang.sh"); resp.StatusCode != 500 {
		t.Errorf("bad #! line: status %d, want 500", resp.StatusCode)
	}
	// Content-Type twice: one field, the last value.
	if resp, _ := ts.get("/cgi-bin/dupct.sh"); len(resp.Header.Values("Content-Type")) != 1 || resp.Header.Get("Content-Type") != "text/html" {
		t.Errorf("Content-Type sent twice: %q", resp.Header.Values("Content-Type"))
	}
	// Chunked bodies: over max_body_bytes is 413, a bad chunk 400; the
	// site's own max_body_bytes applies.
	big := strings.Repeat("x", 2000)
	chunked := func(host, sizeLine string) string {
		return ts.roundTrip("POST /cgi-bin/echo-body.sh HTTP/1.1\r\nHost: " + host + "\r\nTransfer-Encoding: chunked\r\n\r\n" + sizeLine + "\r\n" + big + "\r\n0\r\n\r\n")
	}
	if got := statusOfRaw(chunked("x", "7d0")); got != "413" {
		t.Errorf("chunked body over the limit: %s, want 413", got)
	}
	if got := statusOfRaw(chunked("x", "zz")); got != "400" {
		t.Errorf("bad chunk size: %s, want 400", got)
	}
	if got := statusOfRaw(chunked("big.example", "7d0")); got != "200" {
		t.Errorf("chunked body within the site's limit: %s, want 200", got)
	}
	resp, _ = ts.do("POST", "/cgi-bin/echo-body.sh", strings.NewReader(big), "Host", "big.example")
	if resp.StatusCode != 200 {
		t.Errorf("body within the site's limit: %d, want 200", resp.StatusCode)
	}
	resp, _ = ts.do("POST", "/cgi-bin/echo-body.sh", strings.NewReader(big))
	if resp.StatusCode != 413 {
		t.Errorf("body over the limit: %d, want 413", resp.StatusCode)
	}
}

// TestNPHClientLeaves: a client that leaves once it has an nph- script's
// whole response, while the script still runs, is logged with the status
// the script sent.
func TestNPHClientLeaves(t *testing.T) {
	ts := startCGIServerTop(t, "[log]\naccess = \"logs/access_log\"\nerror = \"-\"\n", "")
	rc := ts.dial()
	rc.send("GET /cgi-bin/nph-linger.sh HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := rc.read("GET"); resp.StatusCode != 201 || body != "nph\n" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	rc.nc.Close()
	time.Sleep(200 * time.Millisecond)
	ts.flushLogs()
	lines := readLogs(t, filepath.Join(ts.dir, "logs", "access_log"))
	if len(lines) != 1 {
		t.Fatalf("%d lines", len(lines))
	}
	if m := combinedRE.FindStringSubmatch(lines[0]); m == nil || m[6] != "201" {
		t.Errorf("line %q, want status 201", lines[0])
	}
}

func TestCGIResponses(t *testing.T) {
	ts := startCGIServer(t, "")
	resp, body := ts.get("/cgi-bin/redirect-local.sh")
	if resp.StatusCode != 200 || body != "0123456789" {
		t.Errorf("local redirect: %d %q", resp.StatusCode, body)
	}
	resp, body = ts.get("/cgi-bin/redirect-status.sh")
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/elsewhere" || body != "moved\n" {
		t.Errorf("redirect with status: %d %q %q", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	resp, _ = ts.get("/cgi-bin/redirect-abs.sh")
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "http://example.org/x" {
		t.Errorf("absolute redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body = ts.get("/cgi-bin/headers.sh")
	if resp.StatusCode != 201 || resp.Header.Get("X-Script") != "yes" || len(resp.Header.Values("Set-Cookie")) != 2 ||
		resp.Header.Get("Content-Type") != "text/x-test" || body != "abc" || resp.Header.Get("Content-Length") != "3" {
		t.Errorf("headers: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	resp, body = ts.do("HEAD", "/cgi-bin/hello.sh", nil)
	if resp.StatusCode != 200 || body != "" {
		t.Errorf("HEAD: %d %q", resp.StatusCode, body)
	}
	raw := ts.roundTrip("GET /cgi-bin/nph-raw.sh HTTP/1.1\r\nHost: x\r\n\r\n")
	if !strings.HasPrefix(raw, "HTTP/1.1 202 Accepted\r\n") || !strings.HasSuffix(raw, "raw!") || strings.Contains(raw, "Server: pwebs") {
		t.Errorf("nph: %q", raw)
	}
}

func TestCGIFailures(t *testing.T) {
	ts := startCGIServer(t, "")
	resp, body := ts.get("/cgi-bin/early-exit.sh")
	if resp.StatusCode != 500 || !strings.Contains(body, "500 Internal Server Error") {
		t.Errorf("early exit: %d", resp.StatusCode)
	}
	waitFor(t, "the failure record", func() bool {
		l := ts.errlog.String()
		return strings.Contains(l, "early-exit.sh") && strings.Contains(l, "something broke") && strings.Contains(l, "3")
	})
	resp, _ = ts.get("/cgi-bin/garbage.sh")
	if resp.StatusCode != 500 {
		t.Errorf("garbage header: %d", resp.StatusCode)
	}
	ts.get("/cgi-bin/stderr.sh")
	waitFor(t, "stderr in the error log", func() bool {
		return strings.Contains(ts.errlog.String(), "a warning from the script") && strings.Contains(ts.errlog.String(), "stderr.sh")
	})
	start := time.Now()
	resp, _ = ts.get("/cgi-bin/hang.sh")
	if resp.StatusCode != 504 {
		t.Errorf("hung script: %d, want 504", resp.StatusCode)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the timeout took %v", d)
	}
	waitFor(t, "the hung script's processes to be gone", func() bool { return len(childProcesses(t)) == 0 })
}

// childProcesses lists the processes whose parent is this test process
// (running or zombie): scripts and what they left behind.
func childProcesses(t *testing.T) []string {
	t.Helper()
	me := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		rest := s[strings.LastIndexByte(s, ')')+2:]
		f := strings.Fields(rest)
		if ppid, _ := strconv.Atoi(f[1]); ppid == me {
			out = append(out, fmt.Sprintf("%d %s %s", pid, s[strings.IndexByte(s, '(')+1:strings.LastIndexByte(s, ')')], f[0]))
		}
	}
	return out
}

// TestCGIClientsLeave has 200 clients leave in the middle of a streamed
// response: every script is stopped and reaped, no zombie is left.
func TestCGIClientsLeave(t *testing.T) {
	ts := startCGIServer(t, "max_processes = 64\n")
	for i := 0; i < 200; i++ {
		nc, err := net.Dial("tcp", ts.addr)
		must(t, err)
		fmt.Fprintf(nc, "GET /cgi-bin/long.sh HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(nc)
		for {
			line, err := br.ReadString('\n')
			if err != nil || strings.HasPrefix(line, "line 0") {
				break
			}
		}
		nc.Close()
		if i%50 == 49 {
			waitFor(t, "scripts of clients that left to be stopped", func() bool { return len(childProcesses(t)) == 0 })
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		left := childProcesses(t)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestCGIMissingInterpreter(t *testing.T) {
	files := map[string]string{"htdocs/x.rb": "puts 1"}
	ts := startServerWith(t, "[cgi]\n[cgi.interpreters]\n\".rb\" = \"/nonexistent/ruby\"\n", files)
	if len(ts.srv.Config().Warnings) == 0 {
		t.Errorf("a missing interpreter gave no warning")
	}
	resp, body := ts.get("/x.rb")
	if resp.StatusCode != 503 || strings.Contains(body, "puts 1") {
		t.Errorf("missing interpreter: %d %q", resp.StatusCode, body)
	}
	waitFor(t, "an error log line", func() bool { return strings.Contains(ts.errlog.String(), "/nonexistent/ruby") })
}

func TestPHP(t *testing.T) {
	needProgram(t, "/usr/bin/php-cgi")
	ts := startCGIServer(t, "")
	resp, body := ts.get("/blog/index.php/2026/11?x=y")
	want := "php self=/blog/index.php/2026/11 script=/blog/index.php uri=/blog/index.php/2026/11?x=y info=/2026/11 get=y\n"
	if resp.StatusCode != 200 || body != want || resp.Header.Get("X-PHP") != "yes" {
		t.Errorf("php: %d %q, want %q", resp.StatusCode, body, want)
	}
	// index.php as a folder's index: REQUEST_URI stays the folder's.
	tsi := startCGIServerTop(t, "index = [\"index.html\", \"index.php\"]\n", "")
	resp, body = tsi.get("/blog/?x=z")
	if want := "php self=/blog/index.php script=/blog/index.php uri=/blog/?x=z info= get=z\n"; resp.StatusCode != 200 || body != want {
		t.Errorf("index.php: %d %q, want %q", resp.StatusCode, body, want)
	}

	form := url.Values{"name": {"Ada & Bob"}}
	resp, body = ts.do("POST", "/form.php", strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded", "Cookie", "c=choc")
	if !strings.Contains(body, "name=Ada & Bob method=POST") || !strings.Contains(body, "cookie=choc") {
		t.Errorf("php form: %q", body)
	}
	if c := resp.Header.Get("Set-Cookie"); !strings.HasPrefix(c, "flavour=oat") {
		t.Errorf("php cookie: %q", c)
	}
	// A multipart upload.
	upload := bytes.Repeat([]byte("upload data "), 40000)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("name", "uploader")
	fw, _ := mw.CreateFormFile("up", "photo.jpg")
	fw.Write(upload)
	mw.Close()
	resp, body = ts.do("POST", "/form.php", &buf, "Content-Type", mw.FormDataContentType())
	sum := sha256.Sum256(upload)
	if !strings.Contains(body, fmt.Sprintf("file=photo.jpg size=%d sha=%s", len(upload), hex.EncodeToString(sum[:]))) {
		t.Errorf("php upload: %d %q", resp.StatusCode, body)
	}
	// A session counter survives three requests.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	for i := 1; i <= 3; i++ {
		r, err := client.Get(ts.url("/session.php"))
		must(t, err)
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if string(b) != fmt.Sprintf("visits=%d\n", i) {
			t.Fatalf("session request %d: %q", i, b)
		}
	}
	// header('Location: ...') from PHP comes with a 302 Status and goes to
	// the client as it is.
	resp, _ = ts.get("/redirect.php")
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/digits.txt" {
		t.Errorf("php redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestCGIClientLeavesSilentScript: a client that closes while its script
// has written nothing stops the script at once, through the watch on the
// connection, not through the script's timeout.
func TestCGIClientLeavesSilentScript(t *testing.T) {
	ts := startCGIServer(t, "")
	for _, req := range []string{
		"GET /cgi-bin/hang.sh HTTP/1.1\r\nHost: x\r\n\r\n",
		// Answered after a first request on the same connection.
		"GET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /cgi-bin/hang.sh HTTP/1.1\r\nHost: x\r\n\r\n",
		// A script with a body runs outside the raw read.
		"POST /cgi-bin/hang.sh HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
	} {
		nc, err := net.Dial("tcp", ts.addr)
		must(t, err)
		fmt.Fprint(nc, req)
		waitFor(t, "the script to start", func() bool { return len(childProcesses(t)) > 0 })
		nc.Close()
		waitFor(t, "the script of the client that left to be stopped", func() bool { return len(childProcesses(t)) == 0 })
		if l := ts.errlog.String(); strings.Contains(l, "timed out") {
			t.Fatalf("%q: the script ran to its timeout:\n%s", req, l)
		}
	}
}

// TestErrorsCarryReferer: a request's problems in the error log name the
// page that linked to it, as Apache's do.
func TestErrorsCarryReferer(t *testing.T) {
	ts := startCGIServer(t, "")
	ts.get("/missing.html", "Referer", "http://ref/a")
	ts.get("/cgi-bin/loop.sh", "Referer", "http://ref/b")
	for what, ref := range map[string]string{"File does not exist": "http://ref/a", "internal redirects": "http://ref/b"} {
		line := ""
		for _, l := range strings.Split(ts.errlog.String(), "\n") {
			if strings.Contains(l, what) {
				line = l
			}
		}
		if !strings.Contains(line, "referer="+ref) {
			t.Errorf("error log line %q lacks referer %s", line, ref)
		}
	}
}

// TestCGIDirMissingLogged: a missing script under [cgi] dirs is logged
// with its folder's path, not the document root's.
func TestCGIDirMissingLogged(t *testing.T) {
	ts := startCGIServer(t, "")
	if resp, _ := ts.get("/cgi-bin/nothere"); resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want := "File does not exist: " + filepath.Join(ts.dir, "cgi-bin", "nothere")
	if !strings.Contains(ts.errlog.String(), want) {
		t.Errorf("the error log lacks %q:\n%s", want, ts.errlog.String())
	}
}
