package serve

import (
	"errors"
	"os"
	"sync"
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

// parker holds idle keep-alive connections with no goroutine and no
// buffer: each is a file descriptor in an epoll set (as Apache's event MPM
// parks them in its listener), and becomes a goroutine again when its
// client sends the next request. The epoll descriptor itself waits in Go's
// own poller, so no thread blocks on it.
type parker struct {
	srv  *Server
	epfd *os.File
	fd   int

	mu     sync.Mutex
	byFD   map[int32]*conn
	head   *conn // parked connections, oldest first
	tail   *conn
	closed bool

	done chan struct{}
	wg   sync.WaitGroup
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
		byFD: make(map[int32]*conn),
		done: make(chan struct{}),
	}
	p.wg.Add(1)
	go p.loop()
	return p, nil
}

// park takes an idle connection whose goroutine is about to end. It
// reports false if the connection cannot be parked (it must then be
// closed).
func (p *parker) park(c *conn) bool {
	if c.fd < 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(c.fd)}
	op := unix.EPOLL_CTL_MOD
	if !c.inEpoll {
		op = unix.EPOLL_CTL_ADD
	}
	if err := unix.EpollCtl(p.fd, op, c.fd, &ev); err != nil {
		return false
	}
	c.inEpoll = true
	p.byFD[int32(c.fd)] = c
	c.prev, c.next = p.tail, nil
	if p.tail != nil {
		p.tail.next = c
	} else {
		p.head = c
	}
	p.tail = c
	return true
}

// unlink removes c from the list; p.mu is held.
func (p *parker) unlink(c *conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		p.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		p.tail = c.prev
	}
	c.prev, c.next = nil, nil
	delete(p.byFD, int32(c.fd))
}

// take removes and returns the connection parked on fd, if any.
func (p *parker) take(fd int32) *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.byFD[fd]
	if c != nil {
		p.unlink(c)
	}
	return c
}

// loop wakes parked connections whose clients sent something, and closes
// those idle past keepalive_timeout.
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
			if c := p.take(fd); c != nil {
				c.resume()
			}
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			select {
			case <-p.done:
			default:
				p.srv.log.Error("parking idle connections: " + err.Error())
			}
			return
		}
		p.expire(time.Now())
	}
}

// expire closes parked connections idle for longer than their keep-alive
// timeout.
func (p *parker) expire(now time.Time) {
	var old []*conn
	p.mu.Lock()
	for c := p.head; c != nil; {
		next := c.next
		if now.Before(c.idleSince.Add(c.st.cfg.KeepaliveTimeout.Duration)) {
			break
		}
		p.unlink(c)
		old = append(old, c)
		c = next
	}
	p.mu.Unlock()
	for _, c := range old {
		c.closeParked()
	}
}

// evict closes up to n parked connections, oldest first, to make room
// under max_connections. It returns how many it closed.
func (p *parker) evict(n int) int {
	var old []*conn
	p.mu.Lock()
	for p.head != nil && len(old) < n {
		c := p.head
		p.unlink(c)
		old = append(old, c)
	}
	p.mu.Unlock()
	for _, c := range old {
		c.closeParked()
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
