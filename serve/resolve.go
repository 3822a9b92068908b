package serve

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
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
	f, err := s.fs().Open(relPath(p))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// The document root itself may be gone, or replaced.
			if rerr := s.checkRoot(); rerr != nil {
				return nil, nil, rerr
			}
			f, err = s.fs().Open(relPath(p))
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
func resolveRaw(root *os.Root, scratch []byte, raw []byte) (*os.File, int) {
	clean, st := cleanPath(scratch[:0], raw)
	if st != 0 {
		return nil, st
	}
	if hiddenPath(clean) {
		return nil, 403
	}
	s := &site{}
	s.root.Store(root)
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
	// Requests that still use the old root finish with it first.
	time.AfterFunc(time.Minute, func() { old.Close() })
	return nil
}
