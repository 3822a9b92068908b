package logging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Logger writes the access log and the error log, each buffered in memory and
// written by its own goroutine, rotated by size through lumberjack, whose
// goroutine prunes rotated files, and gzipped by a goroutine of this package.
// All its methods are safe for concurrent use.
type Logger struct {
	format  *Format
	access  *sink // nil when the access log is off
	errs    *sink
	errLog  *slog.Logger
	report  *slog.Logger // stderr, for problems with the logs themselves
	created []dirID      // folders New created, for Chown

	closeOnce sync.Once
	closeErr  error
}

// env is what tests replace: where problems are reported.
type env struct {
	stderr io.Writer
}

// New validates o, creates the log folders, opens (or creates) both logs for
// appending, and starts the goroutines that write them. Paths are used as
// given: serve resolves relative ones first. Close stops everything New
// started, except lumberjack's goroutine, of which there is one per log path
// for the life of the process (see the package comment).
func New(o Options) (*Logger, error) {
	return open(o, env{stderr: os.Stderr})
}

func open(o Options, e env) (*Logger, error) {
	if errs := o.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("logging: %w", errors.Join(errs...))
	}
	format, _ := ParseFormat(o.Format)
	level, _ := ParseLevel(o.Level)
	l := &Logger{format: format, report: slog.New(NewHandler(e.stderr, slog.LevelDebug))}

	errFile, err := l.openFile(o.Error, os.Stderr, o)
	if err != nil {
		return nil, err
	}
	var accFile *logFile
	if o.Access != "" {
		if accFile, err = l.openFile(o.Access, os.Stdout, o); err != nil {
			errFile.close()
			return nil, err
		}
	}

	errWhat := "error log " + o.Error
	if o.Error == "-" {
		errWhat = "error log (stderr)"
	}
	l.errs = newSink(errWhat, errFile, l.alarm(false))
	l.errLog = slog.New(NewHandler(l.errs, level))
	if accFile != nil {
		accWhat := "access log " + o.Access
		if o.Access == "-" {
			accWhat = "access log (stdout)"
		}
		l.access = newSink(accWhat, accFile, l.alarm(o.Error != "-"))
	}
	return l, nil
}

// openFile opens the log at path ("-" for std), recording the folders it
// creates. A file is written through the lumber of its path, shared with any
// other Logger writing it and kept for the life of the process.
func (l *Logger) openFile(path string, std *os.File, o Options) (*logFile, error) {
	lf := &logFile{path: path}
	if path == "-" {
		lf.std = std
		return lf, nil
	}
	created, err := mkdirs(filepath.Dir(path))
	l.created = append(l.created, created...)
	if err != nil {
		return nil, fmt.Errorf("logging: %w", err)
	}
	if lf.lum, err = acquire(path, o); err != nil {
		return nil, fmt.Errorf("logging: %w", err)
	}
	for i := range l.created {
		if l.created[i].path == filepath.Dir(path) {
			lf.lum.mu.Lock()
			lf.lum.home = &l.created[i]
			lf.lum.mu.Unlock()
		}
	}
	if err := lf.open(); err != nil {
		lf.close()
		return nil, fmt.Errorf("logging: %w", err)
	}
	return lf, nil
}

// alarm returns the function that reports a problem with a log: always on
// stderr, and in the error log too when toErrLog.
func (l *Logger) alarm(toErrLog bool) func(slog.Level, string, ...any) {
	return func(level slog.Level, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		l.report.Log(context.Background(), level, msg)
		if toErrLog {
			l.errLog.Log(context.Background(), level, msg)
		}
	}
}

// lineMax is the room Access makes in a chunk before formatting a line
// into it: a longer line may move the chunk to a larger array.
const lineMax = 512

// Access formats r and buffers its line; it keeps nothing from r. When
// r.Duration is zero and the format prints it, Access sets it to the time
// since r.Time: a caller leaves it zero to have the clock read only by a
// format that needs it. It never waits for the disk: when more than
// BufferLimit bytes wait to be written, the line is dropped and counted in
// a report on stderr. When the writer lags behind a writable log (more than
// 256 KiB waiting), Access yields the processor once, so that busy callers
// cannot starve the writer. It does nothing when the access log is off or
// the Logger is closed.
func (l *Logger) Access(r *Record) {
	if l.access == nil {
		return
	}
	if r.Duration == 0 && l.format.UsesDuration() && !r.Time.IsZero() {
		r.Duration = time.Since(r.Time)
	}
	l.access.addRecord(l.format, r)
}

// UsesResponseHeader reports whether access lines print a field of the
// response head (%{Name}o): when they do not (or the access log is off),
// Record.RespHeader may be nil.
func (l *Logger) UsesResponseHeader() bool {
	return l.access != nil && l.format.UsesResponseHeader()
}

// LogsAccess reports whether access lines are written: false when the
// access log is off, so that callers may skip building records.
func (l *Logger) LogsAccess() bool { return l.access != nil }

// Error returns the error log. Its records are buffered like access lines,
// but the writer is woken at once for each. Records logged after Close are
// dropped.
func (l *Logger) Error() *slog.Logger { return l.errLog }

// Flush writes every buffered line now and returns the first problem.
func (l *Logger) Flush() error { return l.each(request{op: opFlush}) }

// Reopen writes every buffered line, then closes both log files and opens
// their paths again: send it on SIGUSR1 after an external logrotate moved the
// files away. Logs on stdout or stderr are left alone.
func (l *Logger) Reopen() error { return l.each(request{op: opReopen}) }

// Chown hands the logs to the user pwebs is about to drop to, while it still
// runs as root, so that rotation and reopening keep working afterwards: it
// changes the owner of both live files and their rotated files, then of the
// folders New created. It never changes the owner of a folder it did not
// create (such as /var/log); if such a folder is not writable by uid, Chown
// returns an error naming it, because rotation would fail once privileges are
// dropped. A uid or gid of -1 is left unchanged.
//
// It hands over only what this process made, and follows no symbolic link:
// a log file that existed before and is not uid's already (one of root's,
// that the user who may write the folder could have moved there) keeps its
// owner, with an error naming it; so does a file with several names, or a
// folder replaced since New created it. See lumber.chown.
//
// Chown is also what keeps lumberjack's rotation working after the drop: it
// gives the new live file the owner and group of the old one (and a .gz
// those of its source), which fails unless the process may set them. Once
// Chown has run, they are uid and gid, the process's own. With a gid of -1,
// the files keep their group, which must then be one of the user's groups.
func (l *Logger) Chown(uid, gid int) error {
	// The files first: a folder that only root may write yet shows that
	// the files in it are this process's.
	errs := []error{l.each(request{op: opChown, uid: uid, gid: gid})}
	for _, d := range l.created {
		errs = append(errs, d.chown(uid, gid))
	}
	for _, s := range []*sink{l.access, l.errs} {
		if s == nil || s.file.std != nil {
			continue
		}
		if fi, err := os.Stat(s.file.path); err == nil && !fi.Mode().IsRegular() {
			continue // /dev/null, a FIFO: never rotated, so its folder does not matter
		}
		dir := filepath.Dir(s.file.path)
		if ok, err := writableBy(dir, uid, gid); err != nil {
			errs = append(errs, err)
		} else if !ok {
			errs = append(errs, fmt.Errorf("logging: folder %s is not writable by uid %d: the %s could not be rotated or reopened after dropping privileges; make it writable for that user or use a folder of its own", dir, uid, s.what))
		}
	}
	return errors.Join(errs...)
}

// Close writes every buffered line, closes the files and stops every
// goroutine the Logger started. Before it returns, the rotated files are
// compressed and those beyond keep removed (a problem with them is reported
// on stderr), and it waits for lumberjack's pruning, for as long as it makes
// progress; lumberjack's goroutine itself stays, idle, for the next Logger of
// the same path. Later calls return the first call's result.
func (l *Logger) Close() error {
	l.closeOnce.Do(func() {
		var errs []error
		if l.access != nil {
			errs = append(errs, l.access.close())
		}
		errs = append(errs, l.errs.close())
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}

// each runs r in both logs' writers.
func (l *Logger) each(r request) error {
	var errs []error
	if l.access != nil {
		errs = append(errs, l.access.do(r))
	}
	errs = append(errs, l.errs.do(r))
	return errors.Join(errs...)
}

// writableBy reports whether uid (with primary group gid) may create and
// rename files in dir, from its owner and mode bits. Supplementary groups are
// not known here, so a folder writable only through one is reported as not
// writable.
func writableBy(dir string, uid, gid int) (bool, error) {
	if uid <= 0 {
		return true, nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return false, fmt.Errorf("logging: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true, nil
	}
	perm := fi.Mode().Perm()
	switch {
	case int(st.Uid) == uid:
		return perm&0o300 == 0o300, nil
	case int(st.Gid) == gid:
		return perm&0o030 == 0o030, nil
	}
	return perm&0o003 == 0o003, nil
}
