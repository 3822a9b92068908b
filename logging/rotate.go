package logging

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"gopkg.in/natefinch/lumberjack.v2"
)

// Permissions of the log folders and files pwebs creates (before the umask),
// as Debian gives /var/log/apache2: the logs hold client addresses and query
// strings, so other users may not read them. Rotation gives the new live
// file the mode of the old one, and compression gives a rotated file's mode
// to its .gz.
const (
	dirPerm  = 0o750
	filePerm = 0o640
)

// backupStamp is lumberjack's layout of the rotation time, in UTC, in a
// rotated file's name: access_log-2026-11-21T10-04-05.123 for access_log,
// site-2026-11-21T10-04-05.123.log for site.log, then ".gz" once compressed.
const backupStamp = "2006-01-02T15-04-05.000"

// neverRotate is the MaxSize, in megabytes, given to lumberjack: 2 PiB, so
// that it never rotates by itself. lumberjack counts MaxSize in whole
// megabytes; the byte size configured is honoured here, by counting what is
// written and calling Rotate before a line that would not fit.
const neverRotate = math.MaxInt32

// Bounds of the waits on lumberjack.
const (
	// maxNameWaits bounds the milliseconds a rotation waits for a backup
	// name that no file has (see lumber.newMillisecond).
	maxNameWaits = 1000

	// millStall is how long Close, Chown and a change of keep wait for
	// lumberjack's mill to show progress, removing rotated files beyond
	// keep, before they give up waiting for it.
	millStall = 2 * time.Second

	// millPoll is how often those waits look at the rotated files.
	millPoll = 5 * time.Millisecond

	// millLate is how long a rotated file may wait to be compressed or
	// removed before the log reports that it is not done (lumberjack keeps
	// its errors to itself; the compressor's are reported with it).
	millLate = time.Minute

	// millCheck is how often a rotating log looks for late rotated files
	// (see lumber.late).
	millCheck = 10 * FlushInterval
)

// logFile is where one sink writes: stdout or stderr for "-", otherwise the
// lumber of its path. Only the sink's writer goroutine uses it.
type logFile struct {
	path string   // as configured, for messages
	std  *os.File // stdout or stderr for "-"; then there is no rotation
	lum  *lumber  // nil for std

	rotateErr error // the last rotation's error; nil once one works
}

// lumbers holds the lumber of every log path this process has opened, by
// absolute path, for the life of the process: lumberjack starts a goroutine
// for each lumberjack.Logger that it never stops, so there must be one
// lumberjack.Logger per path, not one per New or Reopen.
var lumbers = struct {
	sync.Mutex
	m map[string]*lumber
}{m: map[string]*lumber{}}

// lumber is one log file on disk, written and rotated through its
// lumberjack.Logger, and what every Logger writing that path shares. It
// counts the bytes in the live file itself and decides when to rotate, and
// keeps its own descriptor of the live file (lumberjack's is hidden) to see
// whether the file was removed, to take a partial line back out of it and to
// hand it to another user.
//
// A process running as root never lets lumberjack open, create or rotate
// the file in a folder another user may write (see held): lumberjack opens
// by name, following symbolic links, so that user could have it append to,
// truncate or chown any file of the system. Until the process drops root,
// such a log is written through the descriptor that open checked, and
// rotates afterwards.
type lumber struct {
	path string // absolute

	mu       sync.Mutex
	users    int                  // open logFiles
	lj       *lumberjack.Logger   // the one in use
	started  bool                 // lj was written to, so its mill runs
	idle     []*lumberjack.Logger // made for earlier keep values, kept for reuse
	limit    int64                // rotate_size in bytes; 0 never rotates
	keep     int                  // rotated files kept; 0 keeps none
	compress bool
	watch    *os.File    // the live file, when open; lj's file is open only when it is
	made     bool        // open created watch's file
	home     *dirID      // the live file's folder, when a Logger of this process created it
	size     int64       // bytes in the live file, as far as this process knows
	lastRot  int64       // when the last rotation began, in Unix milliseconds
	waiting  bool        // rotated files may wait to be compressed or removed
	gz       *compressor // compresses and prunes rotated files, while it runs
	gzErr    error       // the last problem of the compressor that last stopped
}

// acquire returns the lumber of path, set to o's rotation options; release
// gives it back.
func acquire(path string, o Options) (*lumber, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	lumbers.Lock()
	l := lumbers.m[abs]
	if l == nil {
		l = &lumber{path: abs}
		lumbers.m[abs] = l
	}
	lumbers.Unlock()

	l.mu.Lock()
	defer l.mu.Unlock()
	l.users++
	l.configure(int64(o.RotateSize), o.Keep, o.Compress)
	return l, nil
}

// configure sets the rotation options. A Logger made later for the same path
// (on a reload, say) sets them for every Logger writing it. l.mu is held.
func (l *lumber) configure(limit int64, keep int, compress bool) {
	if l.gz != nil && (limit != l.limit || keep != l.keep || compress != l.compress) {
		// The compressor works with the old options: let it finish.
		// The next start or rotation starts one with the new ones.
		l.haltCompressor()
	}
	l.limit, l.keep, l.compress = limit, keep, compress
	maxBackups := keep
	if limit == 0 || keep == 0 {
		// lumberjack has no "keep none": MaxBackups 0 keeps all. Its mill
		// is given nothing to do, and rotate removes the rotated file.
		maxBackups = 0
	}
	if l.lj != nil && l.lj.MaxBackups == maxBackups {
		return
	}
	if l.lj != nil {
		// lumberjack's fields cannot change while its mill may read them:
		// let the old one finish, then keep it idle for reuse.
		l.close()
		l.settle()
		l.idle = append(l.idle, l.lj)
		l.lj, l.started = nil, false
	}
	for i, lj := range l.idle {
		if lj.MaxBackups == maxBackups {
			l.lj = lj
			l.idle = slices.Delete(l.idle, i, i+1)
			return
		}
	}
	// lumberjack never compresses: its mill would gzip at compress/gzip's
	// default level, several times slower than the compressor (see the
	// package comment).
	l.lj = &lumberjack.Logger{
		Filename:   l.path,
		MaxSize:    neverRotate,
		MaxBackups: maxBackups,
	}
}

// compressing reports whether rotated files are compressed here.
func (l *lumber) compressing() bool { return l.compress && l.limit > 0 && l.keep > 0 }

// kickCompressor wakes the compressor, starting it if it is not running,
// when rotated files are compressed. l.mu is held.
func (l *lumber) kickCompressor() {
	if !l.compressing() {
		return
	}
	if l.gz == nil {
		l.gz = startCompressor(l.path, l.keep)
	}
	l.gz.kick()
}

// haltCompressor has the compressor finish its work and stop, and returns
// its last problem. l.mu is held.
func (l *lumber) haltCompressor() error {
	if l.gz == nil {
		return nil
	}
	err := l.gz.halt()
	l.gz, l.gzErr = nil, err
	return err
}

// compressErr returns the compressor's last problem. l.mu is held.
func (l *lumber) compressErr() error {
	if l.gz != nil {
		return l.gz.lastErr()
	}
	return l.gzErr
}

// release gives l back. When no Logger uses it any more, it closes the file,
// has the compressor finish compressing and pruning and stop, and waits for
// lumberjack's mill to remove rotated files beyond keep, or to stop showing
// progress (see settle).
func (l *lumber) release() (closeErr, millErr error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.users--; l.users > 0 {
		return nil, nil
	}
	closeErr = l.close()
	return closeErr, errors.Join(l.haltCompressor(), l.settle())
}

// open opens (creating folders and the file if needed) the live file for
// appending, through openLive. It is a no-op when the file is already open.
// lumberjack opens the path itself on the next write, unless held.
func (l *lumber) open() error {
	if l.watch != nil {
		return nil
	}
	if _, err := mkdirs(filepath.Dir(l.path)); err != nil {
		return err
	}
	f, created, err := openLive(l.path, l.limit > 0)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	l.watch, l.made, l.size = f, created, fi.Size()
	return nil
}

// maxOpenTries bounds the attempts of openLive when the file is removed
// between its finding that the file exists and its opening it.
const maxOpenTries = 3

// openLive opens the live file at path for appending, creating it with
// filePerm when it does not exist, and reports whether it created it. It
// never follows a symbolic link (the user pwebs hands the logs to may write
// their folder, and could point a link at any file while pwebs still runs as
// root), never blocks on a FIFO with no reader, and refuses a regular file
// with other names (a hard link to another file) and anything but a regular
// file, a character device (/dev/null) or a FIFO; those two only when the
// log is not rotating.
func openLive(path string, rotating bool) (f *os.File, created bool, err error) {
	const flags = unix.O_WRONLY | unix.O_APPEND | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	fd := -1
	for try := 1; fd < 0; try++ {
		fd, err = unix.Open(path, flags|unix.O_CREAT|unix.O_EXCL, filePerm)
		created = err == nil
		if errors.Is(err, unix.EEXIST) {
			fd, err = unix.Open(path, flags, 0)
			if errors.Is(err, unix.ENOENT) && try < maxOpenTries {
				continue // removed meanwhile: create it
			}
		}
		switch {
		case errors.Is(err, unix.ELOOP):
			return nil, false, fmt.Errorf("%s is a symbolic link: pwebs does not follow one to open a log; name the file itself", path)
		case errors.Is(err, unix.ENXIO):
			if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode().Type() == fs.ModeNamedPipe {
				return nil, false, fmt.Errorf("%s is a FIFO that no process reads", path)
			}
			return nil, false, fmt.Errorf("%s is not a regular file", path)
		case err != nil:
			return nil, false, &fs.PathError{Op: "open", Path: path, Err: err}
		}
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	switch kind := st.Mode & unix.S_IFMT; {
	case err != nil:
		err = &fs.PathError{Op: "stat", Path: path, Err: err}
	case kind == unix.S_IFREG && st.Nlink > 1:
		err = fmt.Errorf("%s has %d hard links: pwebs does not write a log that is also another file", path, st.Nlink)
	case kind == unix.S_IFREG:
	case kind != unix.S_IFCHR && kind != unix.S_IFIFO:
		err = fmt.Errorf("%s is not a regular file", path)
	case rotating:
		err = fmt.Errorf("%s is not a regular file, so it cannot be rotated (set rotate_size = 0)", path)
	}
	if err == nil {
		err = unix.SetNonblock(fd, false)
	}
	if err != nil {
		unix.Close(fd)
		return nil, false, err
	}
	return os.NewFile(uintptr(fd), path), created, nil
}

// held reports whether lumberjack must be left alone: the process runs as
// root and the live file's folder may be written by another user (see the
// type's comment). It is asked before each use of lumberjack, so that the
// log rotates as soon as the process has dropped root. l.mu is held.
func (l *lumber) held() bool {
	return os.Geteuid() == 0 && !rootOnly(filepath.Dir(l.path))
}

// rootOnly reports whether dir is a folder only root may write to, so that
// nothing in it was made by another user.
func rootOnly(dir string) bool {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == 0 && fi.Mode().Perm()&0o022 == 0
}

// ljWrite writes b through lumberjack, which opens the live file first
// when it is not open and then runs its mill. l.mu is held and the log is
// not held.
func (l *lumber) ljWrite(b []byte) (int, error) {
	l.started = true
	return l.lj.Write(b)
}

// close closes the live file, lumberjack's descriptor and ours.
func (l *lumber) close() error {
	if l.watch == nil {
		return nil
	}
	err := errors.Join(l.lj.Close(), l.watch.Close())
	l.watch = nil
	return err
}

// start opens the live file and, unless held, has lumberjack open it too,
// which starts its mill on what an earlier run left, rotated files to
// remove; and it wakes the compressor for rotated files to compress. Errors
// are left for the first write to find.
func (l *lumber) start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open() == nil && !l.held() {
		l.ljWrite(nil)
	}
	if l.limit > 0 && l.keep == 0 {
		l.removeBackups()
	}
	l.kickCompressor()
	l.waiting = l.limit > 0
}

// reopen closes the live file and opens the path again, as after an
// external logrotate moved it away.
func (l *lumber) reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.close()
	if err2 := l.open(); err2 != nil {
		return errors.Join(err, err2)
	}
	if l.held() {
		return err
	}
	_, err2 := l.ljWrite(nil)
	return errors.Join(err, err2)
}

// checkLinked closes the live file when it was removed (its folder too,
// perhaps), so that the next write creates it again instead of writing into
// a file nobody can see.
func (l *lumber) checkLinked() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.watch == nil {
		return
	}
	fi, err := l.watch.Stat()
	if err != nil {
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink == 0 {
		l.close()
	}
}

// write writes b, which holds whole lines, rotating before a line that would
// take the file past the limit, so that no line is ever split between two
// files. A single line longer than the limit gets a file of its own. It
// returns how many bytes of b are on disk, always a whole number of lines,
// and the error that stopped it; each rotation tried leaves its result in
// *rotateErr. A failed rotation does not stop writing: the file grows past
// the limit until a rotation works. A held log is written through our own
// descriptor and grows past the limit until it is no longer held.
func (l *lumber) write(b []byte, rotateErr *error) (n int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rotateFailed := false
	held := l.held()
	for n < len(b) {
		if err := l.open(); err != nil {
			return n, err
		}
		chunk := b[n:]
		if l.limit > 0 && !held && !rotateFailed && l.size+int64(len(chunk)) > l.limit {
			room := l.limit - l.size
			end := -1
			if room > 0 {
				end = bytes.LastIndexByte(chunk[:room], '\n')
			}
			if end < 0 && l.size > 0 {
				*rotateErr = l.rotate()
				rotateFailed = *rotateErr != nil
				continue
			}
			if end < 0 {
				end = bytes.IndexByte(chunk, '\n')
			}
			if end >= 0 {
				chunk = chunk[:end+1]
			}
		}
		var w int
		if held {
			w, err = l.watch.Write(chunk)
		} else {
			w, err = l.ljWrite(chunk)
		}
		l.size += int64(w)
		n += w
		if err != nil {
			// Take a partial line back out of the file, so that the file
			// holds whole lines and the retry writes the line in full.
			// lumberjack's descriptor is closed with ours, so that the
			// next write reopens the file in append mode, at its new end.
			if part := w - (bytes.LastIndexByte(chunk[:w], '\n') + 1); part > 0 {
				if l.watch.Truncate(l.size-int64(part)) == nil {
					l.size -= int64(part)
					n -= part
				}
			}
			l.close()
			return n, err
		}
	}
	return n, nil
}

// rotate has lumberjack rename the live file to its backup name, start a
// new one and wake its mill to prune, then wakes the compressor. lumberjack
// names the backup after the time to the millisecond and renames over a file
// of that name, so rotate first waits for a millisecond no backup is named
// after.
// Our descriptor then follows the new file. After a failed rotation, which
// may or may not have renamed the file, both are closed, so that the next
// write opens the path afresh and counts its size again.
func (l *lumber) rotate() error {
	if err := l.newMillisecond(); err != nil {
		return err
	}
	if _, err := mkdirs(filepath.Dir(l.path)); err != nil {
		return err
	}
	l.lastRot = time.Now().UnixMilli()
	if err := l.lj.Rotate(); err != nil {
		l.close()
		return err
	}
	l.waiting = true
	l.watch.Close()
	l.watch = nil
	if err := l.open(); err != nil {
		l.lj.Close()
		return err
	}
	clearAutoDaAlloc(l.path)
	if l.keep == 0 {
		l.removeBackups()
	}
	l.kickCompressor()
	return nil
}

// clearAutoDaAlloc opens and closes the new, still empty, live file at path.
// lumberjack creates it (to give it the old file's owner), then opens it
// again with O_TRUNC, and ext4 marks a file truncated to nothing for
// writing back when it is next closed (its auto_da_alloc, for programs that
// replace a file by truncating it): the rotated file would be written to
// disk when lumberjack closes it at the next rotation, a few milliseconds
// before it is compressed and removed, which costs the writer goroutine the
// block allocation and the disk the writes. A close while the file is empty
// clears the mark at no cost; the rotated files then leave the page cache,
// compressed, without being written. Other file systems need nothing and
// lose nothing.
func clearAutoDaAlloc(path string) {
	if f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0); err == nil {
		f.Close()
	}
}

// newMillisecond waits, in the writer goroutine, until the wall clock (which
// lumberjack reads) shows another millisecond than when the last rotation
// began, and one that no backup, compressed or not, is named after: the last
// rotation's, when it ended in a later millisecond than it began, or an
// earlier run's, when the clock went back. It gives up after maxNameWaits
// milliseconds of taken names.
func (l *lumber) newMillisecond() error {
	for taken := 0; ; {
		now := time.Now()
		if now.UnixMilli() == l.lastRot {
			// The next millisecond is less than one away. time.Sleep
			// would take a whole one or more (the runtime waits for
			// timers in whole milliseconds), which would halve the
			// rotations a busy log can make; yielding lets the callers
			// run meanwhile.
			runtime.Gosched()
			continue
		}
		name := backupName(l.path, now)
		if !exists(name) && !exists(name+".gz") {
			return nil
		}
		if taken++; taken > maxNameWaits {
			return fmt.Errorf("every backup name of %s for %d milliseconds is taken", l.path, maxNameWaits)
		}
		time.Sleep(time.Millisecond - time.Duration(now.Nanosecond())%time.Millisecond)
	}
}

// removeBackups removes every rotated file, for keep = 0.
func (l *lumber) removeBackups() error {
	list, err := backups(l.path)
	errs := []error{err}
	for _, b := range list {
		errs = append(errs, b.remove())
	}
	return errors.Join(errs...)
}

// milling reports whether lumberjack's mill has work to do after a
// rotation.
func (l *lumber) milling() bool { return l.lj.MaxBackups > 0 }

// pending returns how many rotated files in list lumberjack's mill has yet
// to remove, and a summary of their state that changes as it makes
// progress.
func (l *lumber) pending(list []*backup) (int, string) {
	n := 0
	var state strings.Builder
	for i, b := range list {
		if i < l.lj.MaxBackups {
			continue
		}
		n++
		state.WriteString(b.name)
		if b.plain {
			state.WriteString(" plain")
		}
		if b.gz {
			state.WriteString(" gz")
		}
		state.WriteByte('\n')
	}
	return n, state.String()
}

// settle waits until lumberjack's mill has removed every rotated file
// beyond keep. It gives up, with an error, when the rotated files show no
// progress for millStall. l.mu is held, so no rotation gives the mill more
// work meanwhile.
func (l *lumber) settle() error {
	if !l.milling() || !l.started {
		return nil
	}
	var last string
	changed := time.Now()
	for {
		list, err := backups(l.path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		n, state := l.pending(list)
		if n == 0 {
			return nil
		}
		if state != last {
			last, changed = state, time.Now()
		} else if time.Since(changed) > millStall {
			return fmt.Errorf("%d rotated files beyond keep were not removed; lumberjack gives no reason (permissions?)", n)
		}
		time.Sleep(millPoll)
	}
}

// late returns an error when a rotated file waited more than millLate to be
// compressed by the compressor or removed by lumberjack's mill, which keeps
// its errors to itself (or, with keep = 0, by rotate). It looks at the
// folder only while rotated files may be waiting: after a rotation, and
// until none waits.
func (l *lumber) late() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limit == 0 || !l.waiting {
		return nil
	}
	list, err := backups(l.path)
	if err != nil {
		return err
	}
	cutoff := time.Now().Add(-millLate)
	waiting, n := 0, 0
	for i, b := range list {
		var since time.Time
		switch {
		case l.keep == 0:
			since = b.when
		case i >= l.keep:
			// One too many since a newer one was made.
			since = list[i-l.keep].when
		case l.compress && b.plain:
			since = b.when
		default:
			continue
		}
		waiting++
		if since.Before(cutoff) {
			n++
		}
	}
	l.waiting = waiting > 0
	if n > 0 {
		reason := "lumberjack gives no reason (permissions? disk full?)"
		if err := l.compressErr(); err != nil {
			reason = err.Error()
		}
		return fmt.Errorf("%d rotated files waited more than %v to be compressed or removed: %s", n, millLate, reason)
	}
	return nil
}

// chown hands the live file and the rotated files to uid and gid, once the
// compressor has finished (the next rotation starts it again) and
// lumberjack's mill has settled, so that no file being compressed escapes.
// Only files this process made change owner: the live file when open
// created it, and every file when they sit in the folder a Logger of this
// process created, as long as only root may write it (nothing in it was
// then made by anyone else). A file that another user could have put there
// (a file of root's moved in by the user who may write the folder) is
// never handed over: that is an error naming it. Files already uid's only
// get gid. Neither a symbolic link nor a file with other names is followed.
func (l *lumber) chown(uid, gid int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.haltCompressor()
	l.settle()
	ours := l.inHome()
	var errs []error
	if l.watch != nil {
		errs = append(errs, handOver(l.watch, uid, gid, ours || l.made))
	}
	list, err := backups(l.path)
	errs = append(errs, err)
	for _, b := range list {
		if b.plain {
			errs = append(errs, handOverName(b.name, uid, gid, ours))
		}
		if b.gz {
			errs = append(errs, handOverName(b.name+".gz", uid, gid, ours))
		}
	}
	return errors.Join(errs...)
}

// inHome reports whether the live file's folder is the one a Logger of this
// process created, and only root may still write it. l.mu is held.
func (l *lumber) inHome() bool {
	if l.home == nil {
		return false
	}
	dir := filepath.Dir(l.path)
	fi, err := os.Lstat(dir)
	if err != nil || !l.home.is(fi) {
		return false
	}
	return rootOnly(dir)
}

// handOverName is handOver of the file at name, opened without following
// a symbolic link; a file removed meanwhile is not an error.
func handOverName(name string, uid, gid int, ours bool) error {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return fmt.Errorf("logging: %s is a symbolic link: not handed over", name)
		}
		return ignoreNotExist(err)
	}
	defer f.Close()
	return handOver(f, uid, gid, ours)
}

// handOver gives the file f to uid and gid when it is a regular file with
// no other name and ours, or already uid's. Other files (/dev/null, a FIFO)
// are left as they are.
func handOver(f *os.File, uid, gid int, ours bool) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.Mode().IsRegular() {
		return nil
	}
	theirs := uid >= 0 && int(st.Uid) == uid
	switch {
	case st.Nlink > 1:
		return fmt.Errorf("logging: %s has %d hard links: not handed over", f.Name(), st.Nlink)
	case theirs && (gid < 0 || int(st.Gid) == gid):
		return nil
	case !theirs && !ours:
		return fmt.Errorf("logging: %s belongs to uid %d, and pwebs hands over only the log files it made: give it to uid %d or remove it, or it cannot be rotated", f.Name(), st.Uid, uid)
	}
	return f.Chown(uid, gid)
}

// open opens the log at lf.path; see lumber.open.
func (lf *logFile) open() error {
	if lf.std != nil {
		return nil
	}
	lf.lum.mu.Lock()
	defer lf.lum.mu.Unlock()
	return lf.lum.open()
}

// start is run by the sink's writer goroutine when it starts.
func (lf *logFile) start() {
	if lf.lum != nil {
		lf.lum.start()
	}
}

func (lf *logFile) write(b []byte) (int, error) {
	if lf.std != nil {
		return lf.std.Write(b)
	}
	return lf.lum.write(b, &lf.rotateErr)
}

func (lf *logFile) checkLinked() {
	if lf.lum != nil {
		lf.lum.checkLinked()
	}
}

// reopen closes the file and opens the path again; stdout and stderr are
// left alone.
func (lf *logFile) reopen() error {
	if lf.lum == nil {
		return nil
	}
	return lf.lum.reopen()
}

// close gives the file back; stdout and stderr stay open. millErr tells
// that rotated files could not all be compressed or removed.
func (lf *logFile) close() (err, millErr error) {
	if lf.lum == nil {
		return nil, nil
	}
	lum := lf.lum
	lf.lum = nil
	return lum.release()
}

// chown hands the live file and the rotated files to uid and gid; see
// lumber.chown.
func (lf *logFile) chown(uid, gid int) error {
	if lf.lum == nil {
		return nil
	}
	return lf.lum.chown(uid, gid)
}

// backupName returns the name lumberjack gives a backup of path made at t.
func backupName(path string, t time.Time) string {
	dir, prefix, ext := backupParts(path)
	return filepath.Join(dir, prefix+t.UTC().Format(backupStamp)+ext)
}

// backupParts splits path as lumberjack does to name its backups:
// dir/prefix<time>ext.
func backupParts(path string) (dir, prefix, ext string) {
	base := filepath.Base(path)
	ext = filepath.Ext(base)
	return filepath.Dir(path), base[:len(base)-len(ext)] + "-", ext
}

func exists(name string) bool {
	_, err := os.Lstat(name)
	return !errors.Is(err, fs.ErrNotExist)
}

// dirID is a folder mkdirs created, with its identity, so that what is
// done later to the folder by name is done to that folder and to nothing
// put in its place.
type dirID struct {
	path     string
	dev, ino uint64
}

// is reports whether fi, from Lstat, describes the folder d.
func (d *dirID) is(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fi.IsDir() && uint64(st.Dev) == d.dev && st.Ino == d.ino
}

// chown gives the folder d to uid and gid, unless it is no longer d: a
// symbolic link or another folder put in its place is left alone, with an
// error.
func (d *dirID) chown(uid, gid int) error {
	replaced := fmt.Errorf("logging: folder %s was replaced since pwebs created it: not handed over", d.path)
	f, err := os.OpenFile(d.path, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENOTDIR) {
		return replaced
	}
	if err != nil {
		return fmt.Errorf("logging: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("logging: %w", err)
	}
	if !d.is(fi) {
		return replaced
	}
	if err := f.Chown(uid, gid); err != nil {
		return fmt.Errorf("logging: %w", err)
	}
	return nil
}

// mkdirs creates dir and any missing parents with dirPerm, and returns the
// folders it created, parents first. A folder made meanwhile by someone
// else is not among them.
func mkdirs(dir string) ([]dirID, error) {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return nil, &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		return nil, nil
	}
	var created []dirID
	if parent := filepath.Dir(dir); parent != dir {
		if created, err = mkdirs(parent); err != nil {
			return created, err
		}
	}
	if err := os.Mkdir(dir, dirPerm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return created, nil
		}
		return created, err
	}
	fi, err = os.Lstat(dir)
	if err != nil {
		return created, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.IsDir() {
		return created, nil
	}
	return append(created, dirID{path: dir, dev: uint64(st.Dev), ino: st.Ino}), nil
}

// backup is one rotated file, compressed or not, or both while compressing.
type backup struct {
	name  string // without ".gz"
	when  time.Time
	plain bool // name exists
	gz    bool // name.gz exists
}

func (b *backup) remove() error {
	var errs []error
	if b.plain {
		errs = append(errs, os.Remove(b.name))
	}
	if b.gz {
		errs = append(errs, os.Remove(b.name+".gz"))
	}
	return errors.Join(errs...)
}

// backups lists the rotated files of path that lumberjack's mill sees,
// newest first. Other files in the folder are left out.
func backups(path string) ([]*backup, error) {
	list, _, err := scanBackups(path)
	return list, err
}

// scanBackups returns what backups returns, and the temporary files of
// compressions (see tmpSuffix) beside them.
func scanBackups(path string) (list []*backup, temps []string, err error) {
	dir, prefix, ext := backupParts(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	byName := map[string]*backup{}
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, prefix) || !e.Type().IsRegular() {
			continue
		}
		rest, tmp := strings.CutSuffix(n[len(prefix):], tmpSuffix)
		gz := false
		if !tmp {
			rest, gz = strings.CutSuffix(rest, ".gz")
		}
		stamp, ok := strings.CutSuffix(rest, ext)
		if !ok {
			continue
		}
		when, err := time.Parse(backupStamp, stamp)
		if err != nil {
			continue
		}
		if tmp {
			temps = append(temps, filepath.Join(dir, n))
			continue
		}
		name := filepath.Join(dir, prefix+stamp+ext)
		b := byName[name]
		if b == nil {
			b = &backup{name: name, when: when}
			byName[name] = b
			list = append(list, b)
		}
		if gz {
			b.gz = true
		} else {
			b.plain = true
		}
	}
	slices.SortFunc(list, func(a, b *backup) int { return b.when.Compare(a.when) })
	return list, temps, nil
}
