package serve

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pwebs/pwebs/cache"
)

// opens returns how many files the server has opened so far.
func (ts *testServer) opens() int64 { return ts.srv.Stats().Opens.Load() }

// waitBody polls path until its body is want (a cached entry is dropped by
// an fsnotify event, which arrives a little after the change).
func (ts *testServer) waitBody(path, want string, status int) {
	ts.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, body := ts.get(path)
		if resp.StatusCode == status && (want == "" || body == want) {
			return
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("%s: got %d %q, want %d %q", path, resp.StatusCode, body, status, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCacheHitOpensNothing(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	for _, path := range []string{"/digits.txt", "/both/", "/list/"} {
		ts.get(path)
		before := ts.opens()
		for i := 0; i < 5; i++ {
			resp, _ := ts.get(path)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d", path, resp.StatusCode)
			}
		}
		if got := ts.opens() - before; got != 0 {
			t.Errorf("%s: %d opens for 5 cached hits, want 0", path, got)
		}
	}
	if ts.srv.state.Load().cache.Stats().Hits < 15 {
		t.Errorf("cache stats show %d hits", ts.srv.state.Load().cache.Stats().Hits)
	}
}

func TestCacheOff(t *testing.T) {
	ts := startServer(t, "[cache]\nenabled = false\n", siteFiles)
	ts.get("/digits.txt")
	before := ts.opens()
	resp, body := ts.get("/digits.txt")
	if resp.StatusCode != 200 || body != "0123456789" || ts.opens() == before {
		t.Errorf("cache off: %d %q, opens %d→%d", resp.StatusCode, body, before, ts.opens())
	}
	resp, body = ts.get("/list/")
	if resp.StatusCode != 200 || !strings.Contains(body, "a.txt") {
		t.Errorf("listing with the cache off: %d", resp.StatusCode)
	}
}

// TestCacheInvalidation changes a cached file in every way an editor, a
// deploy or an admin does, and checks that the next requests show it.
func TestCacheInvalidation(t *testing.T) {
	ts := startServer(t, "", map[string]string{
		"f.txt": "v1", "g.txt": "v1", "h.txt": "v1", "m.txt": "v1",
		"dir/x.txt": "in dir", "other/": "",
	})
	p := func(name string) string { return filepath.Join(ts.root, name) }
	outside := t.TempDir()

	steps := []struct {
		name   string
		path   string
		change func()
		status int
		body   string
	}{
		{"rewrite in place", "/f.txt", func() { must(t, os.WriteFile(p("f.txt"), []byte("v2"), 0o644)) }, 200, "v2"},
		{"save by rename", "/f.txt", func() {
			must(t, os.WriteFile(p("f.txt.tmp"), []byte("v3"), 0o644))
			must(t, os.Rename(p("f.txt.tmp"), p("f.txt")))
		}, 200, "v3"},
		{"append", "/g.txt", func() {
			f, err := os.OpenFile(p("g.txt"), os.O_APPEND|os.O_WRONLY, 0)
			must(t, err)
			f.Write([]byte("+more"))
			f.Close()
		}, 200, "v1+more"},
		{"delete", "/h.txt", func() { must(t, os.Remove(p("h.txt"))) }, 404, ""},
		{"recreate", "/h.txt", func() { must(t, os.WriteFile(p("h.txt"), []byte("back"), 0o644)) }, 200, "back"},
		{"move in from outside", "/m.txt", func() {
			must(t, os.WriteFile(filepath.Join(outside, "m.txt"), []byte("moved in"), 0o644))
			must(t, os.Rename(filepath.Join(outside, "m.txt"), p("m.txt")))
		}, 200, "moved in"},
		{"folder moved out", "/dir/x.txt", func() { must(t, os.Rename(p("dir"), filepath.Join(outside, "dir"))) }, 404, ""},
		{"folder moved back in", "/dir/x.txt", func() {
			must(t, os.WriteFile(filepath.Join(outside, "dir", "x.txt"), []byte("changed outside"), 0o644))
			must(t, os.Rename(filepath.Join(outside, "dir"), p("dir")))
		}, 200, "changed outside"},
		{"folder renamed", "/other/x.txt", func() {
			must(t, os.Rename(p("dir"), p("other/dir2")))
			must(t, os.Rename(p("other/dir2"), p("other/dirx")))
			must(t, os.Rename(p("other/dirx/x.txt"), p("other/x.txt")))
		}, 200, "changed outside"},
	}
	for _, s := range steps {
		// Make sure the current state is cached before the change.
		ts.get(s.path)
		ts.get(s.path)
		s.change()
		ts.waitBody(s.path, s.body, s.status)
		t.Logf("%s: seen", s.name)
	}

	// chmod: the content is the same, but the entry must be dropped (a
	// file made unreadable must not keep being served from memory).
	ts.get("/f.txt")
	before := ts.opens()
	must(t, os.Chmod(p("f.txt"), 0o600))
	deadline := time.Now().Add(10 * time.Second)
	for ts.opens() == before {
		if time.Now().After(deadline) {
			t.Fatal("chmod did not drop the cached entry")
		}
		ts.get("/f.txt")
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCacheListingUpdates(t *testing.T) {
	ts := startServer(t, "", map[string]string{"d/a.txt": "a"})
	_, body := ts.get("/d/")
	if !strings.Contains(body, "a.txt") {
		t.Fatal("listing lacks a.txt")
	}
	must(t, os.WriteFile(filepath.Join(ts.root, "d", "new-file.txt"), []byte("new"), 0o644))
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body = ts.get("/d/")
		if strings.Contains(body, "new-file.txt") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the listing did not show the added file")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The JSON variant is cached apart and updates too.
	_, body = ts.get("/d/", "Accept", "application/json")
	if !strings.Contains(body, "new-file.txt") {
		t.Errorf("JSON listing lacks the new file")
	}
}

func TestCacheIndexChanges(t *testing.T) {
	ts := startServer(t, "", map[string]string{"d/index.htm": "htm"})
	ts.waitBody("/d/", "htm", 200)
	ts.get("/d/")
	must(t, os.WriteFile(filepath.Join(ts.root, "d", "index.html"), []byte("html"), 0o644))
	ts.waitBody("/d/", "html", 200)
	must(t, os.Remove(filepath.Join(ts.root, "d", "index.html")))
	ts.waitBody("/d/", "htm", 200)
}

func TestCacheOversizedBypass(t *testing.T) {
	big := strings.Repeat("x", 200<<10)
	ts := startServer(t, "[cache]\nmax_file_size = \"64KiB\"\n", map[string]string{"big.txt": big, "small.txt": "s"})
	ts.get("/big.txt")
	before := ts.srv.Stats().Sendfiles.Load()
	opens := ts.opens()
	resp, body := ts.get("/big.txt")
	if resp.StatusCode != 200 || body != big {
		t.Fatalf("big: %d %d bytes", resp.StatusCode, len(body))
	}
	if ts.srv.Stats().Sendfiles.Load() == before || ts.opens() == opens {
		t.Errorf("a file over max_file_size was served from the cache")
	}
}

func TestCacheGzip(t *testing.T) {
	text := strings.Repeat("pwebs compresses text for clients that accept gzip. ", 200)
	ts := startServer(t, "", map[string]string{"page.html": text, "pic.png": text})
	ts.get("/page.html")
	resp, body := ts.get("/page.html", "Accept-Encoding", "gzip, br")
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip variant: encoding %q, Vary %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
	}
	zr, err := gzip.NewReader(strings.NewReader(body))
	must(t, err)
	plain, err := io.ReadAll(zr)
	must(t, err)
	if string(plain) != text {
		t.Errorf("gzip variant does not decompress to the file")
	}
	if fmt.Sprint(len(body)) != resp.Header.Get("Content-Length") || len(body) >= len(text) {
		t.Errorf("gzip length %s, body %d, text %d", resp.Header.Get("Content-Length"), len(body), len(text))
	}
	gzTag := resp.Header.Get("ETag")

	resp, body = ts.get("/page.html")
	if resp.Header.Get("Content-Encoding") != "" || body != text || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("identity: encoding %q Vary %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
	}
	if resp.Header.Get("ETag") == gzTag {
		t.Errorf("gzip and identity variants share the ETag %s", gzTag)
	}
	resp, body = ts.get("/page.html", "Accept-Encoding", "gzip;q=0")
	if resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 got gzip")
	}
	resp, body = ts.get("/page.html", "Accept-Encoding", "gzip", "Range", "bytes=0-4")
	if resp.StatusCode != 206 || body != text[:5] || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("range with gzip accepted: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Encoding"))
	}
	resp, _ = ts.get("/page.html", "Accept-Encoding", "gzip", "If-None-Match", gzTag)
	if resp.StatusCode != 304 {
		t.Errorf("If-None-Match with the gzip tag: %d", resp.StatusCode)
	}
	resp, _ = ts.get("/pic.png", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("an image was gzipped")
	}
}

// TestCacheNoMixedBody rewrites a cached file over and over, by rename and
// in place, while clients read it: every body must be one whole version.
func TestCacheNoMixedBody(t *testing.T) {
	const size = 32 << 10
	ts := startServer(t, "", map[string]string{"v.txt": strings.Repeat("A", size)})
	path := filepath.Join(ts.root, "v.txt")
	stop := make(chan struct{})
	var bad, reads, cut atomic.Int64
	var phase2 atomic.Bool
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var nc net.Conn
			var br *bufio.Reader
			defer func() {
				if nc != nil {
					nc.Close()
				}
			}()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if nc == nil {
					var err error
					if nc, err = net.Dial("tcp", ts.addr); err != nil {
						bad.Add(1)
						return
					}
					br = bufio.NewReader(nc)
				}
				nc.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprintf(nc, "GET /v.txt HTTP/1.1\r\nHost: x\r\n\r\n")
				resp, err := http.ReadResponse(br, nil)
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
				}
				if err != nil {
					// A file that shrank while it was sent cuts the
					// connection (in-place rewrites only).
					if !phase2.Load() {
						bad.Add(1)
					}
					cut.Add(1)
					nc.Close()
					nc = nil
					continue
				}
				reads.Add(1)
				if resp.StatusCode == 200 && !phase2.Load() && (len(body) != size || bytes.Count(body, body[:1]) != size) {
					bad.Add(1)
				}
			}
		}()
	}
	// Saves by rename: the file is always whole on disk, so any body that
	// is not one whole version would come from the cache.
	for i := 0; i < 300; i++ {
		data := bytes.Repeat([]byte{byte('A' + i%26)}, size)
		must(t, os.WriteFile(path+".tmp", data, 0o644))
		must(t, os.Rename(path+".tmp", path))
		time.Sleep(time.Millisecond)
	}
	if n := bad.Load(); n > 0 {
		t.Errorf("%d of %d reads were not one whole version", n, reads.Load())
	}
	// In-place rewrites: a read mid-write sees what the disk holds at that
	// instant; once the writes settle, the cache must not keep any of it.
	phase2.Store(true)
	for i := 0; i < 100; i++ {
		must(t, os.WriteFile(path, bytes.Repeat([]byte{byte('a' + i%26)}, size), 0o644))
		time.Sleep(time.Millisecond)
	}
	// After the last change settles, every read is the last version.
	must(t, os.WriteFile(path+".tmp", bytes.Repeat([]byte("Z"), size), 0o644))
	must(t, os.Rename(path+".tmp", path))
	ts.waitBody("/v.txt", strings.Repeat("Z", size), 200)
	close(stop)
	wg.Wait()
	for i := 0; i < 20; i++ {
		if _, body := ts.get("/v.txt"); body != strings.Repeat("Z", size) {
			t.Fatalf("a stale or mixed body after the writes settled")
		}
	}
	t.Logf("%d reads, %d cut while the file shrank", reads.Load(), cut.Load())
}

// TestCachedSendfile: a cached body of sendfileMin bytes or more goes out
// from its file by sendfile, with no open per hit; the gzip variant and
// ranges come from memory.
func TestCachedSendfile(t *testing.T) {
	text := make([]byte, 100<<10)
	for i := range text {
		text[i] = 'a' + byte(i*7%26)
	}
	small := strings.Repeat("s", sendfileMin-1)
	ts := startServer(t, "", map[string]string{"big.txt": string(text), "small.txt": small})
	ts.get("/big.txt")
	ts.get("/small.txt")
	opens, sends := ts.opens(), ts.srv.Stats().Sendfiles.Load()
	for i := 0; i < 3; i++ {
		if resp, body := ts.get("/big.txt"); resp.StatusCode != 200 || body != string(text) {
			t.Fatalf("hit %d: %d, %d bytes", i, resp.StatusCode, len(body))
		}
	}
	if got := ts.srv.Stats().Sendfiles.Load() - sends; got != 3 || ts.opens() != opens {
		t.Errorf("3 hits: %d sendfiles and %d opens, want 3 and 0", got, ts.opens()-opens)
	}
	sends = ts.srv.Stats().Sendfiles.Load()
	if _, body := ts.get("/small.txt"); body != small || ts.srv.Stats().Sendfiles.Load() != sends {
		t.Errorf("a body under sendfileMin went out by sendfile")
	}
	resp, body := ts.get("/big.txt", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip variant")
	}
	zr, err := gzip.NewReader(strings.NewReader(body))
	must(t, err)
	if plain, _ := io.ReadAll(zr); !bytes.Equal(plain, text) {
		t.Errorf("the gzip variant does not decompress to the file")
	}
	if resp, body := ts.get("/big.txt", "Range", "bytes=50000-50009"); resp.StatusCode != 206 || body != string(text[50000:50010]) {
		t.Errorf("range: %d %q", resp.StatusCode, body)
	}
	if ts.srv.Stats().Sendfiles.Load() != sends {
		t.Errorf("the gzip variant or a range went out by sendfile")
	}
}

// TestCachedSendfileFallback: an entry whose file gave nothing (emptied,
// closed, or refusing sendfile) still sends its whole body, from memory;
// one whose file shrank or was rewritten under it ends the connection
// after what the file gave, never followed by the old bytes; the budget
// of open files is kept.
func TestCachedSendfileFallback(t *testing.T) {
	text := make([]byte, 80<<10)
	for i := range text {
		text[i] = 'A' + byte(i*11%26)
	}
	ts := startServer(t, "", siteFiles)
	// The entries are made here, from a file outside the document root,
	// and never added to the cache: nothing drops them under the test.
	path := filepath.Join(t.TempDir(), "f.txt")
	must(t, os.WriteFile(path, text, 0o644))
	entry := func() *cache.Entry {
		f, err := os.Open(path)
		must(t, err)
		defer f.Close()
		e := ts.srv.state.Load().newEntry("text/plain", text, time.Now(), `"x"`, "", "", nil)
		e.Gzip = nil
		ts.srv.keepOpen(e, f)
		if e.Extra.(*heads).frc == nil {
			t.Fatal("keepOpen kept no file")
		}
		return e
	}
	serving := serveEntryAt(t)
	tests := []struct {
		name   string
		change func(e *cache.Entry)
		want   string // the body; for a cut connection, what comes before the cut
		cut    bool
	}{
		{"whole", func(*cache.Entry) {}, string(text), false},
		{"shrunk", func(*cache.Entry) { must(t, os.Truncate(path, 30<<10)) }, string(text[:30<<10]), true},
		{"rewritten", func(*cache.Entry) { must(t, os.WriteFile(path, []byte("NEW CONTENT\n"), 0o644)) }, "NEW CONTENT\n", true},
		{"emptied", func(*cache.Entry) { must(t, os.Truncate(path, 0)) }, string(text), false},
		{"closed", func(e *cache.Entry) { e.OnDrop() }, string(text), false},
		{"unreadable", nil, string(text), false}, // sendfile(2) fails on the file (EBADF)
	}
	for _, tt := range tests {
		must(t, os.WriteFile(path, text, 0o644))
		e := entry()
		if tt.change != nil {
			tt.change(e)
		} else {
			// The same entry, its file opened for writing only.
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			must(t, err)
			e.OnDrop()
			e = ts.srv.state.Load().newEntry("text/plain", text, time.Now(), `"x"`, "", "", nil)
			ts.srv.keepOpen(e, f)
			f.Close()
		}
		serving.Store(e)
		rc := ts.dial()
		rc.send("GET /entry HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(rc.br, nil)
		must(t, err)
		body, err := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != tt.want || (err != nil) != tt.cut {
			t.Errorf("%s: %d, %d bytes, as wanted %v, read error %v; want %d bytes, cut %v",
				tt.name, resp.StatusCode, len(body), string(body) == tt.want, err, len(tt.want), tt.cut)
		}
		if tt.name != "closed" {
			e.OnDrop()
		}
		if n := ts.srv.openFiles.Load(); n != 0 {
			t.Errorf("%s: %d files left open", tt.name, n)
		}
	}
	// Past the budget, entries keep no file.
	ts.srv.maxOpenFiles = 1
	e1 := entry()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	e2 := ts.srv.state.Load().newEntry("text/plain", text, time.Now(), `"x"`, "", "", nil)
	ts.srv.keepOpen(e2, f)
	if e2.Extra.(*heads).frc != nil || e2.OnDrop != nil {
		t.Errorf("an entry past the budget kept its file")
	}
	e1.OnDrop()
}

// TestCachedSendfileClosedMidway: a client too slow to take a cached body
// at once has part of it sent from the entry's file when the entry leaves
// the cache. Evicted, or its file's name replaced, the rest comes from
// memory; left because its file was written, the connection ends there.
func TestCachedSendfileClosedMidway(t *testing.T) {
	const size = 16 << 20 // more than the socket buffers hold
	ts := startServer(t, "[cache]\nmax_size = \"64MiB\"\nmax_file_size = \"32MiB\"\n", siteFiles)
	text := make([]byte, size)
	for i := range text {
		text[i] = 'A' + byte(i*13%26)
	}
	path := filepath.Join(t.TempDir(), "f.bin")
	must(t, os.WriteFile(path, text, 0o644))
	ch := ts.srv.state.Load().cache
	serving := serveEntryAt(t)
	for _, rewritten := range []bool{false, true} {
		f, err := os.Open(path)
		must(t, err)
		fi, err := f.Stat()
		must(t, err)
		e := ts.srv.state.Load().newEntry("application/octet-stream", text, fi.ModTime(), `"x"`, "", "",
			[]cache.Dep{cache.DepOf(path, fi)})
		ts.srv.keepOpen(e, f)
		f.Close()
		if e.Extra.(*heads).frc == nil {
			t.Fatal("keepOpen kept no file")
		}
		if rewritten && !ch.Add("/midway", e, ch.Begin()) {
			t.Fatal("Add refused the entry")
		}
		serving.Store(e)
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
			return nil
		}}
		nc, err := d.Dial("tcp", ts.addr)
		must(t, err)
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(nc, "GET /entry HTTP/1.1\r\nHost: x\r\n\r\n")
		time.Sleep(300 * time.Millisecond) // the server fills the socket and waits
		if rewritten {
			ch.Invalidate(path) // as a write to the file would
		} else {
			e.OnDrop() // as an eviction would: e is not Rewritten
		}
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		must(t, err)
		body, err := io.ReadAll(resp.Body)
		nc.Close()
		switch {
		case rewritten && (err == nil || len(body) == 0 || len(body) >= size || !bytes.Equal(body, text[:len(body)])):
			t.Errorf("written under the send: %d of %d bytes, error %v; want a cut after the file's bytes", len(body), size, err)
		case !rewritten && (err != nil || !bytes.Equal(body, text)):
			t.Errorf("evicted under the send: %d of %d bytes, whole %v, error %v", len(body), size, bytes.Equal(body, text), err)
		}
	}
}

// TestCacheHardLinkAdded: a hard link made, outside the document root, to
// a file already cached, then a write through it, are seen: the next
// answers give the new content, and no answer mixes the old length (or
// old bytes) with new ones, whether the body went out by sendfile from
// the entry's file (hl2.txt) or from memory (hl1.txt).
func TestCacheHardLinkAdded(t *testing.T) {
	old := map[string]string{
		"hl2.txt": strings.Repeat("O", 40000),
		"hl1.txt": strings.Repeat("o", 1000),
	}
	const fresh = "NEW CONTENT\n"
	ts := startServer(t, "", old)
	out := t.TempDir()
	for _, name := range []string{"hl2.txt", "hl1.txt"} {
		for i := 0; i < 2; i++ { // a miss, then a hit
			if resp, got := ts.get("/" + name); resp.StatusCode != 200 || got != old[name] {
				t.Fatalf("%s: %d, %d bytes", name, resp.StatusCode, len(got))
			}
		}
		other := filepath.Join(out, name)
		if err := os.Link(filepath.Join(ts.root, name), other); err != nil {
			t.Skip("no hard links here:", err)
		}
		must(t, os.WriteFile(other, []byte(fresh), 0o644))
		deadline := time.Now().Add(10 * time.Second)
		for {
			rc := ts.dial()
			rc.send("GET /" + name + " HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(rc.br, nil)
			must(t, err)
			got, err := io.ReadAll(resp.Body)
			if err == nil && string(got) == fresh {
				break
			}
			if err == nil && string(got) != old[name] || err != nil && !strings.HasPrefix(fresh, string(got)) {
				t.Fatalf("%s: %d bytes (%.20q...), read error %v: neither version", name, len(got), got, err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: still the old content 10 s after a write through a new link", name)
			}
			time.Sleep(5 * time.Millisecond)
		}
		for i := 0; i < 3; i++ {
			if _, got := ts.get("/" + name); got != fresh {
				t.Fatalf("%s: %q after the new content was served", name, got)
			}
		}
	}
}

// serveEntryAt makes requests for /entry answered from whatever entry the
// returned pointer holds, through serveEntry.
func serveEntryAt(t *testing.T) *atomic.Pointer[cache.Entry] {
	var serving atomic.Pointer[cache.Entry]
	setHook(t, func(c *conn) bool {
		if string(c.req.rawPath) != "/entry" {
			return false
		}
		c.serveEntry(serving.Load())
		return true
	})
	return &serving
}
