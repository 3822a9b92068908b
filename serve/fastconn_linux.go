package serve

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Accepting without Go's poller.
//
// Go's net package makes every accepted socket a net.Conn at once: it asks
// the kernel for the socket's local address (getsockname), sets
// TCP_NODELAY, adds the socket to its epoll set and later removes it, and
// sets up a finalizer and the runtime's poll descriptor. For a client that
// connects, sends its request and reads one answer (a connection per
// request), that is half the system calls of the connection and the
// largest part of what a new connection costs pwebs above what it costs an
// event server.
//
// So the accept loop takes sockets with accept4(2) itself, and a
// connection starts as a fastConn: a bare non-blocking descriptor read and
// written with direct system calls. With defer_accept (TCP_DEFER_ACCEPT,
// on by default) the kernel hands a connection over once its request has
// come, so the request is read, answered and the socket closed without the
// poller ever hearing of it: accept4, read, write, close. The first time a
// read or a write would block, the socket joins Go's poller (as an
// *os.File: one fcntl and one epoll_ctl) and from then on waits there like
// any other, deadlines included. A keep-alive connection joins it when it
// first waits for its client's next request. Under ab -c50, a connection
// per request, this took the server's CPU per request from 26.1 to 20.5
// µs (alternating rounds against the build before).
//
// Deadlines: an operation on a socket outside the poller never waits (it
// succeeds at once or the socket joins the poller), so a deadline has
// nothing to bound until then; deadlines set before are kept and handed to
// the poller. A deadline set in the distant past (aLongTimeAgo: how a
// connection is evicted or interrupted) makes the next operation fail with
// a timeout at once, as it would in the poller, and so does a Close.
//
// TCP_NODELAY: a response that goes out in one write is sent at once
// whatever the setting, since nothing of the connection is in flight. The
// option is set before a second write, and when the socket joins the
// poller, so no later small write waits for an acknowledgement.

// fastConn is an accepted TCP socket that joins Go's poller only when it
// first has to wait. Its reads and writes are made by the connection's own
// goroutine (the owner); Close and the Set*Deadline methods may be called
// from any goroutine.
type fastConn struct {
	fd    int
	peer  sockAddr
	laddr net.Addr // from getsockname, when first asked for
	raddr net.Addr // from peer, when first asked for

	writes  int           // write operations made outside the poller
	nodelay bool          // TCP_NODELAY is set
	waited  *atomic.Int64 // counts the sockets that join the poller, if not nil

	mu       sync.Mutex
	f        atomic.Pointer[os.File] // the socket in Go's poller, once it joined
	frc      syscall.RawConn         // f's; set before f, under mu
	refs     int                     // direct system calls in progress
	closed   bool                    // Close was called
	closing  bool                    // the close waits for refs to drop to 0
	rdl, wdl time.Time               // deadlines set before joining the poller
	rpast    bool                    // the read deadline is before pwebs started
	wpast    bool

	raw fastRaw
}

// fastRaw is a fastConn's syscall.RawConn.
type fastRaw struct{ c *fastConn }

var (
	_ net.Conn        = (*fastConn)(nil)
	_ syscallConner   = (*fastConn)(nil)
	_ syscall.RawConn = (*fastRaw)(nil)
)

// deferAccept sets TCP_DEFER_ACCEPT on a TCP listener: when on, the
// kernel holds a new connection until its client sends data, for up to d
// (rounded up to a second), and then hands it over anyway.
func deferAccept(ln net.Listener, on bool, d time.Duration) {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return
	}
	secs := 0
	if on {
		secs = max(1, int((d+time.Second-1)/time.Second))
	}
	if rc, err := tl.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, secs)
		})
	}
}

// acceptor accepts the connections of a listener. A TCP listener's own
// RawConn cannot wait for reads, so the acceptor waits on a duplicate of
// the listening socket (an *os.File in Go's poller), which close closes.
type acceptor struct {
	ln     net.Listener
	f      *os.File        // the duplicate; nil: ln.Accept is used
	rc     syscall.RawConn // f's
	fn     func(fd uintptr) bool
	nfd    int
	rsa    unix.RawSockaddrAny // the peer of the last socket accepted
	rsaLen uint32
	err    error
	waited *atomic.Int64
	closed atomic.Bool
}

// newAcceptor accepts from ln: by accept4(2) when ln is a TCP listener,
// by ln.Accept otherwise. waited, if not nil, counts the connections that
// then have to wait in the poller.
func newAcceptor(ln net.Listener, waited *atomic.Int64) *acceptor {
	a := &acceptor{ln: ln, waited: waited}
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return a
	}
	f, err := tl.File()
	if err != nil {
		return a
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return a
	}
	a.f, a.rc = f, rc
	a.fn = a.doAccept
	return a
}

// close stops the acceptor; the listener is closed apart.
func (a *acceptor) close() {
	if a.f != nil {
		a.closed.Store(true)
		a.f.Close()
	}
}

func (a *acceptor) doAccept(fd uintptr) bool {
	for {
		// A raw system call (accept4 on a non-blocking socket does not
		// block), with the peer's address left raw until it is asked for:
		// x/sys's Accept4 also asks the kernel for the listener's protocol
		// on every IPv4 accept.
		a.rsaLen = unix.SizeofSockaddrAny
		nfd, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, fd, uintptr(unsafe.Pointer(&a.rsa)), uintptr(unsafe.Pointer(&a.rsaLen)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		switch e {
		case 0:
			a.nfd, a.err = int(nfd), nil
			return true
		case unix.EINTR, unix.ECONNABORTED:
			// A client that reset its connection while it waited in
			// the queue: take the next one.
			continue
		case unix.EAGAIN:
			return false // wait in the poller until one comes
		default:
			a.err = os.NewSyscallError("accept4", e)
			return true
		}
	}
}

// accept returns the next connection. Once the acceptor is closed, it
// fails with net.ErrClosed.
func (a *acceptor) accept() (net.Conn, error) {
	if a.rc == nil {
		return a.ln.Accept()
	}
	if err := a.rc.Read(a.fn); err != nil {
		if a.closed.Load() {
			err = net.ErrClosed
		}
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: a.ln.Addr(), Err: err}
	}
	if a.err != nil {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: a.ln.Addr(), Err: a.err}
	}
	c := newFastConn(a.nfd, a.waited)
	c.peer.set(&a.rsa)
	return c, nil
}

// newFastConn makes the fastConn of socket fd.
func newFastConn(fd int, waited *atomic.Int64) *fastConn {
	c := &fastConn{fd: fd, waited: waited}
	c.raw.c = c
	return c
}

// sockAddr is a TCP socket's address as accept4 or getsockname gave it.
type sockAddr struct {
	family uint16 // 0: unknown
	port   int
	ip     [16]byte
	zone   uint32
}

func (p *sockAddr) set(rsa *unix.RawSockaddrAny) {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		pb := (*[2]byte)(unsafe.Pointer(&sa.Port))
		p.family, p.port = unix.AF_INET, int(pb[0])<<8|int(pb[1])
		copy(p.ip[:4], sa.Addr[:])
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		pb := (*[2]byte)(unsafe.Pointer(&sa.Port))
		p.family, p.port = unix.AF_INET6, int(pb[0])<<8|int(pb[1])
		p.ip, p.zone = sa.Addr, sa.Scope_id
	}
}

// addr returns the address as the net package gives it, nil if unknown.
func (p *sockAddr) addr() net.Addr {
	switch p.family {
	case unix.AF_INET:
		return &net.TCPAddr{IP: net.IPv4(p.ip[0], p.ip[1], p.ip[2], p.ip[3]), Port: p.port}
	case unix.AF_INET6:
		return &net.TCPAddr{IP: append(net.IP(nil), p.ip[:]...), Port: p.port, Zone: zoneName(p.zone)}
	}
	return nil
}

// zoneName is the name of the interface with index i, "" for none.
func zoneName(i uint32) string {
	if i == 0 {
		return ""
	}
	if ifi, err := net.InterfaceByIndex(int(i)); err == nil {
		return ifi.Name
	}
	return ""
}

// The kinds of direct system calls, for get.
const (
	opRead = iota
	opWrite
	opControl // neither: deadlines do not apply
)

// get takes a reference for a direct system call on c.fd. It returns the
// *os.File instead, and takes no reference, once the socket has joined
// the poller; it fails once the connection is closed, and for a read or a
// write whose deadline had passed when it was set.
func (c *fastConn) get(op int) (*os.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, net.ErrClosed
	}
	if f := c.f.Load(); f != nil {
		return f, nil
	}
	if (op == opWrite && c.wpast) || (op == opRead && c.rpast) {
		return nil, os.ErrDeadlineExceeded
	}
	c.refs++
	return nil, nil
}

// put drops a reference taken by get, and closes the socket if a Close
// came meanwhile.
func (c *fastConn) put() {
	c.mu.Lock()
	c.refs--
	doClose := c.refs == 0 && c.closing
	if doClose {
		c.closing = false
	}
	c.mu.Unlock()
	if doClose {
		c.closeNow()
	}
}

// join adds the socket to Go's poller, with the deadlines set so far and
// TCP_NODELAY. The caller holds a reference.
func (c *fastConn) join() (*os.File, syscall.RawConn, error) {
	c.setNodelay()
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.f.Load(); f != nil {
		return f, c.frc, nil
	}
	f := os.NewFile(uintptr(c.fd), "")
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	if !c.rdl.IsZero() {
		f.SetReadDeadline(c.rdl)
	}
	if !c.wdl.IsZero() {
		f.SetWriteDeadline(c.wdl)
	}
	c.frc = rc
	c.f.Store(f)
	if c.waited != nil {
		c.waited.Add(1)
	}
	return f, rc, nil
}

// polled returns the socket's RawConn once it has joined the poller. No
// lock: join sets frc before it publishes f, and neither changes again.
func (c *fastConn) polled() syscall.RawConn {
	if c.f.Load() == nil {
		return nil
	}
	return c.frc
}

// beforeWrite sets TCP_NODELAY before the second write made outside the
// poller.
func (c *fastConn) beforeWrite() {
	if c.writes > 0 {
		c.setNodelay()
	}
	c.writes++
}

// setNodelay sets TCP_NODELAY once. The caller holds a reference.
func (c *fastConn) setNodelay() {
	if !c.nodelay {
		unix.SetsockoptInt(c.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		c.nodelay = true
	}
}

func (c *fastConn) Read(p []byte) (int, error) {
	f, err := c.get(opRead)
	if err != nil {
		return 0, c.opErr("read", err)
	}
	if f == nil {
		n, e := rawRead(uintptr(c.fd), p)
		if e != unix.EAGAIN {
			c.put()
			switch {
			case e != 0:
				return 0, c.opErr("read", e)
			case n == 0 && len(p) > 0:
				return 0, io.EOF
			}
			return n, nil
		}
		f, _, err = c.join()
		c.put()
		if err != nil {
			return 0, c.opErr("read", err)
		}
	}
	n, err := f.Read(p)
	return n, c.fileErr("read", err)
}

func (c *fastConn) Write(p []byte) (int, error) {
	f, err := c.get(opWrite)
	if err != nil {
		return 0, c.opErr("write", err)
	}
	done := 0
	if f == nil {
		c.beforeWrite()
		for done < len(p) {
			n, e := unix.Write(c.fd, p[done:])
			if e == unix.EINTR {
				continue
			}
			if e == unix.EAGAIN {
				break
			}
			if e != nil {
				c.put()
				return done, c.opErr("write", e)
			}
			done += n
		}
		if done == len(p) {
			c.put()
			return done, nil
		}
		f, _, err = c.join()
		c.put()
		if err != nil {
			return done, c.opErr("write", err)
		}
	}
	n, err := f.Write(p[done:])
	return done + n, c.fileErr("write", err)
}

// Close closes the socket; if a direct system call is in progress (the
// owner is serving), when it ends.
func (c *fastConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opErr("close", net.ErrClosed)
	}
	c.closed = true
	if c.refs > 0 {
		c.closing = true
		c.rpast, c.wpast = true, true
		f := c.f.Load()
		c.mu.Unlock()
		if f != nil {
			// The owner may be waiting in the poller inside a direct
			// call (a write within a read callback): wake it.
			f.SetDeadline(aLongTimeAgo)
		}
		return nil
	}
	c.mu.Unlock()
	return c.closeNow()
}

func (c *fastConn) closeNow() error {
	if f := c.f.Load(); f != nil {
		return c.fileErr("close", f.Close())
	}
	// Raw: closing a socket without SO_LINGER does not block.
	if _, _, e := unix.RawSyscall(unix.SYS_CLOSE, uintptr(c.fd), 0, 0); e != 0 {
		return c.opErr("close", e)
	}
	return nil
}

// CloseWrite shuts down the sending side, for a lingering close.
func (c *fastConn) CloseWrite() error {
	var err error
	if cerr := c.raw.Control(func(fd uintptr) { err = unix.Shutdown(int(fd), unix.SHUT_WR) }); cerr != nil {
		return cerr
	}
	return c.opErr("close", err)
}

func (c *fastConn) LocalAddr() net.Addr {
	if c.laddr == nil {
		var rsa unix.RawSockaddrAny
		n := uint32(unix.SizeofSockaddrAny)
		c.raw.Control(func(fd uintptr) {
			_, _, e := unix.RawSyscall(unix.SYS_GETSOCKNAME, fd, uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)))
			if e == 0 {
				var a sockAddr
				a.set(&rsa)
				c.laddr = a.addr()
			}
		})
	}
	return c.laddr
}

func (c *fastConn) RemoteAddr() net.Addr {
	if c.raddr == nil {
		c.raddr = c.peer.addr()
	}
	return c.raddr
}

func (c *fastConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

func (c *fastConn) SetReadDeadline(t time.Time) error { return c.setDeadline(t, false) }

func (c *fastConn) SetWriteDeadline(t time.Time) error { return c.setDeadline(t, true) }

func (c *fastConn) setDeadline(t time.Time, write bool) error {
	c.mu.Lock()
	if f := c.f.Load(); f != nil {
		c.mu.Unlock()
		var err error
		if write {
			err = f.SetWriteDeadline(t)
		} else {
			err = f.SetReadDeadline(t)
		}
		return c.fileErr("set deadline", err)
	}
	defer c.mu.Unlock()
	if c.closed {
		return c.opErr("set deadline", net.ErrClosed)
	}
	// Past: a time before pwebs started, such as aLongTimeAgo, with which a
	// connection is interrupted. A later time reads no clock here: an
	// operation outside the poller never waits, and the poller applies the
	// deadline if the socket joins it.
	past := !t.IsZero() && t.Before(clockBase)
	if write {
		c.wdl, c.wpast = t, past
	} else {
		c.rdl, c.rpast = t, past
	}
	return nil
}

func (c *fastConn) SyscallConn() (syscall.RawConn, error) { return &c.raw, nil }

func (r *fastRaw) Control(fn func(fd uintptr)) error {
	c := r.c
	if rc := c.polled(); rc != nil {
		return c.fileErr("raw-control", rc.Control(fn))
	}
	f, err := c.get(opControl)
	if err != nil {
		return c.opErr("raw-control", err)
	}
	if f != nil {
		return r.Control(fn) // joined meanwhile
	}
	defer c.put()
	fn(uintptr(c.fd))
	return nil
}

// Read calls fn on the socket until it reports done. Outside the poller
// it calls fn once, and if fn must wait, the socket joins the poller and
// fn is called there (first at once, as the poller's Read does).
func (r *fastRaw) Read(fn func(fd uintptr) bool) error {
	return r.c.rawOp("raw-read", fn, false)
}

// Write is Read's counterpart for writes.
func (r *fastRaw) Write(fn func(fd uintptr) bool) error {
	return r.c.rawOp("raw-write", fn, true)
}

func (c *fastConn) rawOp(op string, fn func(fd uintptr) bool, write bool) error {
	if rc := c.polled(); rc != nil {
		if write {
			return c.fileErr(op, rc.Write(fn))
		}
		return c.fileErr(op, rc.Read(fn))
	}
	kind := opRead
	if write {
		kind = opWrite
	}
	f, err := c.get(kind)
	if err != nil {
		return c.opErr(op, err)
	}
	if f != nil {
		return c.rawOp(op, fn, write) // joined meanwhile
	}
	if write {
		c.beforeWrite()
	}
	if fn(uintptr(c.fd)) {
		c.put()
		return nil
	}
	_, rc, err := c.join()
	c.put()
	if err != nil {
		return c.opErr(op, err)
	}
	if write {
		return c.fileErr(op, rc.Write(fn))
	}
	return c.fileErr(op, rc.Read(fn))
}

// opErr wraps err as the net package wraps a connection's errors.
func (c *fastConn) opErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return &net.OpError{Op: op, Net: "tcp", Err: err}
}

// fileErr turns an error of the socket's *os.File into the one a
// net.Conn gives.
func (c *fastConn) fileErr(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed && !errors.Is(err, os.ErrDeadlineExceeded) {
		err = net.ErrClosed // the file's "use of closed file"
	}
	if sc, ok := err.(*os.SyscallError); ok {
		err = sc.Err
	}
	return c.opErr(op, err)
}

// sendfileChunk is the most one sendfile(2) call is asked to send.
const sendfileChunk = 4 << 20

// ReadFrom copies r to the socket: by sendfile(2) from the current offset
// of a file (r an *os.File, or an *io.LimitedReader of one), as the net
// package's TCP connections do, else by reads and writes.
func (c *fastConn) ReadFrom(r io.Reader) (int64, error) {
	lr, _ := r.(*io.LimitedReader)
	remain := int64(1<<63 - 1)
	src := r
	if lr != nil {
		remain, src = lr.N, lr.R
	}
	f, ok := src.(*os.File)
	if !ok || remain <= 0 {
		return io.Copy(writerOnly{c}, r)
	}
	frc, err := f.SyscallConn()
	if err != nil {
		return io.Copy(writerOnly{c}, r)
	}
	var written int64
	var serr syscall.Errno
	var oerr error
	cerr := frc.Control(func(sfd uintptr) {
		oerr = c.rawOp("sendfile", func(fd uintptr) bool {
			for remain > 0 {
				n, e := syscall.Sendfile(int(fd), int(sfd), nil, int(min(remain, sendfileChunk)))
				if n > 0 {
					written += int64(n)
					remain -= int64(n)
				}
				switch {
				case e == syscall.EINTR:
				case e == syscall.EAGAIN:
					return false
				case e != nil:
					serr = e.(syscall.Errno)
					return true
				case n == 0:
					return true // the end of the file
				}
			}
			return true
		}, true)
	})
	if lr != nil {
		lr.N -= written
	}
	switch {
	case written == 0 && (serr == syscall.EINVAL || serr == syscall.ENOSYS):
		// A file sendfile(2) cannot read from.
		return io.Copy(writerOnly{c}, r)
	case serr != 0:
		return written, c.opErr("sendfile", os.NewSyscallError("sendfile", serr))
	case oerr != nil:
		return written, oerr
	case cerr != nil:
		return written, c.opErr("sendfile", cerr)
	}
	return written, nil
}

// writerOnly hides a fastConn's ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }
