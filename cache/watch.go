package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watching. fsnotify is not recursive on Linux, so the cache adds a watch on
// every folder below each document root, on folders created later (and on
// folders created inside them before their own watch landed: watchTree lists
// a folder only after its watch is in place), and removes the watches of
// folders removed or moved away. It also watches the folder holding each root,
// to see the root itself replaced (a deploy that swaps a symbolic link or
// renames folders).
//
// Folders whose name starts with a dot are not watched: serve refuses
// dotfiles, and .git trees would use up watches. An entry that depends on a
// path below one is not covered, so it is checked by stat on every hit.
//
// Overflow policy: when the event queue overflows, events were lost, so the
// cache drops every entry, refuses every Token taken before, and treats the
// whole tree as unwatched (stat on every hit, no listings cached). Once no
// overflow has come for rescanDelay, it replaces the watcher with a new one
// and walks every root again; from then on the tree is watched as before.
// Under a sustained storm of changes it stays in the stat-checked mode.

// rescanDelay is how long the cache waits after the last event overflow
// before it re-establishes its watches; while it waits, every hit is checked
// by stat.
const rescanDelay = time.Second

// Watch watches the document root docroot and every folder below it, and
// folders created there later, and drops cached entries when anything there
// changes. docroot must be a folder; symbolic links in it are resolved, and
// paths given below it are rewritten to the real ones. A folder whose watch
// cannot be added (the inotify watch limit, a network filesystem) is logged
// once, and the entries below it are checked by stat on every hit; Watch
// returns an error only when docroot cannot be used at all. Watch may be
// called for several roots; it returns when the watches are in place.
func (c *Cache) Watch(docroot string) error {
	if !c.o.Enabled {
		return nil
	}
	if !filepath.IsAbs(docroot) {
		return fmt.Errorf("cache: watch %s: not an absolute path", docroot)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.isClosed() {
		return ErrClosed
	}
	given := filepath.Clean(docroot)
	real, err := filepath.EvalSymlinks(given)
	if err != nil {
		return fmt.Errorf("cache: watch %s: %w", given, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return fmt.Errorf("cache: watch %s: %w", given, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("cache: watch %s: not a folder", given)
	}
	for _, r := range c.roots {
		if r.given == given {
			return nil
		}
	}
	r := &root{given: given}
	c.roots = append(c.roots, r)
	c.watchRoot(r)
	return nil
}

func (c *Cache) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// watchRoot resolves r and watches its tree and the folders holding it.
// c.wmu is held.
func (c *Cache) watchRoot(r *root) {
	real, err := filepath.EvalSymlinks(r.given)
	if err != nil {
		real = ""
	} else if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
		real = ""
	}
	c.mu.Lock()
	if old := r.real; old != "" && old != real {
		r.real = ""
		shared := false
		for _, q := range c.roots {
			shared = shared || q.real == old
		}
		if n := c.nodes[old]; n != nil && !shared {
			n.root = false
			c.prune(n)
		}
	}
	r.real = real
	if real != "" {
		c.ensure(real).root = true
	}
	c.aliases = c.aliases[:0:0]
	for _, q := range c.roots {
		if q.real != "" && q.real != q.given {
			c.aliases = append(c.aliases, alias{q.given, q.real})
		}
	}
	c.mu.Unlock()
	for _, p := range []string{r.given, real} {
		if p != "" && p != "/" {
			c.addOuter(dir(p))
		}
	}
	if real != "" {
		c.watchTree(real)
	}
}

// addOuter watches f, the folder holding a root, for the root being replaced.
func (c *Cache) addOuter(f string) {
	if c.w == nil {
		return
	}
	c.mu.Lock()
	if n := c.nodes[f]; n != nil && (n.outer || n.watched) {
		// A folder of another tree: its watch serves both.
		n.outer = true
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	if err := c.w.Add(f); err != nil {
		c.sayOnce("outer", levelNotice, "cache: cannot watch the folder holding a document root; replacing the root needs a restart",
			"dir", f, "err", err)
		return
	}
	c.mu.Lock()
	c.ensure(f).outer = true
	c.mu.Unlock()
}

// watchTree adds a watch on top and every folder below it. Each folder is
// listed only after its own watch landed, so a folder made in it meanwhile
// is either listed here or reported by an event. c.wmu is held.
func (c *Cache) watchTree(top string) {
	_ = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == top {
				return err
			}
			c.log.Debug("cache: cannot list a folder to watch", "dir", p, "err", err)
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		if p != top && strings.HasPrefix(d.Name(), ".") {
			return fs.SkipDir
		}
		c.addWatch(p)
		return nil
	})
}

// addWatch adds a watch on folder p. On success it stamps p, so that Add
// refuses entries read before the watch landed (a change then made no event),
// and drops the entries below p, which were stored as stat-checked, so they
// come back as watched ones. On failure it marks p so that entries below it
// are checked by stat. c.wmu is held.
func (c *Cache) addWatch(p string) {
	err := c.tryWatch(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if errors.Is(err, fs.ErrNotExist) {
		// Gone before the watch landed: nothing below it to check, and the
		// event that removed it drops what depended on it.
		if n := c.nodes[p]; n != nil && n.watched {
			n.watched = false
			c.watches--
			c.prune(n)
		}
		return
	}
	n := c.ensure(p)
	if err != nil {
		if n.watched {
			n.watched = false
			c.watches--
		}
		if !n.failed {
			n.failed = true
			c.failed++
		}
		return
	}
	if n.failed {
		n.failed = false
		c.failed--
	}
	if !n.watched {
		n.watched = true
		c.watches++
	}
	n.sub = c.next()
	c.stamp(n)
	c.dropTree(n, false)
}

// tryWatch asks fsnotify to watch p and logs a failure. c.wmu is held.
func (c *Cache) tryWatch(p string) error {
	if c.w == nil {
		return ErrClosed
	}
	if fsys := remoteFS(p); fsys != "" {
		c.sayOnce("remote", levelNotice, "cache: folder is on a network filesystem, where inotify misses changes; its files are checked by stat on every hit",
			"dir", p, "fs", fsys)
		return fmt.Errorf("%s filesystem", fsys)
	}
	var err error
	if c.addHook != nil {
		err = c.addHook(p)
	}
	if err == nil {
		err = c.w.Add(p)
	}
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
	case errors.Is(err, syscall.ENOSPC):
		c.sayOnce("limit", slog.LevelError, "cache: inotify watch limit reached (raise fs.inotify.max_user_watches); files below unwatched folders are checked by stat on every hit",
			"dir", p, "err", err)
	default:
		c.sayOnce("add", slog.LevelError, "cache: cannot watch a folder; its files are checked by stat on every hit",
			"dir", p, "err", err)
	}
	return err
}

// unwatchTree removes the watches of p and every folder below it, which were
// removed or moved away. c.wmu is held.
func (c *Cache) unwatchTree(p string) {
	c.mu.Lock()
	n := c.nodes[p]
	if n == nil {
		c.mu.Unlock()
		return
	}
	var gone []string
	buf := subtree(n, c.scratch[:0])
	for _, m := range buf {
		if m.watched || m.outer {
			gone = append(gone, m.path)
		}
		if m.watched {
			m.watched = false
			c.watches--
		}
		if m.failed {
			m.failed = false
			c.failed--
		}
		m.outer = false
	}
	for _, m := range buf {
		c.prune(m)
	}
	clear(buf)
	c.scratch = buf[:0]
	c.mu.Unlock()
	if c.w == nil {
		return
	}
	for _, q := range gone {
		// The watch may be gone already (the folder was deleted).
		_ = c.w.Remove(q)
	}
}

// run is the event loop. It owns the watcher, replaces it when it rescans
// after an overflow, and closes it when Close is called.
func (c *Cache) run(w *fsnotify.Watcher) {
	defer close(c.stopped)
	// rescan fires rescanDelay after the last overflow.
	rescan := time.NewTimer(time.Hour)
	rescan.Stop()
	defer func() {
		rescan.Stop()
		c.wmu.Lock()
		if c.w != nil {
			c.w.Close()
			c.w = nil
		}
		c.wmu.Unlock()
	}()
	for {
		var events chan fsnotify.Event
		var errs chan error
		if w != nil {
			events, errs = w.Events, w.Errors
		}
		var err error
		select {
		case <-c.done:
			return
		case ev, ok := <-events:
			if !ok {
				w = c.lost()
				continue
			}
			c.handle(ev)
			continue
		case e, ok := <-errs:
			if !ok {
				w = c.lost()
				continue
			}
			err = e
		case err = <-c.inject:
		case <-rescan.C:
			w = c.rescan()
			continue
		}
		if !errors.Is(err, fsnotify.ErrEventOverflow) {
			c.wmu.Lock()
			c.sayOnce("error", slog.LevelError, "cache: file watcher error", "err", err)
			c.wmu.Unlock()
			continue
		}
		c.overflow()
		rescan.Reset(c.rescanDelay)
	}
}

// lost handles the watcher's channels closing under it, which fsnotify does
// only when it is closed: the tree is unwatched for good.
func (c *Cache) lost() *fsnotify.Watcher {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.w = nil
	c.mu.Lock()
	c.unwatchedAll = true
	c.purge(true)
	c.floor = c.next()
	c.mu.Unlock()
	c.sayOnce("lost", slog.LevelError, "cache: the file watcher stopped; every cache hit is checked by stat")
	return nil
}

// overflow handles a queue overflow: events were lost, so everything cached
// is dropped, every Token taken so far is refused, and the tree counts as
// unwatched until the rescan.
func (c *Cache) overflow() {
	c.mu.Lock()
	c.purge(true)
	c.unwatchedAll = true
	c.floor = c.next()
	c.mu.Unlock()
	c.wmu.Lock()
	c.sayOnce("overflow", slog.LevelError, "cache: file event queue overflowed; dropped every cached entry and checking every hit by stat until the watches are re-established",
		"retry_after", c.rescanDelay)
	c.wmu.Unlock()
}

// rescan replaces the watcher with a new one and watches every root again.
// It returns the new watcher, or nil when none can be made: the tree then
// stays unwatched for good.
func (c *Cache) rescan() *fsnotify.Watcher {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.w != nil {
		c.w.Close()
		c.w = nil
	}
	c.mu.Lock()
	for _, n := range c.nodes {
		if n.watched {
			c.watches--
		}
		if n.failed {
			c.failed--
		}
		n.watched, n.failed, n.outer = false, false, false
	}
	for _, n := range c.nodes {
		c.prune(n)
	}
	c.mu.Unlock()
	w, err := fsnotify.NewWatcher()
	if err != nil {
		c.sayOnce("lost", slog.LevelError, "cache: cannot make a new file watcher; every cache hit is checked by stat", "err", err)
		return nil
	}
	c.w = w
	for _, r := range c.roots {
		c.watchRoot(r)
	}
	c.mu.Lock()
	c.unwatchedAll = false
	c.floor = c.next()
	watches := c.watches
	c.mu.Unlock()
	c.log.Info("cache: watches re-established after an event overflow", "watches", watches)
	return w
}

// handle applies one fsnotify event: it drops what depended on the path,
// watches a folder created or moved in, unwatches one removed or moved out,
// and re-resolves a document root that was replaced.
func (c *Cache) handle(ev fsnotify.Event) {
	p := filepath.Clean(ev.Name)
	if !filepath.IsAbs(p) {
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	// A write: the content of p changed in place. Any other event moves,
	// removes or changes the attributes of a name, and a file kept open
	// from before still holds what it held.
	c.invalidate(p, ev.Has(fsnotify.Write))
	inTree := c.inTree(p)
	c.mu.Unlock()
	if !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Remove) && !ev.Has(fsnotify.Rename) {
		return
	}
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		c.unwatchTree(p)
	}
	// A root, or a folder holding one, was removed, renamed or replaced.
	rerooted := false
	for _, r := range c.roots {
		if within(r.given, p) || r.real != "" && within(r.real, p) {
			c.rewatch(r)
			rerooted = true
		}
	}
	if !rerooted && ev.Has(fsnotify.Create) && inTree && !strings.HasPrefix(filepath.Base(p), ".") {
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			c.watchTree(p)
		}
	}
}

// rewatch re-establishes root r after an event on the root itself (removed,
// renamed, replaced, or a symbolic link to it retargeted): it drops every
// entry below the old and the new real path and watches the tree again.
// c.wmu is held.
func (c *Cache) rewatch(r *root) {
	c.mu.Lock()
	for _, p := range []string{r.given, r.real} {
		if p != "" {
			c.invalidate(p, false)
		}
	}
	c.mu.Unlock()
	if r.real != "" {
		c.unwatchTree(r.real)
	}
	c.watchRoot(r)
	if r.real != "" {
		c.mu.Lock()
		c.invalidate(r.real, false)
		c.mu.Unlock()
	}
}

// sayOnce logs msg at level the first time key is said. Later occurrences go
// to the debug level. c.wmu is held.
func (c *Cache) sayOnce(key string, level slog.Level, msg string, args ...any) {
	if c.said[key] {
		level = slog.LevelDebug
	}
	c.said[key] = true
	c.log.Log(context.Background(), level, msg, args...)
}
