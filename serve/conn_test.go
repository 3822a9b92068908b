package serve

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// writeText answers the current request with a text/plain body (for test
// hooks).
func (c *conn) writeText(status int, body string) {
	c.appendStatus(status)
	c.appendHeader("Content-Type", "text/plain; charset=utf-8")
	c.appendContentLength(int64(len(body)))
	c.appendEndHead()
	if c.req.method != mHEAD {
		c.wbuf = append(c.wbuf, body...)
		c.resp.bodyBytes = int64(len(body))
	}
}

// setHook installs testHook for one test.
func setHook(t *testing.T, h func(c *conn) bool) {
	testHook.Store(&h)
	t.Cleanup(func() { testHook.Store(nil) })
}

// echoHook answers /echo with the request body it read.
func echoHook(c *conn) bool {
	if !strings.HasPrefix(string(c.req.rawPath), "/echo") {
		return false
	}
	b, err := io.ReadAll(&c.bodyReader)
	switch err {
	case nil:
		c.writeText(200, fmt.Sprintf("%d:%s", len(b), b))
	case errBodyTooLarge:
		c.writeError(413)
	default:
		c.writeError(400)
	}
	return true
}

func TestKeepAliveHTTP11(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	rc := ts.dial()
	for i := 0; i < 3; i++ {
		rc.send("GET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body := rc.read("GET")
		if resp.StatusCode != 200 || body != "0123456789" || resp.Close {
			t.Fatalf("request %d: %d %q close=%v", i, resp.StatusCode, body, resp.Close)
		}
	}
	rc.send("GET /digits.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, _ := rc.read("GET")
	if !resp.Close || !rc.closed() {
		t.Errorf("Connection: close not honoured (close=%v)", resp.Close)
	}
}

func TestKeepAliveHTTP10(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	rc := ts.dial()
	for i := 0; i < 3; i++ {
		rc.send("GET /digits.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		resp, body := rc.read("GET")
		if resp.StatusCode != 200 || body != "0123456789" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		if resp.Header.Get("Connection") != "keep-alive" {
			t.Fatalf("request %d: Connection %q, want keep-alive", i, resp.Header.Get("Connection"))
		}
	}
	rc.send("GET /digits.txt HTTP/1.0\r\n\r\n")
	resp, body := rc.read("GET")
	if body != "0123456789" || !rc.closed() {
		t.Errorf("HTTP/1.0 without keep-alive: %q, connection left open (Connection %q)", body, resp.Header.Get("Connection"))
	}
}

func TestPipelining(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	rc := ts.dial()
	rc.send("GET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\n" +
		"HEAD /style.css HTTP/1.1\r\nHost: x\r\n\r\n" +
		"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n" +
		"GET /app.js HTTP/1.1\r\nHost: x\r\n\r\n")
	want := []struct {
		method string
		status int
		body   string
	}{
		{"GET", 200, "0123456789"},
		{"HEAD", 200, ""},
		{"GET", 404, ""},
		{"GET", 200, "let a = 1;\n"},
	}
	for i, w := range want {
		resp, body := rc.read(w.method)
		if resp.StatusCode != w.status || (w.body != "" && body != w.body) {
			t.Errorf("response %d: %d %q, want %d %q", i, resp.StatusCode, body, w.status, w.body)
		}
	}
}

// TestPipelinedPartial: responses to the requests already answered go out
// before the server waits for the rest of a pipelined request, since the
// client may wait for them before it sends more.
func TestPipelinedPartial(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	rc := ts.dial()
	rc.send("GET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /app.js HT")
	rc.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if resp, body := rc.read("GET"); resp.StatusCode != 200 || body != "0123456789" {
		t.Fatalf("first response: %d %q", resp.StatusCode, body)
	}
	rc.send("TP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := rc.read("GET"); resp.StatusCode != 200 || body != "let a = 1;\n" {
		t.Fatalf("second response: %d %q", resp.StatusCode, body)
	}
}

// TestSplitPipeline sends pipelined requests, a body among them, cut at
// random places and trickled in, so that reads see every kind of partial
// head and body: every response comes back, whole and in order.
func TestSplitPipeline(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	setHook(t, echoHook)
	reqs := []struct {
		raw    string
		method string
		status int
		body   string
	}{
		{"GET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\n", "GET", 200, "0123456789"},
		{"HEAD /style.css HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD", 200, ""},
		{"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "POST", 200, "5:hello"},
		{"\r\nGET /app.js?x=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: split\r\n\r\n", "GET", 200, "let a = 1;\n"},
		{"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "POST", 200, "3:abc"},
		{"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3 ; a = \"q\\\"\" ;b=c\r\nabc\r\n0;z\r\nT-A: 1 2\r\n\r\n", "POST", 200, "3:abc"},
		{"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n", "GET", 404, ""},
		{"GET /digits.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET", 200, "0123456789"},
	}
	var all string
	for _, r := range reqs {
		all += r.raw
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 20; round++ {
		rc := ts.dial()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for rest := all; len(rest) > 0; {
				n := min(1+rng.IntN(40), len(rest))
				if _, err := rc.nc.Write([]byte(rest[:n])); err != nil {
					return
				}
				rest = rest[n:]
				time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
			}
		}()
		for i, w := range reqs {
			resp, body := rc.read(w.method)
			if resp.StatusCode != w.status || (w.body != "" && body != w.body) {
				t.Fatalf("round %d, response %d: %d %q, want %d %q", round, i, resp.StatusCode, body, w.status, w.body)
			}
		}
		<-done
		rc.nc.Close()
	}
}

func TestLeadingEmptyLines(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	raw := ts.roundTrip("\r\n\r\nGET /digits.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if statusOfRaw(raw) != "200" {
		t.Errorf("got %q", raw)
	}
}

func TestMalformedCloses(t *testing.T) {
	ts := startServer(t, "max_header_bytes = \"2KiB\"\n", siteFiles)
	tests := []struct {
		name, raw, status string
	}{
		{"bare LF", "GET / HTTP/1.1\nHost: x\n\n", "400"},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", "400"},
		{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", "400"},
		{"CL and TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
		{"two CLs", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "400"},
		{"bad chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", "400"},
		{"no host", "GET / HTTP/1.1\r\n\r\n", "400"},
		{"long line", "GET /" + strings.Repeat("a", 3000) + " HTTP/1.1\r\nHost: x\r\n\r\n", "414"},
		{"big headers", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-A: "+strings.Repeat("b", 100)+"\r\n", 30) + "\r\n", "431"},
		{"http2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "505"},
		{"unknown coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "501"},
		{"too many headers", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-A: b\r\n", 101) + "\r\n", "431"},
		{"body over the limit", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", "413"},
		{"TE in HTTP/1.0", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
		{"bare CR", "GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", "400"},
		{"chunk size overflow", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", "400"},
		{"bare CR in a chunk extension", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\rc\r\nabcde\r\n0\r\n\r\n", "400"},
		{"bare CR in a trailer", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\rb\r\n\r\n", "400"},
		{"space before a chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nabcde\r\n0\r\n\r\n", "400"},
		{"control bytes in a chunk extension", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;\x00\x01\r\nabcde\r\n0\r\n\r\n", "400"},
		{"open quote in a chunk extension", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"b\r\nabcde\r\n0\r\n\r\n", "400"},
	}
	setHook(t, echoHook)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := ts.dial()
			rc.send(tt.raw)
			// A second request on the same connection must not be answered.
			rc.send("GET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\n")
			b, _ := io.ReadAll(rc.br)
			raw := string(b)
			if statusOfRaw(raw) != tt.status {
				t.Fatalf("got %q, want status %s", raw, tt.status)
			}
			if strings.Count(raw, "HTTP/1.1 ") != 1 {
				t.Errorf("the connection was not closed after %s", tt.status)
			}
		})
	}
}

func TestChunkedBody(t *testing.T) {
	ts := startServer(t, "max_body_bytes = \"64\"\n", siteFiles)
	setHook(t, echoHook)
	rc := ts.dial()
	rc.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n")
	resp, body := rc.read("POST")
	if resp.StatusCode != 200 || body != "16:hello 0123456789" {
		t.Fatalf("chunked: %d %q", resp.StatusCode, body)
	}
	// The connection carries on after a chunked body.
	rc.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	if _, body = rc.read("POST"); body != "3:abc" {
		t.Fatalf("after chunked: %q", body)
	}
	// Over max_body_bytes: by Content-Length before reading, and chunked
	// while reading.
	raw := ts.roundTrip("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\n\r\n" + strings.Repeat("a", 65))
	if statusOfRaw(raw) != "413" {
		t.Errorf("Content-Length over the limit: %q", raw)
	}
	raw = ts.roundTrip("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n" + strings.Repeat("a", 65) + "\r\n0\r\n\r\n")
	if statusOfRaw(raw) != "413" {
		t.Errorf("chunked over the limit: %q", raw)
	}
}

func TestExpectContinue(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	setHook(t, echoHook)
	rc := ts.dial()
	rc.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	line, err := rc.br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q, %v; want 100 Continue", line, err)
	}
	rc.br.ReadString('\n')
	rc.send("hello")
	if resp, body := rc.read("POST"); resp.StatusCode != 200 || body != "5:hello" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	// A final status before the body is read: no 100, and the connection
	// closes since the body was never sent.
	rc = ts.dial()
	rc.send("PUT /digits.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	if resp, _ := rc.read("PUT"); resp.StatusCode != 405 || !resp.Close || !rc.closed() {
		t.Errorf("final status without 100: %d, close %v", resp.StatusCode, resp.Close)
	}
	// The same with the body sent at once, and a request after it: the
	// body is dropped and the connection goes on.
	rc = ts.dial()
	rc.send("GET /digits.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabcGET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	for i := range 2 {
		if resp, body := rc.read("GET"); resp.StatusCode != 200 || body != "0123456789" || resp.Close {
			t.Errorf("request %d with the body sent at once: %d %q, close %v", i, resp.StatusCode, body, resp.Close)
		}
	}
}

// TestUnreadBodyCloses: a response that leaves more body unread than is
// worth reading says Connection: close, and the connection closes.
func TestUnreadBodyCloses(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	rc := ts.dial()
	rc.send("GET /digits.txt HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 300000\r\n\r\n")
	go rc.nc.Write(make([]byte, 300000))
	resp, body := rc.read("GET")
	if resp.StatusCode != 200 || body != "0123456789" || !resp.Close {
		t.Errorf("%d %q, close %v; want 200 and close", resp.StatusCode, body, resp.Close)
	}
	// A body small enough is read and dropped, and the connection goes on.
	rc = ts.dial()
	rc.send("GET /digits.txt HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("x", 100000) + "GET /digits.txt HTTP/1.0\r\n\r\n")
	if resp, _ := rc.read("GET"); resp.Close {
		t.Errorf("small unread body: the response closes the connection")
	}
	if resp, body := rc.read("GET"); resp.StatusCode != 200 || body != "0123456789" {
		t.Errorf("after a dropped body: %d %q", resp.StatusCode, body)
	}
}

func TestPanicRecovered(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	setHook(t, func(c *conn) bool {
		if string(c.req.rawPath) == "/panic" {
			panic("boom")
		}
		return false
	})
	resp, body := ts.get("/panic")
	if resp.StatusCode != 500 || !strings.Contains(body, "500 Internal Server Error") {
		t.Errorf("panic: %d %q", resp.StatusCode, body)
	}
	if !strings.Contains(ts.errlog.String(), "boom") || !strings.Contains(ts.errlog.String(), "goroutine") {
		t.Errorf("error log lacks the panic and its stack:\n%s", ts.errlog.String())
	}
	if resp, _ := ts.get("/digits.txt"); resp.StatusCode != 200 {
		t.Errorf("server stopped serving after a panic")
	}
}

func TestHeaderTimeout(t *testing.T) {
	ts := startServer(t, "header_timeout = \"300ms\"\nkeepalive_timeout = \"300ms\"\n", siteFiles)
	rc := ts.dial()
	rc.send("GET /digits.txt HTTP/1.1\r\nHost: x\r\n")
	start := time.Now()
	b, _ := io.ReadAll(rc.br)
	if statusOfRaw(string(b)) != "408" {
		t.Errorf("partial head: got %q, want 408", b)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("408 came after %v", d)
	}
	// An idle keep-alive connection is closed quietly.
	rc = ts.dial()
	rc.send("GET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	rc.read("GET")
	if !rc.closed() {
		t.Errorf("idle connection not closed after keepalive_timeout")
	}
}

// TestMaxClientsQueue checks that requests past max_clients wait in a queue
// and are served in order, and that slow and idle connections hold no slot.
func TestMaxClientsQueue(t *testing.T) {
	ts := startServer(t, "max_clients = 1\n", siteFiles)
	release := make(chan struct{})
	var inBlock atomic.Int32
	var order []string
	var mu sync.Mutex
	setHook(t, func(c *conn) bool {
		p := string(c.req.rawPath)
		if strings.HasPrefix(p, "/block") {
			inBlock.Add(1)
			<-release
		}
		if strings.HasPrefix(p, "/q") || strings.HasPrefix(p, "/block") {
			mu.Lock()
			order = append(order, p)
			mu.Unlock()
			c.writeText(200, p)
			return true
		}
		return false
	})
	// A slowloris client and an idle keep-alive client.
	slow := ts.dial()
	slow.send("GET /digits.txt HTTP/1.1\r\nHost: x\r\n")
	idle := ts.dial()
	idle.send("GET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	idle.read("GET")
	// With them connected, the one slot is still free.
	if resp, _ := ts.get("/digits.txt"); resp.StatusCode != 200 {
		t.Fatalf("slow or idle connections hold the slot")
	}

	first := ts.dial()
	first.send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(t, "the first request to hold the slot", func() bool { return inBlock.Load() == 1 })
	var queued []*rawConn
	for i := 0; i < 3; i++ {
		rc := ts.dial()
		rc.send(fmt.Sprintf("GET /q%d HTTP/1.1\r\nHost: x\r\n\r\n", i))
		queued = append(queued, rc)
		time.Sleep(50 * time.Millisecond) // let each reach the queue in turn
	}
	close(release)
	first.read("GET")
	for i, rc := range queued {
		if resp, body := rc.read("GET"); resp.StatusCode != 200 || body != fmt.Sprintf("/q%d", i) {
			t.Errorf("queued request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(order, " "); got != "/block /q0 /q1 /q2" {
		t.Errorf("served in order %q, want FIFO", got)
	}
}

func TestQueueTimeout(t *testing.T) {
	ts := startServer(t, "max_clients = 1\nqueue_timeout = \"200ms\"\n", siteFiles)
	release := make(chan struct{})
	defer close(release)
	var inBlock atomic.Int32
	setHook(t, func(c *conn) bool {
		if string(c.req.rawPath) == "/block" {
			inBlock.Add(1)
			<-release
			c.writeText(200, "done")
			return true
		}
		return false
	})
	first := ts.dial()
	first.send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(t, "the slot to be taken", func() bool { return inBlock.Load() == 1 })
	resp, _ := ts.get("/digits.txt")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("past queue_timeout: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// TestMaxConnections checks that at max_connections idle keep-alive
// connections are closed to let new clients in.
func TestMaxConnections(t *testing.T) {
	ts := startServer(t, "max_connections = 2\n", siteFiles)
	var idle []*rawConn
	for i := 0; i < 2; i++ {
		rc := ts.dial()
		rc.send("GET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		rc.read("GET")
		idle = append(idle, rc)
	}
	done := make(chan int, 1)
	go func() {
		nc, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
		if err != nil {
			done <- 0
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(nc, "GET /digits.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		b, _ := io.ReadAll(nc)
		if statusOfRaw(string(b)) == "200" {
			done <- 200
			return
		}
		done <- 1
	}()
	select {
	case st := <-done:
		if st != 200 {
			t.Fatalf("third client: %d", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("third client was not served while two idle connections held max_connections")
	}
	closedCount := 0
	for _, rc := range idle {
		if rc.closed() {
			closedCount++
		}
	}
	if closedCount == 0 {
		t.Errorf("no idle connection was closed")
	}
}

func TestGracefulShutdown(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	started := make(chan struct{})
	setHook(t, func(c *conn) bool {
		if string(c.req.rawPath) == "/slow" {
			close(started)
			time.Sleep(300 * time.Millisecond)
			c.writeText(200, "finished")
			return true
		}
		return false
	})
	rc := ts.dial()
	rc.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-started
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- ts.srv.Shutdown(ctx)
	}()
	resp, body := rc.read("GET")
	if resp.StatusCode != 200 || body != "finished" {
		t.Errorf("request in flight at shutdown: %d %q", resp.StatusCode, body)
	}
	if !resp.Close {
		t.Errorf("response during shutdown lacks Connection: close")
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		t.Errorf("still accepting after shutdown")
	}
}

// TestParkedConnection checks that an idle keep-alive connection is
// parked (no goroutine, no buffers) and served again when its client
// sends the next request, including a request split across the wake-up.
func TestParkedConnection(t *testing.T) {
	ts := startServer(t, "keepalive_timeout = \"30s\"\n", siteFiles)
	if ts.srv.parker == nil {
		t.Skip("no epoll on this system")
	}
	rc := ts.dial()
	rc.send("GET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	rc.read("GET")
	waitFor(t, "the connection to be parked", func() bool { return ts.srv.parker.count() == 1 })
	for i := 0; i < 3; i++ {
		rc.send("GET /digits.txt HTTP/1.1\r\n")
		time.Sleep(20 * time.Millisecond)
		rc.send("Host: x\r\n\r\n")
		if resp, body := rc.read("GET"); resp.StatusCode != 200 || body != "0123456789" {
			t.Fatalf("after parking %d: %d %q", i, resp.StatusCode, body)
		}
		waitFor(t, "the connection to be parked again", func() bool { return ts.srv.parker.count() == 1 })
	}
	// The client closing a parked connection frees it.
	rc.nc.Close()
	waitFor(t, "the parked connection to be released", func() bool { return ts.srv.parker.count() == 0 })
	// So does a reset: the woken connection has no peer address any more.
	for i := 0; i < 20; i++ {
		rc := ts.dial()
		rc.send("GET /digits.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		rc.read("GET")
		waitFor(t, "parked", func() bool { return ts.srv.parker.count() == 1 })
		rc.nc.(*net.TCPConn).SetLinger(0)
		rc.nc.Close()
		waitFor(t, "released after a reset", func() bool { return ts.srv.parker.count() == 0 })
	}
	if resp, _ := ts.get("/digits.txt"); resp.StatusCode != 200 {
		t.Fatalf("not serving after resets of parked connections")
	}
	// keepalive_timeout applies to parked connections too.
	ts2 := startServer(t, "keepalive_timeout = \"400ms\"\n", siteFiles)
	rc = ts2.dial()
	rc.send("GET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	rc.read("GET")
	start := time.Now()
	if !rc.closed() {
		t.Fatalf("parked connection not closed after keepalive_timeout")
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("closed after %v, before keepalive_timeout", d)
	}
}

// TestLingeringClose sends a big body that is refused, and reads the
// answer only once it has sent it all: the 413 must still be there, not
// lost to a connection reset.
func TestLingeringClose(t *testing.T) {
	ts := startServer(t, "max_body_bytes = \"1KiB\"\n", siteFiles)
	setHook(t, echoHook)
	for i := 0; i < 3; i++ {
		rc := ts.dial()
		rc.nc.Write([]byte("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3000000\r\n\r\n"))
		chunk := make([]byte, 64<<10)
		for sent := 0; sent < 3000000; sent += len(chunk) {
			if _, err := rc.nc.Write(chunk); err != nil {
				t.Fatalf("round %d: writing the body: %v", i, err)
			}
		}
		resp, err := http.ReadResponse(rc.br, nil)
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if resp.StatusCode != 413 {
			t.Fatalf("round %d: status %d", i, resp.StatusCode)
		}
	}
}

// TestSlowBodyHoldsNoSlot: a client that sends a small body slowly holds
// its connection, not a max_clients slot, and the request is served once
// the body is in; one that stops sending gets 408.
func TestSlowBodyHoldsNoSlot(t *testing.T) {
	ts := startServer(t, "max_clients = 1\nqueue_timeout = \"200ms\"\nbody_timeout = \"500ms\"\n", siteFiles)
	setHook(t, func(c *conn) bool {
		if string(c.req.rawPath) != "/upload" {
			return false
		}
		b, err := io.ReadAll(&c.bodyReader)
		if err != nil {
			c.writeText(500, err.Error())
			return true
		}
		c.writeText(200, fmt.Sprintf("got %d bytes", len(b)))
		return true
	})
	slow := ts.dial()
	slow.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\nabcd")
	time.Sleep(100 * time.Millisecond)
	for i := 0; i < 3; i++ {
		if resp, _ := ts.get("/digits.txt"); resp.StatusCode != 200 {
			t.Fatalf("while a body comes slowly: %d, want 200", resp.StatusCode)
		}
	}
	slow.send("efgh")
	if resp, body := slow.read("POST"); resp.StatusCode != 200 || body != "got 8 bytes" {
		t.Errorf("the slow body: %d %q", resp.StatusCode, body)
	}

	stalled := ts.dial()
	stalled.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\nab")
	if resp, _ := stalled.read("POST"); resp.StatusCode != 408 {
		t.Errorf("a stalled body: %d, want 408", resp.StatusCode)
	}
}

// TestDateCache checks the Date line a response time gets: its own second,
// or one shown already when the request arrived less than dateLag before
// it; a time far before it (a slow request, or the clock set back) is
// followed.
func TestDateCache(t *testing.T) {
	base := time.Date(2026, 11, 21, 10, 4, 5, 0, time.UTC)
	steps := []struct {
		at   time.Duration // from base
		want time.Duration // the second shown, from base
	}{
		{0, 0},
		{500 * time.Millisecond, 0},
		{1200 * time.Millisecond, time.Second},
		{300 * time.Millisecond, time.Second},        // arrived before: the later second stays
		{-1 * time.Second, time.Second},              // within dateLag
		{-5 * time.Second, -5 * time.Second},         // far before: followed
		{-4500 * time.Millisecond, -5 * time.Second}, // the same second
		{3 * time.Second, 3 * time.Second},           // later again
		{-3600 * time.Second, -3600 * time.Second},   // the clock set back an hour
		{-3599 * time.Second, -3599 * time.Second},   // and going on from there
	}
	var d dateCache
	for i, s := range steps {
		got := string(d.get(base.Add(s.at)))
		want := "Date: " + base.Add(s.want).Format(httpTimeFormat) + "\r\n"
		if !strings.HasPrefix(got, want) {
			t.Errorf("step %d (%v): got %q, want %q", i, s.at, got, want)
		}
	}
}

// TestDateIsArrival checks that a response is dated when its request
// arrived, as Apache dates it, not when the answer began.
func TestDateIsArrival(t *testing.T) {
	setHook(t, func(c *conn) bool {
		if string(c.req.rawPath) != "/slow" {
			return false
		}
		time.Sleep(2100 * time.Millisecond)
		c.writeText(200, "late")
		return true
	})
	ts := startServer(t, "", siteFiles)
	rc := ts.dial()
	sent := time.Now()
	rc.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := rc.read("GET")
	if resp.StatusCode != 200 || body != "late" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		t.Fatalf("Date %q: %v", resp.Header.Get("Date"), err)
	}
	// The answer began two seconds after sent: dated by it, the response
	// would show sent's second plus two at least.
	if date.Unix() < sent.Unix() || date.Unix() > sent.Unix()+1 {
		t.Errorf("Date %v, request sent at %v", date, sent.UTC())
	}
}
