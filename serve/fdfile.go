package serve

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"
	"time"
)

// fdFile is a file read through its descriptor alone. An SSI page opens,
// reads and closes every file it includes each time it is served (when its
// output cannot be cached); an os.File would add to each an fcntl(2), a
// finalizer, and the poller's reference counting on every call.
type fdFile struct{ fd int }

func (f fdFile) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := syscall.Read(f.fd, p)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (f fdFile) Close() error { return syscall.Close(f.fd) }

// fdInfo is the fs.FileInfo of an fdFile, from its fstat(2). Sys returns
// the *syscall.Stat_t, as an os.File's Stat does.
type fdInfo struct {
	name string
	st   syscall.Stat_t
}

func (fi *fdInfo) Name() string       { return fi.name }
func (fi *fdInfo) Size() int64        { return fi.st.Size }
func (fi *fdInfo) ModTime() time.Time { return time.Unix(fi.st.Mtim.Unix()) }
func (fi *fdInfo) IsDir() bool        { return fi.st.Mode&syscall.S_IFMT == syscall.S_IFDIR }
func (fi *fdInfo) Sys() any           { return &fi.st }

// Mode maps the stat mode bits to fs.FileMode's as package os does.
func (fi *fdInfo) Mode() fs.FileMode {
	m := fs.FileMode(fi.st.Mode & 0o777)
	switch fi.st.Mode & syscall.S_IFMT {
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if fi.st.Mode&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if fi.st.Mode&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if fi.st.Mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// openFast opens the file the clean URL path p names, as open does, for
// reading only: through its descriptor when openat2(2) is there, as an
// os.File otherwise. A missing file makes it check the root, as open does.
// fi, when not nil, is where the file's stat goes (and what is returned as
// its FileInfo), which saves an allocation.
func (s *site) openFast(p []byte, fi *fdInfo) (io.ReadCloser, fs.FileInfo, error) {
	rel := relPath(p)
	fd, ok, err := s.openFD(rel)
	if ok && errors.Is(err, fs.ErrNotExist) {
		// As open does: the root itself may be gone, or replaced.
		if rerr := s.checkRoot(); rerr != nil {
			return nil, nil, rerr
		}
		fd, ok, err = s.openFD(rel)
	}
	if !ok {
		return s.open(p) // through os.Root
	}
	if s.stats != nil {
		s.stats.Opens.Add(1)
	}
	if err != nil {
		return nil, nil, err
	}
	if fi == nil {
		fi = new(fdInfo)
	}
	fi.name = path.Base(rel)
	for {
		err = syscall.Fstat(fd, &fi.st)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		syscall.Close(fd)
		return nil, nil, &os.PathError{Op: "fstat", Path: rel, Err: err}
	}
	return fdFile{fd}, fi, nil
}
