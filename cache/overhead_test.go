package cache

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestOverheadCharge checks that what Add charges an entry covers the memory
// it really takes, so that a cache full of tiny entries stays inside
// max_size: it fills a cache with small watched entries, one file each, and
// compares the live heap they take with the bytes charged.
func TestOverheadCharge(t *testing.T) {
	if testing.Short() {
		t.Skip("creates thousands of files")
	}
	for _, includes := range []bool{false, true} {
		t.Run(fmt.Sprintf("includes=%v", includes), func(t *testing.T) { testOverheadCharge(t, includes) })
	}
}

func testOverheadCharge(t *testing.T, includes bool) {
	root := tempRoot(t)
	const n = 4000
	paths := make([]string, n)
	for i := range paths {
		paths[i] = filepath.Join(root, fmt.Sprintf("d%02d", i%50), fmt.Sprintf("page-%05d.html", i))
		if i < 50 {
			os.MkdirAll(filepath.Dir(paths[i]), 0o755)
		}
		if err := os.WriteFile(paths[i], []byte("0123456789abcdef"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := newCache(t, func(o *Options) { o.Compress = false })
	if err := c.Watch(root); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("www.example.com%s", paths[i][len(root):])
	}
	infos := make([]os.FileInfo, n)
	for i := range infos {
		infos[i] = mustStat(t, paths[i])
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		// Fresh copies of the key and paths: the cache keeps them.
		key, path := strings.Clone(keys[i]), strings.Clone(paths[i])
		deps := []Dep{DepOf(path, infos[i])}
		if includes {
			// Two includes that every page shares, as an SSI header and footer.
			deps = append(deps, DepOf(strings.Clone(paths[0]), infos[0]), DepOf(strings.Clone(paths[1]), infos[1]))
		}
		e := &Entry{Body: []byte("0123456789abcdef"), Type: "text/html", ETag: `"0123456789abcdef"`, Deps: deps}
		if !c.Add(key, e, c.Begin()) {
			t.Fatalf("Add(%q) refused", keys[i])
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	live := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	charged := c.Stats().Bytes
	t.Logf("%d entries: %d bytes live (%d each), %d charged (%d each)", n, live, live/n, charged, charged/n)
	if live > charged {
		t.Errorf("entries take %d bytes but are charged %d: the bound would not hold", live, charged)
	}
	runtime.KeepAlive(keys)
	runtime.KeepAlive(paths)
}
