package logging

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
)

// gzipLevel is the level rotated files are compressed at:
// klauspost/compress's BestSpeed (see the package comment for the figures
// that chose it).
const gzipLevel = gzip.BestSpeed

// gzipBuffer is the size of the reads from a rotated file into the
// compressor.
const gzipBuffer = 64 << 10

// tmpSuffix ends the name a .gz is written under until it is complete:
// access_log-2026-11-21T10-04-05.123.gz.tmp. Neither lumberjack nor backups
// takes it for a rotated file.
const tmpSuffix = ".gz.tmp"

// compressor gzips the rotated files of one log path in its own goroutine,
// woken after each rotation, and removes those beyond keep. Each rotated
// file is compressed to a temporary name beside it, synced to disk, renamed
// to lumberjack's name for it (name + ".gz", which lumberjack's pruning
// counts as the same backup), and only then is the plain file removed.
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
	path string // absolute
	keep int    // > 0

	wake chan struct{} // a rotation happened; buffered, never blocks
	stop chan struct{} // closed by halt: do a last pass and return
	done chan struct{} // closed when the goroutine has returned

	mu  sync.Mutex
	err error // the last pass's problem, nil when it worked

	swept bool // stale temporary files were looked for; used by the goroutine only
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
	c := &compressor{
		path: path, keep: keep,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go c.run()
	return c
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
		select {
		case <-c.wake:
		case <-c.stop:
			c.setErr(c.pass())
			return
		}
		c.setErr(c.pass())
	}
}

func (c *compressor) setErr(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

// pass compresses every rotated file within keep that is not compressed yet,
// newest first, and removes those beyond keep.
func (c *compressor) pass() error {
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
		switch {
		case i >= c.keep:
			errs = append(errs, b.prune())
		case b.plain:
			errs = append(errs, c.compress(b.name))
		}
	}
	return errors.Join(errs...)
}

// compress gzips the rotated file name into name.gz and removes name. The
// .gz gets name's mode and, when the process may give it, its owner and
// group. A name removed meanwhile by lumberjack's pruning is not an error:
// nothing of it is left. Neither name nor the temporary file is followed if
// it is a symbolic link: the compressor may run as root, in a folder that
// the user it hands the logs to may write.
func (c *compressor) compress(name string) (err error) {
	// O_NONBLOCK: a FIFO put in its place does not block the open.
	src, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return ignoreNotExist(err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("compress %s: not a regular file", name)
	}
	tmp := name + tmpSuffix
	if err := ignoreNotExist(os.Remove(tmp)); err != nil {
		return fmt.Errorf("compress %s: %w", name, err)
	}
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return fmt.Errorf("compress %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			dst.Close()
			os.Remove(tmp)
			err = fmt.Errorf("compress %s: %w", name, err)
		}
	}()
	if err = giveAttrs(dst, fi); err != nil {
		return err
	}
	if err = gzipFile(dst, src, fi.ModTime()); err != nil {
		return err
	}
	if testHookCompressed != nil {
		testHookCompressed(name)
	}
	if err = dst.Sync(); err != nil {
		return err
	}
	if err = dst.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, name+".gz"); err != nil {
		return err
	}
	if rerr := os.Remove(name); errors.Is(rerr, fs.ErrNotExist) {
		// lumberjack pruned it while it was being compressed.
		return ignoreNotExist(os.Remove(name + ".gz"))
	} else if rerr != nil {
		return fmt.Errorf("compress %s: %w", name, rerr)
	}
	return nil
}

// testHookCompressed, when set by a test, is called once a rotated file has
// been read and compressed, before the .gz replaces it.
var testHookCompressed func(name string)

// gzipFile writes src to dst gzipped, with mtime in the gzip header.
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
