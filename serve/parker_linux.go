package serve

import (
	"errors"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// parkDelay is how long an idle keep-alive connection keeps its goroutine
// and buffers before it is parked. A busy client sends its next request
// well within it, so parking costs nothing on the hot path.
const parkDelay = 50 * time.Millisecond

// parkSweep is how often parked connections are checked against
// keepalive_timeout.
const parkSweep = 250 * time.Millisecond

// Trimming: when at least trimAfter more connections are parked than at
// the last trim and none has been parked or woken for trimQuiet (the burst
// is over), the memory their goroutines and buffers used is returned to the
// system: a burst of clients that then sit idle would otherwise keep it in
// the process. A trim is a forced garbage collection, so there is at most
// one every trimEvery.
const (
	trimAfter = 1000
	trimQuiet = 300 * time.Millisecond
	trimEvery = 10 * time.Second
)

// idleConn is a parked connection: a bare socket descriptor, detached from
// Go's poller, and the little the connection needs to go on. It holds no
// goroutine, no buffer and no net.Conn.
type idleConn struct {
	fd            int
	remote, local string
	nreq          int
	idleSince     time.Time
	st            *state
	prev, next    *idleConn
}

// parker holds idle keep-alive connections in an epoll set, as Apache's
// event MPM parks them in its listener, and gives each a goroutine again
// when its client sends the next request. The epoll descriptor itself waits
// in Go's own poller, so no thread blocks on it.
type parker struct {
	srv  *Server
	epfd *os.File
	fd   int

	mu     sync.Mutex
	byFD   map[int32]*idleConn
	head   *idleConn // oldest first
	tail   *idleConn
	closed bool

	done chan struct{}
	wg   sync.WaitGroup

	lastPark    atomic.Int64 // when a connection was last parked, in Unix nanoseconds
	lastWake    time.Time
	lastTrim    time.Time
	trimmedWith int // connections parked at the last trim
}

func newParker(s *Server) (*parker, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	p := &parker{
		srv:  s,
		fd:   fd,
		epfd: os.NewFile(uintptr(fd), "pwebs-epoll"),
		byFD: make(map[int32]*idleConn),
		done: make(chan struct{}),
	}
	p.wg.Add(1)
	go p.loop()
	return p, nil
}

// park detaches the connection's socket from its net.Conn and adds it to
// the epoll set. It reports false if it could not (the connection must
// then go on as it is); on true, the connection's goroutine ends and the
// net.Conn is closed, the socket living on as an idleConn.
func (p *parker) park(c *conn) bool {
	sc, ok := c.nc.(syscallConner)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	nfd := dupFD(rc)
	if nfd < 0 {
		return false
	}
	ic := &idleConn{fd: nfd, remote: c.remoteAddr(), local: c.localAddr(), nreq: c.nreq, idleSince: c.idleSince, st: c.st}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		unix.Close(nfd)
		return false
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(nfd)}
	if err := unix.EpollCtl(p.fd, unix.EPOLL_CTL_ADD, nfd, &ev); err != nil {
		p.mu.Unlock()
		unix.Close(nfd)
		return false
	}
	p.byFD[int32(nfd)] = ic
	ic.prev = p.tail
	if p.tail != nil {
		p.tail.next = ic
	} else {
		p.head = ic
	}
	p.tail = ic
	p.mu.Unlock()
	p.lastPark.Store(time.Now().UnixNano())
	// Go's descriptor goes; the socket stays open through ours.
	c.nc.Close()
	return true
}

type syscallConner interface {
	SyscallConn() (syscall.RawConn, error)
}

// unlink removes ic from the set and the list; p.mu is held.
func (p *parker) unlink(ic *idleConn) {
	if ic.prev != nil {
		ic.prev.next = ic.next
	} else {
		p.head = ic.next
	}
	if ic.next != nil {
		ic.next.prev = ic.prev
	} else {
		p.tail = ic.prev
	}
	ic.prev, ic.next = nil, nil
	delete(p.byFD, int32(ic.fd))
	unix.EpollCtl(p.fd, unix.EPOLL_CTL_DEL, ic.fd, nil)
}

// take removes and returns the connection parked on fd, if any.
func (p *parker) take(fd int32) *idleConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	ic := p.byFD[fd]
	if ic != nil {
		p.unlink(ic)
	}
	return ic
}

// loop wakes parked connections whose clients sent something (or left),
// and closes those idle past keepalive_timeout.
func (p *parker) loop() {
	defer p.wg.Done()
	rc, err := p.epfd.SyscallConn()
	if err != nil {
		p.srv.log.Error("parking idle connections: " + err.Error())
		return
	}
	events := make([]unix.EpollEvent, 128)
	var ready []int32
	for {
		select {
		case <-p.done:
			return
		default:
		}
		p.epfd.SetReadDeadline(time.Now().Add(parkSweep))
		ready = ready[:0]
		err := rc.Read(func(fd uintptr) bool {
			for {
				n, err := unix.EpollWait(int(fd), events, 0)
				if err == unix.EINTR {
					continue
				}
				for i := 0; i < n; i++ {
					ready = append(ready, events[i].Fd)
				}
				if n < len(events) {
					return len(ready) > 0
				}
			}
		})
		for _, fd := range ready {
			if ic := p.take(fd); ic != nil {
				p.srv.revive(ic)
			}
		}
		now := time.Now()
		if len(ready) > 0 {
			p.lastWake = now
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			select {
			case <-p.done:
			default:
				p.srv.log.Error("parking idle connections: " + err.Error())
			}
			return
		}
		p.expire(now)
		p.maybeTrim(now)
	}
}

// expire closes parked connections idle for longer than their keep-alive
// timeout.
func (p *parker) expire(now time.Time) {
	var old []*idleConn
	p.mu.Lock()
	for ic := p.head; ic != nil; {
		next := ic.next
		if now.Before(ic.idleSince.Add(ic.st.cfg.KeepaliveTimeout.Duration)) {
			break
		}
		p.unlink(ic)
		old = append(old, ic)
		ic = next
	}
	p.mu.Unlock()
	for _, ic := range old {
		p.srv.closeIdleConn(ic)
	}
}

// maybeTrim returns freed memory to the system after a burst of
// connections went idle.
func (p *parker) maybeTrim(now time.Time) {
	if !p.trimDue(p.count(), now) {
		return
	}
	// Two collections: the first one only moves what sync.Pools hold (the
	// connections' buffers among them) to their victim caches; the second
	// frees it, and FreeOSMemory returns it.
	runtime.GC()
	debug.FreeOSMemory()
}

// trimDue reports whether to trim now, with n connections parked, and if so
// notes that the trim is done.
func (p *parker) trimDue(n int, now time.Time) bool {
	if n < p.trimmedWith {
		p.trimmedWith = n
	}
	if n-p.trimmedWith < trimAfter || now.Sub(p.lastWake) < trimQuiet ||
		now.Sub(time.Unix(0, p.lastPark.Load())) < trimQuiet || now.Sub(p.lastTrim) < trimEvery {
		return false
	}
	p.lastTrim, p.trimmedWith = now, n
	return true
}

// evict closes up to n parked connections, oldest first, to make room
// under max_connections. It returns how many it closed.
func (p *parker) evict(n int) int {
	var old []*idleConn
	p.mu.Lock()
	for p.head != nil && len(old) < n {
		ic := p.head
		p.unlink(ic)
		old = append(old, ic)
	}
	p.mu.Unlock()
	for _, ic := range old {
		p.srv.closeIdleConn(ic)
	}
	return len(old)
}

// count returns how many connections are parked.
func (p *parker) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.byFD)
}

// close stops the loop and closes every parked connection.
func (p *parker) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	p.epfd.SetReadDeadline(time.Now())
	p.wg.Wait()
	p.evict(1 << 30)
	p.epfd.Close()
}

// revive gives a parked connection whose client sent bytes (or closed) a
// goroutine again. Its socket starts outside Go's poller, as an accepted
// one does: what woke it is there to read.
func (s *Server) revive(ic *idleConn) {
	fc := newFastConn(ic.fd, nil)
	fc.nodelay = true // set in the connection's earlier life
	c := s.wrapConn(fc, ic.remote, ic.local)
	c.nreq, c.idleSince = ic.nreq, ic.idleSince
	s.connWG.Add(1)
	go c.serve()
}

// closeIdleConn closes a parked connection.
func (s *Server) closeIdleConn(ic *idleConn) {
	unix.Close(ic.fd)
	<-s.connSlots
}
