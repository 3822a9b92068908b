//go:build linux

package cache

import (
	"os"
	"path/filepath"
	"testing"
)

// TestHardLinkAddedLater checks that a hard link made to a cached file
// after its entry was stored drops the entry, though no watched folder
// sees it: link(2) is reported only to the new name's folder, and to a
// watch on the file's inode. Stored again, the entry is checked by stat,
// and a write through the new name is seen.
func TestHardLinkAddedLater(t *testing.T) {
	root, out := tempRoot(t), tempRoot(t)
	p := filepath.Join(root, "page.html")
	write(t, p, "one")
	c := newCache(t, nil)
	if err := c.Watch(root); err != nil {
		t.Fatal(err)
	}
	mustAddFile(t, c, "k", p)
	if c.isUnwatched("k") {
		t.Fatal("a file with one link is checked by stat")
	}
	other := filepath.Join(out, "other-name")
	if err := os.Link(p, other); err != nil {
		t.Skip("no hard links here:", err)
	}
	waitGone(t, c, "k")
	mustAddFile(t, c, "k", p)
	if !c.isUnwatched("k") {
		t.Error("stored again with two links, the entry is not checked by stat")
	}
	write(t, other, "two, through the other name")
	if _, ok := c.Get("k"); ok {
		t.Error("served the old body after a write through the other link")
	}
}

// TestWriteThroughRemovedLink checks that a write through a descriptor
// opened by a name that has since been removed (the file has one link
// again, in a watched folder, when it is cached) drops the entry.
func TestWriteThroughRemovedLink(t *testing.T) {
	root, out := tempRoot(t), tempRoot(t)
	p := filepath.Join(root, "page.html")
	write(t, p, "one")
	other := filepath.Join(out, "other-name")
	if err := os.Link(p, other); err != nil {
		t.Skip("no hard links here:", err)
	}
	f, err := os.OpenFile(other, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Remove(other); err != nil {
		t.Fatal(err)
	}
	c := newCache(t, nil)
	if err := c.Watch(root); err != nil {
		t.Fatal(err)
	}
	mustAddFile(t, c, "k", p)
	if c.isUnwatched("k") {
		t.Fatal("a file with one link is checked by stat")
	}
	if _, err := f.WriteString("two"); err != nil {
		t.Fatal(err)
	}
	waitGone(t, c, "k")
}

// TestInodeWatches checks that the inode watches are shared by the
// entries built from one file, released once no entry holds them, and
// bounded: past the bound, an entry is checked by stat.
func TestInodeWatches(t *testing.T) {
	root := tempRoot(t)
	a, b := filepath.Join(root, "a.html"), filepath.Join(root, "b.html")
	write(t, a, "a")
	write(t, b, "b")
	var logs logBuffer
	c, err := New(DefaultOptions(), logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Watch(root); err != nil {
		t.Fatal(err)
	}
	mustAddFile(t, c, "a1", a)
	mustAddFile(t, c, "a2", a)
	if n := c.ino.count(); n != 1 {
		t.Errorf("two entries of one file hold %d inode watches, want 1", n)
	}
	c.Remove("a1")
	c.sweep()
	if n := c.ino.count(); n != 1 {
		t.Errorf("with one entry of the file left: %d inode watches, want 1", n)
	}
	c.Remove("a2")
	c.sweep()
	if n := c.ino.count(); n != 0 {
		t.Errorf("with no entry left: %d inode watches, want 0", n)
	}
	c.ino.mu.Lock()
	c.ino.max = 1
	c.ino.mu.Unlock()
	mustAddFile(t, c, "a", a)
	mustAddFile(t, c, "b", b)
	if c.isUnwatched("a") || !c.isUnwatched("b") {
		t.Errorf("past the bound: a unwatched %v, b unwatched %v; want false, true", c.isUnwatched("a"), c.isUnwatched("b"))
	}
	if n := logs.count("no more inode watches"); n != 1 {
		t.Errorf("the bound was said %d times, want once:\n%s", n, logs.String())
	}
	// A write through the watched name: dropped, and the watch released
	// by the next Add, which can then take one.
	write(t, a, "aa")
	waitGone(t, c, "a")
	mustAddFile(t, c, "b2", b)
	if n := c.ino.count(); n != 1 || c.isUnwatched("b2") {
		t.Errorf("after the entry went: %d inode watches and b2 unwatched %v, want 1 and false", n, c.isUnwatched("b2"))
	}
}
