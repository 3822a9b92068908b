package serve

import (
	"io/fs"
	"os"
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
	f, err := s.root.Open(relPath(p))
	if err != nil {
		return nil, nil, err
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
	s := &site{root: root}
	f, _, err := s.open(clean)
	if err != nil {
		return nil, statusOf(err)
	}
	return f, 200
}
