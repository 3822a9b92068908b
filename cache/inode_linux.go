//go:build linux

package cache

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Inode watches. A folder watch reports what is done through the names in
// the folder: a write through a hard link in another folder is reported to
// that folder only, and link(2) itself only as a name created there. So a
// cached file that gains a second name after its entry was stored could be
// rewritten through it unseen. Each file an entry is built from is
// therefore watched by its inode too, in an inotify instance of its own:
// IN_ATTRIB reports a change of its link count (a name added or removed
// anywhere), mode, owner or times, and IN_MODIFY a write through any name.
// An event drops what depends on the paths the inode was watched for; an
// entry stored again then sees the second link and is checked by stat on
// every hit.
//
// The watch is added before Add stats the file, so that a link made after
// that stat is reported, and one made before it is seen by it. A watch is
// kept while an entry relies on it and removed, outside the cache's lock,
// once none does. Inode watches count against fs.inotify.max_user_watches
// as folder watches do, and pin their inodes in the kernel's memory: they
// take at most a 1/inodeShare share of the limit (as it was when the cache
// started); past it, or when no inotify instance can be made, entries are
// checked by stat on every hit instead.

// inodeMask is what an inode watch reports.
const inodeMask = unix.IN_ATTRIB | unix.IN_MODIFY

// inodeShare is the divisor of fs.inotify.max_user_watches that bounds the
// inode watches; the rest is left to folder watches and other programs.
const inodeShare = 4

// inodes is the inotify instance that watches cached files' inodes.
type inodes struct {
	log *slog.Logger

	// mu guards the fields below, and is held across inotify_add_watch and
	// inotify_rm_watch, so that a watch is never removed while an Add is
	// taking a new reference to it. The cache's lock may be held while mu
	// is taken, never the reverse.
	mu      sync.Mutex
	f       *os.File // the instance; nil once closed
	fd      int
	watches map[int32]*inodeWatch
	max     int  // most watches at once
	full    bool // the bound or the system's limit was met (said once)
}

// inodeWatch is one watched inode.
type inodeWatch struct {
	refs  int      // dependencies of stored entries, and Adds in flight, that rely on it
	paths []string // the paths it was added for; an event invalidates each
}

// watchInodes makes the inode watches' instance and starts readInodes.
// Without one (having logged why), entries are checked by stat on every
// hit.
func (c *Cache) watchInodes() {
	n := newInodes(c.log)
	if n == nil {
		close(c.inodesDone)
		return
	}
	c.ino = n
	go c.readInodes(n, n.f)
}

// newInodes makes the inotify instance, or returns nil having logged why.
func newInodes(log *slog.Logger) *inodes {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		log.Error("cache: cannot watch the inodes of cached files; every cache hit is checked by stat", "err", err)
		return nil
	}
	return &inodes{
		log:     log,
		f:       os.NewFile(uintptr(fd), "inotify"),
		fd:      fd,
		watches: make(map[int32]*inodeWatch),
		max:     inodeBudget(),
	}
}

// inodeBudget returns the most inode watches the cache may hold.
func inodeBudget() int {
	n := 8192 // the kernel's smallest default
	if b, err := os.ReadFile("/proc/sys/fs/inotify/max_user_watches"); err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && v > 0 {
			n = v
		}
	}
	return max(n/inodeShare, 1)
}

// add watches the inode that path names and takes a reference to the
// watch. It returns the watch descriptor and true, or false when the
// inode cannot be watched: the entry must then be checked by stat.
func (n *inodes) add(path string) (int32, bool) {
	if n == nil {
		return 0, false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.f == nil {
		return 0, false
	}
	if len(n.watches) >= n.max {
		n.sayFull("max", n.max)
		return 0, false
	}
	wd, err := unix.InotifyAddWatch(n.fd, path, inodeMask)
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			n.sayFull("err", err)
		}
		return 0, false
	}
	w := n.watches[int32(wd)]
	if w == nil {
		w = &inodeWatch{}
		n.watches[int32(wd)] = w
	}
	w.refs++
	if !slices.Contains(w.paths, path) {
		w.paths = append(w.paths, path)
	}
	return int32(wd), true
}

// sayFull logs, once, that inode watches ran out. n.mu is held.
func (n *inodes) sayFull(args ...any) {
	if n.full {
		return
	}
	n.full = true
	n.log.Log(context.Background(), levelNotice, "cache: no more inode watches (see fs.inotify.max_user_watches); files cached from now on are checked by stat on every hit", args...)
}

// release drops a reference to each watch in wds (0: none) and removes the
// watches no reference is left to.
func (n *inodes) release(wds []int32) {
	if n == nil || len(wds) == 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, wd := range wds {
		w := n.watches[wd]
		if wd == 0 || w == nil {
			continue // none, or the kernel removed it (the inode is gone)
		}
		if w.refs--; w.refs > 0 {
			continue
		}
		delete(n.watches, wd)
		if n.f != nil {
			unix.InotifyRmWatch(n.fd, uint32(wd))
		}
	}
}

// paths returns the paths watch wd was added for. gone says the kernel
// removed the watch (IN_IGNORED: its inode was deleted).
func (n *inodes) paths(wd int32, gone bool) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	w := n.watches[wd]
	if w == nil {
		return nil
	}
	if gone {
		delete(n.watches, wd)
	}
	return slices.Clone(w.paths)
}

// count returns the number of inode watches.
func (n *inodes) count() int {
	if n == nil {
		return 0
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.watches)
}

// close closes the instance, which removes every watch and ends readInodes.
func (n *inodes) close() {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.f != nil {
		n.f.Close()
		n.f, n.fd = nil, -1
	}
}

// readInodes is the loop that reads the inode watches' events from f, n's
// instance, started by New. It returns when close closes f.
func (c *Cache) readInodes(n *inodes, f *os.File) {
	defer close(c.inodesDone)
	buf := make([]byte, 256*unix.SizeofInotifyEvent)
	for {
		k, err := f.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				// No more events: entries made from now on are checked by
				// stat, and those stored may have missed one.
				n.close()
				c.inodeEventsLost("read", "cache: cannot read inode events; dropped every cached entry, and every cache hit is checked by stat", "err", err)
			}
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= k; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
				c.inodeEventsLost("overflow", "cache: inode event queue overflowed; dropped every cached entry")
				continue
			}
			for _, p := range n.paths(ev.Wd, ev.Mask&unix.IN_IGNORED != 0) {
				c.invalidatePath(p, ev.Mask&unix.IN_MODIFY != 0)
			}
		}
		c.sweep()
	}
}
