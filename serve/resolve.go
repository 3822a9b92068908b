package serve

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// open is the one path resolver: it opens the file or folder a clean URL
// path names under the site's document root. Every file pwebs serves is
// opened here. The path has been through cleanPath (no "..", no NUL) and
// hiddenPath; os.Root then makes sure that no symbolic link leads out of
// the root (such links answer 404, as a missing file does).
func (s *site) open(p []byte) (*os.File, fs.FileInfo, error) {
	if s.stats != nil {
		s.stats.Opens.Add(1)
	}
	f, err := s.openFile(relPath(p))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// The document root itself may be gone, or replaced.
			if rerr := s.checkRoot(); rerr != nil {
				return nil, nil, rerr
			}
			f, err = s.openFile(relPath(p))
		}
		if err != nil {
			return nil, nil, err
		}
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// resolveRaw runs a raw request path (as it appears in a request-target,
// percent-encoded) through the same steps a request takes: cleanPath,
// hiddenPath and open under root. It returns the opened file or the status
// the request would get. Tests and the fuzz target use it.
// dirFD is the root opened with openDirFD, for the openat2 path; -1 tests
// the os.Root path.
func resolveRaw(root *os.Root, dirFD int, scratch []byte, raw []byte) (*os.File, int) {
	clean, st := cleanPath(scratch[:0], raw)
	if st != 0 {
		return nil, st
	}
	if hiddenPath(clean) {
		return nil, 403
	}
	s := &site{dir: root.Name()}
	s.root.Store(root)
	s.rootFD.Store(int64(dirFD))
	f, _, err := s.open(clean)
	if err != nil {
		return nil, statusOf(err)
	}
	return f, 200
}

// fs returns the site's open document root.
func (s *site) fs() *os.Root { return s.root.Load() }

// errRootMissing is returned when a document root no longer exists.
var errRootMissing = errors.New("serve: the document root is missing")

// checkRoot looks at the document root when a file was not found in it:
// when the folder was removed, that is errRootMissing (a 503, and an error
// log line); when a new folder took its place (deleted and made again,
// renamed over), the root is opened again so that it is served.
func (s *site) checkRoot() error {
	if s.dir == "" {
		return nil
	}
	byPath, err := os.Stat(s.dir)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errRootMissing, s.dir, err)
	}
	open, err := s.fs().Stat(".")
	if err == nil && os.SameFile(byPath, open) {
		return nil // the root is fine: the file is simply missing
	}
	s.rootMu.Lock()
	defer s.rootMu.Unlock()
	if cur, err := s.fs().Stat("."); err == nil && os.SameFile(byPath, cur) {
		return nil // reopened meanwhile
	}
	root, err := os.OpenRoot(s.dir)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errRootMissing, s.dir, err)
	}
	old := s.root.Swap(root)
	oldFD := s.rootFD.Swap(int64(openDirFD(s.dir)))
	// Requests that still use the old root finish with it first.
	time.AfterFunc(time.Minute, func() {
		old.Close()
		if oldFD >= 0 {
			unix.Close(int(oldFD))
		}
	})
	return nil
}

// openat2 is false once the kernel refused openat2(2) (older than 5.6, or
// a seccomp filter): os.Root does the work then.
var openat2 atomic.Bool

func init() { openat2.Store(true) }

// openDirFD opens a document root for openat2, or returns -1.
func openDirFD(dir string) int {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
}

// openFile opens rel below the document root. With one openat2(2) call,
// RESOLVE_BENEATH refusing any path (symbolic links included) that would
// leave the root, as os.Root does with a system call per path element;
// os.Root where openat2 is not available. Either way the file is opened
// with O_NONBLOCK, as openFD says why.
func (s *site) openFile(rel string) (*os.File, error) {
	fd, ok, err := s.openFD(rel)
	if !ok {
		return s.fs().OpenFile(rel, os.O_RDONLY|unix.O_NONBLOCK, 0)
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), joinRoot(s.dir, rel)), nil
}

// openFD opens rel below the document root with openat2(2) and returns the
// descriptor. ok is false when openat2 is not available: the caller then
// goes through os.Root.
//
// The file is opened with O_NONBLOCK: opening a named pipe would otherwise
// wait for a writer, holding the request, its max_clients slot and an OS
// thread for as long as none comes. Regular files and folders ignore the
// flag, so their reads are as before; anything else is refused by its
// fstat (403) where a request serves it.
func (s *site) openFD(rel string) (fd int, ok bool, err error) {
	if strings.IndexByte(rel, 0) >= 0 {
		// A name no file can have (requests cannot carry one; cleanPath
		// refuses %00).
		return -1, true, &os.PathError{Op: "open", Path: rel, Err: fs.ErrNotExist}
	}
	dir := s.rootFD.Load()
	if dir < 0 || !openat2.Load() {
		return -1, false, nil
	}
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	}
	for again := 0; ; {
		fd, err := unix.Openat2(int(dir), rel, &how)
		switch err {
		case nil:
			return fd, true, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			// A rename or mount raced with RESOLVE_BENEATH's walk: try
			// again. With O_NONBLOCK, EAGAIN is also a lease (F_SETLEASE)
			// that another process holds on the file, which may last
			// seconds: no spinning on that.
			if again++; again < maxOpenRetries {
				continue
			}
			return -1, true, &os.PathError{Op: "openat2", Path: rel, Err: err}
		case unix.ENOSYS, unix.EPERM:
			if err == unix.EPERM {
				// A seccomp filter answers EPERM for unknown calls; a real
				// permission problem is EACCES.
				if _, serr := os.Stat(s.dir); serr != nil {
					return -1, true, &os.PathError{Op: "openat2", Path: rel, Err: err}
				}
			}
			openat2.Store(false)
			return -1, false, nil
		case unix.EXDEV, unix.ELOOP:
			// The path (a symbolic link in it) leads out of the root.
			return -1, true, &os.PathError{Op: "openat2", Path: rel, Err: errPathEscapes}
		case unix.EINVAL:
			// A name no file can have (a NUL byte in it).
			return -1, true, &os.PathError{Op: "openat2", Path: rel, Err: fs.ErrNotExist}
		default:
			return -1, true, &os.PathError{Op: "openat2", Path: rel, Err: err}
		}
	}
}

// maxOpenRetries bounds the openat2 calls of one open that answer EAGAIN.
const maxOpenRetries = 8

// errPathEscapes is a path that would leave the document root.
var errPathEscapes = errors.New("path escapes from parent")
