package serve

import (
	"errors"
	"io"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Raw I/O: a connection's reads and writes go through its syscall.RawConn
// with raw system calls. The socket is non-blocking, so read(2) and
// write(2) return at once (EAGAIN when they cannot proceed, and then the
// RawConn waits in Go's poller, deadlines included); making them without
// telling the scheduler saves the bookkeeping of a possibly blocking call
// and keeps the runtime from handing the processor to another thread in
// the middle of a short write, which with GOMAXPROCS=1 costs a thread
// switch. The RawConn holds the descriptor while the callback runs, so a
// concurrent Close cannot make the number name another file.
//
// Every RawConn.Read first forgets what the poller knew of the socket's
// readiness, so a read must be tried before waiting. That is why request
// heads are read, and body-less requests answered, inside one long
// RawConn.Read (readServe in conn.go): there, after a read that emptied
// the socket, the callback waits for the poller at once, and a keep-alive
// request costs one read(2) instead of two (the second failing with
// EAGAIN).

// maxRawWrite is the largest write done raw; bigger ones (they may take a
// while in the kernel) go through the ordinary path.
const maxRawWrite = 256 << 10

// rawIO is a connection's raw reader and writer. It lives in the pooled
// work, and its callbacks are bound once, when the work is made, so that
// neither a read, a write nor a new connection allocates them.
type rawIO struct {
	rc         syscall.RawConn
	readFn     func(fd uintptr) bool
	writeFn    func(fd uintptr) bool
	sendfileFn func(fd uintptr) bool
	fileFn     func(fd uintptr)

	rp    []byte // the read's buffer
	rn    int
	rerr  syscall.Errno
	wp    [2][]byte // the write's buffers (a head and a body)
	wn    int
	werr  syscall.Errno
	iov   [2]unix.Iovec
	ready bool

	// A sendfile: the file's RawConn, the socket, the range left and how
	// it went.
	frc        syscall.RawConn
	sfd        uintptr
	foff, fend int64
	fdone      bool // the file ended early, or was closed
	again      bool // the socket is full: wait until writable

	// inRead is set while readServe's callback runs: the RawConn's read
	// lock is held, and another read of the connection would wait for it
	// forever.
	inRead bool

	// more sends a single buffer with MSG_MORE: the caller closes the
	// socket next (see flushLast).
	more bool
}

// bind makes the callbacks, once for the life of the work r is in.
func (r *rawIO) bind() {
	r.readFn = r.doRead
	r.writeFn = r.doWrite
	r.sendfileFn = r.doSendfile
	r.fileFn = r.doFile
}

// init readies the raw I/O for nc; without a RawConn, ready stays false
// and the ordinary path is used.
func (r *rawIO) init(nc net.Conn) {
	sc, ok := nc.(syscallConner)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	r.rc = rc
	r.ready = true
}

// reset forgets the connection, keeping the callbacks, when the work goes
// back to the pool.
func (r *rawIO) reset() {
	*r = rawIO{readFn: r.readFn, writeFn: r.writeFn, sendfileFn: r.sendfileFn, fileFn: r.fileFn}
}

func (r *rawIO) doRead(fd uintptr) bool {
	n, e := rawRead(fd, r.rp)
	if e == unix.EAGAIN {
		return false // wait until readable
	}
	r.rn, r.rerr = n, e
	return true
}

// dupFD returns a close-on-exec duplicate of the descriptor behind rc, or
// -1 when it cannot be made.
func dupFD(rc syscall.RawConn) int {
	nfd := -1
	rc.Control(func(fd uintptr) {
		nfd, _ = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	})
	return nfd
}

// rawRead is read(2) on fd into p, retried on EINTR.
func rawRead(fd uintptr, p []byte) (int, syscall.Errno) {
	for {
		n, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(n), 0
	}
}

func (r *rawIO) doWrite(fd uintptr) bool {
	for {
		var n uintptr
		var e syscall.Errno
		switch {
		case len(r.wp[1]) == 0 && r.more:
			n, e = sendMore(fd, r.wp[0])
		case len(r.wp[1]) == 0:
			n, _, e = unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(r.wp[0]))), uintptr(len(r.wp[0])))
		default:
			cnt := 0
			for i := range r.wp {
				if len(r.wp[i]) > 0 {
					r.iov[cnt].Base = unsafe.SliceData(r.wp[i])
					r.iov[cnt].SetLen(len(r.wp[i]))
					cnt++
				}
			}
			n, _, e = unix.RawSyscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&r.iov[0])), uintptr(cnt))
		}
		switch e {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false // wait until writable
		default:
			r.werr = e
			return true
		}
		r.wn += int(n)
		for i := range r.wp {
			k := min(int(n), len(r.wp[i]))
			r.wp[i] = r.wp[i][k:]
			n -= uintptr(k)
		}
		if len(r.wp[0]) == 0 && len(r.wp[1]) == 0 {
			return true
		}
	}
}

// sendMore is send(2) of p on the socket fd with MSG_MORE: the kernel
// holds the bytes for what comes next (more bytes, a file, the FIN).
func sendMore(fd uintptr, p []byte) (uintptr, syscall.Errno) {
	n, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), unix.MSG_MORE, 0, 0)
	return n, e
}

// errNestedRead is a read asked for inside readServe's callback, which
// answers only requests that need no more reading: it is a bug, and fails
// the request rather than wait on a lock the callback holds.
var errNestedRead = errors.New("serve: read inside the raw read callback")

// doSendfile is sendfile's callback on the socket: the head first, with
// MSG_MORE so that it shares a packet with the body's start, then the
// file.
func (r *rawIO) doSendfile(fd uintptr) bool {
	for len(r.wp[0]) > 0 {
		p := r.wp[0]
		n, e := sendMore(fd, p)
		switch e {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			r.werr = e
			return true
		}
		r.wp[0] = p[n:]
	}
	r.sfd = fd
	for r.foff < r.fend && !r.fdone {
		r.again = false
		if r.frc.Control(r.fileFn) != nil {
			r.fdone = true // closed since: the caller sends the rest
			break
		}
		if r.werr != 0 {
			return true
		}
		if r.again {
			return false
		}
	}
	return true
}

// doFile is sendfile's callback on the file: sendfile(2) until the range
// is sent or the socket is full. It is not a raw system call: the file's
// pages may have to be read from disk.
func (r *rawIO) doFile(fd uintptr) {
	for r.foff < r.fend {
		n, _, e := unix.Syscall6(unix.SYS_SENDFILE, r.sfd, fd, uintptr(unsafe.Pointer(&r.foff)), uintptr(r.fend-r.foff), 0, 0)
		switch e {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			r.again = true
			return
		case unix.EBADF, unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP, unix.EIO, unix.ENOMEM:
			// The file's side failed (a file system without sendfile, a
			// read error): the caller sends the rest from memory.
			r.fdone = true
			return
		default:
			r.werr = e
			return
		}
		if n == 0 {
			r.fdone = true // the file is shorter than it was
			return
		}
		// sendfile(2) has moved r.foff.
	}
}

// sendfile writes head and then the first n bytes of the file behind frc,
// by sendfile(2). It returns how many of the file's bytes went out: fewer
// than n when the file turned out shorter, refused sendfile, or was closed
// meanwhile (the caller sends the rest from memory).
func (c *conn) sendfile(frc syscall.RawConn, head []byte, n int64) (int64, error) {
	r := &c.raw
	r.wp[0], r.wp[1] = head, nil
	r.frc, r.foff, r.fend, r.fdone, r.werr = frc, 0, n, false, 0
	err := r.rc.Write(r.sendfileFn)
	r.wp[0], r.frc = nil, nil
	if err == nil && r.werr != 0 {
		err = r.werr
	}
	return r.foff, err
}

// read reads into p: raw when possible. It returns io.EOF at the end.
func (c *conn) read(p []byte) (int, error) {
	r := &c.raw
	if !r.ready {
		return c.nc.Read(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.inRead {
		return 0, errNestedRead
	}
	r.rp = p
	err := r.rc.Read(r.readFn)
	r.rp = nil
	if err != nil {
		return 0, err
	}
	if r.rerr != 0 {
		return 0, r.rerr
	}
	if r.rn == 0 {
		return 0, io.EOF
	}
	return r.rn, nil
}

// write writes head and then body (either may be empty), raw and in one
// system call when possible.
func (c *conn) write(head, body []byte) (int, error) {
	r := &c.raw
	if !r.ready || len(head)+len(body) > maxRawWrite {
		if len(body) == 0 {
			return c.nc.Write(head)
		}
		c.bufs[0], c.bufs[1] = head, body
		c.nb = c.bufs[:]
		n, err := c.nb.WriteTo(c.nc)
		c.bufs[0], c.bufs[1] = nil, nil
		return int(n), err
	}
	r.wp[0], r.wp[1] = head, body
	r.wn, r.werr = 0, 0
	err := r.rc.Write(r.writeFn)
	r.wp[0], r.wp[1] = nil, nil
	if err != nil {
		return r.wn, err
	}
	if r.werr != 0 {
		return r.wn, r.werr
	}
	return r.wn, nil
}
