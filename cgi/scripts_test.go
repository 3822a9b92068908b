package cgi

// Real scripts from testdata, run by /bin/sh, perl, python3 and php-cgi.

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pwebs/pwebs/conf"
)

const (
	shPath     = "/bin/sh"
	perlPath   = "/usr/bin/perl"
	pythonPath = "/usr/bin/python3"
	phpPath    = "/usr/bin/php-cgi"
)

// scriptRequest returns a request for the script file name, copied from
// testdata into dir, reached at urlPath.
func scriptRequest(dir, name, urlPath string) *Request {
	r := newRequest(filepath.Join(dir, name))
	r.ScriptName = urlPath
	r.RequestURI = urlPath
	r.DocumentRoot = dir
	return r
}

// serveOK runs r and fails unless it succeeds; it returns the recorder.
func serveOK(t *testing.T, h *Handler, r *Request) *recorder {
	t.Helper()
	w := &recorder{}
	if _, err := h.Serve(context.Background(), w, r); err != nil {
		t.Fatalf("%s: %v", r.ScriptFilename, err)
	}
	return w
}

// wantLines fails unless every line of want is a line of body.
func wantLines(t *testing.T, body string, want ...string) {
	t.Helper()
	lines := strings.Split(body, "\n")
	for _, w := range want {
		found := false
		for _, l := range lines {
			if l == w {
				found = true
			}
		}
		if !found {
			t.Errorf("line %q missing from body:\n%s", w, body)
		}
	}
}

func TestShellScripts(t *testing.T) {
	needProgram(t, shPath)
	dir := copyScripts(t, "hello.sh", "env.sh", "stream.sh", "nph-hello.sh")
	h, _ := newHandler(t, testOptions())

	t.Run("hello", func(t *testing.T) {
		w := serveOK(t, h, scriptRequest(dir, "hello.sh", "/cgi-bin/hello.sh"))
		if w.status != 200 || w.Body() != "hello from sh\n" || w.header("Content-Type")[0] != "text/plain" {
			t.Errorf("got %d %q %q", w.status, w.fields, w.Body())
		}
	})
	t.Run("path info and query", func(t *testing.T) {
		r := scriptRequest(dir, "env.sh", "/cgi-bin/env.sh")
		r.PathInfo, r.QueryString, r.RequestURI = "/extra/path", "x=1", "/cgi-bin/env.sh/extra/path?x=1"
		w := serveOK(t, h, r)
		wantLines(t, w.Body(), "SCRIPT_NAME=/cgi-bin/env.sh", "PATH_INFO=/extra/path", "PATH_TRANSLATED="+dir+"/extra/path",
			"QUERY_STRING=x=1", "REQUEST_URI=/cgi-bin/env.sh/extra/path?x=1", "SERVER_PROTOCOL=HTTP/1.1",
			"CONTENT_LENGTH=(unset)", "PWD="+dir, "ARGS=")
	})
	t.Run("streams line by line", func(t *testing.T) {
		gate := filepath.Join(t.TempDir(), "gate")
		r := scriptRequest(dir, "stream.sh", "/cgi-bin/stream.sh")
		r.Header = append(r.Header, Field{"X-Gate", gate})
		w := &recorder{onWrite: func(p []byte) {
			if bytes.Contains(p, []byte("line 1")) {
				os.WriteFile(gate, nil, 0o644)
			}
		}}
		if _, err := h.Serve(context.Background(), w, r); err != nil {
			t.Fatal(err)
		}
		if w.Body() != "line 1\nline 2\n" || w.writes[0] != "line 1\n" {
			t.Errorf("got writes %q", w.writes)
		}
	})
	t.Run("nph", func(t *testing.T) {
		w := serveOK(t, h, scriptRequest(dir, "nph-hello.sh", "/cgi-bin/nph-hello.sh"))
		if !strings.HasPrefix(w.raw.String(), "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(w.raw.String(), "\r\n\r\nnph body") {
			t.Errorf("got raw %q", w.raw.String())
		}
	})
}

func TestResourceLimits(t *testing.T) {
	needProgram(t, shPath)
	dir := copyScripts(t, "limits.sh", "burn.sh")
	os.WriteFile(filepath.Join(dir, "noshebang.cgi"), []byte("echo hi\n"), 0o755)
	plain, _ := newHandler(t, testOptions())
	o := testOptions()
	o.MaxCPU = conf.D(1500 * time.Millisecond) // rounded up to 2s
	o.MaxMemory = 256 << 20
	h, sink := newHandler(t, o)

	// The limits bind from the script's first instruction.
	limits := func(h *Handler) []string {
		return strings.Split(strings.TrimSpace(serveOK(t, h, scriptRequest(dir, "limits.sh", "/cgi-bin/limits.sh")).Body()), "\n")
	}
	got, base := limits(h), limits(plain)
	if want := fmt.Sprintf("cpu=2 as=%d core=0", 256<<10); got[0] != want {
		t.Errorf("got limits %q, want %q", got[0], want)
	}
	if !strings.HasPrefix(base[0], "cpu=unlimited as=unlimited ") {
		t.Errorf("got limits %q without options", base[0])
	}
	if got[1] != base[1] {
		if got[1] == "nofile=1024" {
			t.Logf("open files: %s with limits, %s without (the original soft limit is not known to the re-exec)", got[1], base[1])
		} else {
			t.Errorf("open files: got %s with limits, %s without", got[1], base[1])
		}
	}
	if rs := sink.find(func(r record) bool { return r.Level >= slogError }); len(rs) > 0 {
		t.Errorf("limits.sh logged errors: %v", rs)
	}

	// An exec failure in the re-exec reaches the error log.
	_, err := h.Serve(context.Background(), &recorder{}, scriptRequest(dir, "noshebang.cgi", "/cgi-bin/noshebang.cgi"))
	if !errors.Is(err, ErrBadHeader) {
		t.Errorf("got %v, want ErrBadHeader", err)
	}
	sink.waitFor(t, "about the exec failure", func(r record) bool {
		return strings.HasPrefix(r.Msg, "pwebs: cannot run ") && strings.HasSuffix(r.Msg, "exec format error")
	})

	// A CPU burner dies of its limit.
	o.MaxCPU = conf.D(time.Second)
	h2, sink2 := newHandler(t, o)
	_, err = h2.Serve(context.Background(), &recorder{}, scriptRequest(dir, "burn.sh", "/cgi-bin/burn.sh"))
	if !errors.Is(err, ErrBadHeader) {
		t.Fatalf("got %v, want ErrBadHeader from a script killed by its CPU limit", err)
	}
	rec := sink2.waitFor(t, "about the CPU limit", func(r record) bool { return r.Attrs["exit"] != "" })
	if !strings.Contains(rec.Attrs["exit"], "SIGXCPU") && !strings.Contains(rec.Attrs["exit"], "SIGKILL") {
		t.Errorf("got record %v, want death by SIGXCPU", rec)
	}
}

func TestPerlScript(t *testing.T) {
	needProgram(t, perlPath)
	dir := copyScripts(t, "form.pl")
	o := testOptions()
	o.Interpreters = map[string]string{".pl": perlPath}
	h, sink := newHandler(t, o)
	os.Chmod(filepath.Join(dir, "form.pl"), 0o644) // an interpreter's script need not be executable
	r := scriptRequest(dir, "form.pl", "/form.pl")
	r.Method, r.QueryString = "POST", "from=query"
	body := "name=J%C3%BCrgen+M&msg=a%26b"
	r.Header = append(r.Header, Field{"Content-Type", "application/x-www-form-urlencoded"}, Field{"Content-Length", fmt.Sprint(len(body))})
	r.Body, r.ContentLength = strings.NewReader(body), int64(len(body))
	w := serveOK(t, h, r)
	wantLines(t, w.Body(), "method=POST", "from=query", "name=Jürgen M", "msg=a&b")
	sink.waitFor(t, "with the script's stderr", func(r record) bool { return r.Msg == "form.pl: handled 3 fields" })
}

func TestPythonScript(t *testing.T) {
	needProgram(t, pythonPath)
	dir := copyScripts(t, "env.py")
	o := testOptions()
	o.Interpreters = map[string]string{".py": pythonPath}
	h, _ := newHandler(t, o)
	r := scriptRequest(dir, "env.py", "/app/env.py")
	r.PathInfo, r.QueryString, r.RequestURI = "/a/b", "q=1", "/app/env.py/a/b?q=1"
	r.Method = "POST"
	r.Header = append(r.Header, Field{"X-Test", "yes"}, Field{"Proxy", "http://evil/"})
	r.Body, r.ContentLength = strings.NewReader("chunk1chunk2"), -1 // chunked: spooled
	w := serveOK(t, h, r)
	wantLines(t, w.Body(), "REQUEST_METHOD=POST", "SCRIPT_NAME=/app/env.py", "PATH_INFO=/a/b", "QUERY_STRING=q=1",
		"REQUEST_URI=/app/env.py/a/b?q=1", "HTTP_X_TEST=yes", "HTTPS=(unset)", "REMOTE_USER=(unset)", "body=chunk1chunk2", "cwd="+dir)
	if got := w.header("X-Script"); len(got) != 1 || got[0] != "python" {
		t.Errorf("got X-Script %q", got)
	}
}

func TestPHP(t *testing.T) {
	needProgram(t, phpPath)
	dir := copyScripts(t, "hello.php", "get.php", "post.php", "upload.php", "server.php", "headers.php", "session.php", "redirect.php")
	o := testOptions()
	o.Interpreters = map[string]string{".php": phpPath}
	h, _ := newHandler(t, o)
	php := func(name string) *Request { return scriptRequest(dir, name, "/"+name) }

	t.Run("hello", func(t *testing.T) {
		w := serveOK(t, h, php("hello.php"))
		if !strings.HasPrefix(w.Body(), "Hello from PHP ") || w.status != 200 || !strings.HasPrefix(w.header("Content-Type")[0], "text/html") {
			t.Errorf("got %d %q %q", w.status, w.fields, w.Body())
		}
	})
	t.Run("$_GET", func(t *testing.T) {
		r := php("get.php")
		r.QueryString = "b=2&a=%C3%A9&list[]=x&list[]=y"
		w := serveOK(t, h, r)
		if want := "a=é\nb=2\nlist=x,y\n"; w.Body() != want {
			t.Errorf("got %q, want %q", w.Body(), want)
		}
	})
	post := func(t *testing.T, chunked bool) {
		r := php("post.php")
		body := "name=Ada+Lovelace&lang=en"
		r.Method = "POST"
		r.Header = append(r.Header, Field{"Content-Type", "application/x-www-form-urlencoded"})
		r.Body, r.ContentLength = strings.NewReader(body), int64(len(body))
		if chunked {
			r.Header = append(r.Header, Field{"Transfer-Encoding", "chunked"})
			r.ContentLength = -1
		} else {
			r.Header = append(r.Header, Field{"Content-Length", fmt.Sprint(len(body))})
		}
		w := serveOK(t, h, r)
		if want := "method=POST\nlang=en\nname=Ada Lovelace\n"; w.Body() != want {
			t.Errorf("got %q, want %q", w.Body(), want)
		}
	}
	t.Run("$_POST", func(t *testing.T) { post(t, false) })
	t.Run("$_POST chunked", func(t *testing.T) { post(t, true) })
	t.Run("multipart upload", func(t *testing.T) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("title", "holiday")
		file := bytes.Repeat([]byte("\x00\x01binary\xff"), 50_000) // 450 kB: spooled to a file when chunked
		hdr := textproto.MIMEHeader{}
		hdr.Set("Content-Disposition", `form-data; name="photo"; filename="beach.bin"`)
		hdr.Set("Content-Type", "application/octet-stream")
		part, _ := mw.CreatePart(hdr)
		part.Write(file)
		mw.Close()
		r := php("upload.php")
		r.Method = "POST"
		r.Header = append(r.Header, Field{"Content-Type", mw.FormDataContentType()})
		r.Body, r.ContentLength = bytes.NewReader(buf.Bytes()), -1
		w := serveOK(t, h, r)
		sum := md5.Sum(file)
		wantLines(t, w.Body(), "title=holiday",
			fmt.Sprintf("photo: name=beach.bin size=%d type=application/octet-stream md5=%s", len(file), hex.EncodeToString(sum[:])))
	})
	t.Run("$_SERVER", func(t *testing.T) {
		r := php("server.php")
		r.ScriptName = "/blog/server.php"
		r.PathInfo, r.QueryString = "/2026/11", "page=2"
		r.RequestURI = "/blog/server.php/2026/11?page=2"
		r.Proto = "HTTP/1.0"
		r.Header = append(r.Header, Field{"Proxy", "http://evil/"})
		w := serveOK(t, h, r)
		wantLines(t, w.Body(), "PHP_SELF=/blog/server.php/2026/11", "SCRIPT_NAME=/blog/server.php",
			"SCRIPT_FILENAME="+filepath.Join(dir, "server.php"), "REQUEST_URI=/blog/server.php/2026/11?page=2",
			"PATH_INFO=/2026/11", "QUERY_STRING=page=2", "SERVER_PROTOCOL=HTTP/1.0", "HTTP_HOST=localhost:8080",
			"HTTPS=(unset)", "REMOTE_USER=(unset)", "HTTP_PROXY=(unset)", "cwd="+dir)
	})
	t.Run("headers and cookies", func(t *testing.T) {
		r := php("headers.php")
		r.Header = append(r.Header, Field{"Cookie", "seen=1"}, Field{"Cookie", "lang=fr"})
		w := serveOK(t, h, r)
		if w.status != 201 || w.header("Content-Type")[0] != "application/json" || w.header("X-Powered-By-Test")[0] != "pwebs" {
			t.Errorf("got %d %q", w.status, w.fields)
		}
		cookies := w.header("Set-Cookie")
		if len(cookies) != 2 || cookies[0] != "first=one" || !strings.HasPrefix(cookies[1], "second=two; path=/; HttpOnly") {
			t.Errorf("got Set-Cookie %q", cookies)
		}
		if want := `{"cookies":{"seen":"1","lang":"fr"}}` + "\n"; w.Body() != want {
			t.Errorf("got body %q, want %q", w.Body(), want)
		}
	})
	t.Run("session counter", func(t *testing.T) {
		sessions := t.TempDir()
		var cookie string
		for i := 1; i <= 3; i++ {
			r := php("session.php")
			r.Header = append(r.Header, Field{"X-Session-Dir", sessions})
			if cookie != "" {
				r.Header = append(r.Header, Field{"Cookie", cookie})
			}
			w := serveOK(t, h, r)
			if want := fmt.Sprintf("visit %d\n", i); w.Body() != want {
				t.Fatalf("request %d: got %q, want %q", i, w.Body(), want)
			}
			if sc := w.header("Set-Cookie"); len(sc) > 0 {
				cookie, _, _ = strings.Cut(sc[0], ";")
			}
			if cookie == "" {
				t.Fatal("no session cookie")
			}
		}
	})
	t.Run("redirect with status goes as it is", func(t *testing.T) {
		w := &recorder{}
		res, err := h.Serve(context.Background(), w, php("redirect.php"))
		if err != nil || res.LocalRedirect != "" || w.status != 302 || w.header("Location")[0] != "/login.php" {
			t.Errorf("got %+v, %v, %d %q", res, err, w.status, w.fields)
		}
	})
}

// TestSpooledBodyIsUnlinked checks that a body spooled to a file leaves no
// file behind.
func TestSpooledBodyIsUnlinked(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	r := &Request{Body: io.LimitReader(zeros{}, 3*spoolMemory), ContentLength: -1}
	b, err := prepareBody(r)
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	if b.file == nil || b.length != 3*spoolMemory {
		t.Fatalf("got %+v, want a spooled file of %d bytes", b, 3*spoolMemory)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("spool file left in the folder: %v", ents)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
