package serve

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pwebs/pwebs/internal/syncbuf"

	"github.com/pwebs/pwebs/logging"
)

// testServer is a real pwebs listening on 127.0.0.1:0 over a temporary
// site.
type testServer struct {
	t      testing.TB
	srv    *Server
	addr   string
	dir    string // the folder holding pwebs.conf
	root   string // the document root
	errlog *syncBuffer
	logger *logging.Logger // the access log, when the config has one
}

// syncBuffer is a bytes.Buffer safe to read while other goroutines write it.
type syncBuffer = syncbuf.Buffer

// writeFiles creates files under dir; a name ending in "/" is a folder.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			must(t, os.MkdirAll(p, 0o755))
			continue
		}
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(body), 0o644))
	}
}

// startServer writes conf (TOML, after a generated document_root and
// listen) and files (under htdocs/) and starts pwebs on them.
func startServer(t testing.TB, conf string, files map[string]string) *testServer {
	t.Helper()
	return startServerPre(t, conf, files, nil)
}

// startServerPre is startServer with a function that prepares the config's
// folder before the config is loaded.
func startServerPre(t testing.TB, conf string, files map[string]string, pre func(dir string)) *testServer {
	t.Helper()
	dir := t.TempDir()
	if pre != nil {
		pre(dir)
	}
	root := filepath.Join(dir, "htdocs")
	must(t, os.MkdirAll(root, 0o755))
	writeFiles(t, root, files)
	text := "listen = [\"127.0.0.1:0\"]\ndocument_root = \"htdocs\"\n" + conf
	if !strings.Contains(conf, "[log]") {
		text += "\n[log]\naccess = \"\"\nerror = \"-\"\n"
	}
	cfgPath := filepath.Join(dir, "pwebs.conf")
	must(t, os.WriteFile(cfgPath, []byte(text), 0o644))
	cfg, err := LoadConfig(cfgPath, nil)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	errlog := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(errlog, &slog.HandlerOptions{Level: slog.LevelDebug}))
	logs := Logs{Error: log}
	var logger *logging.Logger
	if cfg.Log.Access != "" {
		// The test asked for an access log: a real one, whose error log
		// still goes to the buffer above.
		lo := cfg.Log
		lo.Error = "-"
		logger, err = logging.New(lo)
		if err != nil {
			t.Fatal(err)
		}
		logs.Access = logger
	}
	srv, err := New(cfg, logs)
	if err != nil {
		t.Fatal(err)
	}
	must(t, srv.Listen())
	ts := &testServer{t: t, srv: srv, addr: srv.Addrs()[0].String(), dir: dir, root: root, errlog: errlog, logger: logger}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if logger != nil {
			logger.Close()
		}
	})
	return ts
}

func (ts *testServer) url(path string) string { return "http://" + ts.addr + path }

// get fetches path with net/http's client and returns the response with
// its body read.
func (ts *testServer) get(path string, header ...string) (*http.Response, string) {
	ts.t.Helper()
	return ts.do("GET", path, nil, header...)
}

func (ts *testServer) do(method, path string, body io.Reader, header ...string) (*http.Response, string) {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.url(path), body)
	if err != nil {
		ts.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], "Host") {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{DisableCompression: true},
	}
	resp, err := client.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, string(b)
}

// rawConn is a client connection that writes bytes as given and reads
// responses one by one.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func (ts *testServer) dial() *rawConn {
	ts.t.Helper()
	nc, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(15 * time.Second))
	return &rawConn{t: ts.t, nc: nc, br: bufio.NewReader(nc)}
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := rc.nc.Write([]byte(s)); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

// read reads one response; method tells HEAD apart (no body).
func (rc *rawConn) read(method string) (*http.Response, string) {
	rc.t.Helper()
	resp, err := http.ReadResponse(rc.br, &http.Request{Method: method})
	if err != nil {
		rc.t.Fatalf("reading response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		rc.t.Fatalf("reading body: %v", err)
	}
	return resp, string(b)
}

// closed reports whether the server closed the connection (EOF within a
// few seconds, with no more bytes).
func (rc *rawConn) closed() bool {
	rc.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 1)
	n, err := rc.br.Read(b)
	return n == 0 && err == io.EOF
}

// roundTrip sends raw bytes on a new connection and returns everything the
// server sends until it closes.
func (ts *testServer) roundTrip(raw string) string {
	ts.t.Helper()
	rc := ts.dial()
	rc.send(raw)
	b, _ := io.ReadAll(rc.br)
	return string(b)
}

// statusOfRaw returns the status code of the first response in raw.
func statusOfRaw(raw string) string {
	if len(raw) < 12 {
		return ""
	}
	return raw[9:12]
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
