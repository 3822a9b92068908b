package cgi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Bounds on what a run reads.
const (
	// maxStderrLine bounds one stderr line in the error log; the rest of
	// a longer line is dropped.
	maxStderrLine = 4 << 10
	// stderrTail is how many of the last stderr lines a failure record
	// quotes.
	stderrTail = 8
	// copyBuffer is the size of one read of a script's output, and so
	// the most one Write carries.
	copyBuffer = 32 << 10
)

// levelNotice is the error log's notice level.
const levelNotice = slog.Level(2)

// Why a run was stopped before its end.
type stopKind int32

const (
	notStopped  stopKind = iota
	stopTimeout          // no output for Options.Timeout
	stopLinger           // still running Options.Timeout after closing its stdout
	stopCancel           // ctx cancelled: the client went away
	stopClose            // Handler.Close
	stopFailed           // the response failed (bad header, client write error, ...)
)

var stopText = [...]string{
	notStopped:  "",
	stopTimeout: "no output for the timeout",
	stopLinger:  "still running a timeout after closing its output",
	stopCancel:  "client went away",
	stopClose:   "server stopping",
	stopFailed:  "response failed",
}

// run is one script run. Serve's goroutine owns the output side; the
// supervisor goroutine owns the processes; they meet through the channels.
type run struct {
	h      *Handler
	script string
	client string
	pid    int // also the process group id
	start  time.Time

	out  *os.File // read end of stdout, owned by Serve
	errR *os.File // read end of stderr, owned by the stderr reader

	status unix.WaitStatus // the leader's, once reaped; supervisor only

	outDone    chan struct{} // Serve is done with the output; the outcome fields below are final
	stopReq    chan struct{} // closed by stop
	stderrDone chan struct{}

	stopOnce sync.Once
	stopped  atomic.Int32 // a stopKind
	termAt   time.Time    // when the group got SIGTERM; supervisor only

	// Outcome, written by Serve before outDone is closed.
	failure  string        // why the run failed, "" when it did not
	headerAt time.Duration // time to a complete header (nph: to the first byte); -1 for never
	result   Result

	tail []string // the last stderr lines, owned by the stderr reader
}

// Serve runs the script r names and streams its response to w. It returns
// when the response is complete (or failed); the script's processes are
// then stopped, if still running, and reaped in the background, and hold
// their process slot until they are. See the Err variables for the errors
// and the statuses serve should answer them with.
//
// When ctx is cancelled (serve cancels it when the client goes away or the
// server stops) the script's whole process group is stopped and Serve
// returns an error wrapping ErrAborted. Serve reads r.Body only while it
// runs, and at most r.ContentLength bytes of it.
func (h *Handler) Serve(ctx context.Context, w ResponseWriter, r *Request) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrAborted, context.Cause(ctx))
	}
	prog, argv, err := h.command(r)
	if err != nil {
		return Result{}, err
	}
	if h.limits != "" {
		argv = append([]string{rlimitArg0, h.limits, prog}, argv...)
		prog = selfExe
	}
	b, err := prepareBody(r)
	if err != nil {
		return Result{}, err
	}
	defer b.close()
	if err := h.acquire(ctx); err != nil {
		return Result{}, err
	}
	rr := *r
	rr.ContentLength = b.length
	env := Env(&rr, &h.opts)

	run, stdinW, err := h.start(prog, argv, env, r, b)
	if err != nil {
		h.release()
		h.log.LogAttrs(context.Background(), slog.LevelError, "cannot start script",
			slog.String("client", r.Client), slog.String("script", r.ScriptFilename), slog.String("err", err.Error()))
		return Result{}, err
	}
	go run.supervise()
	go run.readStderr()

	var copyDone chan struct{}
	if stdinW != nil {
		copyDone = make(chan struct{})
		go func() {
			defer close(copyDone)
			io.Copy(stdinW, b.src) // an error means the script stopped reading: nothing to do
			stdinW.Close()
		}()
	}
	stopCancel := context.AfterFunc(ctx, func() { run.stop(stopCancel) })
	res, err := run.output(ctx, w)
	stopCancel()
	run.out.Close()
	if copyDone != nil {
		stdinW.Close() // unblocks a write to a script that no longer reads
		<-copyDone
	}
	run.result = res
	close(run.outDone)
	return res, err
}

// start starts the script with stdout, stderr and stdin pipes (or the
// spooled file, or /dev/null, as stdin), in its own folder and its own
// process group.
//
// It uses syscall.ForkExec rather than os/exec: the child's ends of the
// pipes are plain descriptors, never os.Files, so they are not put in (and
// taken out of) the runtime's poller, and stdin is one /dev/null the
// Handler keeps open. Every descriptor the server opens is close-on-exec,
// so the script gets exactly these three.
func (h *Handler) start(prog string, argv, env []string, r *Request, b body) (*run, *os.File, error) {
	run := &run{
		h:          h,
		script:     r.ScriptFilename,
		client:     r.Client,
		outDone:    make(chan struct{}),
		stopReq:    make(chan struct{}),
		stderrDone: make(chan struct{}),
		headerAt:   -1,
	}
	var parentEnds []*os.File
	var childEnds []int
	cleanup := func() {
		for _, f := range parentEnds {
			f.Close()
		}
		for _, fd := range childEnds {
			unix.Close(fd)
		}
	}
	outR, outW, err := pipe(true)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	parentEnds, childEnds = append(parentEnds, outR), append(childEnds, outW)
	errR, errW, err := pipe(true)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	parentEnds, childEnds = append(parentEnds, errR), append(childEnds, errW)
	var stdin uintptr
	var stdinW *os.File
	switch {
	case b.file != nil:
		stdin = b.file.Fd()
	case b.src != nil:
		inW, inR, err := pipe(false)
		if err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("%w: %w", ErrStart, err)
		}
		stdin, stdinW = uintptr(inR), inW
		parentEnds, childEnds = append(parentEnds, inW), append(childEnds, inR)
	case h.devNull < 0:
		cleanup()
		return nil, nil, fmt.Errorf("%w: no /dev/null for stdin", ErrStart)
	default:
		stdin = uintptr(h.devNull)
	}
	attr := &syscall.ProcAttr{
		Dir:   filepath.Dir(r.ScriptFilename),
		Env:   env,
		Files: []uintptr{stdin, uintptr(outW), uintptr(errW)},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	run.start = time.Now()
	pid, err := syscall.ForkExec(prog, argv, attr)
	runtime.KeepAlive(b.file)
	for _, fd := range childEnds {
		unix.Close(fd)
	}
	childEnds = nil
	if err != nil {
		cleanup()
		err = &os.PathError{Op: "fork/exec", Path: prog, Err: err}
		switch {
		case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
			return nil, nil, fmt.Errorf("%w: %w", ErrForbidden, err)
		case errors.Is(err, syscall.ENOENT):
			if _, serr := os.Stat(prog); serr == nil {
				// The file is there: what is missing is the interpreter
				// its #! line names, a fault of the script (500).
				return nil, nil, fmt.Errorf("%w: %s: the interpreter named by its #! line does not exist", ErrStart, prog)
			}
			return nil, nil, fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return nil, nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	run.pid, run.out, run.errR = pid, outR, errR
	if hook := h.testHookStart; hook != nil {
		hook(run.pid)
	}
	return run, stdinW, nil
}

// pipe returns a pipe whose end for the server is a non-blocking os.File in
// the runtime's poller, and whose end for the child is a plain blocking
// descriptor; both are close-on-exec. serverReads says which end is the
// server's: the read end (the script's stdout and stderr) or the write end
// (its stdin).
func pipe(serverReads bool) (*os.File, int, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, -1, os.NewSyscallError("pipe2", err)
	}
	mine, theirs, name := p[0], p[1], "|0"
	if !serverReads {
		mine, theirs, name = p[1], p[0], "|1"
	}
	// A new pipe end has no status flag, so setting O_NONBLOCK alone
	// keeps everything else as it is.
	if _, err := unix.FcntlInt(uintptr(mine), unix.F_SETFL, unix.O_NONBLOCK); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, -1, os.NewSyscallError("fcntl", err)
	}
	return os.NewFile(uintptr(mine), name), theirs, nil
}

// watchExit returns a channel that is closed once the leader has exited.
// It does not reap the leader, so that its pid, and with it the process
// group id, cannot be reused while the supervisor may still signal the
// group.
//
// The wait is a readiness wait on a pidfd in the runtime's poller (a
// pidfd becomes readable when its process exits), so no thread is held
// while the script runs on: a thread blocked in waitid costs a hand-off of
// the processor, and keeps the runtime's monitor thread polling every
// 20µs meanwhile. Where the kernel has no pollable pidfd (before Linux
// 5.3), a thread blocks in waitid.
func (r *run) watchExit() <-chan struct{} {
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		if r.waitPidfd() {
			return
		}
		for {
			var info unix.Siginfo
			err := unix.Waitid(unix.P_PID, r.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				return
			}
		}
	}()
	return exited
}

// waitPidfd waits in the poller until the leader has exited. It reports
// false if it could not wait that way.
func (r *run) waitPidfd() bool {
	fd, err := unix.PidfdOpen(r.pid, 0)
	if err != nil {
		return false
	}
	// Non-blocking, so that os.NewFile puts it in the poller.
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, unix.O_NONBLOCK); err != nil {
		unix.Close(fd)
		return false
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	return rc.Read(func(uintptr) bool { return r.leaderExited() }) == nil
}

// leaderExited reports, without waiting and without reaping, whether the
// leader has exited. An error (it is not our child any more) counts as
// exited, so that nothing waits for it forever.
func (r *run) leaderExited() bool {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, r.pid, &info, unix.WEXITED|unix.WNOWAIT|unix.WNOHANG, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return true
		}
		return info.Signo == int32(unix.SIGCHLD)
	}
}

// reapLeader reaps the leader, which has exited, and keeps its status.
func (r *run) reapLeader() {
	for {
		_, err := unix.Wait4(r.pid, &r.status, 0, nil)
		if err != unix.EINTR {
			return
		}
	}
}

// stop asks the supervisor to stop the script now, and makes a pending or
// later read of its output return at once. The first reason sticks.
func (r *run) stop(k stopKind) {
	r.stopOnce.Do(func() {
		r.stopped.Store(int32(k))
		r.out.SetReadDeadline(time.Unix(1, 0)) // harmless once r.out is closed
		close(r.stopReq)
	})
}

// outputReader reads a script's stdout. A read that has to wait for the
// script waits at most Options.Timeout, so silence ends in
// os.ErrDeadlineExceeded. Just before it waits it calls flush, when set:
// what was written so far then reaches the client while the script is
// silent, and output that is already there when the previous read returns
// (the end of the output, typically) goes out in the same write.
type outputReader struct {
	r     *run
	rc    syscall.RawConn // r.out's
	flush func() error    // called before waiting, once; nil for nothing to flush

	// One Read's state, for readFD, which rc.Read calls.
	readFD func(fd uintptr) bool // o.read, bound once
	p      []byte
	n      int
	err    error
	armed  bool // the deadline is set for this Read
}

func newOutputReader(r *run) (*outputReader, error) {
	rc, err := r.out.SyscallConn()
	if err != nil {
		return nil, err
	}
	o := &outputReader{r: r, rc: rc}
	o.readFD = o.read
	return o, nil
}

var errStopped = errors.New("cgi: run stopped")

func (o *outputReader) Read(p []byte) (int, error) {
	if o.r.stopped.Load() != int32(notStopped) {
		return 0, errStopped
	}
	if len(p) == 0 {
		return 0, nil
	}
	o.p, o.n, o.err, o.armed = p, 0, nil, false
	err := o.rc.Read(o.readFD)
	o.p = nil
	if err != nil {
		return 0, err
	}
	return o.n, o.err
}

// read is one attempt of Read on the descriptor. It reports false to make
// rc.Read wait until the descriptor is readable, after a flush and with the
// deadline set.
func (o *outputReader) read(fd uintptr) bool {
	r := o.r
	m, err := unix.Read(int(fd), o.p)
	for err == unix.EINTR {
		m, err = unix.Read(int(fd), o.p)
	}
	switch {
	case err == unix.EAGAIN:
	case err != nil:
		o.err = os.NewSyscallError("read", err)
		return true
	case m == 0:
		o.err = io.EOF
		return true
	default:
		o.n = m
		return true
	}
	if o.flush != nil {
		f := o.flush
		o.flush = nil
		if err := f(); err != nil {
			o.err = err
			return true
		}
	}
	if !o.armed {
		o.armed = true
		r.out.SetReadDeadline(time.Now().Add(r.h.opts.Timeout.Duration))
		if r.stopped.Load() != int32(notStopped) { // stop may have run before the deadline was set
			o.err = errStopped
			return true
		}
	}
	return false
}

var (
	bufPool    = sync.Pool{New: func() any { return new([copyBuffer]byte) }}
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, maxHeaderLine) }}
	stderrPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, maxStderrLine) }}
)

// output reads the script's stdout: header then body, or the raw response
// of an nph- script.
func (r *run) output(ctx context.Context, w ResponseWriter) (Result, error) {
	src, err := newOutputReader(r)
	if err != nil {
		return Result{}, r.fail(ctx, fmt.Errorf("cgi: reading script output: %w", err), false)
	}
	if isNPH(r.script) {
		return r.outputRaw(ctx, w, src)
	}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(src)
	defer func() { br.Reset(nil); readerPool.Put(br) }()

	hdr, err := parseHeader(br)
	if err != nil {
		return Result{}, r.fail(ctx, err, false)
	}
	r.headerAt = time.Since(r.start)
	for _, warn := range hdr.Warnings {
		r.h.log.LogAttrs(context.Background(), slog.LevelWarn, warn,
			slog.String("client", r.client), slog.String("script", r.script))
	}
	status, local := hdr.response()
	if local != "" {
		// The body of a local redirect is discarded: closing stdout
		// ends it (the script gets EPIPE if it goes on writing).
		return Result{LocalRedirect: local}, nil
	}
	res := Result{Status: status}
	if rn, ok := w.(RedirectNoter); ok && hdr.Status == 0 && status == 302 {
		rn.NoteRedirect(hdr.location())
	}
	if err := w.WriteHeader(status, hdr.Fields); err != nil {
		return res, r.fail(ctx, fmt.Errorf("cgi: writing response header: %w", err), false)
	}
	res.HeaderSent = true
	limit, hasLength := hdr.contentLength()
	if !hasLength {
		limit = -1
	}
	// The body goes out as it comes: each read is written, and what was
	// written is flushed before the next read waits for the script (or
	// once copyBuffer bytes are pending), so a script that writes and then
	// stays silent is seen at once, while output that is already there
	// (the rest of the body and its end, or a fast script's stream) shares
	// a write. The header waits for the first flush too.
	unflushed, unflushedBytes := true, 0 // the header waits for the first flush
	var flushErr error
	flush := func() error {
		unflushed, unflushedBytes = false, 0
		flushErr = w.Flush()
		return flushErr
	}
	write := func(p []byte) error {
		if limit >= 0 && res.BodyBytes+int64(len(p)) > limit {
			p = p[:limit-res.BodyBytes]
		}
		n, err := w.Write(p)
		res.BodyBytes += int64(n)
		unflushed, unflushedBytes = true, unflushedBytes+n
		if err == nil && unflushedBytes >= copyBuffer {
			err = flush()
		}
		return err
	}
	if n := br.Buffered(); n > 0 {
		p, _ := br.Peek(n)
		if err := write(p); err != nil {
			return res, r.fail(ctx, fmt.Errorf("cgi: writing response: %w", err), true)
		}
	}
	buf := bufPool.Get().(*[copyBuffer]byte)
	defer bufPool.Put(buf)
	for limit < 0 || res.BodyBytes < limit {
		src.flush = nil
		if unflushed {
			src.flush = flush
		}
		n, err := src.Read(buf[:])
		if flushErr != nil {
			return res, r.fail(ctx, fmt.Errorf("cgi: writing response: %w", flushErr), true)
		}
		if n > 0 {
			if werr := write(buf[:n]); werr != nil {
				return res, r.fail(ctx, fmt.Errorf("cgi: writing response: %w", werr), true)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, r.fail(ctx, err, true)
		}
	}
	if r.aborted() {
		// The group was killed on a stop, and its output ended before
		// the reader saw the stop.
		return res, r.fail(ctx, errStopped, true)
	}
	if limit >= 0 && res.BodyBytes < limit {
		return res, r.fail(ctx, fmt.Errorf("%w: %d of %d bytes", ErrIncomplete, res.BodyBytes, limit), true)
	}
	return res, nil
}

// aborted reports whether the run was stopped from outside: its client went
// away or the handler was closed.
func (r *run) aborted() bool {
	k := stopKind(r.stopped.Load())
	return k == stopCancel || k == stopClose
}

// outputRaw copies an nph- script's output to the client as it is.
func (r *run) outputRaw(ctx context.Context, w ResponseWriter, src io.Reader) (Result, error) {
	var res Result
	buf := bufPool.Get().(*[copyBuffer]byte)
	defer bufPool.Put(buf)
	var raw io.Writer
	for {
		n, err := src.Read(buf[:])
		if n > 0 {
			if raw == nil {
				r.headerAt = time.Since(r.start)
				res.Status = nphStatus(buf[:n])
				var rerr error
				if raw, rerr = w.Raw(); rerr != nil {
					return res, r.fail(ctx, fmt.Errorf("cgi: taking the raw connection: %w", rerr), false)
				}
				res.HeaderSent = true
			}
			m, werr := raw.Write(buf[:n])
			res.BodyBytes += int64(m)
			if werr == nil {
				werr = w.Flush()
			}
			if werr != nil {
				return res, r.fail(ctx, fmt.Errorf("cgi: writing response: %w", werr), true)
			}
		}
		if err == io.EOF && raw == nil {
			return res, r.fail(ctx, fmt.Errorf("%w: end of nph script output before headers", ErrBadHeader), false)
		}
		if err == io.EOF && !r.aborted() {
			return res, nil
		}
		if err != nil {
			return res, r.fail(ctx, err, raw != nil)
		}
	}
}

// nphStatus reads the code of a status line "HTTP/1.1 200 OK", or 0.
func nphStatus(p []byte) int {
	if !bytes.HasPrefix(p, []byte("HTTP/")) {
		return 0
	}
	_, rest, ok := bytes.Cut(p, []byte{' '})
	if !ok || len(rest) < 3 {
		return 0
	}
	code, err := strconv.Atoi(string(rest[:3]))
	if err != nil {
		return 0
	}
	return code
}

// fail records why the run failed, stops the script, and returns the error
// Serve returns.
func (r *run) fail(ctx context.Context, err error, headerSent bool) error {
	switch stopKind(r.stopped.Load()) {
	case stopCancel:
		r.failure = "script stopped: client went away"
		return fmt.Errorf("%w: %w", ErrAborted, context.Cause(ctx))
	case stopClose:
		r.failure = "script stopped: server stopping"
		return ErrClosed
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		r.stop(stopTimeout)
		r.failure = fmt.Sprintf("script timed out: no output for %v", r.h.opts.Timeout.Duration)
		if headerSent {
			r.failure += " after headers were sent"
		}
		return fmt.Errorf("%w: no output for %v", ErrTimeout, r.h.opts.Timeout.Duration)
	case errors.Is(err, ErrBadHeader):
		// Not stopped at once: closing stdout ends a script that goes on
		// writing, and one that exits by itself within the grace leaves
		// its real exit status and stderr for the failure record, as
		// Apache's soaking up of the output does.
		r.failure = strings.TrimPrefix(err.Error(), ErrBadHeader.Error()+": ")
		return err
	default:
		r.failure = strings.TrimPrefix(err.Error(), "cgi: ")
	}
	r.stop(stopFailed)
	return err
}

// supervise owns the script's processes: it waits for the run to end, stops
// what is left of the process group, reaps everything, releases the slot
// and writes the failure record.
//
// It watches for the leader's exit only when it has to wait for it: when
// Serve is done with the output and the leader runs on, or when the group
// is stopped. Usually the leader has exited by the time the output is
// done, and one waitid says so.
func (r *run) supervise() {
	defer r.h.release()
	var exited <-chan struct{} // from watchExit, once there is a wait
	var linger <-chan time.Time
	outDone := r.outDone
	gone := false // the leader is known to have exited
wait:
	for {
		select {
		case <-outDone:
			outDone = nil
			if gone = r.leaderExited(); gone {
				break wait
			}
			exited = r.watchExit()
			d := r.h.opts.Timeout.Duration
			if r.failure != "" {
				d = r.h.killGrace
			}
			t := time.NewTimer(d)
			defer t.Stop()
			linger = t.C
		case <-exited:
			gone = true
			break wait
		case <-linger:
			r.stop(stopLinger)
		case <-r.stopReq:
			break wait
		case <-r.h.done:
			r.stop(stopClose)
			break wait
		}
	}
	if !gone && !r.leaderExited() {
		// The leader is alive, so its pid holds the group id: signal it.
		if exited == nil {
			exited = r.watchExit()
		}
		r.signal(unix.SIGTERM)
		t := time.NewTimer(r.h.killGrace)
		select {
		case <-exited:
		case <-t.C:
			r.signal(unix.SIGKILL)
			select {
			case <-exited:
			case <-time.After(reapLimit):
				r.h.log.LogAttrs(context.Background(), slog.LevelError, "script did not exit after SIGKILL; giving up on it",
					slog.String("script", r.script), slog.Int("pid", r.pid))
				<-r.outDone
				return
			}
		}
		t.Stop()
	}
	r.reapLeader()
	leaderStopped := !r.termAt.IsZero()
	left := r.drainGroup()

	select {
	case <-r.stderrDone:
	default:
		t := time.NewTimer(stderrLimit)
		select {
		case <-r.stderrDone:
		case <-t.C:
			r.errR.Close() // a process outside the group still holds stderr
			<-r.stderrDone
		}
		t.Stop()
	}
	<-r.outDone
	r.report(left, leaderStopped)
}

// signal sends sig to the script's process group; the caller makes sure
// the leader is not yet reaped.
func (r *run) signal(sig unix.Signal) {
	if sig == unix.SIGTERM && r.termAt.IsZero() {
		r.termAt = time.Now()
	}
	unix.Kill(-r.pid, sig)
}

// drainGroup reaps the processes left in the script's group after its
// leader was reaped: SIGTERM, SIGKILL after the grace, and wait4 on the
// group (they are the server's children, being a subreaper). It returns how
// many processes it reaped. The group id cannot be reused while one of its
// processes, even a zombie, exists, so kill(-pid, 0) tells whether the
// group is empty.
func (r *run) drainGroup() int {
	reaped := 0
	reap := func() {
		for range 1 << 16 {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-r.pid, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				return
			}
			reaped++
		}
	}
	// Usually the group is empty already: one probe, nothing to reap.
	if err := unix.Kill(-r.pid, 0); err == unix.ESRCH {
		return 0
	}
	deadline := time.Now().Add(r.h.killGrace + reapLimit)
	killed := false
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		reap()
		if err := unix.Kill(-r.pid, 0); err == unix.ESRCH {
			return reaped
		}
		now := time.Now()
		switch {
		case r.termAt.IsZero():
			r.signal(unix.SIGTERM)
		case !killed && now.Sub(r.termAt) >= r.h.killGrace:
			unix.Kill(-r.pid, unix.SIGKILL)
			killed = true
		case now.After(deadline):
			r.h.log.LogAttrs(context.Background(), slog.LevelError, "processes of a script's group did not exit; giving up on them",
				slog.String("script", r.script), slog.Int("pgid", r.pid))
			return reaped
		}
		time.Sleep(delay)
	}
}

// readStderr sends each line the script writes to stderr to the error log
// and keeps the last few for the failure record. It reads until the end of
// stderr whatever the log does, so a script spewing stderr never blocks.
func (r *run) readStderr() {
	defer close(r.stderrDone)
	defer r.errR.Close()
	br := stderrPool.Get().(*bufio.Reader)
	br.Reset(r.errR)
	defer func() { br.Reset(nil); stderrPool.Put(br) }()
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			text := strings.TrimRight(string(line), "\r\n")
			if errors.Is(err, bufio.ErrBufferFull) {
				text += " [line truncated]"
				for errors.Is(err, bufio.ErrBufferFull) {
					_, err = br.ReadSlice('\n')
				}
			}
			r.h.log.LogAttrs(context.Background(), slog.LevelError, text,
				slog.String("client", r.client), slog.String("script", r.script))
			if len(r.tail) == stderrTail {
				r.tail = append(r.tail[:0], r.tail[1:]...)
			}
			r.tail = append(r.tail, text)
		}
		if err != nil {
			return
		}
	}
}

// report writes the one error log record that explains a failed run: why,
// how the script ended, how long it took to send its header, whether the
// header was sent, and its last stderr lines. A run that did not fail
// writes nothing, unless its script died of a signal the server did not
// send or left processes behind.
func (r *run) report(left int, leaderStopped bool) {
	ws := r.status
	msg, level := r.failure, slog.LevelError
	switch {
	case msg != "" && stopKind(r.stopped.Load()) == stopCancel:
		level = levelNotice
	case msg != "":
	case ws.Signaled() && !leaderStopped:
		msg = "script killed by signal " + unix.SignalName(ws.Signal())
	case left > 0:
		msg, level = "script left processes behind in its group; they were stopped", slog.LevelWarn
	case stopKind(r.stopped.Load()) == stopLinger:
		msg, level = "script stopped: still running a timeout after closing its output", slog.LevelWarn
	default:
		return
	}
	exit := "exit status " + strconv.Itoa(ws.ExitStatus())
	if ws.Signaled() {
		exit = "signal " + unix.SignalName(ws.Signal())
		if leaderStopped {
			exit += " (stopped by the server: " + stopText[r.stopped.Load()] + ")"
		}
	}
	header := "none"
	if r.headerAt >= 0 {
		header = r.headerAt.Round(time.Millisecond).String()
	}
	attrs := []slog.Attr{
		slog.String("client", r.client),
		slog.String("script", r.script),
		slog.String("exit", exit),
		slog.Duration("elapsed", time.Since(r.start).Round(time.Millisecond)),
		slog.String("header_after", header),
		slog.Bool("headers_sent", r.result.HeaderSent),
		slog.Int64("body_bytes", r.result.BodyBytes),
	}
	if left > 0 {
		attrs = append(attrs, slog.Int("leftover_processes", left))
	}
	if len(r.tail) > 0 {
		attrs = append(attrs, slog.String("stderr", strings.Join(r.tail, " | ")))
	}
	r.h.log.LogAttrs(context.Background(), level, msg, attrs...)
}
