package cache

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pwebs/pwebs/conf"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Options)
		keys []string // keys of the expected errors, in order
	}{
		{"defaults", nil, nil},
		{"negative max_size", func(o *Options) { o.MaxSize = -1 }, []string{"max_size"}},
		{"negative max_file_size", func(o *Options) { o.MaxFileSize = -1 }, []string{"max_file_size"}},
		{"zero max_size enabled", func(o *Options) { o.MaxSize, o.MaxFileSize = 0, 0 }, []string{"max_size"}},
		{"zero max_size disabled", func(o *Options) { o.Enabled, o.MaxSize, o.MaxFileSize = false, 0, 0 }, nil},
		{"file bigger than cache", func(o *Options) { o.MaxFileSize = 128 << 20 }, []string{"max_file_size"}},
		{"both negative", func(o *Options) { o.MaxSize, o.MaxFileSize = -1, -1 }, []string{"max_size", "max_file_size"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			if tt.mod != nil {
				tt.mod(&o)
			}
			var keys []string
			for _, err := range o.Validate() {
				var ke *conf.KeyError
				if !errors.As(err, &ke) {
					t.Fatalf("got %T %v, want *conf.KeyError", err, err)
				}
				keys = append(keys, ke.Key)
			}
			if !slices.Equal(keys, tt.keys) {
				t.Errorf("got keys %q, want %q", keys, tt.keys)
			}
			if _, err := New(o, nil); (err != nil) != (len(tt.keys) > 0) {
				t.Errorf("New: got error %v, want one: %v", err, len(tt.keys) > 0)
			}
		})
	}
}

func TestDefaultOptions(t *testing.T) {
	o := DefaultOptions()
	if !o.Enabled || o.MaxSize != 64<<20 || o.MaxFileSize != 1<<20 || !o.Compress {
		t.Errorf("got %+v, want enabled, 64MiB, 1MiB, compress", o)
	}
}

func TestCompressible(t *testing.T) {
	tests := []struct {
		ct   string
		want bool
	}{
		{"text/html", true},
		{"text/html; charset=utf-8", true},
		{"TEXT/CSS", true},
		{"text/plain;charset=iso-8859-1", true},
		{"application/javascript", true},
		{"application/json", true},
		{"application/ld+json", true},
		{"application/manifest+json", true},
		{"image/svg+xml", true},
		{"application/atom+xml; charset=utf-8", true},
		{"application/xml", true},
		{"application/wasm", true},
		{"image/x-icon", true},
		{"font/ttf", true},
		{"image/png", false},
		{"image/jpeg", false},
		{"font/woff2", false},
		{"application/gzip", false},
		{"application/zip", false},
		{"application/octet-stream", false},
		{"video/mp4", false},
		{"", false},
		{"text", false},
		{"text/", false},
		{"/html", false},
		{"application/x+json-not", false},
	}
	for _, tt := range tests {
		if got := Compressible(tt.ct); got != tt.want {
			t.Errorf("Compressible(%q): got %v, want %v", tt.ct, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Compressible("Application/Atom+XML; charset=utf-8") }); n != 0 {
		t.Errorf("Compressible allocates %v times, want 0", n)
	}
}

// cost is what an entry without dependencies is charged.
func cost(key string, body int) int64 { return int64(body+len(key)) + entryOverhead }

func TestEvictionByBytes(t *testing.T) {
	const k = 1 << 10
	type op struct {
		get  string // Get this key first (touching it), or
		add  string // add this key
		size int    // with a body of this many bytes
		ok   bool   // want Add to store it
	}
	tests := []struct {
		name string
		max  int64
		ops  []op
		want []string // keys left, most recently used first
	}{
		{"fits", 64 * k, []op{{add: "a", size: 10 * k, ok: true}, {add: "b", size: 20 * k, ok: true}}, []string{"b", "a"}},
		{"evicts oldest", 40 * k, []op{
			{add: "a", size: 10 * k, ok: true}, {add: "b", size: 10 * k, ok: true},
			{add: "c", size: 10 * k, ok: true}, {add: "d", size: 15 * k, ok: true},
		}, []string{"d", "c", "b"}},
		{"evicts two", 40 * k, []op{
			{add: "a", size: 10 * k, ok: true}, {add: "b", size: 10 * k, ok: true},
			{add: "c", size: 10 * k, ok: true}, {add: "d", size: 20 * k, ok: true},
		}, []string{"d", "c"}},
		{"get protects", 40 * k, []op{
			{add: "a", size: 10 * k, ok: true}, {add: "b", size: 10 * k, ok: true},
			{add: "c", size: 10 * k, ok: true}, {get: "a"}, {add: "d", size: 20 * k, ok: true},
		}, []string{"d", "a"}},
		{"big evicts many small", 40 * k, []op{
			{add: "a", size: 1 * k, ok: true}, {add: "b", size: 2 * k, ok: true},
			{add: "c", size: 3 * k, ok: true}, {add: "d", size: 30 * k, ok: true},
			{add: "e", size: 35 * k, ok: true},
		}, []string{"e"}},
		{"small after big keeps big", 40 * k, []op{
			{add: "a", size: 30 * k, ok: true}, {add: "b", size: 5 * k, ok: true},
			{add: "c", size: 100, ok: true},
		}, []string{"c", "b", "a"}},
		{"replace same key", 40 * k, []op{
			{add: "a", size: 30 * k, ok: true}, {add: "a", size: 35 * k, ok: true},
		}, []string{"a"}},
		{"oversized refused, nothing evicted", 40 * k, []op{
			{add: "a", size: 10 * k, ok: true}, {add: "big", size: 40 * k, ok: false},
		}, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, func(o *Options) { o.MaxSize, o.MaxFileSize, o.Compress = conf.Size(tt.max), conf.Size(tt.max), false })
			drops := map[*Entry]int{} // OnDrop calls of every entry made
			for _, o := range tt.ops {
				if o.get != "" {
					if _, ok := c.Get(o.get); !ok {
						t.Fatalf("Get(%q) missed", o.get)
					}
					continue
				}
				e := &Entry{Body: make([]byte, o.size)}
				drops[e] = 0
				e.OnDrop = func() { drops[e]++ }
				if got := c.Add(o.add, e, c.Begin()); got != o.ok {
					t.Fatalf("Add(%q, %d bytes): got %v, want %v", o.add, o.size, got, o.ok)
				}
				if s := c.Stats(); s.Bytes > tt.max {
					t.Fatalf("after Add(%q): %d bytes charged, over the bound %d", o.add, s.Bytes, tt.max)
				}
			}
			c.mu.Lock()
			keys := c.lru.Keys()
			c.mu.Unlock()
			slices.Reverse(keys) // Keys lists oldest first
			if !slices.Equal(keys, tt.want) {
				t.Errorf("got keys %q, want %q", keys, tt.want)
			}
			var want int64
			for _, key := range tt.want {
				e, _ := c.Get(key)
				want += cost(key, cap(e.Body))
			}
			if s := c.Stats(); s.Bytes != want || s.Entries != len(tt.want) {
				t.Errorf("got %d bytes in %d entries, want %d in %d", s.Bytes, s.Entries, want, len(tt.want))
			}
			// OnDrop: once for every entry that left, never for one that
			// stays or was refused; once for the rest when the cache closes.
			live := map[*Entry]bool{}
			for _, key := range tt.want {
				e, _ := c.Get(key)
				live[e] = true
			}
			stored := 0
			for _, o := range tt.ops {
				if o.add != "" && o.ok {
					stored++
				}
			}
			left := 0
			for e, n := range drops {
				if live[e] && n != 0 || n > 1 {
					t.Errorf("entry of %d bytes: OnDrop called %d times (live %v)", len(e.Body), n, live[e])
				}
				left += n
			}
			if left != stored-len(tt.want) {
				t.Errorf("OnDrop called for %d entries, want %d", left, stored-len(tt.want))
			}
			c.Close()
			for e, n := range drops {
				if live[e] && n != 1 {
					t.Errorf("entry of %d bytes, live at Close: OnDrop called %d times", len(e.Body), n)
				}
			}
		})
	}
}

func TestOversized(t *testing.T) {
	root := tempRoot(t)
	c := newCache(t, func(o *Options) { o.MaxSize, o.MaxFileSize = 64<<10, 16<<10 })
	big := filepath.Join(root, "big.txt")
	write(t, big, string(bytes.Repeat([]byte("x"), 16<<10+1)))
	if _, ok := addFile(t, c, "big", big); ok {
		t.Error("a body over max_file_size was stored")
	}
	edge := filepath.Join(root, "edge.txt")
	write(t, edge, string(bytes.Repeat([]byte("y"), 16<<10)))
	if _, ok := addFile(t, c, "edge", edge); !ok {
		t.Error("a body of exactly max_file_size was refused")
	}
	if s := c.Stats(); s.Refused != 1 || s.Entries != 1 {
		t.Errorf("got %d refused, %d entries, want 1 and 1", s.Refused, s.Entries)
	}

	// The whole entry, bookkeeping included, must fit in max_size.
	c2 := newCache(t, func(o *Options) { o.MaxSize, o.MaxFileSize = 4<<10, 4<<10 })
	if c2.Add("k", &Entry{Body: make([]byte, 4<<10)}, c2.Begin()) {
		t.Error("an entry whose charge exceeds max_size was stored")
	}
}

func TestDisabled(t *testing.T) {
	c := newCache(t, func(o *Options) { o.Enabled = false })
	root := tempRoot(t)
	if err := c.Watch(root); err != nil {
		t.Fatal(err)
	}
	if c.Add("a", &Entry{Body: []byte("x")}, c.Begin()) {
		t.Error("a disabled cache stored an entry")
	}
	if _, ok := c.Get("a"); ok {
		t.Error("a disabled cache hit")
	}
	if s := c.Stats(); s.Watches != 0 || s.Unwatched {
		t.Errorf("got %+v, want no watches", s)
	}
}

// TestToken checks that Add refuses an entry when something it depends on
// changed after Begin, and only then.
func TestToken(t *testing.T) {
	root := tempRoot(t)
	sub := filepath.Join(root, "sub")
	file := filepath.Join(sub, "page.html")
	other := filepath.Join(sub, "other.html")
	write(t, file, "page")
	write(t, other, "other")
	tests := []struct {
		name    string
		listing bool   // the entry is sub's listing, not page.html
		change  string // Invalidate this path between Begin and Add
		want    bool
	}{
		{"no change", false, "", true},
		{"the file", false, file, false},
		{"its folder", false, sub, false},
		{"the root", false, root, false},
		{"a sibling", false, other, true},
		{"an unrelated folder", false, filepath.Join(root, "elsewhere"), true},
		{"a path with the same prefix", false, file + "x", true},
		{"listing: a name in it", true, other, false},
		{"listing: the folder", true, sub, false},
		{"listing: its parent folder", true, root, false},
		{"listing: a sibling folder", true, filepath.Join(root, "sub2"), true},
		{"listing: deeper down", true, filepath.Join(sub, "deeper", "x"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, nil)
			if err := c.Watch(root); err != nil {
				t.Fatal(err)
			}
			tok := c.Begin()
			var e *Entry
			if tt.listing {
				fi, _ := os.Stat(sub)
				e = &Entry{Body: []byte("listing"), Deps: []Dep{DepOf(sub, fi)}}
			} else {
				fi, _ := os.Stat(file)
				e = &Entry{Body: []byte("page"), Deps: []Dep{DepOf(file, fi)}}
			}
			if tt.change != "" {
				c.Invalidate(tt.change)
			}
			if got := c.Add("k", e, tok); got != tt.want {
				t.Errorf("Add: got %v, want %v", got, tt.want)
			}
			// A token taken after the change is never refused for it.
			if !tt.want {
				e2 := &Entry{Body: e.Body, Deps: e.Deps}
				if !c.Add("k", e2, c.Begin()) {
					t.Error("Add with a fresh token refused")
				}
			}
		})
	}
}

// TestTokenSeesDiskChange checks that Add refuses an entry whose file was
// changed on disk after it was read, before any event could arrive.
func TestTokenSeesDiskChange(t *testing.T) {
	root := tempRoot(t)
	p := filepath.Join(root, "a.txt")
	write(t, p, "one")
	c := newCache(t, nil) // no Watch: only the stat check can see it
	tok := c.Begin()
	fi, _ := os.Stat(p)
	e := &Entry{Body: []byte("one"), Deps: []Dep{DepOf(p, fi)}}
	write(t, p, "three")
	if c.Add("a", e, tok) {
		t.Error("Add stored a body whose file changed after fstat")
	}
	// A dependency that was missing and has appeared.
	missing := filepath.Join(root, "inc.txt")
	e = &Entry{Body: []byte("x"), Deps: []Dep{DepOf(p, mustStat(t, p)), DepOf(missing, nil)}}
	write(t, missing, "now here")
	if c.Add("b", e, c.Begin()) {
		t.Error("Add stored an entry depending on a missing file that exists")
	}
	e = &Entry{Body: []byte("x"), Deps: []Dep{DepOf(p, mustStat(t, p)), DepOf(missing+"2", nil)}}
	if !c.Add("b", e, c.Begin()) {
		t.Error("Add refused an entry depending on a file that is still missing")
	}
	if c.Add("c", &Entry{Body: []byte("x"), Deps: []Dep{{Path: "relative/path"}}}, c.Begin()) {
		t.Error("Add stored an entry with a relative dependency path")
	}
}

func mustStat(t testing.TB, p string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// TestStampsBounded checks that the change stamps stay bounded and that a
// token older than the forgotten ones is refused.
func TestStampsBounded(t *testing.T) {
	root := tempRoot(t)
	p := filepath.Join(root, "a.txt")
	write(t, p, "a")
	c := newCache(t, nil)
	tok := c.Begin()
	for i := range 3 * maxStamps {
		c.Invalidate(fmt.Sprintf("%s/churn/f%d", root, i))
	}
	c.mu.Lock()
	nodes, ringLen := len(c.nodes), c.ringLen
	c.mu.Unlock()
	if ringLen != maxStamps || nodes > maxStamps+64 {
		t.Errorf("got %d nodes, %d in the ring, want at most %d", nodes, ringLen, maxStamps)
	}
	e := &Entry{Body: []byte("a"), Deps: []Dep{DepOf(p, mustStat(t, p))}}
	if c.Add("a", e, tok) {
		t.Error("Add accepted a token older than the forgotten stamps")
	}
	if !c.Add("a", e, c.Begin()) {
		t.Error("Add refused a fresh token")
	}
	// Dropping the entries and the stamps leaves an empty index.
	c.Remove("a")
	for range maxStamps {
		c.Invalidate(filepath.Join(root, "same"))
	}
	c.mu.Lock()
	nodes = len(c.nodes)
	c.mu.Unlock()
	if nodes > maxStamps+64 {
		t.Errorf("got %d nodes, want at most %d", nodes, maxStamps+64)
	}
}

func TestGzipVariant(t *testing.T) {
	text := bytes.Repeat([]byte("<p>Hello, pwebs. This compresses well.</p>\n"), 200)
	random := make([]byte, 8<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	tests := []struct {
		name     string
		compress bool
		typ      string
		body     []byte
		want     bool
	}{
		{"html", true, "text/html; charset=utf-8", text, true},
		{"compress off", false, "text/html", text, false},
		{"not compressible type", true, "image/png", text, false},
		{"incompressible body", true, "text/plain", random, false},
		{"tiny body", true, "text/plain", []byte("hi"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, func(o *Options) { o.Compress = tt.compress })
			e := &Entry{Body: tt.body, Type: tt.typ}
			if !c.Add("k", e, c.Begin()) {
				t.Fatal("Add refused")
			}
			if got := e.Gzip != nil; got != tt.want {
				t.Fatalf("got a gzip variant: %v, want %v", got, tt.want)
			}
			if s := c.Stats(); s.Bytes != cost("k", cap(e.Body))+int64(cap(e.Gzip)) {
				t.Errorf("got %d bytes charged, want body and variant: %d", s.Bytes, cost("k", cap(e.Body))+int64(cap(e.Gzip)))
			}
			if e.Gzip == nil {
				return
			}
			if len(e.Gzip) >= len(e.Body) || cap(e.Gzip) != len(e.Gzip) {
				t.Errorf("got a variant of %d bytes (cap %d) for %d", len(e.Gzip), cap(e.Gzip), len(e.Body))
			}
			zr, err := gzip.NewReader(bytes.NewReader(e.Gzip))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(got, e.Body) {
				t.Errorf("the variant does not decompress to the body (err %v)", err)
			}
		})
	}
	// A given variant that is not smaller is dropped.
	c := newCache(t, func(o *Options) { o.Compress = false })
	e := &Entry{Body: []byte("short"), Gzip: []byte("longer than the body")}
	c.Add("k", e, c.Begin())
	if e.Gzip != nil {
		t.Error("kept a gzip variant bigger than the body")
	}
}

func TestExpiry(t *testing.T) {
	c := newCache(t, nil)
	if c.Add("past", &Entry{Body: []byte("x"), Expires: time.Now().Add(-time.Second)}, c.Begin()) {
		t.Error("stored an entry that had already expired")
	}
	if !c.Add("later", &Entry{Body: []byte("x"), Expires: time.Now().Add(time.Hour)}, c.Begin()) {
		t.Fatal("Add refused")
	}
	if !c.Add("soon", &Entry{Body: []byte("x"), Expires: time.Now().Add(20 * time.Millisecond)}, c.Begin()) {
		t.Fatal("Add refused")
	}
	if _, ok := c.Get("later"); !ok {
		t.Error("an entry expiring in an hour missed")
	}
	waitGone(t, c, "soon")
	if s := c.Stats(); s.Entries != 1 || s.Invalidations != 1 {
		t.Errorf("got %d entries, %d invalidations, want 1 and 1", s.Entries, s.Invalidations)
	}
}

// TestConcurrent runs Get, Add, Invalidate and Remove together; run it with
// -race. No Get may return an entry whose body does not match its ETag, and
// the byte bound must hold throughout.
func TestConcurrent(t *testing.T) {
	root := tempRoot(t)
	var files []string
	for i := range 8 {
		p := filepath.Join(root, fmt.Sprintf("d%d", i%3), fmt.Sprintf("f%d.html", i))
		write(t, p, "x")
		files = append(files, p)
	}
	const maxSize = 256 << 10
	c := newCache(t, func(o *Options) { o.MaxSize, o.MaxFileSize = maxSize, 64<<10 })
	if err := c.Watch(root); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 6 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for range 3000 {
				i := r.IntN(len(files))
				key := files[i]
				switch op := r.IntN(10); {
				case op < 6:
					if e, ok := c.Get(key); ok && etag(e.Body) != e.ETag {
						errs <- fmt.Errorf("Get(%q): body does not match its ETag", key)
						return
					}
				case op < 8:
					tok := c.Begin()
					fi, err := os.Stat(files[i])
					if err != nil {
						errs <- err
						return
					}
					body := bytes.Repeat([]byte{byte('a' + r.IntN(26))}, 1+r.IntN(32<<10))
					c.Add(key, &Entry{Body: body, Type: "text/html", ETag: etag(body), Deps: []Dep{DepOf(files[i], fi)}}, tok)
				case op < 9:
					c.Invalidate(filepath.Dir(files[i]))
				default:
					c.Remove(key)
				}
				if s := c.Stats(); s.Bytes > maxSize || s.Bytes < 0 {
					errs <- fmt.Errorf("%d bytes charged, bound %d", s.Bytes, maxSize)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The books balance: the bytes charged are those of the entries left.
	c.mu.Lock()
	var sum int64
	for _, e := range c.lru.Values() {
		sum += e.size
	}
	bytes, n := c.bytes, 0
	for _, nd := range c.nodes {
		n += len(nd.entries)
	}
	entries := c.lru.Len()
	c.mu.Unlock()
	if sum != bytes || n != entries {
		t.Errorf("charged %d for entries of %d bytes; %d index slots for %d entries", bytes, sum, n, entries)
	}
}

func TestGetAllocs(t *testing.T) {
	root := tempRoot(t)
	p := filepath.Join(root, "a.html")
	write(t, p, "hello")
	c := newCache(t, nil)
	if err := c.Watch(root); err != nil {
		t.Fatal(err)
	}
	mustAddFile(t, c, "/a.html", p)
	buf := []byte("/a.html")
	if n := testing.AllocsPerRun(1000, func() {
		if _, ok := c.Get(string(buf)); !ok {
			t.Fatal("miss")
		}
	}); n != 0 {
		t.Errorf("a hit allocates %v times, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { c.Get("/missing") }); n != 0 {
		t.Errorf("a miss allocates %v times, want 0", n)
	}
}

// TestHitMakesNoStat checks that a hit on a watched entry makes no stat, and
// one on an unwatched entry stats every dependency.
func TestHitMakesNoStat(t *testing.T) {
	root := tempRoot(t)
	p := filepath.Join(root, "a.html")
	write(t, p, "hello")
	outside := filepath.Join(tempRoot(t), "b.html")
	write(t, outside, "outside")
	c := newCache(t, nil)
	var st countingStat
	c.stat = st.stat
	if err := c.Watch(root); err != nil {
		t.Fatal(err)
	}
	mustAddFile(t, c, "a", p)
	mustAddFile(t, c, "b", outside)
	before := st.calls()
	for range 10 {
		if _, ok := c.Get("a"); !ok {
			t.Fatal("miss")
		}
	}
	if n := st.calls() - before; n != 0 {
		t.Errorf("10 watched hits made %d stats, want 0", n)
	}
	before = st.calls()
	for range 10 {
		if _, ok := c.Get("b"); !ok {
			t.Fatal("miss")
		}
	}
	if n := st.calls() - before; n != 10 {
		t.Errorf("10 unwatched hits made %d stats, want 10", n)
	}
}

func TestCloseLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	o := DefaultOptions()
	c, err := New(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Watch(tempRoot(t)); err != nil {
		t.Fatal(err)
	}
	c.inject <- errors.New("an error for the loop to log")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal("a second Close:", err)
	}
	waitFor(t, "the goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
	if err := c.Watch(tempRoot(t)); !errors.Is(err, ErrClosed) {
		t.Errorf("Watch after Close: got %v, want ErrClosed", err)
	}
	if c.Add("a", &Entry{Body: []byte("x")}, c.Begin()) {
		t.Error("Add after Close stored an entry")
	}
}

func TestUnalias(t *testing.T) {
	aliases := []alias{{"/var/www", "/srv/www"}, {"/var/www/deep", "/data/deep"}, {"/link", "/"}}
	tests := []struct{ in, want string }{
		{"/var/www", "/srv/www"},
		{"/var/www/a.html", "/srv/www/a.html"},
		{"/var/www/deep/x", "/data/deep/x"},
		{"/var/wwwx/a", "/var/wwwx/a"},
		{"/link", "/"},
		{"/link/etc/x", "/etc/x"},
		{"/other", "/other"},
	}
	for _, tt := range tests {
		if got := unalias(tt.in, aliases); got != tt.want {
			t.Errorf("unalias(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAddTwice(t *testing.T) {
	c := newCache(t, nil)
	e := &Entry{Body: []byte("x")}
	if !c.Add("a", e, c.Begin()) {
		t.Fatal("Add refused")
	}
	if c.Add("b", e, c.Begin()) {
		t.Error("the same *Entry was stored twice")
	}
}
