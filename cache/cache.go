package cache

import (
	"errors"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Per-entry memory that is not body bytes, charged against Options.MaxSize so
// that a cache full of tiny entries stays inside its bound too. The figures
// are measured by TestOverheadCharge (about 620 bytes for an entry with one
// dependency on a file of its own, its inode watch included, and 110 more
// for each further dependency on a file other entries share, besides the
// key and path strings), with a margin for map growth.
const (
	entryOverhead = 480 // the Entry, its LRU element and map slot, one index node
	depOverhead   = 288 // one Dep, its place in the index, a node's share, an inode watch
)

// levelNotice is pwebs's notice level, between Info and Warn.
const levelNotice = slog.Level(2)

// ErrClosed is returned by Watch after Close.
var ErrClosed = errors.New("cache: closed")

// Cache is a byte-bounded LRU cache of response bodies, invalidated by
// fsnotify. It is safe for concurrent use. The zero value is not usable; call
// New.
type Cache struct {
	o   Options
	log *slog.Logger

	seq atomic.Uint64 // the change sequence; written under mu, read by Begin

	hits, misses atomic.Uint64

	// mu guards the LRU, the byte count, the index, the stamp ring and the
	// counters below. No callback and no system call runs under it.
	mu            sync.Mutex
	lru           *simplelru.LRU[string, *Entry]
	bytes         int64
	nodes         map[string]*node
	ring          []*node
	ringHead      int
	ringLen       int
	floor         uint64 // Add refuses tokens older than this
	aliases       []alias
	watches       int  // nodes with watched set
	failed        int  // nodes with failed set
	unwatchedAll  bool // no watch can be trusted (no watcher, or an overflow not yet rescanned)
	closed        bool
	evictions     uint64
	invalidations uint64
	refused       uint64
	scratch       []*node
	released      []int32 // inode watches of dropped entries, for sweep to release

	// ino watches the inodes of cached files (see inode_linux.go); nil
	// when there is no instance. inodesDone is closed when its reader has
	// returned.
	ino        *inodes
	inodesDone chan struct{}

	// wmu serialises watch management: Watch, the event loop and rescans.
	// Lock order: wmu before mu.
	wmu   sync.Mutex
	w     *fsnotify.Watcher
	roots []*root
	said  map[string]bool // log lines said once

	done    chan struct{} // closed by Close
	stopped chan struct{} // closed when the event loop has returned
	once    sync.Once

	// Test hooks.
	stat        func(string) (fs.FileInfo, error) // os.Stat
	addHook     func(dir string) error            // called before each watch is added; an error fails it
	inject      chan error                        // errors fed to the event loop as if from fsnotify
	rescanDelay time.Duration                     // wait after the last overflow before rescanning
}

// root is a document root given to Watch.
type root struct {
	given string // as given, cleaned
	real  string // with symbolic links resolved; "" while it does not exist
}

// alias rewrites paths below a root given through a symbolic link to the real
// path that the watches see.
type alias struct{ given, real string }

// New returns a cache configured by o that logs to log (nil: discard). It
// starts a goroutine that reads fsnotify events; Close stops it. When no
// inotify instance can be made, New logs why and returns a cache that checks
// every hit by stat.
func New(o Options, log *slog.Logger) (*Cache, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lru, err := simplelru.NewLRU[string, *Entry](math.MaxInt, nil)
	if err != nil {
		return nil, err
	}
	c := &Cache{
		o:           o,
		log:         log,
		lru:         lru,
		nodes:       make(map[string]*node),
		said:        make(map[string]bool),
		done:        make(chan struct{}),
		stopped:     make(chan struct{}),
		inodesDone:  make(chan struct{}),
		stat:        os.Stat,
		inject:      make(chan error),
		rescanDelay: rescanDelay,
	}
	if !o.Enabled {
		close(c.stopped)
		close(c.inodesDone)
		return c, nil
	}
	c.ring = make([]*node, maxStamps)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		c.unwatchedAll = true
		c.log.Error("cache: cannot watch files; every cache hit is checked by stat", "err", err)
		close(c.stopped)
		close(c.inodesDone)
		return c, nil
	}
	c.w = w
	go c.run(w)
	c.watchInodes()
	return c, nil
}

// Begin returns the Token that Add needs. Serve takes it before it stats and
// reads the files of a new entry, so that a change after Begin makes Add
// refuse the entry.
func (c *Cache) Begin() Token { return Token{c.seq.Load()} }

// Get returns the entry stored under key. It does not retain key, so serve
// may pass a string that aliases a reused buffer. A hit allocates nothing and
// makes no system call, except on an entry that no watch covers: every
// dependency of such an entry is checked by stat on every hit, and the entry
// is dropped (a miss) if one changed. An expired entry is dropped and
// reported as a miss.
func (c *Cache) Get(key string) (*Entry, bool) {
	c.mu.Lock()
	e, ok := c.lru.Get(key)
	if !ok {
		c.mu.Unlock()
		c.misses.Add(1)
		return nil, false
	}
	if !e.Expires.IsZero() && !time.Now().Before(e.Expires) {
		c.drop(e, false)
		c.invalidations++
		c.mu.Unlock()
		c.misses.Add(1)
		return nil, false
	}
	c.mu.Unlock()
	if e.unwatched && !c.fresh(e) {
		c.mu.Lock()
		if cur, ok := c.lru.Peek(e.key); ok && cur == e {
			c.drop(e, true)
			c.invalidations++
		}
		c.mu.Unlock()
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	return e, true
}

// fresh re-stats every dependency of e and reports whether all are as seen.
func (c *Cache) fresh(e *Entry) bool {
	for i := range e.Deps {
		if _, ok := c.check(&e.Deps[i]); !ok {
			return false
		}
	}
	return true
}

// check stats d.Path and reports whether it is as d saw it.
func (c *Cache) check(d *Dep) (fs.FileInfo, bool) {
	fi, err := c.stat(d.Path)
	if d.absent() {
		return nil, errors.Is(err, fs.ErrNotExist)
	}
	return fi, err == nil && d.same(fi)
}

// Add stores e under key and reports whether it did. Add retains key. It
// refuses e when the cache is disabled or closed, when the body is longer than
// Options.MaxFileSize or the entry would take more than Options.MaxSize, when
// e has already expired, and when any dependency changed since t was taken
// with Begin: an event on it or on a folder above it (or, for a folder, on a
// name in it), or its modification time, size, mode or inode no longer being
// what Deps says. It evicts least-recently-used entries until e fits. When
// Options.Compress is set and e.Gzip is nil, Add makes the gzip variant of a
// compressible body; a given Gzip that is not smaller than Body is dropped.
//
// Add makes system calls (a stat, a symbolic-link resolution and, for a
// file, an inode watch per dependency) and may compress, all outside the
// cache's lock. An entry with a dependency that no watch covers is stored
// but checked by stat on every hit; a listing (a Dir dependency) that no
// watch covers is refused, since a stat of the folder does not show a file
// in it being rewritten.
func (c *Cache) Add(key string, e *Entry, t Token) bool {
	if !c.o.Enabled || e == nil || int64(len(e.Body)) > int64(c.o.MaxFileSize) ||
		(!e.Expires.IsZero() && !time.Now().Before(e.Expires)) {
		return c.refuse()
	}
	c.sweep()
	regs, wds, unwatched, ok := c.resolve(e.Deps)
	if !ok {
		return c.refuse()
	}
	kept, stored := c.store(key, e, t, regs, wds, unwatched)
	if !kept {
		c.ino.release(wds)
	}
	return stored
}

// store is Add's part under the cache's lock. It reports whether the
// entry was stored, and whether it keeps the inode watches in wds (one per
// dependency, 0 for none); the caller releases them if not.
func (c *Cache) store(key string, e *Entry, t Token, regs []reg, wds []int32, unwatched bool) (kept, stored bool) {
	if c.o.Compress && e.Gzip == nil && Compressible(e.Type) {
		e.Gzip = gzipOf(e.Body)
	} else if e.Gzip != nil && len(e.Gzip) >= len(e.Body) {
		e.Gzip = nil
	}
	size := int64(cap(e.Body)+cap(e.Gzip)+max(e.ExtraSize, 0)+len(key)) + entryOverhead
	for _, d := range e.Deps {
		size += int64(len(d.Path)) + depOverhead
	}
	if size > int64(c.o.MaxSize) {
		return false, c.refuse()
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || e.size != 0 { // closed, or e was added before
		c.refused++
		return false, false
	}
	for _, r := range regs {
		if c.changedSince(r.path, t.seq) {
			c.refused++
			return false, false
		}
		if !c.covered(r.path, r.dir) {
			if r.dir {
				c.refused++
				return false, false
			}
			unwatched = true
		}
	}
	if c.unwatchedAll {
		for _, r := range regs {
			if r.dir {
				c.refused++
				return false, false
			}
		}
		unwatched = true
	}
	if old, ok := c.lru.Peek(key); ok {
		c.drop(old, true)
	}
	for c.bytes+size > int64(c.o.MaxSize) {
		_, old, ok := c.lru.GetOldest()
		if !ok {
			break
		}
		c.drop(old, false)
		c.evictions++
	}
	e.key, e.size, e.unwatched = key, size, unwatched
	e.refs = make([]ref, 0, len(regs))
	for _, r := range regs {
		c.register(e, c.ensure(r.path))
	}
	if !unwatched {
		// Stat on every hit covers what an inode watch would.
		for i, wd := range wds {
			e.Deps[i].wd = wd
		}
	}
	c.lru.Add(key, e)
	c.bytes += size
	return !unwatched, true
}

func (c *Cache) refuse() bool {
	c.mu.Lock()
	c.refused++
	c.mu.Unlock()
	return false
}

// reg is a path an entry is registered under in the index.
type reg struct {
	path string
	dir  bool
}

// resolve checks every dependency against the disk and returns the paths to
// register the entry under: the real path (symbolic links resolved, a
// document root's alias rewritten) and, when a link inside the tree leads
// there, the path as given too, which also makes the entry unwatched. For
// each dependency that is a file, it first takes an inode watch (see
// inode_linux.go): wds holds them, one per dependency (0 for none), or is
// nil when there are none. An entry whose file cannot be watched so is
// unwatched. When resolve fails, it has released them.
func (c *Cache) resolve(deps []Dep) (regs []reg, wds []int32, unwatched, ok bool) {
	c.mu.Lock()
	aliases, watching := c.aliases, !c.unwatchedAll
	c.mu.Unlock()
	regs = make([]reg, 0, len(deps))
	fail := func() ([]reg, []int32, bool, bool) {
		c.ino.release(wds)
		return nil, nil, false, false
	}
	for i := range deps {
		d := &deps[i]
		if !filepath.IsAbs(d.Path) {
			return fail()
		}
		if watching && !d.absent() && d.Mode.IsRegular() {
			// Before the stat: a link made after it is reported.
			wd, ok := c.ino.add(d.Path)
			if !ok {
				unwatched = true
			} else if wd != 0 {
				if wds == nil {
					wds = make([]int32, len(deps))
				}
				wds[i] = wd
			}
		}
		fi, ok := c.check(d)
		if !ok {
			return fail()
		}
		if fi != nil && !fi.IsDir() {
			if _, nlink := inode(fi); nlink > 1 {
				// A write through another hard link is reported to that
				// link's folder, which may not be watched.
				unwatched = true
			}
		}
		given := unalias(filepath.Clean(d.Path), aliases)
		var real string
		var err error
		if d.absent() {
			// Resolve the folder; the name itself does not exist.
			real, err = filepath.EvalSymlinks(filepath.Dir(d.Path))
			real = filepath.Join(real, filepath.Base(d.Path))
		} else {
			real, err = filepath.EvalSymlinks(d.Path)
		}
		if err != nil {
			if !d.absent() || !errors.Is(err, fs.ErrNotExist) {
				return fail()
			}
			real = given
		}
		regs = addReg(regs, reg{real, d.Dir})
		if real != given {
			regs = addReg(regs, reg{given, d.Dir})
			unwatched = true
		}
	}
	return regs, wds, unwatched, true
}

// addReg appends r to regs unless its path is there already; a folder
// registration wins over a file one.
func addReg(regs []reg, r reg) []reg {
	for i := range regs {
		if regs[i].path == r.path {
			regs[i].dir = regs[i].dir || r.dir
			return regs
		}
	}
	return append(regs, r)
}

// unalias rewrites p, given below a document root reached through a symbolic
// link, to the real path. The longest matching root wins.
func unalias(p string, aliases []alias) string {
	best := -1
	for i, a := range aliases {
		if within(p, a.given) && (best < 0 || len(a.given) > len(aliases[best].given)) {
			best = i
		}
	}
	if best < 0 {
		return p
	}
	a := aliases[best]
	rest := p[len(a.given):] // "" or "/..."
	if a.given == "/" {
		rest = p
	}
	switch {
	case rest == "":
		return a.real
	case a.real == "/":
		return rest
	}
	return a.real + rest
}

// drop removes e from the LRU and the index; rewritten says whether it
// leaves because a file it was built from was, or may have been, written
// in place (see Entry.Rewritten). Its inode watches go to c.released, for
// sweep. c.mu is held.
func (c *Cache) drop(e *Entry, rewritten bool) {
	c.lru.Remove(e.key)
	c.bytes -= e.size
	c.unregister(e)
	for i := range e.Deps {
		if wd := e.Deps[i].wd; wd != 0 {
			c.released = append(c.released, wd)
		}
	}
	if rewritten {
		e.rewritten.Store(true)
	}
	if e.OnDrop != nil {
		e.OnDrop()
	}
}

// sweep releases the inode watches of the entries dropped since the last
// sweep. It is called without the cache's lock, by Add and after inode
// events.
func (c *Cache) sweep() {
	c.mu.Lock()
	wds := c.released
	c.released = nil
	c.mu.Unlock()
	c.ino.release(wds)
}

// inodeEventsLost handles inode events lost (the queue overflowed, or
// could not be read): every entry is dropped and every Token taken so far
// refused, and msg is logged once for key. Entries made from now on rely
// on the events still to come, or are checked by stat when there is no
// instance left.
func (c *Cache) inodeEventsLost(key, msg string, args ...any) {
	c.mu.Lock()
	c.purge(true)
	c.floor = c.next()
	c.mu.Unlock()
	c.wmu.Lock()
	c.sayOnce("inodes "+key, slog.LevelError, msg, args...)
	c.wmu.Unlock()
}

// dropAll drops the entries registered at n, counting them as
// invalidated; rewritten as for drop.
func (c *Cache) dropAll(n *node, rewritten bool) {
	for len(n.entries) > 0 {
		c.drop(n.entries[len(n.entries)-1], rewritten)
		c.invalidations++
	}
}

// dropTree drops every entry registered at n or below it; rewritten as for
// drop.
func (c *Cache) dropTree(n *node, rewritten bool) {
	buf := subtree(n, c.scratch[:0])
	for _, m := range buf {
		c.dropAll(m, rewritten)
	}
	clear(buf)
	c.scratch = buf[:0]
}

// purge drops every entry; rewritten as for drop. c.mu is held.
func (c *Cache) purge(rewritten bool) {
	for {
		_, e, ok := c.lru.GetOldest()
		if !ok {
			return
		}
		c.drop(e, rewritten)
		c.invalidations++
	}
}

// Remove drops the entry stored under key, if any, as rewritten (see
// Entry.Rewritten).
func (c *Cache) Remove(key string) {
	c.mu.Lock()
	if e, ok := c.lru.Peek(key); ok {
		c.drop(e, true)
	}
	c.mu.Unlock()
}

// Invalidate drops every entry that depends on path, on anything below it, or
// on its folder, as if fsnotify had reported a write to path, and makes Add
// refuse entries built from it before now. path is absolute; a path given
// below a document root reached through a symbolic link is rewritten to the
// real one.
func (c *Cache) Invalidate(path string) { c.invalidatePath(path, true) }

// invalidatePath is Invalidate; rewritten as for drop.
func (c *Cache) invalidatePath(path string, rewritten bool) {
	p := filepath.Clean(path)
	if !strings.HasPrefix(p, "/") {
		return
	}
	c.mu.Lock()
	r := unalias(p, c.aliases)
	c.invalidate(r, rewritten)
	if r != p {
		c.invalidate(p, rewritten)
	}
	c.mu.Unlock()
}

// Stats returns a snapshot of the cache's counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		Hits:          c.hits.Load(),
		Misses:        c.misses.Load(),
		Entries:       c.lru.Len(),
		Bytes:         c.bytes,
		Evictions:     c.evictions,
		Invalidations: c.invalidations,
		Refused:       c.refused,
		Watches:       c.watches,
		Unwatched:     c.o.Enabled && (c.unwatchedAll || c.failed > 0),
	}
}

// Close stops the event loop and the watcher, drops every entry and makes
// Add refuse from then on. It waits for the loop to return and is safe to
// call more than once.
func (c *Cache) Close() error {
	c.once.Do(func() {
		close(c.done)
		<-c.stopped
		c.mu.Lock()
		c.closed = true
		c.purge(false)
		c.released = nil
		c.mu.Unlock()
		c.ino.close()
		<-c.inodesDone
	})
	return nil
}
