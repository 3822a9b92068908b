package cgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pwebs/pwebs/conf"
	"golang.org/x/sys/unix"
)

// Errors Serve returns. Serve wraps them with details for the error log;
// test them with errors.Is. The status each maps to is for serve to send
// only when Result.HeaderSent is false; once a header was sent, an error
// means the response is incomplete and the connection must be closed.
var (
	ErrNotFound     = errors.New("cgi: script not found")                              // 404
	ErrForbidden    = errors.New("cgi: script not runnable")                           // 403: a folder, not a regular file, not executable or not readable
	ErrBodyTooLarge = errors.New("cgi: request body too large")                        // 413, before the script starts
	ErrBusy         = errors.New("cgi: no free process slot")                          // 503 with Retry-After
	ErrClosed       = errors.New("cgi: handler closed")                                // 503: the server is stopping
	ErrStart        = errors.New("cgi: cannot start script")                           // 500: exec failed (no interpreter line, interpreter gone, ...)
	ErrBadHeader    = errors.New("cgi: bad header from script")                        // 500: exit or garbage before a valid header block
	ErrTimeout      = errors.New("cgi: script timed out")                              // 504: no output for Options.Timeout
	ErrIncomplete   = errors.New("cgi: script output shorter than its Content-Length") // the body ended early
	ErrAborted      = errors.New("cgi: script stopped")                                // ctx was cancelled: the client is gone, send nothing
)

// ResponseWriter is how a script's response reaches the client. serve
// implements it and owns the framing (chunked on HTTP/1.1 without a
// Content-Length, until close on HTTP/1.0), the Date and Server fields and
// HEAD (where it discards the body).
//
// Serve calls either WriteHeader once, then Write for each read of the
// script's output, and Flush whenever it is about to wait for more output
// (and after every 32 KiB written), so that nothing written stays unsent
// while the script is silent, while output that is already there shares a
// write; or, for an nph- script, Raw once and then writes to the writer Raw
// returned, calling Flush after each write. What was written and not
// flushed when Serve returns is serve's to send, with the end of the
// response. An error from any method stops the script.
type ResponseWriter interface {
	// WriteHeader starts the response with a status and the script's
	// header fields, in the script's order; Set-Cookie may repeat.
	WriteHeader(status int, fields []Field) error
	// Write sends body bytes.
	Write(p []byte) (int, error)
	// Flush sends what was written so far to the client.
	Flush() error
	// Raw gives direct access to the client for an nph- script, which
	// writes the status line and header itself: serve writes nothing else
	// and closes the connection after the response.
	Raw() (io.Writer, error)
}

// A RedirectNoter is a ResponseWriter told, before WriteHeader, that the
// script sent a Location to another site and no Status: the 302 that
// follows is the server's doing, and the body only a courtesy. A script's
// own "Status: 302" is not noted. (An SSI include tells the two apart, as
// Apache's mod_include does.)
type RedirectNoter interface {
	NoteRedirect(location string)
}

// Result says what a run did, for serve and its access log.
type Result struct {
	// LocalRedirect, when not empty, is a local path (with its query) the
	// script redirected to with a Location field and no Status: nothing
	// was written, and serve must serve that path internally as a GET.
	LocalRedirect string
	// Status is the status sent: the script's Status, 302 for a Location
	// to an absolute URL, 200 otherwise; for an nph- script, the code read
	// from its status line, or 0.
	Status int
	// HeaderSent reports whether WriteHeader or Raw was called: serve can
	// no longer send an error page.
	HeaderSent bool
	// BodyBytes counts the bytes written through Write (for an nph-
	// script, every byte, header included).
	BodyBytes int64
}

// Handler runs CGI scripts. It is safe for concurrent use. A Handler made by
// New must be stopped with Close.
type Handler struct {
	opts   Options
	log    *slog.Logger
	ext    map[string]bool   // lower-case extension -> a script (Extensions)
	interp map[string]string // lower-case extension -> program (Interpreters)
	limits string            // formatLimits for the rlimit re-exec; "" for none

	slots chan struct{} // one element per running script
	done  chan struct{} // closed by Close

	// devNull is /dev/null, opened once (read-only, close-on-exec) and
	// given to every script without a request body as its stdin, rather
	// than one open per run. Sharing it is harmless: a read of /dev/null
	// returns end of file whatever its offset and flags. It is -1 if it
	// could not be opened, and then such scripts cannot start. Close
	// closes it once every run is reaped.
	devNull int

	mu        sync.Mutex
	closed    bool
	wg        sync.WaitGroup // one per started script, done when its group is reaped
	closeOnce sync.Once

	killGrace     time.Duration // killGrace; tests shorten it
	testHookStart func(pid int) // called with each script's pid; nil but in tests
}

// Timing constants of a run.
const (
	// killGrace is how long a script (its whole process group) has
	// between SIGTERM and SIGKILL, as Apache gives.
	killGrace = 3 * time.Second
	// reapLimit bounds the wait for a process group to die after SIGKILL
	// (a process stuck in an uninterruptible sleep cannot die sooner).
	reapLimit = 10 * time.Second
	// stderrLimit bounds the wait for the end of a script's stderr after
	// its group is gone (a process that left the group may still hold it).
	stderrLimit = 100 * time.Millisecond
)

// New returns a Handler for o, which must validate, logging to log (nil
// discards). It makes the server process a child subreaper, so that
// processes a script leaves behind are re-parented to the server, where
// they are reaped, rather than to init.
func New(o Options, log *slog.Logger) (*Handler, error) {
	var errs []error
	for _, err := range o.Validate() {
		// An interpreter that is not installed only disables its scripts:
		// their runs fail with ErrStart wrapping fs.ErrNotExist.
		var ke *conf.KeyError
		if errors.As(err, &ke) && strings.HasPrefix(ke.Key, "interpreters.") && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("cgi: invalid options: %w", errors.Join(errs...))
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		opts:      o,
		log:       log,
		ext:       make(map[string]bool),
		interp:    make(map[string]string),
		slots:     make(chan struct{}, o.MaxProcesses),
		done:      make(chan struct{}),
		killGrace: killGrace,
		devNull:   -1,
	}
	if fd, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		h.devNull = fd
	} else {
		log.Warn("cgi: cannot open "+os.DevNull+"; scripts without a request body cannot start", "err", err)
	}
	for _, e := range o.Extensions {
		h.ext[strings.ToLower(e)] = true
	}
	for e, p := range o.Interpreters {
		h.interp[strings.ToLower(e)] = p
	}
	if o.MaxCPU.Duration > 0 || o.MaxMemory > 0 {
		h.limits = formatLimits(o.MaxCPU.Duration, int64(o.MaxMemory))
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		log.Warn("cgi: cannot become a child subreaper; processes scripts leave behind go to init", "err", err)
	}
	return h, nil
}

// IsScript reports whether the file at path (already resolved by serve) is
// run as a script rather than sent: always when it was reached through one
// of Options.Dirs (inDir), otherwise when its extension, in any case, is one
// of Options.Extensions or Options.Interpreters. A file IsScript accepts
// must never be sent as it is, whatever Serve then returns.
func (h *Handler) IsScript(path string, inDir bool) bool {
	if inDir {
		return true
	}
	ext := strings.ToLower(filepath.Ext(path))
	return ext != "" && (h.ext[ext] || h.interp[ext] != "")
}

// Close stops every running script (SIGTERM to its process group, SIGKILL
// after a grace) and waits until all are reaped. Serve returns ErrClosed
// after Close was called.
func (h *Handler) Close() error {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
	h.mu.Unlock()
	h.wg.Wait()
	h.closeOnce.Do(func() {
		if h.devNull >= 0 {
			unix.Close(h.devNull)
		}
	})
	return nil
}

// acquire takes a process slot, waiting at most Options.MaxWait, and
// registers a run with wg. The caller releases both with release.
func (h *Handler) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
	default:
		t := time.NewTimer(h.opts.MaxWait.Duration)
		defer t.Stop()
		select {
		case h.slots <- struct{}{}:
		case <-t.C:
			return fmt.Errorf("%w: %d scripts running, waited %v", ErrBusy, cap(h.slots), h.opts.MaxWait.Duration)
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrAborted, context.Cause(ctx))
		case <-h.done:
			return ErrClosed
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		<-h.slots
		return ErrClosed
	}
	h.wg.Add(1)
	return nil
}

func (h *Handler) release() {
	<-h.slots
	h.wg.Done()
}

// command returns the program and argv that run the script r names, or
// ErrNotFound or ErrForbidden.
func (h *Handler) command(r *Request) (prog string, argv []string, err error) {
	path := r.ScriptFilename
	if !filepath.IsAbs(path) {
		return "", nil, fmt.Errorf("%w: %q is not an absolute path", ErrForbidden, path)
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return "", nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	case err != nil:
		return "", nil, fmt.Errorf("%w: %w", ErrForbidden, err)
	case !fi.Mode().IsRegular():
		return "", nil, fmt.Errorf("%w: %s is not a regular file", ErrForbidden, path)
	}
	if in := h.interp[strings.ToLower(filepath.Ext(path))]; in != "" {
		if _, err := os.Stat(in); err != nil {
			return "", nil, fmt.Errorf("%w: interpreter %s: %w", ErrStart, in, err)
		}
		if err := unix.Faccessat(unix.AT_FDCWD, path, unix.R_OK, unix.AT_EACCESS); err != nil {
			return "", nil, fmt.Errorf("%w: %s is not readable: %w", ErrForbidden, path, err)
		}
		// No search-string arguments for an interpreter: php-cgi would take
		// them as options (CVE-2012-1823).
		return in, []string{in, path}, nil
	}
	if err := unix.Faccessat(unix.AT_FDCWD, path, unix.X_OK, unix.AT_EACCESS); err != nil {
		return "", nil, fmt.Errorf("%w: %s is not executable: %w", ErrForbidden, path, err)
	}
	return path, append([]string{filepath.Base(path)}, searchArgs(r.QueryString)...), nil
}

// maxSearchArgs bounds the command-line words made from a search string.
const maxSearchArgs = 64

// searchArgs returns the command line RFC 3875 section 4.4 (and Apache) give
// a script whose query string has no '=': the '+'-separated words,
// percent-decoded. It returns nil when the query has an '=', when a word
// cannot be decoded or holds a NUL, or past maxSearchArgs words.
func searchArgs(q string) []string {
	if q == "" || strings.IndexByte(q, '=') >= 0 {
		return nil
	}
	words := strings.Split(q, "+")
	if len(words) > maxSearchArgs {
		return nil
	}
	for i, w := range words {
		d, err := url.PathUnescape(w)
		if err != nil || strings.IndexByte(d, 0) >= 0 {
			return nil
		}
		words[i] = d
	}
	return words
}

// isNPH reports whether the script is an nph- ("non-parsed headers") script,
// which writes its whole response, status line included.
func isNPH(path string) bool { return strings.HasPrefix(filepath.Base(path), "nph-") }
