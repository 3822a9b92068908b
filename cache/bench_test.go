package cache

import (
	"bytes"
	stdgzip "compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
	"unsafe"

	kgzip "github.com/klauspost/compress/gzip"
)

// BenchmarkGet measures a hit on a watched 1 KiB entry, with the key passed
// as serve passes it: a string over a reused buffer. It must report
// 0 allocs/op.
func BenchmarkGet(b *testing.B) {
	root := tempRoot(b)
	p := filepath.Join(root, "page.html")
	write(b, p, string(bytes.Repeat([]byte("x"), 1024)))
	c := newCache(b, nil)
	if err := c.Watch(root); err != nil {
		b.Fatal(err)
	}
	mustAddFile(b, c, "example.com/page.html", p)
	buf := []byte("example.com/page.html")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Get(unsafe.String(&buf[0], len(buf))); !ok {
			b.Fatal("miss")
		}
	}
}

// BenchmarkGetParallel measures hits from every CPU at once, on 1000 keys.
func BenchmarkGetParallel(b *testing.B) {
	c := newCache(b, nil)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("example.com/page%d.html", i)
		c.Add(keys[i], &Entry{Body: make([]byte, 1024)}, c.Begin())
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := c.Get(keys[i%len(keys)]); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
}

// BenchmarkGetUnwatched measures a hit on an entry that no watch covers, which
// stats its file: the price of the fallback.
func BenchmarkGetUnwatched(b *testing.B) {
	root := tempRoot(b)
	p := filepath.Join(root, "page.html")
	write(b, p, "x")
	c := newCache(b, nil) // no Watch
	mustAddFile(b, c, "k", p)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Get("k"); !ok {
			b.Fatal("miss")
		}
	}
}

// BenchmarkAdd measures storing a 1 KiB entry with one dependency (a stat
// and a symbolic-link resolution) into a full cache, so each Add evicts.
func BenchmarkAdd(b *testing.B) {
	root := tempRoot(b)
	p := filepath.Join(root, "a/b/page.html")
	write(b, p, "x")
	fi := mustStat(b, p)
	c := newCache(b, func(o *Options) { o.MaxSize, o.Compress = 1<<20, false })
	if err := c.Watch(root); err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 1024)
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("example.com/page%d.html", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e := &Entry{Body: body, Type: "text/html", Deps: []Dep{DepOf(p, fi)}}
		if !c.Add(keys[i%len(keys)], e, c.Begin()) {
			b.Fatal("refused")
		}
		i++
	}
}

// page returns n bytes of HTML-like text, as compressible as a real page.
func page(n int) []byte {
	r := rand.New(rand.NewPCG(3, 4))
	words := []string{"pwebs", "serves", "static", "files", "from", "a", "memory", "cache",
		"<p>", "</p>", "<a href=\"/docs/", "\">", "</a>", "the", "and", "of", "directory",
		"listing", "class=\"row\"", "<div", "</div>", "\n", "2024-05-01", "KiB", "index.html"}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		if r.IntN(3) == 0 {
			fmt.Fprintf(&b, "%d", r.IntN(10000))
		}
		b.WriteByte(' ')
	}
	return b.Bytes()[:n]
}

// BenchmarkGzip compares klauspost/compress/gzip, which the cache uses, with
// compress/gzip at the default level, reusing one writer as the cache does.
// The ratio metric is compressed/original size.
func BenchmarkGzip(b *testing.B) {
	type writer interface {
		io.WriteCloser
		Reset(io.Writer)
	}
	libs := []struct {
		name string
		new  func() writer
	}{
		{"klauspost", func() writer { w, _ := kgzip.NewWriterLevel(io.Discard, gzipLevel); return w }},
		{"stdlib", func() writer { w, _ := stdgzip.NewWriterLevel(io.Discard, stdgzip.DefaultCompression); return w }},
	}
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		body := page(size)
		for _, lib := range libs {
			b.Run(fmt.Sprintf("%s/%dKiB", lib.name, size>>10), func(b *testing.B) {
				w := lib.new()
				var out bytes.Buffer
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					out.Reset()
					w.Reset(&out)
					w.Write(body)
					w.Close()
				}
				b.ReportMetric(float64(out.Len())/float64(size), "ratio")
			})
		}
	}
}

// BenchmarkGzipVariant measures what Add spends making a variant (pooled
// writer, exact-size copy) for a 64 KiB page.
func BenchmarkGzipVariant(b *testing.B) {
	body := page(64 << 10)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if gzipOf(body) == nil {
			b.Fatal("no variant")
		}
	}
}

// BenchmarkInvalidationDelay measures how long a rewritten file's entry stays
// in the cache: each iteration caches the file, rewrites it in place (open
// with O_TRUNC, write, close), and polls Get until it misses. It reports the
// median and maximum delay from the start of the rewrite ("from-start") and
// from its return ("from-return"). Run it with -benchtime=500x.
func BenchmarkInvalidationDelay(b *testing.B) {
	root := tempRoot(b)
	p := filepath.Join(root, "site/page.html")
	write(b, p, "v0")
	c := newCache(b, nil)
	if err := c.Watch(root); err != nil {
		b.Fatal(err)
	}
	var fromStart, fromReturn []time.Duration
	n := 0
	for b.Loop() {
		n++
		b.StopTimer()
		waitFor(b, "the page to be cached", func() bool { _, ok := addFile(b, c, "k", p); return ok })
		b.StartTimer()
		start := time.Now()
		if err := os.WriteFile(p, fmt.Appendf(nil, "v%d", n), 0o644); err != nil {
			b.Fatal(err)
		}
		written := time.Now()
		for {
			if _, ok := c.Get("k"); !ok {
				break
			}
			if time.Since(start) > deadline {
				b.Fatal("the entry was never dropped")
			}
			runtime.Gosched()
		}
		now := time.Now()
		fromStart = append(fromStart, now.Sub(start))
		fromReturn = append(fromReturn, now.Sub(written))
	}
	µs := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"from-start", fromStart}, {"from-return", fromReturn}} {
		slices.Sort(m.d)
		b.ReportMetric(µs(m.d[len(m.d)/2]), "median-µs-"+m.name)
		b.ReportMetric(µs(m.d[len(m.d)-1]), "max-µs-"+m.name)
	}
	b.ReportMetric(0, "ns/op")
}
