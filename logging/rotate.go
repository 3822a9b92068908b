package logging

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Permissions of the log folders and files pwebs creates (before the umask),
// as Debian gives /var/log/apache2: the logs hold client addresses and query
// strings, so other users may not read them.
const (
	dirPerm  = 0o750
	filePerm = 0o640
)

// backupStamp is the layout of the time, in UTC, in a rotated file's name:
// access_log-2026-11-21T10-04-05.123, then "-1", "-2"... when a rotation in
// the same millisecond already took that name, then ".gz" once compressed.
const backupStamp = "2006-01-02T15-04-05.000"

// maxSameStamp bounds the "-N" suffixes tried for one millisecond.
const maxSameStamp = 10000

// logFile is one log file on disk, rotated by size. Only its sink's flusher
// goroutine uses it.
type logFile struct {
	path  string
	std   *os.File // stdout or stderr for "-"; then there is no rotation
	limit int64    // rotate_size in bytes; 0 never rotates
	now   func() time.Time
	mill  *mill // nil when there is no rotation

	f         *os.File
	size      int64 // bytes in f, as far as this process knows
	rotateErr error // the last rotation's error; nil once one works
}

// open opens (creating folders and the file if needed) the log for
// appending. It is a no-op when the file is already open.
func (lf *logFile) open() error {
	if lf.f != nil {
		return nil
	}
	if lf.std != nil {
		lf.f = lf.std
		return nil
	}
	if _, err := mkdirs(filepath.Dir(lf.path)); err != nil {
		return err
	}
	f, err := os.OpenFile(lf.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, filePerm)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if !fi.Mode().IsRegular() && lf.limit > 0 {
		f.Close()
		return fmt.Errorf("%s is not a regular file, so it cannot be rotated (set rotate_size = 0)", lf.path)
	}
	lf.f, lf.size = f, fi.Size()
	return nil
}

// close closes the file; stdout and stderr stay open.
func (lf *logFile) close() error {
	f := lf.f
	lf.f = nil
	if f == nil || f == lf.std {
		return nil
	}
	return f.Close()
}

// reopen closes the file and opens the path again, as after an external
// logrotate moved it away.
func (lf *logFile) reopen() error {
	err := lf.close()
	return errors.Join(err, lf.open())
}

// checkLinked closes the file when it was removed (its folder too, perhaps),
// so that the next write creates it again instead of writing into a file
// nobody can see.
func (lf *logFile) checkLinked() {
	if lf.f == nil || lf.std != nil {
		return
	}
	fi, err := lf.f.Stat()
	if err != nil {
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink == 0 {
		lf.close()
	}
}

// write writes b, which holds whole lines, rotating before a line that would
// take the file past the limit, so that no line is ever split between two
// files. A single line longer than the limit gets a file of its own. It
// returns how many bytes of b are on disk, always a whole number of lines,
// and the error that stopped it. A failed rotation, left in rotateErr, does
// not stop writing: the file grows past the limit until a rotation works.
func (lf *logFile) write(b []byte) (n int, err error) {
	rotateFailed := false
	for n < len(b) {
		if err := lf.open(); err != nil {
			return n, err
		}
		chunk := b[n:]
		if lf.limit > 0 && lf.std == nil && !rotateFailed && lf.size+int64(len(chunk)) > lf.limit {
			room := lf.limit - lf.size
			end := -1
			if room > 0 {
				end = bytes.LastIndexByte(chunk[:room], '\n')
			}
			if end < 0 && lf.size > 0 {
				lf.rotateErr = lf.rotate()
				rotateFailed = lf.rotateErr != nil
				continue
			}
			if end < 0 {
				end = bytes.IndexByte(chunk, '\n')
			}
			if end >= 0 {
				chunk = chunk[:end+1]
			}
		}
		w, err := lf.f.Write(chunk)
		lf.size += int64(w)
		n += w
		if err != nil {
			// Take a partial line back out of the file, so that the file
			// holds whole lines and the retry writes the line in full.
			if part := w - (bytes.LastIndexByte(chunk[:w], '\n') + 1); part > 0 && lf.std == nil {
				if lf.f.Truncate(lf.size-int64(part)) == nil {
					lf.size -= int64(part)
					n -= part
				}
			}
			lf.close()
			return n, err
		}
	}
	return n, nil
}

// rotate renames the live file to a backup name no other backup has, opens
// a new live file, and wakes the mill to compress and prune. If the new file
// cannot be opened, the backup is renamed back and writing goes on in it.
func (lf *logFile) rotate() error {
	name, err := lf.backupName()
	if err != nil {
		return err
	}
	if err := os.Rename(lf.path, name); err != nil {
		return err
	}
	f, err := os.OpenFile(lf.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		if errBack := os.Rename(name, lf.path); errBack != nil {
			// The old file now sits under its backup name: write to a new
			// live file when one can be created.
			lf.close()
		}
		return err
	}
	lf.close()
	lf.f, lf.size = f, 0
	lf.mill.wake()
	return nil
}

// backupName returns path-<UTC time to the millisecond>, with "-1", "-2"...
// appended when a file (compressed or not) already has that name: two
// rotations in the same millisecond must not overwrite each other.
func (lf *logFile) backupName() (string, error) {
	base := lf.path + "-" + lf.now().UTC().Format(backupStamp)
	for i := range maxSameStamp {
		name := base
		if i > 0 {
			name += "-" + strconv.Itoa(i)
		}
		if !exists(name) && !exists(name+".gz") {
			return name, nil
		}
	}
	return "", fmt.Errorf("more than %d rotations of %s in one millisecond", maxSameStamp, lf.path)
}

func exists(name string) bool {
	_, err := os.Lstat(name)
	return !errors.Is(err, fs.ErrNotExist)
}

// mkdirs creates dir and any missing parents with dirPerm, and returns the
// folders it created, parents first.
func mkdirs(dir string) ([]string, error) {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return nil, &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		return nil, nil
	}
	var created []string
	if parent := filepath.Dir(dir); parent != dir {
		if created, err = mkdirs(parent); err != nil {
			return created, err
		}
	}
	if err := os.Mkdir(dir, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
		return created, err
	}
	return append(created, dir), nil
}

// mill compresses rotated files and removes those beyond keep, in its own
// goroutine, which stop ends after a last pass.
type mill struct {
	path     string
	keep     int
	compress bool
	report   func(err error) // called after every pass, with nil when it went well

	zw *gzip.Writer // reused from one file to the next

	kick    chan struct{}
	calls   chan func()
	quit    chan struct{}
	stopped chan struct{}
}

func newMill(path string, keep int, compress bool, report func(error)) *mill {
	m := &mill{
		path: path, keep: keep, compress: compress, report: report,
		kick: make(chan struct{}, 1), calls: make(chan func()),
		quit: make(chan struct{}), stopped: make(chan struct{}),
	}
	go m.run()
	m.wake() // compress and prune what an earlier run left behind
	return m
}

func (m *mill) run() {
	defer close(m.stopped)
	for {
		select {
		case <-m.kick:
			m.report(m.pass())
		case f := <-m.calls:
			f()
		case <-m.quit:
			m.report(m.pass())
			return
		}
	}
}

// wake asks for a pass without waiting for it. It is safe on a nil mill.
func (m *mill) wake() {
	if m == nil {
		return
	}
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// call runs f in the mill goroutine, between passes, and waits for it.
func (m *mill) call(f func()) {
	done := make(chan struct{})
	select {
	case m.calls <- func() { f(); close(done) }:
		<-done
	case <-m.stopped:
		f()
	}
}

// stop makes a last pass, so that every rotated file is compressed, and
// returns when the goroutine has ended. It is safe on a nil mill.
func (m *mill) stop() {
	if m == nil {
		return
	}
	close(m.quit)
	<-m.stopped
}

// backup is one rotated file, compressed or not, or both while compressing.
type backup struct {
	name  string // without ".gz"
	when  time.Time
	seq   int
	plain bool // name exists
	gz    bool // name.gz exists
}

// backups lists the rotated files of path, newest first. Stray ".gz.tmp"
// files from an interrupted compression are listed in tmps.
func backups(path string) (list []*backup, tmps []string, err error) {
	dir, prefix := filepath.Dir(path), filepath.Base(path)+"-"
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
		rest := n[len(prefix):]
		if r, ok := strings.CutSuffix(rest, ".gz.tmp"); ok {
			if _, _, ok := parseStamp(r); ok {
				tmps = append(tmps, filepath.Join(dir, n))
			}
			continue
		}
		r, gz := strings.CutSuffix(rest, ".gz")
		when, seq, ok := parseStamp(r)
		if !ok {
			continue
		}
		name := filepath.Join(dir, prefix+r)
		b := byName[name]
		if b == nil {
			b = &backup{name: name, when: when, seq: seq}
			byName[name] = b
			list = append(list, b)
		}
		if gz {
			b.gz = true
		} else {
			b.plain = true
		}
	}
	slices.SortFunc(list, func(a, b *backup) int {
		if c := b.when.Compare(a.when); c != 0 {
			return c
		}
		return b.seq - a.seq
	})
	return list, tmps, nil
}

// parseStamp reads "2026-11-21T10-04-05.123" or "2026-11-21T10-04-05.123-7".
func parseStamp(s string) (time.Time, int, bool) {
	if len(s) < len(backupStamp) {
		return time.Time{}, 0, false
	}
	t, err := time.Parse(backupStamp, s[:len(backupStamp)])
	if err != nil {
		return time.Time{}, 0, false
	}
	seq := 0
	if rest := s[len(backupStamp):]; rest != "" {
		if rest[0] != '-' {
			return time.Time{}, 0, false
		}
		n, err := strconv.Atoi(rest[1:])
		if err != nil || n <= 0 {
			return time.Time{}, 0, false
		}
		seq = n
	}
	return t, seq, true
}

// pass removes the backups beyond keep and compresses the others. A
// compressed file replaces its source only once it is complete and synced,
// so an interrupted pass loses nothing: the next one starts again.
func (m *mill) pass() error {
	list, tmps, err := backups(m.path)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range tmps {
		errs = append(errs, os.Remove(t))
	}
	for i, b := range list {
		switch {
		case i >= m.keep:
			if b.plain {
				errs = append(errs, os.Remove(b.name))
			}
			if b.gz {
				errs = append(errs, os.Remove(b.name+".gz"))
			}
		case b.plain && b.gz:
			// The .gz was renamed into place whole; removing the source
			// was what remained to do.
			errs = append(errs, os.Remove(b.name))
		case b.plain && m.compress:
			errs = append(errs, m.compressFile(b.name))
		}
	}
	return errors.Join(errs...)
}

// compressFile gzips name into name.gz and removes name.
func (m *mill) compressFile(name string) (err error) {
	src, err := os.Open(name)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	tmp := name + ".gz.tmp"
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			dst.Close()
			os.Remove(tmp)
		}
	}()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		// Root compresses files already handed to the user it drops to
		// (see Logger.Chown): the compressed file goes to the same owner.
		if err := dst.Chown(int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	if m.zw == nil {
		// Level 1: five times faster than gzip's default for files about
		// a tenth larger, as measured on access logs; the CPU is the
		// server's.
		m.zw, _ = gzip.NewWriterLevel(dst, gzip.BestSpeed)
	} else {
		m.zw.Reset(dst)
	}
	zw := m.zw
	zw.Name, zw.ModTime = filepath.Base(name), fi.ModTime()
	if _, err := io.Copy(zw, src); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := dst.Sync(); err != nil {
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, name+".gz"); err != nil {
		return err
	}
	return os.Remove(name)
}
