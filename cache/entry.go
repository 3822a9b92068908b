package cache

import (
	"io/fs"
	"path/filepath"
	"sync/atomic"
	"time"
)

// Dep is one file or folder an entry was built from, with what was seen of
// it when it was read. Serve takes it from fstat on the open file, before
// reading, so that a change during the read is detected. Build it with DepOf.
type Dep struct {
	Path    string      // absolute and cleaned
	ModTime time.Time   // zero, with Ino 0, for a path that did not exist
	Size    int64       // bytes
	Ino     uint64      // inode number; 0 on systems that have none
	Mode    fs.FileMode // type and permission bits
	Dir     bool        // a folder: the entry shows its list of names (a listing)

	wd int32 // the inode watch a stored entry holds on the file; 0 for none
}

// DepOf returns the Dep for path as fi describes it. A nil fi records that
// path did not exist (an SSI include that was missing, say): the entry is then
// dropped when path appears.
func DepOf(path string, fi fs.FileInfo) Dep {
	d := Dep{Path: filepath.Clean(path)}
	if fi == nil {
		return d
	}
	d.ModTime, d.Size, d.Mode, d.Dir = fi.ModTime(), fi.Size(), fi.Mode(), fi.IsDir()
	d.Ino, _ = inode(fi)
	return d
}

// absent reports whether d records a path that did not exist.
func (d *Dep) absent() bool { return d.Ino == 0 && d.ModTime.IsZero() }

// same reports whether fi still shows d as it was seen.
func (d *Dep) same(fi fs.FileInfo) bool {
	ino, _ := inode(fi)
	return ino == d.Ino && fi.Size() == d.Size && fi.Mode() == d.Mode &&
		fi.IsDir() == d.Dir && fi.ModTime().Equal(d.ModTime)
}

// Entry is a cached response body with what serve needs to answer from it.
// Add takes ownership of an Entry: after Add neither the Entry nor the slices
// it holds may be changed, and it may not be added again. Get returns the
// same *Entry to every caller, so readers must treat it as read-only.
type Entry struct {
	Body    []byte    // the identity body; ranges are served from it
	Gzip    []byte    // gzip variant, nil when none or not worth it; Add fills it when Options.Compress and Type is compressible
	Type    string    // Content-Type value
	ModTime time.Time // Last-Modified
	ETag    string    // strong ETag, quoted
	Expires time.Time // zero: never expires; Get drops the entry from this instant on
	Deps    []Dep     // the file itself first, then every file or folder the body depends on

	// Extra is opaque to the cache: serve keeps pre-rendered header bytes
	// here. ExtraSize is the number of bytes Extra holds; it is charged
	// against Options.MaxSize.
	Extra     any
	ExtraSize int

	// OnDrop, when set, is called once when the entry, stored by Add,
	// leaves the cache (evicted, invalidated, replaced, or the cache
	// closed): serve closes the file it keeps open for the entry. It runs
	// under the cache's lock, so it must be quick and must not call the
	// cache. An entry Add refuses is the caller's to release.
	OnDrop func()

	// Set by Add under the cache's lock and read only under it.
	key       string // the key the entry is stored under
	size      int64  // the bytes charged against MaxSize
	refs      []ref  // index nodes the entry is registered in, and where
	unwatched bool   // no watch covers some dependency: Get re-stats Deps on every hit

	rewritten atomic.Bool // see Rewritten
}

// Rewritten reports whether the entry has left the cache because a file it
// was built from was written in place, or may have been: a write reported
// on it, a stat on a hit that no longer matched, an event queue overflow,
// Invalidate, Remove, or a newer entry stored under its key. An entry that
// left because a name was replaced, moved or removed (the file it was read
// from still holds what it held), or was evicted, expired or dropped by
// Close, is not rewritten, nor is one still stored. Serve asks it when the
// file it was sending an entry's body from was closed under the send (see
// OnDrop): the bytes that came from the file may then be newer than the
// entry's.
func (e *Entry) Rewritten() bool { return e.rewritten.Load() }

// ref is an entry's place in a node's list of entries.
type ref struct {
	n *node
	i int // index in n.entries
}

// Token marks the moment serve began to build an entry; see Cache.Begin.
type Token struct{ seq uint64 }

// Stats is a snapshot of the cache's counters.
type Stats struct {
	Hits          uint64 // Get calls that returned an entry
	Misses        uint64 // Get calls that returned none
	Entries       int    // entries stored now
	Bytes         int64  // bytes charged for them; never above Options.MaxSize
	Evictions     uint64 // entries evicted to make room
	Invalidations uint64 // entries dropped because something they depend on changed, or they expired
	Refused       uint64 // Add calls that stored nothing (too big, a dependency changed, disabled)
	Watches       int    // folders watched now
	Unwatched     bool   // some part of the tree is not watched: its entries are checked by stat on every hit
}
