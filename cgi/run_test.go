package cgi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/pwebs/pwebs/conf"
)

func TestServeEnv(t *testing.T) {
	h, _ := newHandler(t, testOptions())
	r := childRequest(t, "env", Field{"Proxy", "http://evil:8080/"}, Field{"Authorization", "Basic c2VjcmV0"})
	r.PathInfo = "/extra/päth"
	r.QueryString = "a=1&b=%20"
	r.RequestURI = "/cgi-bin/x/extra/p%C3%A4th?a=1&b=%20"
	os.Setenv("PWEBS_TEST_LEAK", "secret") // must not reach the script
	defer os.Unsetenv("PWEBS_TEST_LEAK")

	w := &recorder{}
	res, err := h.Serve(context.Background(), w, r)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 200 || !res.HeaderSent {
		t.Fatalf("got %+v, want status 200 with header sent", res)
	}
	got := map[string]string{}
	var cwd, args string
	for _, line := range strings.Split(strings.TrimSpace(w.Body()), "\n") {
		switch {
		case strings.HasPrefix(line, "cwd:"):
			cwd = line[4:]
		case strings.HasPrefix(line, "args:"):
			args = line[5:]
		default:
			k, v, _ := strings.Cut(line, "=")
			got[k] = v
		}
	}
	want := map[string]string{}
	for _, kv := range Env(r, &h.opts) {
		k, v, _ := strings.Cut(kv, "=")
		want[k] = v
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("variable %s=%q leaked into the script's environment", k, got[k])
		}
	}
	for _, k := range []string{"PATH_INFO", "HTTP_X_CHILD", "GATEWAY_INTERFACE", "REDIRECT_STATUS"} {
		if got[k] == "" {
			t.Errorf("%s missing", k)
		}
	}
	if got["PATH_INFO"] != "/extra/päth" || got["QUERY_STRING"] != "a=1&b=%20" {
		t.Errorf("got PATH_INFO %q QUERY_STRING %q", got["PATH_INFO"], got["QUERY_STRING"])
	}
	if wd := filepath.Dir(self(t)); cwd != wd {
		t.Errorf("got working directory %q, want %q", cwd, wd)
	}
	if args != "" {
		t.Errorf("got arguments %q, want none (the query has '=')", args)
	}
}

func TestServeSearchArgs(t *testing.T) {
	h, _ := newHandler(t, testOptions())
	r := childRequest(t, "env")
	r.QueryString = "hello+wor%6Cd"
	w := &recorder{}
	if _, err := h.Serve(context.Background(), w, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.Body(), "\nargs:hello|world\n") {
		t.Errorf("got body %q, want args hello|world", w.Body())
	}
}

func TestServeStreams(t *testing.T) {
	h, _ := newHandler(t, testOptions())
	gate := filepath.Join(t.TempDir(), "gate")
	w := &recorder{}
	flushedLine1 := false
	w.onFlush = func(body string) {
		if body == "line 1\n" && !flushedLine1 {
			flushedLine1 = true
			os.WriteFile(gate, nil, 0o644) // let the script write line 2
		}
	}
	res, err := h.Serve(context.Background(), w, childRequest(t, "stream", Field{"X-Gate", gate}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := w.Body(), "line 1\nline 2\n"; got != want {
		t.Fatalf("got body %q, want %q", got, want)
	}
	// Line 1 was written and flushed to the client before line 2 existed.
	if !flushedLine1 {
		t.Errorf("line 1 was never flushed on its own (writes %q, %d flushes)", w.writes, w.flushes)
	}
	if len(w.writes) < 2 || w.writes[0] != "line 1\n" {
		t.Errorf("got writes %q, want line 1 alone first", w.writes)
	}
	if res.BodyBytes != int64(len("line 1\nline 2\n")) {
		t.Errorf("got BodyBytes %d", res.BodyBytes)
	}
}

// pipeRun returns a run of h whose output is a pipe the test writes to
// through the returned file, and no process.
func pipeRun(t *testing.T, h *Handler) (*run, *os.File) {
	t.Helper()
	out, w, err := pipe(true)
	if err != nil {
		t.Fatal(err)
	}
	pw := os.NewFile(uintptr(w), "|1")
	t.Cleanup(func() { out.Close(); pw.Close() })
	return &run{h: h, script: "/test/pipe", out: out, start: time.Now(), stopReq: make(chan struct{}), headerAt: -1}, pw
}

// TestOutputFlush checks when output sends what it wrote: before every
// wait for the script, and not before output that is already there.
func TestOutputFlush(t *testing.T) {
	h, _ := newHandler(t, testOptions())
	t.Run("all there at once", func(t *testing.T) {
		r, pw := pipeRun(t, h)
		pw.WriteString("Content-Type: text/plain\n\nhello\n")
		pw.Close()
		w := &recorder{}
		res, err := r.output(context.Background(), w)
		if err != nil {
			t.Fatal(err)
		}
		// Nothing had to wait: header, body and end of output are all
		// left for serve to send in one write.
		if w.flushes != 0 || w.Body() != "hello\n" || res.BodyBytes != 6 {
			t.Errorf("got %d flushes, body %q, BodyBytes %d; want 0, \"hello\\n\", 6", w.flushes, w.Body(), res.BodyBytes)
		}
	})
	t.Run("flushed before each wait", func(t *testing.T) {
		r, pw := pipeRun(t, h)
		pw.WriteString("Content-Type: text/plain\n\n")
		w := &recorder{}
		var bodies []string
		w.onFlush = func(body string) {
			bodies = append(bodies, body)
			switch len(bodies) {
			case 1: // the header alone, before the script wrote a body
				pw.WriteString("a")
			case 2:
				pw.WriteString("b")
				pw.Close()
			}
		}
		if _, err := r.output(context.Background(), w); err != nil {
			t.Fatal(err)
		}
		if want := []string{"", "a"}; !slices.Equal(bodies, want) {
			t.Errorf("flushed with bodies %q, want %q", bodies, want)
		}
		if w.Body() != "ab" {
			t.Errorf("got body %q, want \"ab\"", w.Body())
		}
	})
	t.Run("bounded", func(t *testing.T) {
		r, pw := pipeRun(t, h)
		go func() {
			pw.WriteString("Content-Type: text/plain\n\n")
			pw.Write(bytes.Repeat([]byte("x"), 4*copyBuffer))
			pw.Close()
		}()
		w := &recorder{}
		largest := 0
		last := 0
		w.onFlush = func(body string) {
			largest = max(largest, len(body)-last)
			last = len(body)
		}
		if _, err := r.output(context.Background(), w); err != nil {
			t.Fatal(err)
		}
		if len(w.Body()) != 4*copyBuffer {
			t.Fatalf("got %d body bytes, want %d", len(w.Body()), 4*copyBuffer)
		}
		// At most one read more than copyBuffer waits for a flush.
		if largest > 2*copyBuffer || len(w.Body())-last > 2*copyBuffer {
			t.Errorf("%d bytes went unflushed, want at most %d", max(largest, len(w.Body())-last), 2*copyBuffer)
		}
	})
	t.Run("silence times out", func(t *testing.T) {
		o := testOptions()
		o.Timeout = conf.D(100 * time.Millisecond)
		h, _ := newHandler(t, o)
		r, pw := pipeRun(t, h)
		pw.WriteString("Content-Type: text/plain\n\npartial")
		w := &recorder{}
		start := time.Now()
		_, err := r.output(context.Background(), w)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("got %v, want ErrTimeout", err)
		}
		if w.flushes == 0 || w.Body() != "partial" {
			t.Errorf("got %d flushes, body %q: what came before the silence was not sent", w.flushes, w.Body())
		}
		if d := time.Since(start); d < 100*time.Millisecond {
			t.Errorf("timed out after %v, before the timeout", d)
		}
	})
}

// TestServeDescriptors checks that a script gets stdin, stdout and stderr
// (stdin being /dev/null when there is no request body) and no descriptor
// the server opened: not the other ends of its pipes, not the Handler's
// /dev/null, not the server's own files. (Descriptors the server itself
// inherited without close-on-exec, and those the child's runtime opens,
// may be there too.)
func TestServeDescriptors(t *testing.T) {
	h, _ := newHandler(t, testOptions())
	mine := filepath.Join(t.TempDir(), "server-file")
	f, err := os.Create(mine)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := &recorder{}
	if _, err := h.Serve(context.Background(), w, childRequest(t, "fds")); err != nil {
		t.Fatal(err)
	}
	fds := map[string]string{} // fd -> target
	for _, line := range strings.Split(strings.TrimSpace(w.Body()), "\n") {
		fd, target, _ := strings.Cut(line, " ")
		fds[fd] = target
	}
	if fds["0"] != os.DevNull || !strings.HasPrefix(fds["1"], "pipe:") || !strings.HasPrefix(fds["2"], "pipe:") {
		t.Fatalf("got descriptors 0, 1, 2: %q, %q, %q; want /dev/null and two pipes", fds["0"], fds["1"], fds["2"])
	}
	for fd, target := range fds {
		switch {
		case fd == "0" || fd == "1" || fd == "2":
		case target == fds["1"] || target == fds["2"]:
			t.Errorf("descriptor %s is the other end of the script's stdout or stderr (%s)", fd, target)
		case target == mine:
			t.Errorf("descriptor %s is a file the server opened (%s)", fd, target)
		case fd == strconv.Itoa(h.devNull) && target == os.DevNull:
			t.Errorf("descriptor %s is the Handler's /dev/null", fd)
		}
	}
}

// hangRun runs the "hang" child with o and returns Serve's outcome and the
// pids of the script and its grandchild.
func hangRun(t *testing.T, h *Handler, extra ...Field) (Result, error, int, int) {
	t.Helper()
	pidfile := filepath.Join(t.TempDir(), "pids")
	r := childRequest(t, "hang", append(extra, Field{"X-Pidfile", pidfile})...)
	start := time.Now()
	res, err := h.Serve(context.Background(), &recorder{}, r)
	t.Logf("Serve returned after %v: %v", time.Since(start), err)
	b, rerr := os.ReadFile(pidfile)
	if rerr != nil {
		t.Fatalf("the script wrote no pids: %v", rerr)
	}
	var pid, sleepPid int
	fmt.Sscan(string(b), &pid, &sleepPid)
	return res, err, pid, sleepPid
}

func TestServeTimeoutKillsGroup(t *testing.T) {
	o := testOptions()
	o.Timeout = conf.D(time.Second)
	for _, tc := range []struct {
		name  string
		extra []Field
	}{
		{"before header", nil},
		{"after header", []Field{{"X-Header-First", "1"}}},
		{"ignoring SIGTERM", []Field{{"X-Ignore-Term", "1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, sink := newHandler(t, o)
			h.killGrace = 300 * time.Millisecond
			res, err, pid, sleepPid := hangRun(t, h, tc.extra...)
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("got error %v, want ErrTimeout", err)
			}
			if wantSent := tc.extra != nil && tc.extra[0].Name == "X-Header-First"; res.HeaderSent != wantSent {
				t.Errorf("got HeaderSent %v, want %v", res.HeaderSent, wantSent)
			}
			waitIdle(t, h)
			noLeftovers(t, map[int]bool{pid: true})
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", sleepPid)); err == nil {
				t.Errorf("grandchild %d still exists", sleepPid)
			}
			rec := sink.waitFor(t, "explaining the timeout", func(r record) bool { return strings.Contains(r.Msg, "timed out") })
			wantSig := "SIGTERM"
			if tc.name == "ignoring SIGTERM" {
				wantSig = "SIGKILL"
			}
			if !strings.Contains(rec.Attrs["exit"], wantSig) || rec.Attrs["script"] != self(t) {
				t.Errorf("got record %v, want exit by %s", rec, wantSig)
			}
		})
	}
}

func TestServeCancelledRunsLeaveNothing(t *testing.T) {
	const runs, parallel = 200, 4
	h, _ := newHandler(t, testOptions())
	var mu sync.Mutex
	pgids := map[int]bool{}
	h.testHookStart = func(pid int) { mu.Lock(); pgids[pid] = true; mu.Unlock() }

	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	errs := make(chan error, runs)
	for i := 0; i < runs; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w := &recorder{onWrite: func([]byte) { cancel() }} // the client goes away mid-response
			res, err := h.Serve(ctx, w, childRequest(t, "spew"))
			if !errors.Is(err, ErrAborted) || !errors.Is(err, context.Canceled) || !res.HeaderSent {
				errs <- fmt.Errorf("got %+v, %v; want an aborted run with header sent", res, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitIdle(t, h)
	if len(pgids) != runs {
		t.Fatalf("got %d scripts started, want %d", len(pgids), runs)
	}
	noLeftovers(t, pgids)
}

func TestServeChunkedBody(t *testing.T) {
	for _, size := range []int{0, 1, 1000, spoolMemory, spoolMemory + 1, 3 << 20} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			h, _ := newHandler(t, testOptions())
			data := make([]byte, size)
			rand.Read(data)
			r := childRequest(t, "body")
			r.Method = "POST"
			r.Body = iotest.HalfReader(bytes.NewReader(data)) // arrives in pieces, length unknown
			r.ContentLength = -1
			r.MaxBodyBytes = 8 << 20
			w := &recorder{}
			if _, err := h.Serve(context.Background(), w, r); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			want := fmt.Sprintf("length=%d sha256=%s extra=0", size, hex.EncodeToString(sum[:]))
			if got := w.Body(); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestServeKnownLengthBody(t *testing.T) {
	h, _ := newHandler(t, testOptions())
	data := bytes.Repeat([]byte("0123456789"), 100_000) // 1 MB: more than a pipe holds
	r := childRequest(t, "body")
	r.Method = "POST"
	r.Body = bytes.NewReader(append(data, "trailing bytes of the next request"...))
	r.ContentLength = int64(len(data))
	w := &recorder{}
	if _, err := h.Serve(context.Background(), w, r); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if want := fmt.Sprintf("length=%d sha256=%s extra=0", len(data), hex.EncodeToString(sum[:])); w.Body() != want {
		t.Errorf("got %q, want %q", w.Body(), want)
	}
}

func TestServeBodyTooLarge(t *testing.T) {
	for _, known := range []bool{false, true} {
		t.Run(fmt.Sprint("known length ", known), func(t *testing.T) {
			h, _ := newHandler(t, testOptions())
			started := false
			h.testHookStart = func(int) { started = true }
			r := childRequest(t, "body")
			r.Method = "POST"
			r.Body = bytes.NewReader(make([]byte, 2*spoolMemory))
			r.ContentLength = -1
			if known {
				r.ContentLength = 2 * spoolMemory
			}
			r.MaxBodyBytes = spoolMemory + 10
			_, err := h.Serve(context.Background(), &recorder{}, r)
			if !errors.Is(err, ErrBodyTooLarge) {
				t.Errorf("got %v, want ErrBodyTooLarge", err)
			}
			if started {
				t.Error("the script was started")
			}
		})
	}
}

func TestServeStderr(t *testing.T) {
	h, sink := newHandler(t, testOptions())
	w := &recorder{}
	if _, err := h.Serve(context.Background(), w, childRequest(t, "stderr")); err != nil {
		t.Fatal(err)
	}
	if w.Body() != "ok" {
		t.Errorf("got body %q", w.Body())
	}
	waitIdle(t, h)
	lines := sink.find(func(r record) bool { return r.Attrs["script"] == self(t) && r.Level == slogError })
	if len(lines) != 20003 {
		t.Fatalf("got %d stderr records, want 20003", len(lines))
	}
	if lines[0].Msg != "first line" || lines[0].Attrs["client"] != "127.0.0.1:40000" {
		t.Errorf("got first record %v", lines[0])
	}
	if long := lines[1].Msg; len(long) > maxStderrLine+50 || !strings.HasSuffix(long, "[line truncated]") {
		t.Errorf("got long line of %d bytes ending %q, want it truncated", len(long), long[len(long)-20:])
	}
	if lines[len(lines)-1].Msg != "last line" {
		t.Errorf("got last record %v", lines[len(lines)-1])
	}
}

func TestServeBadHeader(t *testing.T) {
	for _, tc := range []struct {
		mode, msg, exit, stderr string
	}{
		{"garbage", "malformed header", "exit status 3", "oops: it broke"},
		{"silent-exit", "end of script output before headers", "exit status 2", "dying quietly"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			h, sink := newHandler(t, testOptions())
			w := &recorder{}
			res, err := h.Serve(context.Background(), w, childRequest(t, tc.mode))
			if !errors.Is(err, ErrBadHeader) || res.HeaderSent || w.status != 0 {
				t.Fatalf("got %+v, %v, status %d; want ErrBadHeader and nothing sent", res, err, w.status)
			}
			waitIdle(t, h)
			recs := sink.find(func(r record) bool { return r.Attrs["exit"] != "" })
			if len(recs) != 1 {
				t.Fatalf("got %d failure records, want 1: %v", len(recs), recs)
			}
			rec := recs[0]
			if !strings.Contains(rec.Msg, tc.msg) || rec.Attrs["exit"] != tc.exit || !strings.Contains(rec.Attrs["stderr"], tc.stderr) ||
				rec.Attrs["headers_sent"] != "false" || rec.Attrs["header_after"] != "none" || rec.Attrs["elapsed"] == "" {
				t.Errorf("got record %v", rec)
			}
		})
	}
}

func TestServeResponses(t *testing.T) {
	h, sink := newHandler(t, testOptions())
	t.Run("headers", func(t *testing.T) {
		w := &recorder{}
		res, err := h.Serve(context.Background(), w, childRequest(t, "headers"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != 201 || w.status != 201 || w.Body() != "created" {
			t.Errorf("got %+v, status %d, body %q", res, w.status, w.Body())
		}
		if got := w.header("Set-Cookie"); !slices.Equal(got, []string{"a=1", "b=2"}) {
			t.Errorf("got Set-Cookie %q", got)
		}
		if got := w.header("Connection"); got != nil {
			t.Errorf("got Connection %q, want it dropped", got)
		}
		sink.waitFor(t, "about the bad header name", func(r record) bool { return strings.Contains(r.Msg, "invalid name") })
	})
	t.Run("local redirect", func(t *testing.T) {
		w := &recorder{}
		res, err := h.Serve(context.Background(), w, childRequest(t, "local-redirect"))
		if err != nil {
			t.Fatal(err)
		}
		if res.LocalRedirect != "/elsewhere?x=1" || res.HeaderSent || w.status != 0 || w.Body() != "" {
			t.Errorf("got %+v, status %d, body %q", res, w.status, w.Body())
		}
	})
	t.Run("nph", func(t *testing.T) {
		dir := t.TempDir()
		nph := filepath.Join(dir, "nph-child")
		if err := os.Symlink(self(t), nph); err != nil {
			t.Fatal(err)
		}
		r := childRequest(t, "nph")
		r.ScriptFilename = nph
		w := &recorder{}
		res, err := h.Serve(context.Background(), w, r)
		if err != nil {
			t.Fatal(err)
		}
		if want := "HTTP/1.0 203 Whatever\r\nContent-Type: text/plain\r\n\r\nraw body"; w.raw.String() != want || !w.rawUsed || w.status != 0 {
			t.Errorf("got raw %q, want %q", w.raw.String(), want)
		}
		if res.Status != 203 || !res.HeaderSent {
			t.Errorf("got %+v", res)
		}
	})
	t.Run("content-length bounds the body", func(t *testing.T) {
		w := &recorder{}
		res, err := h.Serve(context.Background(), w, childRequest(t, "content-length"))
		if err != nil || w.Body() != "0123456789" || res.BodyBytes != 10 {
			t.Errorf("got %+v, %v, body %q", res, err, w.Body())
		}
	})
	t.Run("short body", func(t *testing.T) {
		w := &recorder{}
		_, err := h.Serve(context.Background(), w, childRequest(t, "short"))
		if !errors.Is(err, ErrIncomplete) {
			t.Errorf("got %v, want ErrIncomplete", err)
		}
	})
	t.Run("crash after header", func(t *testing.T) {
		w := &recorder{}
		if _, err := h.Serve(context.Background(), w, childRequest(t, "crash")); err != nil {
			t.Fatal(err)
		}
		rec := sink.waitFor(t, "about the crash", func(r record) bool { return strings.Contains(r.Msg, "killed by signal") })
		if rec.Attrs["exit"] != "signal SIGKILL" || rec.Attrs["headers_sent"] != "true" {
			t.Errorf("got record %v", rec)
		}
	})
	t.Run("write error stops the script", func(t *testing.T) {
		w := &recorder{writeErr: errors.New("connection reset")}
		res, err := h.Serve(context.Background(), w, childRequest(t, "spew"))
		if err == nil || !res.HeaderSent {
			t.Errorf("got %+v, %v; want a write error", res, err)
		}
		waitIdle(t, h)
	})
}

func TestServeLeftoverProcesses(t *testing.T) {
	h, sink := newHandler(t, testOptions())
	pidfile := filepath.Join(t.TempDir(), "pids")
	w := &recorder{}
	res, err := h.Serve(context.Background(), w, childRequest(t, "leftover", Field{"X-Pidfile", pidfile}))
	if err != nil || w.Body() != "bye" || res.Status != 200 {
		t.Fatalf("got %+v, %v, body %q", res, err, w.Body())
	}
	waitIdle(t, h)
	b, _ := os.ReadFile(pidfile)
	var pid, sleepPid int
	fmt.Sscan(string(b), &pid, &sleepPid)
	noLeftovers(t, map[int]bool{pid: true})
	rec := sink.waitFor(t, "about leftovers", func(r record) bool { return strings.Contains(r.Msg, "left processes") })
	if rec.Attrs["leftover_processes"] != "1" {
		t.Errorf("got record %v", rec)
	}
}

func TestServeLingerAfterOutput(t *testing.T) {
	o := testOptions()
	o.Timeout = conf.D(time.Second)
	h, sink := newHandler(t, o)
	h.killGrace = 200 * time.Millisecond
	var pid int
	h.testHookStart = func(p int) { pid = p }
	w := &recorder{}
	start := time.Now()
	if _, err := h.Serve(context.Background(), w, childRequest(t, "linger")); err != nil || w.Body() != "done early\n" {
		t.Fatalf("got %v, body %q", err, w.Body())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Serve took %v: it waited for the script to exit", d)
	}
	waitIdle(t, h)
	noLeftovers(t, map[int]bool{pid: true})
	sink.waitFor(t, "about the lingering script", func(r record) bool { return strings.Contains(r.Msg, "closing its output") })
}

func TestServeBusy(t *testing.T) {
	o := testOptions()
	o.MaxProcesses = 1
	o.MaxWait = conf.D(100 * time.Millisecond)
	h, _ := newHandler(t, o)
	gate := filepath.Join(t.TempDir(), "gate")
	first := make(chan error, 1)
	started := make(chan struct{})
	w := &recorder{onWrite: func([]byte) { close(started) }}
	go func() {
		_, err := h.Serve(context.Background(), w, childRequest(t, "gate", Field{"X-Gate", gate}))
		first <- err
	}()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("first script never wrote")
	}
	if _, err := h.Serve(context.Background(), &recorder{}, childRequest(t, "env")); !errors.Is(err, ErrBusy) {
		t.Errorf("got %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Serve(ctx, &recorder{}, childRequest(t, "env")); !errors.Is(err, ErrAborted) {
		t.Errorf("cancelled: got %v, want ErrAborted", err)
	}
	os.WriteFile(gate, nil, 0o644)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	waitIdle(t, h)
	if _, err := h.Serve(context.Background(), &recorder{}, childRequest(t, "env")); err != nil {
		t.Errorf("after the slot was freed: %v", err)
	}
}

func TestClose(t *testing.T) {
	h, err := New(testOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h.killGrace = 200 * time.Millisecond
	var pid int
	started := make(chan struct{})
	h.testHookStart = func(p int) { pid = p; close(started) }
	done := make(chan error, 1)
	go func() {
		_, err := h.Serve(context.Background(), &recorder{}, childRequest(t, "hang", Field{"X-Pidfile", filepath.Join(t.TempDir(), "p")}))
		done <- err
	}()
	<-started
	closed := make(chan struct{})
	go func() { h.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return")
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("got %v, want ErrClosed", err)
	}
	noLeftovers(t, map[int]bool{pid: true})
	if _, err := h.Serve(context.Background(), &recorder{}, childRequest(t, "env")); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: got %v, want ErrClosed", err)
	}
}

func TestServeNotRunnable(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.cgi")
	os.WriteFile(plain, []byte("#!/bin/sh\necho\n"), 0o644)
	noShebang := filepath.Join(dir, "noshebang.cgi")
	os.WriteFile(noShebang, []byte("echo hi\n"), 0o755)
	o := testOptions()
	o.Interpreters = map[string]string{".sh": "/bin/sh"}
	interpOK := filepath.Join(dir, "ok.sh")
	os.WriteFile(interpOK, []byte("printf 'Content-Type: text/plain\\n\\nfrom sh'\n"), 0o644) // not executable: fine
	h, _ := newHandler(t, o)
	for _, tc := range []struct {
		path string
		want error
	}{
		{filepath.Join(dir, "missing.cgi"), ErrNotFound},
		{filepath.Join(dir, "plain.cgi", "x"), ErrNotFound},
		{dir, ErrForbidden},
		{plain, ErrForbidden},
		{"relative.cgi", ErrForbidden},
		{noShebang, ErrStart},
		{"/dev/null", ErrForbidden},
	} {
		_, err := h.Serve(context.Background(), &recorder{}, newRequest(tc.path))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.path, err, tc.want)
		}
	}
	w := &recorder{}
	if _, err := h.Serve(context.Background(), w, newRequest(interpOK)); err != nil || w.Body() != "from sh" {
		t.Errorf("interpreter script: got %v, body %q", err, w.Body())
	}
}

func TestIsScript(t *testing.T) {
	o := testOptions()
	o.Interpreters = map[string]string{".php": "/bin/sh"}
	h, _ := newHandler(t, o)
	for _, tc := range []struct {
		path  string
		inDir bool
		want  bool
	}{
		{"/srv/cgi-bin/anything.txt", true, true},
		{"/srv/www/a.cgi", false, true},
		{"/srv/www/A.CGI", false, true},
		{"/srv/www/index.php", false, true},
		{"/srv/www/index.PhP", false, true},
		{"/srv/www/index.php.txt", false, false},
		{"/srv/www/index.html", false, false},
		{"/srv/www/cgi", false, false},
		{"/srv/www/.cgi", false, true},
		{"/srv/www/x.", false, false},
	} {
		if got := h.IsScript(tc.path, tc.inDir); got != tc.want {
			t.Errorf("IsScript(%q, %v) = %v, want %v", tc.path, tc.inDir, got, tc.want)
		}
	}
}

func TestCommand(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "s.cgi")
	os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	php := filepath.Join(dir, "p.php")
	os.WriteFile(php, []byte("<?php\n"), 0o600)
	o := testOptions()
	o.Interpreters = map[string]string{".php": "/bin/sh"}
	o.MaxCPU = conf.D(1500 * time.Millisecond)
	h, _ := newHandler(t, o)
	for _, tc := range []struct {
		path, query string
		prog        string
		argv        []string
	}{
		{script, "", script, []string{"s.cgi"}},
		{script, "a=1", script, []string{"s.cgi"}},
		{script, "two+words", script, []string{"s.cgi", "two", "words"}},
		// No search words for an interpreter: php-cgi would read "-s" as an option (CVE-2012-1823).
		{php, "-s", "/bin/sh", []string{"/bin/sh", php}},
	} {
		r := newRequest(tc.path)
		r.QueryString = tc.query
		prog, argv, err := h.command(r)
		if err != nil || prog != tc.prog || !slices.Equal(argv, tc.argv) {
			t.Errorf("command(%s?%s) = %q %q %v, want %q %q", tc.path, tc.query, prog, argv, err, tc.prog, tc.argv)
		}
	}
	if h.limits != "cpu=2,as=0" {
		t.Errorf("got limits %q, want cpu=2,as=0", h.limits)
	}
}
