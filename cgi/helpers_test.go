package cgi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pwebs/pwebs/conf"
)

// needProgram returns path if it is an executable file; otherwise the test
// skips, or fails when PWEBS_REQUIRE_ALL=1.
func needProgram(t testing.TB, path string) string {
	t.Helper()
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return path
	}
	if os.Getenv("PWEBS_REQUIRE_ALL") == "1" {
		t.Fatalf("%s is required (PWEBS_REQUIRE_ALL=1) but missing", path)
	}
	t.Skipf("%s is missing; skipping", path)
	return ""
}

// record is one error log record.
type record struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

func (r record) String() string { return fmt.Sprintf("%v %q %v", r.Level, r.Msg, r.Attrs) }

// logSink is a slog.Handler that keeps every record.
type logSink struct {
	mu   sync.Mutex
	recs []record
}

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s *logSink) WithGroup(string) slog.Handler            { return s }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	rec := record{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool { rec.Attrs[a.Key] = a.Value.String(); return true })
	s.mu.Lock()
	s.recs = append(s.recs, rec)
	s.mu.Unlock()
	return nil
}

func (s *logSink) all() []record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]record(nil), s.recs...)
}

// find returns the records for which match is true.
func (s *logSink) find(match func(record) bool) []record {
	var out []record
	for _, r := range s.all() {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}

// waitFor polls until match finds a record, failing after a deadline.
func (s *logSink) waitFor(t testing.TB, what string, match func(record) bool) record {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if rs := s.find(match); len(rs) > 0 {
			return rs[0]
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no log record %s; log:\n%v", what, s.all())
	return record{}
}

// recorder is a ResponseWriter that keeps what it is given.
type recorder struct {
	mu      sync.Mutex
	status  int
	fields  []Field
	body    bytes.Buffer
	writes  []string
	flushes int
	raw     bytes.Buffer
	rawUsed bool

	onWrite  func(p []byte)    // called after each Write, outside the lock
	onFlush  func(body string) // called after each Flush with what was written so far, outside the lock
	writeErr error             // returned by Write when set
}

func (w *recorder) WriteHeader(status int, fields []Field) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status != 0 {
		panic("WriteHeader called twice")
	}
	w.status, w.fields = status, fields
	return nil
}

func (w *recorder) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.writeErr != nil {
		w.mu.Unlock()
		return 0, w.writeErr
	}
	w.body.Write(p)
	w.writes = append(w.writes, string(p))
	w.mu.Unlock()
	if w.onWrite != nil {
		w.onWrite(p)
	}
	return len(p), nil
}

func (w *recorder) Flush() error {
	w.mu.Lock()
	w.flushes++
	body := w.body.String()
	w.mu.Unlock()
	if w.onFlush != nil {
		w.onFlush(body)
	}
	return nil
}

func (w *recorder) Raw() (io.Writer, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rawUsed = true
	return &lockedWriter{&w.mu, &w.raw}, nil
}

func (w *recorder) Body() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body.String()
}

// header returns the values of the response fields named name.
func (w *recorder) header(name string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var vs []string
	for _, f := range w.fields {
		if strings.EqualFold(f.Name, name) {
			vs = append(vs, f.Value)
		}
	}
	return vs
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// testOptions returns Options suited to tests: short waits.
func testOptions() Options {
	o := DefaultOptions()
	o.Timeout = conf.D(20 * time.Second)
	o.MaxProcesses = 8
	o.MaxWait = conf.D(20 * time.Second)
	return o
}

// newHandler returns a Handler logging to a sink; it is closed when the
// test ends.
func newHandler(t testing.TB, o Options) (*Handler, *logSink) {
	t.Helper()
	sink := &logSink{}
	h, err := New(o, slog.New(sink))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, sink
}

// waitIdle waits until every run of h has been reaped.
func waitIdle(t testing.TB, h *Handler) {
	t.Helper()
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("runs not reaped after 30s")
	}
}

// newRequest returns a GET request for the script at path.
func newRequest(path string) *Request {
	return &Request{
		Method:         "GET",
		RequestURI:     "/cgi-bin/" + filepath.Base(path),
		Proto:          "HTTP/1.1",
		Scheme:         "http",
		ScriptFilename: path,
		ScriptName:     "/cgi-bin/" + filepath.Base(path),
		DocumentRoot:   "/srv/www",
		RemoteAddr:     "127.0.0.1",
		RemotePort:     "40000",
		ServerName:     "localhost",
		ServerPort:     "8080",
		ServerAddr:     "127.0.0.1",
		ServerAdmin:    "webmaster@localhost",
		ServerSoftware: "pwebs/test",
		Header:         []Field{{"Host", "localhost:8080"}},
		ContentLength:  -1,
		Client:         "127.0.0.1:40000",
	}
}

// procInfo is what /proc/PID/stat says of a process.
type procInfo struct {
	pid, ppid, pgrp int
	state           byte
}

// processes lists every process in /proc.
func processes(t testing.TB) []procInfo {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []procInfo
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// "pid (comm) state ppid pgrp ...": comm may hold spaces and ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 3 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pgrp, _ := strconv.Atoi(f[2])
		out = append(out, procInfo{pid: pid, ppid: ppid, pgrp: pgrp, state: f[0][0]})
	}
	return out
}

// leftovers returns the processes in one of the groups pgids, and the
// zombie children of this process.
func leftovers(t testing.TB, pgids map[int]bool) []procInfo {
	var out []procInfo
	me := os.Getpid()
	for _, p := range processes(t) {
		if pgids[p.pgrp] || (p.ppid == me && p.state == 'Z') {
			out = append(out, p)
		}
	}
	return out
}

// noLeftovers fails unless, within a deadline, no process of the groups
// pgids is left and this process has no zombie child.
func noLeftovers(t testing.TB, pgids map[int]bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := leftovers(t, pgids)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left: %+v", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// copyScripts copies testdata files into a fresh folder, executable, and
// returns the folder.
func copyScripts(t testing.TB, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const slogError = slog.LevelError
