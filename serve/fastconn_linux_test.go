package serve

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fastPair accepts one connection through an acceptor (with
// TCP_DEFER_ACCEPT off) and returns the server's fastConn, the client's
// end and the counter of sockets that joined the poller.
func fastPair(t *testing.T) (*fastConn, net.Conn, *atomic.Int64) {
	t.Helper()
	return fastPairOn(t, "127.0.0.1:0")
}

// fastPairOn is fastPair on the listening address addr.
func fastPairOn(t *testing.T, addr string) (*fastConn, net.Conn, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	deferAccept(ln, false, 0)
	waited := new(atomic.Int64)
	acc := newAcceptor(ln, waited)
	t.Cleanup(acc.close)
	if acc.rc == nil {
		t.Fatal("the acceptor does not accept by accept4")
	}
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	client.SetDeadline(time.Now().Add(10 * time.Second))
	nc, err := acc.accept()
	if err != nil {
		t.Fatal(err)
	}
	fc := nc.(*fastConn)
	t.Cleanup(func() { fc.Close() })
	return fc, client, waited
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestFastConnReadsWithoutPoller: what the client sent is read directly;
// the socket joins the poller only when a read has to wait, and then
// waits with its deadline.
func TestFastConnReadsWithoutPoller(t *testing.T) {
	fc, client, waited := fastPair(t)
	client.Write([]byte("hello"))
	time.Sleep(20 * time.Millisecond) // loopback: the bytes are there
	buf := make([]byte, 16)
	n, err := fc.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if waited.Load() != 0 || fc.f.Load() != nil {
		t.Fatal("a read that had its bytes joined the poller")
	}

	fc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	if _, err := fc.Read(buf); !isTimeout(err) {
		t.Fatalf("a read with nothing to read: %v, want a timeout", err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("the read timed out after %v, before its deadline", d)
	}
	if waited.Load() != 1 || fc.f.Load() == nil {
		t.Fatal("a read that waited did not join the poller")
	}
	fc.SetReadDeadline(time.Time{})
	go func() {
		time.Sleep(20 * time.Millisecond)
		client.Write([]byte("again"))
	}()
	n, err = fc.Read(buf)
	if err != nil || string(buf[:n]) != "again" {
		t.Fatalf("Read in the poller = %q, %v", buf[:n], err)
	}
	client.Close()
	if _, err := fc.Read(buf); err != io.EOF {
		t.Fatalf("Read after the client closed: %v, want io.EOF", err)
	}
}

// TestFastConnDeadlines: a deadline already past when it is set fails the
// next read or write at once, bytes there or not, as the poller would; a
// deadline set before the socket joins the poller holds there.
func TestFastConnDeadlines(t *testing.T) {
	t.Run("past", func(t *testing.T) {
		fc, client, _ := fastPair(t)
		client.Write([]byte("x"))
		time.Sleep(20 * time.Millisecond)
		fc.SetReadDeadline(aLongTimeAgo)
		if _, err := fc.Read(make([]byte, 4)); !isTimeout(err) {
			t.Errorf("Read past its deadline: %v, want a timeout", err)
		}
		if err := fc.raw.Read(func(uintptr) bool { return true }); !isTimeout(err) {
			t.Errorf("a raw read past its deadline: %v, want a timeout", err)
		}
		fc.SetWriteDeadline(aLongTimeAgo)
		if _, err := fc.Write([]byte("y")); !isTimeout(err) {
			t.Errorf("Write past its deadline: %v, want a timeout", err)
		}
		fc.SetDeadline(time.Time{})
		if n, err := fc.Read(make([]byte, 4)); n != 1 || err != nil {
			t.Errorf("Read once the deadline is cleared: %d, %v", n, err)
		}
	})
	t.Run("kept for the poller", func(t *testing.T) {
		fc, _, _ := fastPair(t)
		fc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		done := make(chan error, 1)
		go func() { _, err := fc.Read(make([]byte, 4)); done <- err }()
		select {
		case err := <-done:
			if !isTimeout(err) {
				t.Errorf("Read: %v, want a timeout", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the deadline set before the socket joined the poller was lost")
		}
	})
}

// TestFastConnClose: a Close from another goroutine while the owner is in
// a direct system call closes the socket only when that call ends; later
// operations fail with net.ErrClosed.
func TestFastConnClose(t *testing.T) {
	fc, client, _ := fastPair(t)
	inside, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- fc.raw.Write(func(fd uintptr) bool {
			close(inside)
			<-release
			return true
		})
	}()
	<-inside
	if err := fc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	client.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := client.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("the socket closed under a call in progress: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the call in progress: %v", err)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the call ended, the client reads %v, want io.EOF", err)
	}
	if _, err := fc.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close: %v, want net.ErrClosed", err)
	}
	if err := fc.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("a second Close: %v, want net.ErrClosed", err)
	}
}

// TestFastConnNodelay: TCP_NODELAY is off for a lone write (it goes out
// at once anyway) and on from the second write, and once the socket joins
// the poller.
func TestFastConnNodelay(t *testing.T) {
	nodelay := func(fc *fastConn) int {
		v := -1
		fc.raw.Control(func(fd uintptr) { v, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY) })
		return v
	}
	fc, client, _ := fastPair(t)
	fc.Write([]byte("a"))
	if v := nodelay(fc); v != 0 {
		t.Errorf("after one write, TCP_NODELAY = %d, want 0", v)
	}
	fc.raw.Write(func(fd uintptr) bool { unix.Write(int(fd), []byte("b")); return true })
	if v := nodelay(fc); v == 0 {
		t.Error("after two writes, TCP_NODELAY is off")
	}
	b := make([]byte, 2)
	if _, err := io.ReadFull(client, b); err != nil || string(b) != "ab" {
		t.Errorf("the client read %q, %v", b, err)
	}

	fc, _, _ = fastPair(t)
	fc.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	fc.Read(make([]byte, 1))
	if v := nodelay(fc); v == 0 {
		t.Error("in the poller, TCP_NODELAY is off")
	}
}

// TestFastConnAddrsAndCloseWrite: the addresses are the socket's; a
// CloseWrite ends the client's reading and leaves the server's open.
func TestFastConnAddrsAndCloseWrite(t *testing.T) {
	tests := []struct {
		name   string
		addr   string
		joined bool
	}{
		{"IPv4", "127.0.0.1:0", false},
		{"IPv4, in the poller", "127.0.0.1:0", true},
		{"IPv6", "[::1]:0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.HasPrefix(tt.addr, "[") {
				ln, err := net.Listen("tcp", tt.addr)
				if err != nil {
					t.Skipf("no IPv6 loopback here: %v", err)
				}
				ln.Close()
			}
			fc, client, _ := fastPairOn(t, tt.addr)
			if got, want := fc.RemoteAddr().String(), client.LocalAddr().String(); got != want {
				t.Errorf("RemoteAddr = %s, want %s", got, want)
			}
			if got, want := fc.LocalAddr().String(), client.RemoteAddr().String(); got != want {
				t.Errorf("LocalAddr = %s, want %s", got, want)
			}
			if tt.joined {
				fc.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
				fc.Read(make([]byte, 1))
			}
			if err := fc.CloseWrite(); err != nil {
				t.Fatalf("CloseWrite: %v", err)
			}
			if _, err := client.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("the client reads %v after CloseWrite, want io.EOF", err)
			}
			client.Write([]byte("z"))
			fc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := fc.Read(make([]byte, 1)); n != 1 || err != nil {
				t.Errorf("the server reads %d, %v after CloseWrite", n, err)
			}
		})
	}
}

// TestAcceptor: TCP_DEFER_ACCEPT holds a connection until its client
// sends, and the acceptor then hands it over with the bytes there; a
// closed acceptor reports net.ErrClosed.
func TestAcceptor(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	deferAccept(ln, true, 5*time.Second)
	waited := new(atomic.Int64)
	acc := newAcceptor(ln, waited)
	accepted := make(chan net.Conn, 1)
	failed := make(chan error, 1)
	go func() {
		for {
			nc, err := acc.accept()
			if err != nil {
				failed <- err
				return
			}
			accepted <- nc
		}
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	select {
	case <-accepted:
		t.Fatal("a connection that sent nothing was accepted")
	case <-time.After(300 * time.Millisecond):
	}
	client.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	var nc net.Conn
	select {
	case nc = <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("a connection that sent its request was not accepted")
	}
	defer nc.Close()
	buf := make([]byte, 64)
	n, err := nc.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "GET / ") || waited.Load() != 0 {
		t.Fatalf("first read: %q, %v, waited %d; want the request, read directly", buf[:n], err, waited.Load())
	}

	acc.close()
	select {
	case err := <-failed:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("accept on a closed acceptor: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("closing the acceptor did not stop accept")
	}
	// The acceptor's duplicate of the socket is closed: once the listener
	// is too, the port refuses clients.
	ln.Close()
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("the port still accepts after the listener and the acceptor closed")
	}
}

// TestServeWithoutPoller: with defer_accept, requests that arrive whole
// are answered without their socket joining the poller; a keep-alive
// connection joins it when it waits for its next request, and one
// accepted before its request (defer_accept off) when it waits for the
// first.
func TestServeWithoutPoller(t *testing.T) {
	const get10 = "GET /digits.txt HTTP/1.0\r\n\r\n"
	const get11 = "GET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := []struct {
		name  string
		conf  string
		conns int
		sends []string // each after a pause
		want  int64    // connections that waited
	}{
		{"requests there when accepted", "", 20, []string{get10}, 0},
		{"keep-alive, waiting for the next request", "", 1, []string{get11, get11}, 1},
		{"accepted before its request", "defer_accept = false\n", 1, []string{get10}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, tt.conf, siteFiles)
			for i := 0; i < tt.conns; i++ {
				rc := ts.dial()
				for j, req := range tt.sends {
					if j > 0 || tt.want > 0 {
						time.Sleep(200 * time.Millisecond) // the server has long tried to read
					}
					rc.send(req)
					if resp, body := rc.read("GET"); resp.StatusCode != 200 || body != "0123456789" {
						t.Fatalf("connection %d, request %d: %d %q", i, j, resp.StatusCode, body)
					}
				}
			}
			if n := ts.srv.Stats().Waited.Load(); n != tt.want {
				t.Errorf("%d connections waited in the poller, want %d", n, tt.want)
			}
		})
	}
}

// TestFastConnReadFrom: a file goes out by sendfile(2), from its offset
// and no further than a LimitedReader allows, waiting in the poller when
// the client reads slower than it is sent; other readers are copied.
func TestFastConnReadFrom(t *testing.T) {
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		off, n   int64
		limited  bool
		fileless bool
	}{
		{"a limited range", 1000, 6 << 20, true, false},
		{"the whole file", 0, 8 << 20, false, false},
		{"past the end", 8<<20 - 10, 100, true, false},
		{"not a file", 0, 5000, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc, client, _ := fastPair(t)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			f.Seek(tt.off, io.SeekStart)
			var src io.Reader = f
			if tt.fileless {
				src = bytes.NewReader(data[tt.off:])
			}
			lr := &io.LimitedReader{R: src, N: tt.n}
			if tt.limited {
				src = lr
			}
			want := data[tt.off:min(tt.off+tt.n, int64(len(data)))]
			got := make(chan []byte, 1)
			go func() {
				time.Sleep(50 * time.Millisecond) // let the socket fill
				b, _ := io.ReadAll(client)
				got <- b
			}()
			n, err := fc.ReadFrom(src)
			if err != nil || n != int64(len(want)) {
				t.Fatalf("ReadFrom = %d, %v; want %d", n, err, len(want))
			}
			if tt.limited && lr.N != tt.n-n {
				t.Errorf("the LimitedReader has %d left, want %d", lr.N, tt.n-n)
			}
			fc.Close()
			if b := <-got; !bytes.Equal(b, want) {
				t.Errorf("the client got %d bytes, not the %d sent", len(b), len(want))
			}
		})
	}
}

// TestFlushLastWaitsForClose: the last bytes of a connection that closes
// next are sent with MSG_MORE, so the kernel holds them until the close,
// which sends them with the FIN; nothing is lost, and the client gets the
// answer and its end together.
func TestFlushLastWaitsForClose(t *testing.T) {
	ts := startServer(t, "", map[string]string{"a.txt": "a"})
	fc, client, _ := fastPair(t)
	c := ts.srv.newConn(fc)
	defer func() {
		ts.srv.track(c, false)
		ts.srv.putWork(c.work)
	}()
	c.wbuf = append(c.wbuf[:0], "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi"...)
	sent := time.Now()
	c.flushLast()
	if c.broken || len(c.wbuf) != 0 {
		t.Fatalf("flushLast: broken %v, %d bytes left", c.broken, len(c.wbuf))
	}
	if c.raw.more {
		t.Fatal("flushLast left MSG_MORE on for later writes")
	}
	// The kernel holds a corked segment for up to 200 ms: before that,
	// nothing may arrive.
	client.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	buf := make([]byte, 256)
	if n, err := client.Read(buf); err == nil && time.Since(sent) < 150*time.Millisecond {
		t.Fatalf("%q arrived before the close: the last write was not sent with MSG_MORE", buf[:n])
	}
	fc.Close()
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(client)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(got), "\r\n\r\nhi") {
		t.Fatalf("after the close the client read %q", got)
	}
}

// TestNewConnAllocs: wrapping an accepted socket allocates the conn and
// nothing else. The raw I/O callbacks live in the pooled work and are made
// once, not per connection (they were five allocations a connection).
func TestNewConnAllocs(t *testing.T) {
	ts := startServer(t, "", map[string]string{"a.txt": "a"})
	fc, _, _ := fastPair(t)
	cycle := func() {
		c := ts.srv.newConn(fc)
		if !c.raw.ready {
			t.Fatal("raw I/O not ready on an accepted socket")
		}
		ts.srv.track(c, false)
		ts.srv.putWork(c.work)
	}
	// The fewest of several single runs: under the race detector,
	// sync.Pool drops a quarter of what it is given, and a new work
	// allocates its buffers.
	least := math.Inf(1)
	for range 20 {
		least = min(least, testing.AllocsPerRun(1, cycle))
	}
	if least > 1 {
		t.Errorf("wrapping a connection made %v allocations, want 1 (the conn)", least)
	}
}
