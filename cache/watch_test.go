package cache

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/fsnotify/fsnotify"
)

// TestChangesInvalidate makes each kind of change to a cached file or the
// folder above it, and checks that the entry is dropped and a new one, read
// after the change, can be cached and is dropped again by the next change
// (so the watch still reports with the right names).
func TestChangesInvalidate(t *testing.T) {
	tests := []struct {
		name   string
		file   string                               // the cached file, below the root
		change func(t *testing.T, root, out string) // out is a folder outside the root
		after  string                               // the file to cache again after the change, "" for none
	}{
		{"modify in place", "a/page.html", func(t *testing.T, root, _ string) {
			f, err := os.OpenFile(filepath.Join(root, "a/page.html"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("more")
			f.Close()
		}, "a/page.html"},
		{"truncate and rewrite", "a/page.html", func(t *testing.T, root, _ string) {
			write(t, filepath.Join(root, "a/page.html"), "new")
		}, "a/page.html"},
		{"rename over (editor save)", "a/page.html", func(t *testing.T, root, _ string) {
			tmp := filepath.Join(root, "a/.page.html.swp")
			write(t, tmp, "saved by an editor")
			if err := os.Rename(tmp, filepath.Join(root, "a/page.html")); err != nil {
				t.Fatal(err)
			}
		}, "a/page.html"},
		{"mv from outside the root", "a/page.html", func(t *testing.T, root, out string) {
			tmp := filepath.Join(out, "page.html")
			write(t, tmp, "moved in")
			if err := os.Rename(tmp, filepath.Join(root, "a/page.html")); err != nil {
				t.Fatal(err)
			}
		}, "a/page.html"},
		{"sed -i", "a/page.html", func(t *testing.T, root, _ string) {
			if _, err := exec.LookPath("sed"); err != nil {
				t.Skip("no sed")
			}
			out, err := exec.Command("sed", "-i", "s/body/BODY/", filepath.Join(root, "a/page.html")).CombinedOutput()
			if err != nil {
				t.Fatalf("sed: %v: %s", err, out)
			}
		}, "a/page.html"},
		{"delete", "a/page.html", func(t *testing.T, root, _ string) {
			if err := os.Remove(filepath.Join(root, "a/page.html")); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"chmod", "a/page.html", func(t *testing.T, root, _ string) {
			if err := os.Chmod(filepath.Join(root, "a/page.html"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "a/page.html"},
		{"chmod the folder", "a/page.html", func(t *testing.T, root, _ string) {
			if err := os.Chmod(filepath.Join(root, "a"), 0o700); err != nil {
				t.Fatal(err)
			}
		}, "a/page.html"},
		{"folder moved out", "a/b/page.html", func(t *testing.T, root, out string) {
			if err := os.Rename(filepath.Join(root, "a"), filepath.Join(out, "a")); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"folder renamed inside the root", "a/b/page.html", func(t *testing.T, root, _ string) {
			if err := os.Rename(filepath.Join(root, "a"), filepath.Join(root, "z")); err != nil {
				t.Fatal(err)
			}
		}, "z/b/page.html"},
		{"folder moved in over a removed one", "a/b/page.html", func(t *testing.T, root, out string) {
			write(t, filepath.Join(out, "a/b/page.html"), "from outside")
			if err := os.RemoveAll(filepath.Join(root, "a")); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(out, "a"), filepath.Join(root, "a")); err != nil {
				t.Fatal(err)
			}
		}, "a/b/page.html"},
		{"folder removed", "a/b/page.html", func(t *testing.T, root, _ string) {
			if err := os.RemoveAll(filepath.Join(root, "a")); err != nil {
				t.Fatal(err)
			}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, out := tempRoot(t), tempRoot(t)
			write(t, filepath.Join(root, tt.file), "the body")
			c := newCache(t, nil)
			if err := c.Watch(root); err != nil {
				t.Fatal(err)
			}
			mustAddFile(t, c, "k", filepath.Join(root, tt.file))
			if c.isUnwatched("k") {
				t.Fatal("the entry is not covered by watches")
			}
			tt.change(t, root, out)
			waitGone(t, c, "k")
			if tt.after == "" {
				return
			}
			p := filepath.Join(root, tt.after)
			waitFor(t, "a watch on "+filepath.Dir(p), func() bool { return c.watched(filepath.Dir(p)) })
			waitFor(t, "the new file to be cached", func() bool { _, ok := addFile(t, c, "k2", p); return ok })
			if c.isUnwatched("k2") {
				t.Error("the new entry is not covered by watches")
			}
			write(t, p, "changed again")
			waitGone(t, c, "k2")
		})
	}
}

// TestFolderMovedOutIsUnwatched checks that a folder moved out of the root
// loses its watches, so changes there no longer reach the cache under stale
// names.
func TestFolderMovedOutIsUnwatched(t *testing.T) {
	root, out := tempRoot(t), tempRoot(t)
	write(t, filepath.Join(root, "a/b/c/page.html"), "x")
	c := newCache(t, nil)
	if err := c.Watch(root); err != nil {
		t.Fatal(err)
	}
	before := c.Stats().Watches
	if err := os.Rename(filepath.Join(root, "a"), filepath.Join(out, "a")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the three watches to go", func() bool { return c.Stats().Watches == before-3 })
	c.wmu.Lock()
	list := c.w.WatchList()
	c.wmu.Unlock()
	for _, p := range list {
		if strings.HasPrefix(p, out) || strings.HasPrefix(p, filepath.Join(root, "a")) {
			t.Errorf("still watching %s", p)
		}
	}
}

// TestSiblingChangeKeepsEntry checks that invalidation is per path: a change
// to another file in the same folder leaves an entry alone, while it drops
// the folder's listing.
func TestSiblingChangeKeepsEntry(t *testing.T) {
	root := tempRoot(t)
	p, q := filepath.Join(root, "d/p.html"), filepath.Join(root, "d/q.html")
	write(t, p, "p")
	write(t, q, "q")
	c := newCache(t, nil)
	if err := c.Watch(root); err != nil {
		t.Fatal(err)
	}
	mustAddFile(t, c, "p", p)
	mustAddListing(t, c, "list", filepath.Join(root, "d"))
	write(t, q, "q changed")
	if err := os.Mkdir(filepath.Join(root, "d/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	syncEvents(t, c, root)
	if _, ok := c.Get("p"); !ok {
		t.Error("a change to a sibling dropped the entry")
	}
	if _, ok := c.Get("list"); ok {
		t.Error("the listing survived a change in its folder")
	}
}

// TestListingUpdates checks that a listing is dropped when a file is added to
// its folder, and when one is removed.
func TestListingUpdates(t *testing.T) {
	root := tempRoot(t)
	d := filepath.Join(root, "files")
	write(t, filepath.Join(d, "one.txt"), "1")
	c := newCache(t, nil)
	if err := c.Watch(root); err != nil {
		t.Fatal(err)
	}
	for i, change := range []func(){
		func() { write(t, filepath.Join(d, "two.txt"), "2") },
		func() { os.Remove(filepath.Join(d, "one.txt")) },
		func() { write(t, filepath.Join(d, "two.txt"), "22") }, // size shown in the listing
	} {
		mustAddListing(t, c, "list", d)
		change()
		waitFor(t, fmt.Sprintf("change %d to drop the listing", i), func() bool { _, ok := c.Get("list"); return !ok })
	}
}

// TestNewFolderWatched creates folders after Watch, nested ones at once (so
// the inner ones exist before the watch on the outer one lands), and checks
// that every one is watched and reports changes.
func TestNewFolderWatched(t *testing.T) {
	root := tempRoot(t)
	c := newCache(t, nil)
	if err := c.Watch(root); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "n1/n2/n3")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(deep, "page.html"), "deep")
	for _, d := range []string{"n1", "n1/n2", "n1/n2/n3"} {
		waitFor(t, "a watch on "+d, func() bool { return c.watched(filepath.Join(root, d)) })
	}
	p := filepath.Join(deep, "page.html")
	waitFor(t, "the page to be cached", func() bool { _, ok := addFile(t, c, "k", p); return ok })
	if c.isUnwatched("k") {
		t.Error("an entry in a new folder is not covered")
	}
	write(t, p, "deeper")
	waitGone(t, c, "k")
	// Dot folders are not watched; entries below them are checked by stat.
	write(t, filepath.Join(root, ".git/objects/x"), "x")
	syncEvents(t, c, root)
	if c.watched(filepath.Join(root, ".git")) {
		t.Error("a dot folder is watched")
	}
	mustAddFile(t, c, "dot", filepath.Join(root, ".git/objects/x"))
	if !c.isUnwatched("dot") {
		t.Error("an entry below an unwatched dot folder is not checked by stat")
	}
}

// TestWatchLimit simulates the inotify watch limit: the folders that cannot
// be watched are logged once, their entries are checked by stat on every
// hit, and their listings are not cached.
func TestWatchLimit(t *testing.T) {
	root := tempRoot(t)
	for _, p := range []string{"ok/page.html", "full/page.html", "full/deeper/page.html"} {
		write(t, filepath.Join(root, p), "old")
	}
	var logs logBuffer
	c, err := New(DefaultOptions(), logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var st countingStat
	c.stat = st.stat
	c.addHook = func(dir string) error {
		if within(dir, filepath.Join(root, "full")) || within(dir, filepath.Join(root, "later")) {
			return fmt.Errorf("inotify_add_watch %s: %w", dir, syscall.ENOSPC)
		}
		return nil
	}
	if err := c.Watch(root); err != nil {
		t.Fatal(err)
	}
	if !c.Stats().Unwatched {
		t.Error("Stats does not report the unwatched part")
	}
	if n := logs.count("level=ERROR"); n != 1 {
		t.Errorf("got %d error lines, want 1:\n%s", n, logs.String())
	}
	if n := logs.count("max_user_watches"); n != 1 {
		t.Errorf("the error line does not say what to raise:\n%s", logs.String())
	}
	mustAddFile(t, c, "ok", filepath.Join(root, "ok/page.html"))
	for _, p := range []string{"full/page.html", "full/deeper/page.html"} {
		mustAddFile(t, c, p, filepath.Join(root, p))
		if !c.isUnwatched(p) {
			t.Errorf("%s: not checked by stat", p)
		}
		before := st.calls()
		if _, ok := c.Get(p); !ok {
			t.Fatalf("%s: miss", p)
		}
		if st.calls() == before {
			t.Errorf("%s: a hit made no stat", p)
		}
		// A same-size rewrite: the modification time or inode shows it.
		tmp := filepath.Join(root, "tmp")
		write(t, tmp, "new")
		if err := os.Rename(tmp, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Get(p); ok {
			t.Errorf("%s: the first hit after the change served the old body", p)
		}
	}
	if c.isUnwatched("ok") {
		t.Error("an entry in a watched folder is checked by stat")
	}
	if addListing(t, c, "list", filepath.Join(root, "full")) {
		t.Error("a listing of an unwatched folder was cached")
	}
	// A folder created later that cannot be watched either.
	write(t, filepath.Join(root, "later/page.html"), "x")
	syncEvents(t, c, root)
	mustAddFile(t, c, "later", filepath.Join(root, "later/page.html"))
	if !c.isUnwatched("later") {
		t.Error("an entry in a new unwatched folder is not checked by stat")
	}
	if n := logs.count("level=ERROR"); n != 1 {
		t.Errorf("got %d error lines, want the limit said once:\n%s", n, logs.String())
	}
}

// TestOverflow simulates an event queue overflow: every entry is dropped,
// tokens taken before are refused, entries added afterwards are checked by
// stat, and after the rescan the tree is watched again.
func TestOverflow(t *testing.T) {
	root := tempRoot(t)
	p := filepath.Join(root, "d/page.html")
	write(t, p, "one")
	var logs logBuffer
	c, err := New(DefaultOptions(), logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.rescanDelay = 1 << 62 // no rescan until we say
	if err := c.Watch(root); err != nil {
		t.Fatal(err)
	}
	mustAddFile(t, c, "a", p)
	mustAddListing(t, c, "list", filepath.Join(root, "d"))
	old := c.Begin()
	fi := mustStat(t, p)
	c.inject <- fsnotify.ErrEventOverflow
	waitGone(t, c, "a")
	waitGone(t, c, "list")
	if !c.Stats().Unwatched {
		t.Error("Stats does not report the tree as unwatched")
	}
	if c.Add("b", &Entry{Body: []byte("one"), Deps: []Dep{DepOf(p, fi)}}, old) {
		t.Error("a token taken before the overflow was accepted")
	}
	mustAddFile(t, c, "a", p)
	if !c.isUnwatched("a") {
		t.Error("an entry added after the overflow is not checked by stat")
	}
	if addListing(t, c, "list", filepath.Join(root, "d")) {
		t.Error("a listing was cached while the tree is unwatched")
	}
	tmp := filepath.Join(root, "tmp")
	write(t, tmp, "two")
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get("a"); ok {
		t.Error("the first hit after the change served the old body")
	}
	c.inject <- fsnotify.ErrEventOverflow
	c.inject <- errors.New("something else") // the loop has handled the second overflow
	if n := logs.count("overflow"); n != 1 {
		t.Errorf("got %d overflow lines, want 1:\n%s", n, logs.String())
	}

	// Rescan: the tree is watched again, by a new watcher.
	c.wmu.Lock()
	c.rescanDelay = 0
	c.wmu.Unlock()
	c.inject <- fsnotify.ErrEventOverflow
	waitFor(t, "the rescan", func() bool { return !c.Stats().Unwatched })
	waitFor(t, "the page to be cached", func() bool { _, ok := addFile(t, c, "a", p); return ok })
	if c.isUnwatched("a") {
		t.Error("an entry added after the rescan is checked by stat")
	}
	mustAddListing(t, c, "list", filepath.Join(root, "d"))
	write(t, p, "three")
	waitGone(t, c, "a")
	waitGone(t, c, "list")
}

// TestSymlinks checks entries reached through symbolic links: a root given
// through a link is watched at its real path, and a file reached through a
// link inside the tree is checked by stat and dropped when the link is
// retargeted.
func TestSymlinks(t *testing.T) {
	base := tempRoot(t)
	real := filepath.Join(base, "release1")
	write(t, filepath.Join(real, "page.html"), "r1")
	write(t, filepath.Join(real, "target/one.html"), "one")
	write(t, filepath.Join(real, "target/two.html"), "two!")
	link := filepath.Join(base, "current")
	if err := os.Symlink("release1", link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("target/one.html", filepath.Join(real, "alias.html")); err != nil {
		t.Fatal(err)
	}
	c := newCache(t, nil)
	if err := c.Watch(link); err != nil {
		t.Fatal(err)
	}
	mustAddFile(t, c, "page", filepath.Join(link, "page.html"))
	if c.isUnwatched("page") {
		t.Error("an entry below a root given through a link is not covered")
	}
	write(t, filepath.Join(real, "page.html"), "r1 changed")
	waitGone(t, c, "page")

	mustAddFile(t, c, "alias", filepath.Join(link, "alias.html"))
	if !c.isUnwatched("alias") {
		t.Error("an entry reached through a link inside the tree is not checked by stat")
	}
	tmp := filepath.Join(real, "tmp")
	if err := os.Symlink("target/two.html", tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(real, "alias.html")); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get("alias"); ok {
		t.Error("the first hit after the link was retargeted served the old body")
	}
	// A write to the link's target is seen by its own folder's watch.
	mustAddFile(t, c, "alias", filepath.Join(link, "alias.html"))
	write(t, filepath.Join(real, "target/two.html"), "two changed")
	waitGone(t, c, "alias")
}

// TestRootReplaced replaces a document root as deploys do, by swapping the
// symbolic link it is given through or by renaming folders: everything from
// the old tree is dropped, and the new one is watched.
func TestRootReplaced(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, base string) string // returns the root to Watch
		swap  func(t *testing.T, base string)
	}{
		{"symbolic link swapped", func(t *testing.T, base string) string {
			link := filepath.Join(base, "current")
			if err := os.Symlink("release1", link); err != nil {
				t.Fatal(err)
			}
			return link
		}, func(t *testing.T, base string) {
			tmp := filepath.Join(base, "next")
			if err := os.Symlink("release2", tmp); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(base, "current")); err != nil {
				t.Fatal(err)
			}
		}},
		{"folders renamed", func(t *testing.T, base string) string {
			if err := os.Rename(filepath.Join(base, "release1"), filepath.Join(base, "current")); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(base, "current")
		}, func(t *testing.T, base string) {
			if err := os.Rename(filepath.Join(base, "current"), filepath.Join(base, "old")); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(base, "release2"), filepath.Join(base, "current")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := tempRoot(t)
			for _, r := range []string{"release1", "release2"} {
				write(t, filepath.Join(base, r, "page.html"), r)
				write(t, filepath.Join(base, r, "sub/deep.html"), r)
			}
			root := tt.setup(t, base)
			c := newCache(t, nil)
			if err := c.Watch(root); err != nil {
				t.Fatal(err)
			}
			mustAddFile(t, c, "page", filepath.Join(root, "page.html"))
			mustAddFile(t, c, "deep", filepath.Join(root, "sub/deep.html"))
			tt.swap(t, base)
			waitGone(t, c, "page")
			waitGone(t, c, "deep")
			real, err := filepath.EvalSymlinks(root)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the new tree to be watched", func() bool { return c.watched(filepath.Join(real, "sub")) })
			waitFor(t, "the new page to be cached", func() bool {
				_, ok := addFile(t, c, "deep", filepath.Join(root, "sub/deep.html"))
				return ok
			})
			if e, _ := c.Get("deep"); e == nil || string(e.Body) != "release2" {
				t.Fatalf("got %v, want the new release's body", e)
			}
			if c.isUnwatched("deep") {
				t.Error("an entry of the new tree is not covered")
			}
			write(t, filepath.Join(root, "sub/deep.html"), "release2 changed")
			waitGone(t, c, "deep")
			c.wmu.Lock()
			list := c.w.WatchList()
			c.wmu.Unlock()
			for _, old := range []string{"release1", "old"} {
				if slices.ContainsFunc(list, func(p string) bool { return within(p, filepath.Join(base, old)) }) {
					t.Errorf("the old tree is still watched: %q", list)
				}
			}
		})
	}
}

// TestVanishedFolder checks that a folder removed before its watch landed
// does not leave the tree marked unwatched.
func TestVanishedFolder(t *testing.T) {
	root := tempRoot(t)
	c := newCache(t, nil)
	if err := c.Watch(root); err != nil {
		t.Fatal(err)
	}
	c.wmu.Lock()
	c.addWatch(filepath.Join(root, "gone"))
	c.wmu.Unlock()
	if s := c.Stats(); s.Unwatched {
		t.Errorf("got %+v, want the tree watched", s)
	}
	for i := range 20 {
		d := filepath.Join(root, fmt.Sprintf("brief%d", i))
		os.Mkdir(d, 0o755)
		os.Remove(d)
	}
	syncEvents(t, c, root)
	if s := c.Stats(); s.Unwatched || s.Watches != 1 {
		t.Errorf("got %+v, want the root alone watched", s)
	}
}

// TestHardLinkUnwatched checks that a file with more than one hard link,
// which can be written through a name no watch sees, is checked by stat.
func TestHardLinkUnwatched(t *testing.T) {
	root, out := tempRoot(t), tempRoot(t)
	p := filepath.Join(root, "page.html")
	write(t, p, "one")
	if err := os.Link(p, filepath.Join(out, "other-name")); err != nil {
		t.Skip("no hard links here:", err)
	}
	c := newCache(t, nil)
	if err := c.Watch(root); err != nil {
		t.Fatal(err)
	}
	mustAddFile(t, c, "k", p)
	if !c.isUnwatched("k") {
		t.Error("a file with two hard links is not checked by stat")
	}
	f, err := os.OpenFile(filepath.Join(out, "other-name"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("two")
	f.Close()
	if _, ok := c.Get("k"); ok {
		t.Error("served the old body after a write through the other link")
	}
}

// TestWatchLandingRefusesOlderTokens checks that an entry read before the
// watch on its folder landed is refused, since a change then made no event.
func TestWatchLandingRefusesOlderTokens(t *testing.T) {
	root := tempRoot(t)
	p := filepath.Join(root, "late/page.html")
	write(t, p, "x")
	c := newCache(t, nil)
	c.addHook = func(dir string) error {
		if within(dir, filepath.Join(root, "late")) {
			return syscall.ENOSPC
		}
		return nil
	}
	if err := c.Watch(root); err != nil {
		t.Fatal(err)
	}
	tok := c.Begin()
	e := &Entry{Body: []byte("x"), Deps: []Dep{DepOf(p, mustStat(t, p))}}
	c.wmu.Lock()
	c.addHook = nil
	c.addWatch(filepath.Join(root, "late"))
	c.wmu.Unlock()
	if c.Add("k", e, tok) {
		t.Error("Add accepted an entry read before its folder's watch landed")
	}
	if !c.Add("k", e, c.Begin()) || c.isUnwatched("k") {
		t.Error("Add refused, or did not cover, an entry read after the watch landed")
	}
}

// getOrFill answers a request the way serve will: a hit, or Begin, read the
// file and Add.
func getOrFill(c *Cache, key, path string) (string, error) {
	if e, ok := c.Get(key); ok {
		if etag(e.Body) != e.ETag {
			return "", fmt.Errorf("a hit whose body does not match its ETag")
		}
		return string(e.Body), nil
	}
	tok := c.Begin()
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	body := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, body); err != nil {
		return "", err
	}
	c.Add(key, &Entry{Body: body, Type: "text/html", ETag: etag(body), Deps: []Dep{DepOf(path, fi)}}, tok)
	return string(body), nil
}

// TestRewritesNeverServeStale rewrites a file (saving by rename, as editors
// do) while readers fill and read the cache. Every body served is one whole
// version, and after each rewrite the new version is served within the
// deadline: an entry of an old version stored by a racing Add would stay
// forever and fail the test.
func TestRewritesNeverServeStale(t *testing.T) {
	root := tempRoot(t)
	p := filepath.Join(root, "page.html")
	version := func(i int) string { return strings.Repeat(fmt.Sprintf("<v%04d>", i), 100+i%7) }
	write(t, p, version(0))
	c := newCache(t, nil)
	if err := c.Watch(root); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				body, err := getOrFill(c, "k", p)
				if errors.Is(err, fs.ErrNotExist) {
					continue // between the rename's two halves? never for rename(2), but be safe
				}
				if err != nil {
					errs <- err
					return
				}
				var i int
				if _, err := fmt.Sscanf(body, "<v%04d>", &i); err != nil || body != version(i) {
					errs <- fmt.Errorf("served a mixed body %.40q", body)
					return
				}
			}
		})
	}
	for i := 1; i <= 60; i++ {
		tmp := filepath.Join(root, ".tmp")
		write(t, tmp, version(i))
		if err := os.Rename(tmp, p); err != nil {
			t.Fatal(err)
		}
		waitFor(t, fmt.Sprintf("version %d to be served", i), func() bool {
			body, err := getOrFill(c, "k", p)
			return err == nil && body == version(i)
		})
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s := c.Stats(); s.Hits == 0 || s.Refused == 0 && s.Invalidations == 0 {
		t.Logf("stats %+v: the race may not have been exercised", s)
	}
}

// TestRewritten checks what Entry.Rewritten tells of why an entry left:
// a write to its file, not its name replaced or an eviction.
func TestRewritten(t *testing.T) {
	root := tempRoot(t)
	p := filepath.Join(root, "page.html")
	write(t, p, "one")
	c := newCache(t, nil)
	if err := c.Watch(root); err != nil {
		t.Fatal(err)
	}
	e := mustAddFile(t, c, "k", p)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("two")
	f.Close()
	waitGone(t, c, "k")
	if !e.Rewritten() {
		t.Error("written in place: Rewritten is false")
	}
	e = mustAddFile(t, c, "k", p)
	if e.Rewritten() {
		t.Error("a stored entry is Rewritten")
	}
	tmp := filepath.Join(root, "page.html.tmp")
	write(t, tmp, "saved by rename")
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	waitGone(t, c, "k")
	if e.Rewritten() {
		t.Error("replaced by a rename: Rewritten is true")
	}
	e = mustAddFile(t, c, "k", p)
	c.Remove("k")
	if !e.Rewritten() {
		t.Error("removed: Rewritten is false")
	}
	small := newCache(t, func(o *Options) { o.MaxSize = 4096; o.MaxFileSize = 4096 })
	if err := small.Watch(root); err != nil {
		t.Fatal(err)
	}
	q := filepath.Join(root, "big.html")
	write(t, q, strings.Repeat("b", 2500))
	e = mustAddFile(t, small, "a", q)
	mustAddFile(t, small, "b", q)
	if _, ok := small.Get("a"); ok || e.Rewritten() {
		t.Errorf("evicted: still there %v, Rewritten %v; want false, false", ok, e.Rewritten())
	}
}
