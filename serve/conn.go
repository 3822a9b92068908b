package serve

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/pwebs/pwebs/cgi"
	"github.com/pwebs/pwebs/logging"
	"golang.org/x/sys/unix"
)

// Buffer sizes of a connection.
const (
	// initialReadBuf is a connection's first read buffer; it grows, up to
	// max_header_bytes, only for a request head that does not fit.
	initialReadBuf = 4 << 10
	// initialWriteBuf is a connection's first write buffer; a small
	// response is appended to it whole and sent in one write.
	initialWriteBuf = 4 << 10
	// writeBufSize is how much pending output (pipelined responses) is
	// kept before it is written.
	writeBufSize = 16 << 10
	// initialHeaders is the room for header fields a request usually
	// needs; more grow it, up to maxHeaders.
	initialHeaders = 24
	// inlineBody is the largest body copied into the write buffer; larger
	// bodies in memory go out by writev next to the head, without a copy.
	inlineBody = 16 << 10
	// maxDiscard is how much of an unread request body is read and thrown
	// away to keep a connection alive; past it the connection is closed.
	maxDiscard = 256 << 10
	// deadlineSlack is how far a deadline may lag before it is moved:
	// setting one costs a timer update, so it is skipped when the one in
	// force is close enough.
	deadlineSlack = 500 * time.Millisecond
)

// Connection states, for closing idle keep-alive connections from the
// accept loop.
const (
	stActive int32 = iota
	stIdle
	stEvicted
	stParked
)

// work is what a connection needs only while it serves: its buffers and
// the parsed request. A connection parked idle gives its work back to a
// pool, so an idle keep-alive connection costs little more than its socket.
type work struct {
	rbuf        []byte
	rpos, rend  int
	wbuf        []byte
	req         Request
	pathBuf     []byte // the decoded, cleaned path of the current request
	keyBuf      []byte // cache keys
	resp        response
	respHead    respHead // a copy of the response head, for the access log
	headStart   int      // where the current response head starts in wbuf
	rec         logging.Record
	bodyReader  body
	cgiw        cgiWriter
	ssiw        ssiWriter
	ssiRun      ssiRun
	ssiBuf      []byte // an SSI page's output, kept between requests
	fi          fdInfo // the stat of the file the request opened, when openFast read it
	bg          bgRead
	cgiStatus   int // the status line of an nph- script's response
	bufs        [2][]byte
	nb          net.Buffers
	limitReader io.LimitedReader

	// The raw I/O of the connection, and readServe's callback, which
	// calls serveRaw on owner. Their callbacks are bound once, when the
	// work is made, so that a new connection allocates none.
	raw     rawIO
	owner   *conn
	serveFn func(fd uintptr) bool
}

func newWork() any {
	w := &work{
		rbuf:    make([]byte, initialReadBuf),
		wbuf:    make([]byte, 0, initialWriteBuf),
		pathBuf: make([]byte, 0, 256),
		keyBuf:  make([]byte, 0, 256),
	}
	w.req.headers = make([]header, 0, initialHeaders)
	w.raw.bind()
	w.serveFn = func(fd uintptr) bool { return w.owner.serveRaw(fd) }
	return w
}

// conn is one client connection. While it serves it holds a *work; after
// the first request, serving a cached file allocates nothing.
type conn struct {
	*work
	srv    *Server
	st     *state
	nc     net.Conn
	remote string // "ip:port"
	local  string

	state      atomic.Int32
	rdl, wdl   time.Time // read and write deadlines in force
	closeAfter bool      // close once the current response is out
	linger     bool      // the client may still be sending: close gently
	broken     bool      // a write failed: the client is gone
	nreq       int
	firstByte  time.Time     // when the current request's first byte arrived
	idleSince  time.Time     // when the connection last became idle
	queued     time.Duration // how long the current request waited for a slot
	slot       *slotQueue    // the max_clients queue the current request's slot came from
	site       *site         // the site answering the current request
	redirects  int           // internal redirects of the current request
	// errDoc is set while an error page is served; redirectVars and
	// redirectStatus are the REDIRECT_* variables scripts and SSI pages
	// see after an internal redirect; origPath is the request's own clean
	// path once a redirect or a fallback replaced it; fellBack is set once
	// a fallback was taken.
	errDoc         errDoc
	redirectVars   []cgi.Field
	redirectStatus int
	origPath       []byte
	fellBack       bool
	authUser       string // the user the request authenticated as (auth), "" for none

	// The request head being read (see readRequest).
	scan int // where headEnd goes on
	// headBytes is the length of the current request's head (%I).
	headBytes int
	waiting   bool // no byte of the next request yet
	parkable  bool // the read's deadline is the park delay

	rawSt int // readServe's answer, set by serveRaw
}

// newConn wraps an accepted connection.
func (s *Server) newConn(nc net.Conn) *conn {
	return s.wrapConn(nc, "", "")
}

// remoteAddr is the client's "ip:port", made once when first needed (a
// request that logs nothing never needs it).
func (c *conn) remoteAddr() string {
	if c.remote == "" {
		c.remote = addrString(c.nc.RemoteAddr())
	}
	return c.remote
}

// localAddr is the server's "ip:port" of the connection, made once.
func (c *conn) localAddr() string {
	if c.local == "" {
		c.local = addrString(c.nc.LocalAddr())
	}
	return c.local
}

// wrapConn makes the conn of a socket. remote and local are its
// addresses when they are known (a parked connection woken up: its peer
// may already have gone, and with it the address the kernel would tell);
// "" means they are made from nc when first needed.
func (s *Server) wrapConn(nc net.Conn, remote, local string) *conn {
	c := &conn{
		srv:    s,
		st:     s.state.Load(),
		nc:     nc,
		remote: remote,
		local:  local,
	}
	c.work = s.workPool.Get().(*work)
	c.owner = c
	c.raw.init(nc)
	s.track(c, true)
	return c
}

// addrString is a.String(), or "" for no address.
func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// serve reads and answers requests until the connection ends or is
// parked idle.
func (c *conn) serve() {
	parked := false
	defer func() {
		if !parked {
			c.finish()
		}
	}()
	for {
		st := c.readRequest()
		if st == stPark {
			if parked = c.park(); parked {
				return
			}
			st = -1
		}
		if st < 0 {
			return
		}
		if st > 0 {
			c.answerMalformed(st)
			return
		}
		if !c.answer() {
			return
		}
	}
}

// answer serves the request in c.req. Its response goes out at once when
// the connection ends after it, or when pipelined responses have filled
// writeBufSize; otherwise it waits for the answers to the pipelined
// requests already buffered, so that several share one write, and goes
// out at the latest before the next wait for the client (prepareRead). It
// reports false when the connection is done.
func (c *conn) answer() bool {
	c.serveRequest()
	if c.closeAfter || c.broken {
		c.flushLast()
		return false
	}
	if len(c.wbuf) >= writeBufSize {
		return c.flush()
	}
	return true
}

// stPark is readRequest's answer for a connection that stayed idle past
// parkDelay.
const stPark = -2

// park hands the idle connection to the parker: its socket lives on in
// the parker's epoll set, and this goroutine, its buffers and its net.Conn
// go. It reports false if the connection could not be parked.
func (c *conn) park() bool {
	p := c.srv.parker
	if p == nil {
		return false
	}
	if !c.state.CompareAndSwap(stIdle, stParked) && !c.state.CompareAndSwap(stActive, stParked) {
		return false // evicted meanwhile
	}
	if !p.park(c) {
		c.state.Store(stActive)
		return false
	}
	c.srv.track(c, false)
	c.srv.putWork(c.work)
	c.work = nil
	c.srv.stats.Parked.Add(1)
	c.srv.connWG.Done() // the connection lives on without a goroutine
	return true
}

// Lingering close: after answering a request whose body was not read (a
// 413, a malformed request), the connection is closed for writing and what
// the client still sends is read and dropped for a while, so that closing
// with unread data does not reset the connection and lose the answer at
// the client's end (as Apache's and nginx's lingering close do).
const (
	lingerTime    = 10 * time.Second // in all
	lingerTimeout = 2 * time.Second  // between two reads
)

// finish closes the connection and returns its buffers.
func (c *conn) finish() {
	if p := recover(); p != nil {
		c.srv.log.Error("panic serving connection", "client", c.remoteAddr(), "panic", p, "stack", string(debug.Stack()))
	}
	if c.linger && !c.broken {
		c.lingeringClose()
	}
	c.nc.Close()
	c.srv.track(c, false)
	if c.work != nil {
		c.srv.putWork(c.work)
		c.work = nil
	}
	<-c.srv.connSlots
	c.srv.connWG.Done()
}

// lingeringClose half-closes the connection and drains what the client
// still sends until it closes too, stops for lingerTimeout, or lingerTime
// has passed. No slot is held meanwhile.
func (c *conn) lingeringClose() {
	tc, ok := c.nc.(interface {
		net.Conn
		CloseWrite() error
	})
	if !ok || c.work == nil {
		return
	}
	if tc.CloseWrite() != nil {
		return
	}
	end := time.Now().Add(lingerTime)
	buf := c.rbuf[:cap(c.rbuf)]
	for {
		now := time.Now()
		if !now.Before(end) {
			return
		}
		next := now.Add(lingerTimeout)
		if next.After(end) {
			next = end
		}
		tc.SetReadDeadline(next)
		if _, err := tc.Read(buf); err != nil {
			return
		}
	}
}

// putWork returns a connection's work to the pool, trimmed to its usual
// size.
func (s *Server) putWork(w *work) {
	if cap(w.rbuf) > initialReadBuf {
		w.rbuf = make([]byte, initialReadBuf)
	}
	w.rbuf = w.rbuf[:cap(w.rbuf)]
	w.rpos, w.rend = 0, 0
	if cap(w.wbuf) > 4*writeBufSize {
		w.wbuf = make([]byte, 0, writeBufSize)
	}
	w.wbuf = w.wbuf[:0]
	w.req.reset()
	w.bufs = [2][]byte{}
	w.nb = nil
	w.limitReader = io.LimitedReader{}
	w.bodyReader = body{}
	w.cgiw = cgiWriter{}
	w.ssiw = ssiWriter{}
	w.ssiRun = ssiRun{}
	w.fi = fdInfo{}
	if cap(w.ssiBuf) > 64<<10 {
		w.ssiBuf = nil
	}
	w.cgiStatus = 0
	w.rec = logging.Record{}
	w.respHead = w.respHead[:0]
	w.raw.reset()
	w.owner = nil
	s.workPool.Put(w)
}

// evictIfIdle closes the connection if it is idle between requests. The
// accept loop calls it to make room.
func (c *conn) evictIfIdle() bool {
	if !c.state.CompareAndSwap(stIdle, stEvicted) {
		return false
	}
	c.nc.SetReadDeadline(aLongTimeAgo)
	return true
}

var aLongTimeAgo = time.Unix(1, 0)

// setReadDeadline moves the read deadline to t unless the one in force is
// within deadlineSlack of it.
func (c *conn) setReadDeadline(t time.Time) {
	if d := t.Sub(c.rdl); d > deadlineSlack || d < -deadlineSlack {
		c.nc.SetReadDeadline(t)
		c.rdl = t
	}
}

// clockBase anchors monoNow.
var clockBase = time.Now()

// monoNow is the time for deadlines and timeouts: it reads the monotonic
// clock alone, one clock read where time.Now makes two (a wall and a
// monotonic one), and a request makes several. Its wall part is clockBase's
// plus the time elapsed, so it does not follow steps of the system clock:
// it must never be shown (a Date, a log line). Deadlines compare monotonic
// readings and are right whatever the system clock does.
func monoNow() time.Time { return clockBase.Add(time.Since(clockBase)) }

// setWriteDeadline moves the write deadline to now+send_timeout when the
// one in force has drifted: a client that accepts no bytes for send_timeout
// is dropped.
func (c *conn) setWriteDeadline(now time.Time) {
	t := now.Add(c.st.cfg.SendTimeout.Duration)
	if d := t.Sub(c.wdl); d > deadlineSlack || d < -deadlineSlack {
		c.nc.SetWriteDeadline(t)
		c.wdl = t
	}
}

// readRequest reads and parses the next request head. It returns 0 when
// c.req holds a request, a status for a request that must be refused, or
// -1 when the connection should close quietly (the client left, or was
// idle too long, or was evicted). On a raw connection the reads happen in
// readServe, which also answers the requests that need no more reading.
func (c *conn) readRequest() int {
	c.beginHead()
	for {
		if st, done := c.parseHead(); done {
			return st
		}
		if st, done := c.prepareRead(); done {
			return st
		}
		if c.raw.ready {
			return c.readServe()
		}
		n, err := c.read(c.rbuf[c.rend:])
		if st, done := c.afterRead(n, err); done {
			return st
		}
	}
}

// beginHead starts reading a request head. A reloaded configuration
// applies from the next request on.
func (c *conn) beginHead() {
	c.st = c.srv.state.Load()
	c.scan = 0
	c.waiting = true
}

// parseHead parses the request head in the read buffer. It reports done
// with 0 when c.req holds a request, done with a status for a request that
// must be refused, and not done when more bytes are needed.
func (c *conn) parseHead() (int, bool) {
	maxHead := int(c.st.cfg.MaxHeaderBytes)
	data := c.rbuf[c.rpos:c.rend]
	// Empty lines before a request line are ignored (RFC 9112 2.2).
	for c.scan == 0 && len(data) >= 2 && data[0] == '\r' && data[1] == '\n' {
		c.rpos += 2
		data = data[2:]
	}
	if len(data) == 0 {
		return 0, false
	}
	if c.waiting {
		c.waiting = false
		if c.firstByte.IsZero() {
			c.firstByte = time.Now()
		}
	}
	end, next, st := headEnd(data, c.scan)
	if st != 0 {
		return st, true
	}
	if end > 0 {
		n, st := parseHead(data[:end], &c.req)
		if n > maxHead {
			return c.tooLarge(data[:n]), true
		}
		c.nreq++
		c.headBytes = n
		if st == 0 {
			c.rpos += n
		} // else the head stays, for answerMalformed to log its first line
		return st, true
	}
	c.scan = next
	if len(data) >= maxHead {
		return c.tooLarge(data), true
	}
	return 0, false
}

// prepareRead gets ready to read more of a request head: it sends the
// responses still buffered (the client may wait for them before it sends
// more), makes room in the read buffer and sets the deadline and the
// connection's state. It reports done, with -1, when the connection must
// close instead.
func (c *conn) prepareRead() (int, bool) {
	if len(c.wbuf) > 0 && !c.flush() {
		return -1, true
	}
	if c.rend == len(c.rbuf) {
		if c.rpos > 0 {
			n := copy(c.rbuf, c.rbuf[c.rpos:c.rend])
			c.rpos, c.rend = 0, n
		} else {
			nb := make([]byte, min(2*len(c.rbuf), int(c.st.cfg.MaxHeaderBytes)+initialReadBuf))
			copy(nb, c.rbuf[:c.rend])
			c.rbuf = nb
		}
	} else if c.rpos == c.rend {
		c.rpos, c.rend = 0, 0
	}
	cfg := c.st.cfg
	c.parkable = false
	if !c.waiting {
		c.setReadDeadline(c.firstByte.Add(cfg.HeaderTimeout.Duration))
		return 0, false
	}
	now := monoNow()
	c.firstByte = time.Time{}
	if c.nreq == 0 {
		c.setReadDeadline(now.Add(cfg.HeaderTimeout.Duration))
		return 0, false
	}
	if c.srv.shuttingDown() {
		return -1, true
	}
	if c.idleSince.IsZero() {
		c.idleSince = now
	}
	end := c.idleSince.Add(cfg.KeepaliveTimeout.Duration)
	if c.srv.parker != nil && now.Add(parkDelay).Before(end) {
		// Wait a little with the goroutine; then park. The deadline moves
		// only when the one in force is off by half of parkDelay, so a
		// busy connection does not pay a timer update per request (it may
		// park a little early, which costs nothing).
		end = now.Add(parkDelay)
		c.parkable = true
		if d := end.Sub(c.rdl); d > parkDelay/2 || d < -parkDelay/2 {
			c.nc.SetReadDeadline(end)
			c.rdl = end
		}
	} else {
		c.setReadDeadline(end)
	}
	c.state.Store(stIdle)
	return 0, false
}

// afterRead takes in what a read of the request head gave. It reports
// done with what readRequest returns when the head cannot go on.
func (c *conn) afterRead(n int, err error) (int, bool) {
	if n > 0 {
		c.idleSince = time.Time{}
	}
	if c.waiting && c.nreq > 0 && !c.state.CompareAndSwap(stIdle, stActive) {
		return -1, true // evicted to make room
	}
	if c.waiting && c.nreq == 0 {
		c.state.Store(stActive)
	}
	c.rend += n
	if err == nil || n > 0 {
		return 0, false
	}
	var ne net.Error
	timeout := errors.As(err, &ne) && ne.Timeout()
	if c.waiting && c.parkable && timeout {
		return stPark, true
	}
	if c.waiting || c.rpos == c.rend {
		return -1, true
	}
	if timeout {
		return 408, true
	}
	if err == io.EOF {
		// The client ended its side in the middle of a head: it is
		// answered 400 (the client may still read) and logged, as Apache
		// does.
		return 400, true
	}
	return -1, true
}

// readServe reads request heads inside one RawConn.Read, and answers there
// every request that needs no more reading (one without a body): between
// such requests the connection is never handed back to the poller, so
// that, after a read that left the socket empty, it waits for the client's
// next bytes instead of trying a read that can only fail with EAGAIN (as
// nginx does; lighttpd 1.4 makes that read). It returns like readRequest:
// 0 leaves a request with a body in c.req, to be answered outside, where
// its body can be read. Requests it answered itself are not seen by the
// caller; -1 then means the connection is done.
func (c *conn) readServe() int {
	r := &c.raw
	r.inRead = true
	c.rawSt = 0
	err := r.rc.Read(c.serveFn)
	r.inRead = false
	if err != nil {
		// The wait for more bytes ended: a deadline, or the socket closed.
		st, _ := c.afterRead(0, err)
		return st
	}
	return c.rawSt
}

// serveRaw is readServe's callback. It is called with the read buffer
// ready for a read (prepareRead done), and returns false to wait until
// the socket is readable, true when it is done (c.rawSt says how).
func (c *conn) serveRaw(fd uintptr) bool {
	for {
		p := c.rbuf[c.rend:]
		n, e := rawRead(fd, p)
		if e == unix.EAGAIN {
			return false
		}
		var err error
		if e != 0 {
			err = e
		} else if n == 0 {
			err = io.EOF
		}
		if st, done := c.afterRead(n, err); done {
			c.rawSt = st
			return true
		}
		for {
			st, done := c.parseHead()
			if !done {
				break
			}
			if st != 0 || c.req.chunked || c.req.contentLength > 0 {
				c.rawSt = st
				return true
			}
			if !c.answer() {
				c.rawSt = -1
				return true
			}
			c.beginHead()
		}
		if st, done := c.prepareRead(); done {
			c.rawSt = st
			return true
		}
		if n < len(p) && c.waiting {
			// A short read emptied the socket: bytes that come later make
			// it readable again, and the poller wakes this callback. In
			// the middle of a head, one more read is tried first: the
			// client's end of the stream may have come with its last
			// bytes, and would wake no one.
			return false
		}
	}
}

// tooLarge picks 414 when the request line alone is over the limit, 431
// otherwise.
func (c *conn) tooLarge(head []byte) int {
	line := head
	for i, b := range head {
		if b == '\n' {
			line = head[:i]
			break
		}
	}
	if len(line) > maxRequestLine || len(line) >= int(c.st.cfg.MaxHeaderBytes) {
		return 414
	}
	return 431
}

// flush writes the pending output. It returns false when the client is gone.
func (c *conn) flush() bool {
	if len(c.wbuf) == 0 {
		return !c.broken
	}
	if c.broken {
		c.wbuf = c.wbuf[:0]
		return false
	}
	c.setWriteDeadline(monoNow())
	_, err := c.write(c.wbuf, nil)
	c.wbuf = c.wbuf[:0]
	if err != nil {
		c.broken = true
		return false
	}
	return true
}

// flushLast sends what is buffered as the connection's last bytes: the
// socket is closed (or shut for writing, see lingeringClose) right after,
// so the bytes are sent with MSG_MORE and the close adds the FIN to the
// same segment, as nginx's tcp_nopush does; the client wakes once for the
// answer and its end. Under ab -c50 on loopback this took a connection
// per request from 10 segments to 9 and from 6.4 softirqs to 5.4.
func (c *conn) flushLast() {
	c.raw.more = true
	c.flush()
	c.raw.more = false
}

// writeBody writes the pending output and then body, in one writev.
func (c *conn) writeBody(body []byte) bool {
	if c.broken {
		c.wbuf = c.wbuf[:0]
		return false
	}
	c.setWriteDeadline(monoNow())
	_, err := c.write(c.wbuf, body)
	c.wbuf = c.wbuf[:0]
	if err != nil {
		c.broken = true
		return false
	}
	return true
}

// sendFile writes the pending output and then n bytes of f from off, by
// sendfile(2) where the connection allows it, moving the write deadline as
// the client accepts bytes. It reports how many body bytes went out.
//
// It goes through io.Copy rather than the raw sendfile of cached hits:
// on a 10 MiB file the raw one sent 1.22 times the bytes a second but cost
// 1.13 times the CPU per response (alternating runs, wrk -c10), and the
// bench counts CPU for big files.
func (c *conn) sendFile(f *os.File, off, n int64) (int64, error) {
	if !c.flush() {
		return 0, errClientGone
	}
	c.srv.stats.Sendfiles.Add(1)
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	var sent int64
	for sent < n {
		chunk := min(n-sent, 1<<20)
		c.setWriteDeadline(monoNow())
		c.limitReader.R, c.limitReader.N = f, chunk
		w, err := io.Copy(c.nc, &c.limitReader)
		sent += w
		if err != nil {
			c.broken = true
			return sent, errClientGone
		}
		if w < chunk {
			// The file shrank under us: the promised length cannot be
			// kept, so the connection must end.
			c.broken = true
			return sent, errTruncated
		}
	}
	c.limitReader.R = nil
	return sent, nil
}

var (
	errClientGone = errors.New("serve: client closed the connection")
	errTruncated  = errors.New("serve: file shrank while it was sent")
)
