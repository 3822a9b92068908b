package logging

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"
)

// gzipLevel is the level rotated files are compressed at:
// klauspost/compress's BestSpeed (see the package comment for the figures
// that chose it).
const gzipLevel = gzip.BestSpeed

// syncDelay is how long a rotated file whose .gz is made may wait for the
// .gz to be synced to disk, and for its own removal. The .gz files made
// meanwhile are synced together. On the bench's load (issue 3), where a
// 1 MiB log rotates ten times a second, syncing each .gz as it was made took
// 4% of the requests per second (20 alternating rounds of 2 s, log on with
// a sync per file against none); synced every 5 s, they came out within
// noise of no sync at all. It is the interval at which ext4 commits its
// journal by default, and far less than the 30 s the kernel lets written
// data wait in memory.
const syncDelay = 5 * time.Second

// gzipBuffer is the size of the reads from a rotated file into the
// compressor.
const gzipBuffer = 64 << 10

// tmpSuffix ends the name a .gz is written under until it is complete:
// access_log-2026-11-21T10-04-05.123.gz.tmp. Neither lumberjack nor backups
// takes it for a rotated file.
const tmpSuffix = ".gz.tmp"

// compressor gzips the rotated files of one log path in its own goroutine,
// woken after each rotation, and removes those beyond keep. Each rotated
// file is compressed to a temporary name beside it and renamed to
// lumberjack's name for it (name + ".gz", which lumberjack's pruning counts
// as the same backup). The plain file stays until the .gz is synced to disk,
// so that no crash loses both. The .gz files are synced together, at most
// syncDelay after the first of them was made, or when the compressor stops:
// a sync for each rotation was the larger part of what compression cost a
// busy server (see syncDelay).
//
// lumberjack's mill removes rotated files beyond keep at the same time, from
// its own listing of the folder: a file it removes while it is being
// compressed is not an error, and the .gz made of it is removed too. A file
// past keep stays past keep (a file's rank only grows as rotations add newer
// ones), so two pruners that each remove what is past keep in their own
// listing never remove a file that should stay; each pass here prunes too,
// so that what lumberjack's mill missed (it removed the plain file after the
// .gz had replaced it) is removed before the compressor goes idle.
//
// The lumber of the path starts it and stops it, with l.mu held; the
// goroutine itself never takes l.mu.
type compressor struct {
	path  string        // absolute
	keep  int           // > 0
	delay time.Duration // syncDelay, but in tests

	wake chan struct{} // a rotation happened; buffered, never blocks
	stop chan struct{} // closed by halt: do a last pass and return
	done chan struct{} // closed when the goroutine has returned

	mu  sync.Mutex
	err error // the last pass's problem, nil when it worked

	// Used by the goroutine only:
	swept      bool                // stale temporary files were looked for
	unsynced   map[string]struct{} // rotated files whose .gz is made but not yet synced
	unsyncedAt time.Time           // when the first of them was made
}

// gzipper is a gzip writer and a read buffer, kept in gzippers between
// compressions: a writer holds some 800 KB, too much to allocate for each
// rotated file when a busy log rotates several times a second, or to keep
// for each log that rotates once a day.
type gzipper struct {
	zw  *gzip.Writer
	buf []byte
}

var gzippers = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(io.Discard, gzipLevel)
	return &gzipper{zw: zw, buf: make([]byte, gzipBuffer)}
}}

// startCompressor starts a compressor for path and keep.
func startCompressor(path string, keep int) *compressor {
	c := newCompressor(path, keep, syncDelay)
	go c.run()
	return c
}

// newCompressor returns a compressor for path and keep that syncs the .gz
// files it makes delay after the first; its goroutine is not started.
func newCompressor(path string, keep int, delay time.Duration) *compressor {
	return &compressor{
		path: path, keep: keep, delay: delay,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// kick wakes the compressor for a pass; it never blocks.
func (c *compressor) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// halt has the compressor finish its work, with one last pass, and waits
// for its goroutine to return. It returns the last pass's problem.
func (c *compressor) halt() error {
	close(c.stop)
	<-c.done
	return c.lastErr()
}

// lastErr returns the last pass's problem.
func (c *compressor) lastErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *compressor) run() {
	defer close(c.done)
	for {
		var due <-chan time.Time // the next sync of the .gz files made
		if len(c.unsynced) > 0 {
			due = time.After(time.Until(c.unsyncedAt.Add(c.delay)))
		}
		select {
		case <-c.wake:
		case <-due:
		case <-c.stop:
			c.setErr(c.pass(true))
			return
		}
		c.setErr(c.pass(false))
	}
}

func (c *compressor) setErr(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

// pass compresses every rotated file within keep that is not compressed yet,
// newest first, and removes those beyond keep. Then, when last or when the
// first .gz not yet synced was made c.delay ago, it syncs them and removes
// their plain files.
func (c *compressor) pass(last bool) error {
	list, temps, err := scanBackups(c.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	var errs []error
	if !c.swept {
		// Left by a run that stopped while compressing: the plain file
		// is still there and is compressed again.
		c.swept = true
		for _, t := range temps {
			errs = append(errs, ignoreNotExist(os.Remove(t)))
		}
	}
	for i, b := range list {
		_, made := c.unsynced[b.name]
		switch {
		case i >= c.keep:
			errs = append(errs, b.prune())
			delete(c.unsynced, b.name)
		case b.plain && !made:
			// A .gz beside it that this compressor did not make may be
			// cut off, or unsynced when the machine stopped: made again.
			ok, err := c.compress(b.name)
			if ok {
				c.made(b.name)
			}
			errs = append(errs, err)
		}
	}
	if len(c.unsynced) > 0 && (last || time.Since(c.unsyncedAt) >= c.delay) {
		errs = append(errs, c.settle())
	}
	return errors.Join(errs...)
}

// made records that name's .gz is made and waits to be synced.
func (c *compressor) made(name string) {
	if c.unsynced == nil {
		c.unsynced = make(map[string]struct{})
	}
	if len(c.unsynced) == 0 {
		c.unsyncedAt = time.Now()
	}
	c.unsynced[name] = struct{}{}
}

// settle syncs the .gz files made and not yet synced, then removes their
// plain files. Writing all of them back is started first, so that the syncs
// that follow find their data on its way to the disk, and on a journaling
// file system one commit covers them all.
func (c *compressor) settle() error {
	var errs []error
	files := make([]*os.File, 0, len(c.unsynced))
	for name := range c.unsynced {
		f, err := os.OpenFile(name+".gz", os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err != nil {
			// Gone: lumberjack pruned it, and its plain file too.
			errs = append(errs, ignoreNotExist(err))
			continue
		}
		startWriteback(f)
		files = append(files, f)
	}
	for _, f := range files {
		name := strings.TrimSuffix(f.Name(), ".gz")
		err := f.Sync()
		f.Close()
		if err != nil {
			// Compressed again by the next pass.
			errs = append(errs, fmt.Errorf("compress %s: %w", name, err))
			continue
		}
		if rerr := os.Remove(name); errors.Is(rerr, fs.ErrNotExist) {
			// lumberjack pruned it since the .gz was made.
			errs = append(errs, ignoreNotExist(os.Remove(name+".gz")))
		} else if rerr != nil {
			errs = append(errs, fmt.Errorf("compress %s: %w", name, rerr))
		}
	}
	clear(c.unsynced)
	return errors.Join(errs...)
}

// compress gzips the rotated file name into name.gz, leaving name for
// settle to remove once name.gz is synced to disk, and reports whether it
// made name.gz. The .gz gets name's mode and, when the process may give it,
// its owner and group. A name removed meanwhile by lumberjack's pruning is
// not an error: nothing of it is left. Neither name nor the temporary file
// is followed if it is a symbolic link: the compressor may run as root, in a
// folder that the user it hands the logs to may write.
func (c *compressor) compress(name string) (made bool, err error) {
	// O_NONBLOCK: a FIFO put in its place does not block the open.
	src, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false, ignoreNotExist(err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return false, err
	}
	if !fi.Mode().IsRegular() {
		return false, fmt.Errorf("compress %s: not a regular file", name)
	}
	tmp := name + tmpSuffix
	if err := ignoreNotExist(os.Remove(tmp)); err != nil {
		return false, fmt.Errorf("compress %s: %w", name, err)
	}
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return false, fmt.Errorf("compress %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			dst.Close()
			os.Remove(tmp)
			err = fmt.Errorf("compress %s: %w", name, err)
		}
	}()
	if err = giveAttrs(dst, fi); err != nil {
		return false, err
	}
	if err = gzipFile(dst, src, fi.ModTime()); err != nil {
		return false, err
	}
	if testHookCompressed != nil {
		testHookCompressed(name)
	}
	if err = dst.Close(); err != nil {
		return false, err
	}
	if err = os.Rename(tmp, name+".gz"); err != nil {
		return false, err
	}
	if _, serr := os.Lstat(name); errors.Is(serr, fs.ErrNotExist) {
		// lumberjack pruned it while it was being compressed.
		return false, ignoreNotExist(os.Remove(name + ".gz"))
	}
	return true, nil
}

// testHookCompressed, when set by a test, is called once a rotated file has
// been read and compressed, before the .gz replaces it.
var testHookCompressed func(name string)

// gzipFile writes src to dst gzipped, with mtime in the gzip header. It
// yields the processor after each gzipBuffer it compresses: with one P
// (GOMAXPROCS=1, or every core busy), a rotated file of 64 MiB is some
// 25-80 ms of compression, and without the yields the requests would wait
// for the scheduler's 10 ms preemption between slices of it.
func gzipFile(dst io.Writer, src io.Reader, mtime time.Time) error {
	g := gzippers.Get().(*gzipper)
	defer func() {
		g.zw.Reset(io.Discard) // keep no reference to dst
		gzippers.Put(g)
	}()
	g.zw.Reset(dst)
	g.zw.ModTime = mtime
	for {
		n, err := src.Read(g.buf)
		if n > 0 {
			if _, werr := g.zw.Write(g.buf[:n]); werr != nil {
				return werr
			}
			runtime.Gosched()
		}
		if err == io.EOF {
			return g.zw.Close()
		}
		if err != nil {
			return err
		}
	}
}

// giveAttrs gives f the mode of the file fi describes (past the umask), and
// its owner and group when they differ from f's. A process that may not give
// them (one that dropped root privileges, when the rotated file is still
// root's) keeps the file as its own: compressed and the process's is better
// than never compressed.
func giveAttrs(f *os.File, fi fs.FileInfo) error {
	if err := f.Chmod(fi.Mode().Perm()); err != nil {
		return err
	}
	want, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	own, err := f.Stat()
	if err != nil {
		return err
	}
	if got, ok := own.Sys().(*syscall.Stat_t); ok && got.Uid == want.Uid && got.Gid == want.Gid {
		return nil
	}
	if err := f.Chown(int(want.Uid), int(want.Gid)); err != nil && !errors.Is(err, fs.ErrPermission) {
		return err
	}
	return nil
}

// prune removes a rotated file beyond keep, plain and compressed; what is
// already gone (lumberjack's mill prunes too) is not an error.
func (b *backup) prune() error {
	var errs []error
	if b.plain {
		errs = append(errs, ignoreNotExist(os.Remove(b.name)))
	}
	if b.gz {
		errs = append(errs, ignoreNotExist(os.Remove(b.name+".gz")))
	}
	return errors.Join(errs...)
}

func ignoreNotExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// startWriteback has the kernel start writing f's data to disk, without
// waiting for it; where it cannot, the Sync that follows does it all.
func startWriteback(f *os.File) {
	unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}
