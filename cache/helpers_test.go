package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pwebs/pwebs/internal/syncbuf"
)

// deadline bounds every poll: generous, for a noisy shared machine.
const deadline = 10 * time.Second

// newCache returns an enabled cache that is closed when the test ends.
func newCache(t testing.TB, mod func(*Options)) *Cache {
	t.Helper()
	o := DefaultOptions()
	if mod != nil {
		mod(&o)
	}
	c, err := New(o, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// tempRoot returns a real (symbolic-link free) temporary folder.
func tempRoot(t testing.TB) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func etag(b []byte) string {
	h := sha256.Sum256(b)
	return `"` + hex.EncodeToString(h[:8]) + `"`
}

func write(t testing.TB, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// addFile builds an entry for path the way serve does (Begin, open, fstat,
// read) and adds it under key.
func addFile(t testing.TB, c *Cache, key, path string) (*Entry, bool) {
	t.Helper()
	tok := c.Begin()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	e := &Entry{Body: body, Type: "text/plain", ModTime: fi.ModTime(), ETag: etag(body),
		Deps: []Dep{DepOf(path, fi)}}
	return e, c.Add(key, e, tok)
}

// addListing adds an entry for the listing of folder d.
func addListing(t testing.TB, c *Cache, key, d string) bool {
	t.Helper()
	tok := c.Begin()
	fi, err := os.Stat(d)
	if err != nil {
		t.Fatal(err)
	}
	names, err := os.ReadDir(d)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n.Name() + "\n")
	}
	return c.Add(key, &Entry{Body: []byte(b.String()), Type: "text/plain", Deps: []Dep{DepOf(d, fi)}}, tok)
}

// mustAddFile adds an entry for path under key, trying again until Add
// takes it. Add rightly refuses an entry while events of an earlier change
// in the same folder are still on their way (they stamp it after Begin), and
// fsnotify delivers the events of one write or rename one by one, so the
// first try after a change may be refused on a busy machine.
func mustAddFile(t testing.TB, c *Cache, key, path string) *Entry {
	t.Helper()
	var e *Entry
	waitFor(t, fmt.Sprintf("Add(%q) to take the entry", key), func() bool {
		var ok bool
		e, ok = addFile(t, c, key, path)
		return ok
	})
	return e
}

// mustAddListing adds a listing of folder d under key, trying again until Add
// takes it, for the reason mustAddFile gives.
func mustAddListing(t testing.TB, c *Cache, key, d string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("Add(%q) to take the listing", key), func() bool { return addListing(t, c, key, d) })
}

// waitFor polls cond until it holds, failing the test at the deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("gave up after %v waiting for %s", deadline, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitGone polls Get until key misses.
func waitGone(t testing.TB, c *Cache, key string) {
	t.Helper()
	waitFor(t, key+" to be dropped", func() bool { _, ok := c.Get(key); return !ok })
}

// watched reports whether folder p has a live watch.
func (c *Cache) watched(p string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[p]
	return n != nil && n.watched
}

// isUnwatched reports whether the entry under key is checked by stat.
func (c *Cache) isUnwatched(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Peek(key)
	return ok && e.unwatched
}

// sync waits until every event fsnotify delivered before now has been
// handled: it touches a sentinel file with a cached entry and waits for
// that entry to go. Events are handled in order.
func syncEvents(t testing.TB, c *Cache, root string) {
	t.Helper()
	p := filepath.Join(root, "sentinel.txt")
	write(t, p, "s")
	waitFor(t, "the sentinel to be cached", func() bool { _, ok := addFile(t, c, "\x00sentinel", p); return ok })
	write(t, p, "ss")
	waitGone(t, c, "\x00sentinel")
}

// logBuffer collects log records for assertions.
type logBuffer struct{ syncbuf.Buffer }

func (l *logBuffer) count(s string) int { return strings.Count(l.String(), s) }

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// countingStat counts the stats the cache makes.
type countingStat struct {
	mu sync.Mutex
	n  int
}

func (s *countingStat) stat(p string) (fs.FileInfo, error) {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	return os.Stat(p)
}

func (s *countingStat) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}
