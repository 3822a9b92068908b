//go:build unix

package cache

import (
	"io/fs"
	"syscall"
)

// inode returns the inode number and link count fi reports.
func inode(fi fs.FileInfo) (ino, nlink uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino), uint64(st.Nlink)
	}
	return 0, 1
}
