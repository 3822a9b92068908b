package serve

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func BenchmarkParseHead(b *testing.B) {
	head := []byte("GET /docs/readme.txt?x=1 HTTP/1.1\r\nHost: example.org\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Encoding: gzip, deflate, br\r\n" +
		"Accept-Language: en-US,en;q=0.5\r\nConnection: keep-alive\r\nIf-None-Match: \"abc\"\r\n\r\n")
	var r Request
	r.headers = make([]header, 0, maxHeaders)
	b.ReportAllocs()
	b.SetBytes(int64(len(head)))
	for b.Loop() {
		end, _, st := headEnd(head, 0)
		if st != 0 || end != len(head) {
			b.Fatal("bad head")
		}
		if _, st := parseHead(head[:end], &r); st != 0 {
			b.Fatal("parse failed")
		}
	}
}

func BenchmarkCleanPath(b *testing.B) {
	raw := []byte("/files/photos/2026/../2025/./sunset%20at%20sea.jpg")
	dst := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		if _, st := cleanPath(dst, raw); st != 0 {
			b.Fatal(st)
		}
	}
}

func BenchmarkMimeLookup(b *testing.B) {
	cfg := DefaultConfig()
	cfg.MimeTypes = ""
	p := &problems{}
	cfg.validate(p)
	t := cfg.types
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := t.Lookup("/files/photos/Sunset.JPG"); !ok {
			b.Fatal("not found")
		}
	}
}

// loopConn is a net.Conn that hands the same request to the server over
// and over and throws its responses away, so that a benchmark measures the
// engine alone, without the kernel.
type loopConn struct {
	req     []byte
	off     int
	written int64
}

func (c *loopConn) Read(p []byte) (int, error) {
	n := copy(p, c.req[c.off:])
	c.off += n
	if c.off == len(c.req) {
		c.off = 0
	}
	return n, nil
}
func (c *loopConn) Write(p []byte) (int, error)        { c.written += int64(len(p)); return len(p), nil }
func (c *loopConn) Close() error                       { return nil }
func (c *loopConn) LocalAddr() net.Addr                { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }
func (c *loopConn) RemoteAddr() net.Addr               { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000} }
func (c *loopConn) SetDeadline(t time.Time) error      { return nil }
func (c *loopConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *loopConn) SetWriteDeadline(t time.Time) error { return nil }

var _ io.ReadWriter = (*loopConn)(nil)

// benchRequests serves the same request b.N times on one connection,
// through readRequest and serveRequest as the connection loop does.
func benchRequests(b *testing.B, ts *testServer, raw string) {
	lc := &loopConn{req: []byte(raw)}
	c := ts.srv.newConn(lc)
	defer func() {
		ts.srv.track(c, false)
		ts.srv.putWork(c.work)
	}()
	ts.srv.connSlots <- struct{}{}
	defer func() { <-ts.srv.connSlots }()
	b.ReportAllocs()
	for b.Loop() {
		if st := c.readRequest(); st != 0 {
			b.Fatalf("readRequest: %d", st)
		}
		c.serveRequest()
		c.flush()
		if c.resp.status != 200 {
			b.Fatalf("status %d", c.resp.status)
		}
	}
	b.SetBytes(lc.written / int64(b.N))
}

func BenchmarkServeFileUncached(b *testing.B) {
	ts := startServer(b, "[cache]\nenabled = false\n", map[string]string{"1k.txt": string(make([]byte, 1024))})
	benchRequests(b, ts, "GET /1k.txt HTTP/1.1\r\nHost: x\r\n\r\n")
}

func BenchmarkServeListing(b *testing.B) {
	files := map[string]string{}
	for i := 0; i < 200; i++ {
		files["dir/file-"+string(rune('a'+i%26))+string(rune('a'+i/26))+".txt"] = "x"
	}
	ts := startServer(b, "[cache]\nenabled = false\n", files)
	benchRequests(b, ts, "GET /dir/ HTTP/1.1\r\nHost: x\r\n\r\n")
}

// BenchmarkCachedHit is the hot path: a 1 KiB file answered from the
// cache. It must not allocate.
func BenchmarkCachedHit(b *testing.B) {
	ts := startServer(b, "", map[string]string{"1k.txt": string(make([]byte, 1024))})
	ts.get("/1k.txt")
	benchRequests(b, ts, "GET /1k.txt HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\n\r\n")
}

// BenchmarkCachedHitBrowser is a cached hit for a browser-sized request
// head that accepts gzip.
func BenchmarkCachedHitBrowser(b *testing.B) {
	ts := startServer(b, "", map[string]string{"page.html": strings.Repeat("<p>pwebs</p>\n", 200)})
	ts.get("/page.html")
	benchRequests(b, ts, "GET /page.html HTTP/1.1\r\nHost: example.org\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\r\n"+
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Encoding: gzip, deflate, br\r\n"+
		"Accept-Language: en-US,en;q=0.5\r\nConnection: keep-alive\r\n\r\n")
}

func BenchmarkCachedListing(b *testing.B) {
	files := map[string]string{}
	for i := 0; i < 200; i++ {
		files[fmt.Sprintf("dir/file-%03d.txt", i)] = "x"
	}
	ts := startServer(b, "", files)
	ts.get("/dir/")
	benchRequests(b, ts, "GET /dir/ HTTP/1.1\r\nHost: x\r\n\r\n")
}

// BenchmarkCachedHitLogged is BenchmarkCachedHit with the combined access
// log written to a file: compare the two in one run for the cost of a
// logged request.
func BenchmarkCachedHitLogged(b *testing.B) {
	ts := startServer(b, "[log]\naccess = \"logs/access_log\"\nerror = \"-\"\nrotate_size = \"64MiB\"\n", map[string]string{"1k.txt": string(make([]byte, 1024))})
	ts.get("/1k.txt")
	benchRequests(b, ts, "GET /1k.txt HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\n\r\n")
}

// ssiBenchFiles is the bench's SSI page: three include virtual and an echo.
var ssiBenchFiles = map[string]string{
	"ssi.shtml": "<html><body>\n<!--#include virtual=\"/inc/a.html\" -->\n<!--#include virtual=\"/inc/b.html\" -->\n" +
		"<!--#include virtual=\"/inc/c.html\" -->\n<p><!--#echo var=\"DOCUMENT_URI\" --></p>\n</body></html>\n",
	"inc/a.html": "<h1>A</h1>\n", "inc/b.html": "<p>B</p>\n", "inc/c.html": "<p>C</p>\n",
}

func BenchmarkSSIUncached(b *testing.B) {
	ts := startServer(b, "[cache]\nenabled = false\n", ssiBenchFiles)
	benchRequests(b, ts, "GET /ssi.shtml HTTP/1.1\r\nHost: x\r\n\r\n")
}

func BenchmarkSSICached(b *testing.B) {
	ts := startServer(b, "", ssiBenchFiles)
	ts.get("/ssi.shtml")
	benchRequests(b, ts, "GET /ssi.shtml HTTP/1.1\r\nHost: x\r\n\r\n")
}
