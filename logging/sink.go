package logging

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of the buffering between the callers and the disk.
const (
	// FlushInterval is the longest a line waits in memory before it is
	// written, when its log can be written.
	FlushInterval = time.Second

	// FlushSize is how many buffered bytes wake the writer before the next
	// FlushInterval tick.
	FlushSize = 64 << 10

	// BufferLimit bounds the bytes a log holds in memory, waiting to be
	// written. It is only reached when the log cannot be written (disk full,
	// folder removed) or the disk is far slower than the requests: past it,
	// lines are dropped and counted, never waited for.
	BufferLimit = 16 << 20
)

const (
	// chunkSize is the size of the buffers lines are gathered in. A line
	// never spans two chunks, so each chunk is written whole lines at a time.
	chunkSize = FlushSize

	// maxFreeChunks bounds the empty chunks kept for reuse after a burst.
	maxFreeChunks = 8

	// yieldAt is how many buffered bytes show that the writer lags behind
	// the callers: past it, Access yields the CPU to let the writer run.
	yieldAt = 4 * chunkSize
)

// ErrClosed is returned by the methods of a Logger that was closed.
var ErrClosed = errors.New("logging: logger closed")

// sink buffers the lines of one log and writes them from its own goroutine,
// so that callers never wait for the disk. Lines are gathered in chunks of
// chunkSize bytes, reused once written, so that a steady load allocates
// nothing.
type sink struct {
	what  string // "access log logs/access_log", for reports
	file  *logFile
	alarm func(level slog.Level, format string, args ...any) // reports a problem or its end

	mu      sync.Mutex
	cur     []byte   // the chunk being filled
	full    [][]byte // filled chunks, oldest first, for the writer
	free    [][]byte // written chunks, for reuse
	held    int      // bytes buffered and not yet on disk, all chunks together
	dropped int      // lines dropped since the writer last looked
	closed  bool
	stalled atomic.Bool // the log cannot be written: callers must not wait for it

	kick    chan struct{}
	reqs    chan request
	stopped chan struct{}

	// Used by the writer goroutine only.
	pending   [][]byte  // chunks taken from full, not yet written
	failing   error     // the write error being reported, nil when writing works
	lost      int       // lines dropped while failing
	rotateErr error     // the rotation error being reported
	millErr   error     // the compression or pruning problem being reported
	millAt    time.Time // when rotated files were last checked for it
}

type opcode int

const (
	opFlush opcode = iota
	opReopen
	opChown
	opClose
)

type request struct {
	op       opcode
	uid, gid int
	reply    chan error
}

func newSink(what string, file *logFile, alarm func(slog.Level, string, ...any)) *sink {
	s := &sink{
		what: what, file: file, alarm: alarm,
		kick: make(chan struct{}, 1), reqs: make(chan request), stopped: make(chan struct{}),
	}
	go s.run()
	return s
}

// add buffers p, which holds one or more whole lines, and wakes the writer
// when urgent or when a chunk is full. It never blocks on the disk.
func (s *sink) add(p []byte, lines int, urgent bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if s.held+len(p) > BufferLimit {
		s.dropped += lines
		s.mu.Unlock()
		return
	}
	wake := s.room(len(p)) || urgent
	s.cur = append(s.cur, p...)
	s.held += len(p)
	s.release(wake)
}

// addRecord formats r's line with f straight into the chunk being filled,
// which saves copying it there, and wakes the writer when a chunk is full.
// A line longer than lineMax may move the chunk to a larger array, which
// is then not reused. It never blocks on the disk.
func (s *sink) addRecord(f *Format, r *Record) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	wake := s.room(lineMax)
	start := len(s.cur)
	s.cur = f.Append(s.cur, r)
	if n := len(s.cur) - start; s.held+n > BufferLimit {
		s.cur = s.cur[:start]
		s.dropped++
	} else {
		s.held += n
	}
	s.release(wake)
}

// room makes sure the chunk being filled has n bytes free, and reports
// whether it moved a filled chunk to the writer's queue. s.mu is held.
func (s *sink) room(n int) bool {
	if len(s.cur)+n <= cap(s.cur) {
		return false
	}
	full := len(s.cur) > 0
	if full {
		s.full = append(s.full, s.cur)
	}
	s.cur = s.chunk(n)
	return full
}

// release unlocks s.mu, wakes the writer if wake, and yields when the
// writer lags.
func (s *sink) release(wake bool) {
	behind := s.held > yieldAt
	s.mu.Unlock()
	if wake {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	if behind && !s.stalled.Load() {
		// The writer works but lags, short of CPU time among busy callers:
		// yield so that it runs, rather than drop lines at BufferLimit.
		// This never waits for the disk: the writer gives its P back while
		// in a system call.
		runtime.Gosched()
	}
}

// chunk returns an empty chunk that holds at least n bytes. s.mu is held.
func (s *sink) chunk(n int) []byte {
	if n > chunkSize {
		return make([]byte, 0, n)
	}
	if k := len(s.free); k > 0 {
		c := s.free[k-1]
		s.free = s.free[:k-1]
		return c
	}
	return make([]byte, 0, chunkSize)
}

// Write buffers p, a whole error log line, and wakes the writer at once.
func (s *sink) Write(p []byte) (int, error) {
	s.add(p, bytes.Count(p, []byte{'\n'}), true)
	return len(p), nil
}

// do runs a request in the writer goroutine and returns its result.
func (s *sink) do(r request) error {
	r.reply = make(chan error, 1)
	select {
	case s.reqs <- r:
		return <-r.reply
	case <-s.stopped:
		return ErrClosed
	}
}

// close stops taking lines, writes what is buffered, closes the file (once
// rotated files are compressed and pruned) and ends the writer goroutine.
func (s *sink) close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return s.do(request{op: opClose})
}

func (s *sink) run() {
	defer close(s.stopped)
	s.file.start()
	s.millAt = time.Now()
	tick := time.NewTicker(FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.kick:
			if s.failing == nil {
				s.flush()
			}
		case <-tick.C:
			s.flush()
			if s.file.lum != nil && time.Since(s.millAt) >= millCheck {
				s.millAt = time.Now()
				s.reportMill(s.file.lum.late())
			}
		case r := <-s.reqs:
			err := s.flush()
			switch r.op {
			case opReopen:
				err = errors.Join(err, s.file.reopen())
			case opChown:
				err = errors.Join(err, s.file.chown(r.uid, r.gid))
			case opClose:
				n := s.lost
				for _, c := range s.pending {
					n += bytes.Count(c, []byte{'\n'})
				}
				if n > 0 {
					s.alarm(slog.LevelError, "%s: %d lines could not be written before closing", s.what, n)
				}
				closeErr, millErr := s.file.close()
				err = errors.Join(err, closeErr)
				if millErr != nil {
					s.alarm(slog.LevelError, "%s: cannot compress or remove rotated files: %v", s.what, millErr)
				}
				r.reply <- err
				return
			}
			r.reply <- err
		}
	}
}

// flush writes what is buffered. On failure it keeps the unwritten lines
// (within BufferLimit) for the next try, and reports the problem once; it
// reports again when writing works.
func (s *sink) flush() error {
	s.mu.Lock()
	if len(s.cur) > 0 {
		s.full = append(s.full, s.cur)
		s.cur = nil
	}
	s.pending = append(s.pending, s.full...)
	clear(s.full)
	s.full = s.full[:0]
	dropped := s.dropped
	s.dropped = 0
	s.mu.Unlock()

	var err error
	written, done := 0, 0
	if len(s.pending) > 0 {
		s.file.checkLinked()
	}
	for _, c := range s.pending {
		var n int
		n, err = s.file.write(c)
		written += n
		if err != nil {
			s.pending[done] = c[n:] // the rest waits for the next try
			break
		}
		done++
	}
	s.mu.Lock()
	s.held -= written
	for _, c := range s.pending[:done] {
		if cap(c) == chunkSize && len(s.free) < maxFreeChunks {
			s.free = append(s.free, c[:0])
		}
	}
	s.mu.Unlock()
	clear(s.pending[:done])
	s.pending = s.pending[:copy(s.pending, s.pending[done:])]

	s.stalled.Store(err != nil)
	switch {
	case err != nil && s.failing == nil:
		s.failing = err
		s.lost = dropped
		s.alarm(slog.LevelError, "%s cannot be written: %v; keeping up to %d MiB of lines in memory and retrying every %v",
			s.what, err, BufferLimit>>20, FlushInterval)
	case err != nil:
		s.lost += dropped
	case s.failing != nil:
		s.alarm(LevelNotice, "%s: writing works again; %d lines were lost meanwhile", s.what, s.lost+dropped)
		s.failing, s.lost = nil, 0
	case dropped > 0:
		s.alarm(slog.LevelError, "%s: %d lines were dropped: more than %d MiB waited to be written", s.what, dropped, BufferLimit>>20)
	}
	switch rerr := s.file.rotateErr; {
	case rerr != nil && s.rotateErr == nil:
		s.alarm(slog.LevelError, "%s cannot be rotated: %v; writing on past rotate_size", s.what, rerr)
	case rerr == nil && s.rotateErr != nil:
		s.alarm(LevelNotice, "%s: rotating works again", s.what)
	}
	s.rotateErr = s.file.rotateErr
	if err != nil {
		return fmt.Errorf("%s: %w", s.what, err)
	}
	return nil
}

// reportMill reports a problem with compressing or removing rotated files
// once, and reports again when it is over.
func (s *sink) reportMill(err error) {
	switch {
	case err != nil && s.millErr == nil:
		s.alarm(slog.LevelError, "%s: cannot compress or remove rotated files: %v", s.what, err)
	case err == nil && s.millErr != nil:
		s.alarm(LevelNotice, "%s: compressing and removing rotated files works again", s.what)
	}
	s.millErr = err
}
