//go:build !unix

package cache

import "io/fs"

// inode returns 0 and 1: this system reports no inode numbers.
func inode(fi fs.FileInfo) (ino, nlink uint64) { return 0, 1 }
