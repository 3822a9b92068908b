// Package serve is pwebs's HTTP/1.x engine and everything that speaks HTTP:
// the accept loop, the request parser, the response writer, path
// resolution, static files, listings and virtual hosts. It is the only
// package that knows about sockets and HTTP; the leaves (cache, cgi, ssi,
// logging) are driven from here and never see a connection.
//
// The engine is written for a hot path that does not allocate: a cached
// file is answered by looking it up, appending the response head and body to
// the connection's write buffer and writing it in one system call.
//
// On Linux, a connection starts outside Go's poller and joins it only when
// it must wait for its client (fastconn_linux.go), and an idle keep-alive
// connection gives up its goroutine and buffers and waits in an epoll set
// of its own (parker_linux.go).
package serve

import (
	"context"
	"reflect"

	"errors"
	"fmt"
	"github.com/pwebs/pwebs/cgi"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Version is pwebs's version, sent in the Server header.
const Version = "0.1.0"

// software is how pwebs names itself for server_tokens: in the Server
// field, error pages, listings and SERVER_SOFTWARE.
func software(tokens string) string {
	if tokens == "product" {
		return "pwebs"
	}
	return "pwebs/" + Version
}

// Accept-loop back-off after EMFILE/ENFILE and other temporary errors.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// Server is one running pwebs: its listeners, its connections and the
// current configuration. New builds it, Listen binds, Serve accepts until
// Shutdown.
type Server struct {
	state  atomic.Pointer[state] // the configuration new connections use
	log    *slog.Logger
	access AccessLogger // nil: no access log
	// respHeadUser is access when it tells whether it needs response heads;
	// accessSwitch is access when it tells whether it logs at all.
	respHeadUser respHeadUser
	accessSwitch accessSwitch

	mu        sync.Mutex
	listeners []net.Listener
	conns     map[*conn]struct{}
	closing   bool
	done      chan struct{} // closed by Shutdown

	// connSlots bounds open connections (max_connections).
	connSlots chan struct{}
	maxConns  int

	// acceptors take the listeners' connections (see fastconn_linux.go).
	acceptors []*acceptor

	// openFiles counts the files cache entries keep open for sendfile,
	// at most maxOpenFiles (see keepOpen).
	openFiles    atomic.Int64
	maxOpenFiles int64

	active   sync.WaitGroup // requests being served
	connWG   sync.WaitGroup // connection goroutines
	acceptWG sync.WaitGroup
	date     dateCache
	workPool sync.Pool
	parker   *parker

	// fullLogged is the unix second when "at max_clients" was last logged.
	fullLogged atomic.Int64

	stats Stats

	// cgis are every CGI handler made (a reload that changes [cgi] makes a
	// new one); Shutdown closes them all.
	cgis []*cgi.Handler
	// baseCtx is the parent of every script run's context; Shutdown
	// cancels it when its grace period runs out.
	baseCtx   context.Context
	cancelAll context.CancelFunc
}

// Stats counts what the server has done since it started; every field is
// updated atomically.
type Stats struct {
	Requests  atomic.Int64 // requests answered
	Sendfiles atomic.Int64 // responses whose body went out by sendfile
	Parked    atomic.Int64 // times a connection was parked idle
	Waited    atomic.Int64 // accepted connections that had to wait for their client in Go's poller
	Opens     atomic.Int64 // files and folders opened to answer requests
}

// Stats returns the server's counters.
func (s *Server) Stats() *Stats { return &s.stats }

// Logs are where a server writes: the error log (records carry the client
// address under logging.ClientKey) and the access log (nil for none).
type Logs struct {
	Error  *slog.Logger
	Access AccessLogger
}

// New builds a server for cfg; it binds nothing yet.
func New(cfg *Config, logs Logs) (*Server, error) {
	log := logs.Error
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		log:    log,
		access: logs.Access,
		cgis:   nil,
		conns:  make(map[*conn]struct{}),
		done:   make(chan struct{}),
	}
	s.respHeadUser, _ = logs.Access.(respHeadUser)
	s.accessSwitch, _ = logs.Access.(accessSwitch)
	h, err := cgi.New(cfg.CGI, log)
	if err != nil {
		return nil, err
	}
	s.cgis = append(s.cgis, h)
	st, err := newState(cfg, log, &s.stats, h)
	if err != nil {
		h.Close()
		return nil, err
	}
	st.slots = newSlotQueue(cfg.MaxClients)
	s.maxConns = cfg.MaxConnections
	if s.maxConns == 0 {
		s.maxConns = derivedMaxConnections()
	}
	s.connSlots = make(chan struct{}, s.maxConns)
	s.maxOpenFiles = openFileBudget()
	s.workPool.New = newWork
	s.baseCtx, s.cancelAll = context.WithCancel(context.Background())
	s.state.Store(st)
	s.date.setServer(st.software)
	p, err := newParker(s)
	if err != nil {
		log.Warn("idle connections cannot be parked: " + err.Error())
	}
	s.parker = p
	return s, nil
}

// derivedMaxConnections leaves room below the open-file limit for the
// files, pipes and logs the requests themselves need.
func derivedMaxConnections() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1024
	}
	n := int(rl.Cur)
	if rl.Cur > 1<<20 {
		n = 1 << 20
	}
	n = n - 32 - n/4
	return max(n, 16)
}

// openFileBudget is how many files cache entries may keep open: a
// sixteenth of the open-file limit, at most 1024, so that they never take
// the room derivedMaxConnections leaves for requests.
func openFileBudget() int64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return int64(min(rl.Cur/16, 1024))
}

// RaiseFileLimit raises the soft open-file limit to the hard limit (Go does
// this at start on Linux already; doing it here makes it explicit and
// reports the result).
func RaiseFileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return rl.Cur, err
		}
	}
	return rl.Cur, nil
}

// MaxConnections returns the connection bound in force.
func (s *Server) MaxConnections() int { return s.maxConns }

// Config returns the configuration new connections use.
func (s *Server) Config() *Config { return s.state.Load().cfg }

// Listen binds every address of the configuration. It is separate from
// Serve so that a server started as root can bind privileged ports and then
// drop its privileges before serving.
func (s *Server) Listen() error {
	cfg := s.state.Load().cfg
	var lns []net.Listener
	for _, addr := range cfg.Listen {
		ln, err := listen(addr, cfg.ListenBacklog)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return err
		}
		deferAccept(ln, cfg.DeferAccept, cfg.HeaderTimeout.Duration)
		lns = append(lns, ln)
	}
	s.mu.Lock()
	s.listeners = append(s.listeners, lns...)
	s.mu.Unlock()
	return nil
}

// AddListener adds a listener the caller bound itself (tests use
// 127.0.0.1:0).
func (s *Server) AddListener(ln net.Listener) {
	cfg := s.state.Load().cfg
	deferAccept(ln, cfg.DeferAccept, cfg.HeaderTimeout.Duration)
	s.mu.Lock()
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
}

// listen binds addr with the configured backlog.
func listen(addr string, backlog int) (net.Listener, error) {
	// No TCP keep-alive probes on accepted connections (keepalive_timeout
	// closes idle ones): that saves four setsockopt calls per connection.
	lc := net.ListenConfig{KeepAlive: -1}
	// Plain TCP, as other servers listen: Go listens with Multipath TCP
	// where the kernel has it, and every accept then goes through the
	// MPTCP layer, even for the clients (nearly all) that speak plain TCP.
	// In a perf profile of a connection per request, that layer took about
	// 0.4 µs of kernel time a connection, within the noise of the
	// throughput.
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("listen %s: %w (ports below 1024 need root: start pwebs as root with user set in pwebs.conf, or grant it CAP_NET_BIND_SERVICE)", addr, err)
		}
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	// Go listens with the system's somaxconn; listen(2) again on a listening
	// socket only changes its backlog.
	if tl, ok := ln.(*net.TCPListener); ok {
		if rc, err := tl.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) { syscall.Listen(int(fd), backlog) })
		}
	}
	return ln, nil
}

// Addrs returns the addresses listened on.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []net.Addr
	for _, ln := range s.listeners {
		out = append(out, ln.Addr())
	}
	return out
}

// Serve accepts connections on every listener until Shutdown. It returns
// nil after a shutdown.
func (s *Server) Serve() error {
	s.mu.Lock()
	lns := s.listeners
	s.mu.Unlock()
	if len(lns) == 0 {
		return errors.New("serve: no listener")
	}
	for _, ln := range lns {
		acc := newAcceptor(ln, &s.stats.Waited)
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			acc.close()
			break
		}
		s.acceptors = append(s.acceptors, acc)
		s.acceptWG.Add(1)
		s.mu.Unlock()
		go s.acceptLoop(acc)
	}
	<-s.done
	s.acceptWG.Wait()
	return nil
}

func (s *Server) acceptLoop(acc *acceptor) {
	defer s.acceptWG.Done()
	backoff := time.Duration(0)
	for {
		if !s.acquireConnSlot() {
			return
		}
		nc, err := acc.accept()
		if err != nil {
			<-s.connSlots
			select {
			case <-s.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE, ENFILE, ECONNABORTED and the like: wait and retry, and
			// free a descriptor held by an idle connection.
			if backoff == 0 {
				backoff = acceptBackoffMin
			} else {
				backoff = min(2*backoff, acceptBackoffMax)
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				s.closeIdle(1)
				s.logFull("accept: %v; retrying in %v", err, backoff)
			}
			select {
			case <-time.After(backoff):
			case <-s.done:
				return
			}
			continue
		}
		backoff = 0
		c := s.newConn(nc)
		if c == nil {
			<-s.connSlots
			nc.Close()
			continue
		}
		s.connWG.Add(1)
		go c.serve()
	}
}

// acquireConnSlot waits for room below max_connections, closing idle
// keep-alive connections to make it. It returns false on shutdown.
func (s *Server) acquireConnSlot() bool {
	select {
	case s.connSlots <- struct{}{}:
		return true
	default:
	}
	s.logFull("max_connections (%d) reached; closing idle connections", s.maxConns)
	for {
		s.closeIdle(max(1, s.maxConns/64))
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case s.connSlots <- struct{}{}:
			t.Stop()
			return true
		case <-s.done:
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// logFull writes a warning at most once a minute.
func (s *Server) logFull(format string, args ...any) {
	now := time.Now().Unix()
	last := s.fullLogged.Load()
	if now-last < 60 || !s.fullLogged.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn(fmt.Sprintf(format, args...))
}

// closeIdle closes up to n connections that are idle in keep-alive,
// parked ones first (oldest first).
func (s *Server) closeIdle(n int) int {
	closed := 0
	if s.parker != nil {
		closed = s.parker.evict(n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if closed >= n {
			break
		}
		if c.evictIfIdle() {
			closed++
		}
	}
	return closed
}

// Shutdown stops accepting, closes idle connections, lets requests in
// flight finish until ctx ends, then closes what is left. It also stops
// every helper the configuration started.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	close(s.done)
	for _, ln := range s.listeners {
		ln.Close()
	}
	for _, acc := range s.acceptors {
		acc.close()
	}
	s.mu.Unlock()
	s.acceptWG.Wait()
	if s.parker != nil {
		s.parker.close()
	}
	s.closeIdle(1 << 30)

	finished := make(chan struct{})
	go func() {
		s.connWG.Wait()
		close(finished)
	}()
	var err error
	select {
	case <-finished:
	case <-ctx.Done():
		err = ctx.Err()
		s.cancelAll() // scripts still running are stopped
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		<-finished
	}
	s.cancelAll()
	s.mu.Lock()
	cgis := s.cgis
	s.mu.Unlock()
	for _, h := range cgis {
		h.Close()
	}
	s.state.Load().close()
	return err
}

// Reload makes new connections use cfg; connections already open keep the
// configuration they started with. Listen addresses are not changed by a
// reload.
func (s *Server) Reload(cfg *Config) error {
	// The CGI handler is kept while [cgi] is unchanged, so that a reload
	// does not touch running scripts; a replaced one is closed at exit.
	h := s.state.Load().cgi
	if !reflect.DeepEqual(cfg.CGI, s.state.Load().cfg.CGI) {
		var err error
		if h, err = cgi.New(cfg.CGI, s.log); err != nil {
			return err
		}
		s.mu.Lock()
		s.cgis = append(s.cgis, h)
		s.mu.Unlock()
	}
	st, err := newState(cfg, s.log, &s.stats, h)
	if err != nil {
		return err
	}
	st.slots = s.state.Load().slots
	if cfg.MaxClients != st.slots.max {
		// Requests in flight give their slots back to the old queue.
		st.slots = newSlotQueue(cfg.MaxClients)
	}
	old := s.state.Swap(st)
	s.date.setServer(st.software)
	// Requests in flight may still use the old state's roots for a while.
	time.AfterFunc(cfg.ShutdownTimeout.Duration+time.Minute, old.close)
	return nil
}

// shuttingDown reports whether Shutdown has begun.
func (s *Server) shuttingDown() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *Server) track(c *conn, add bool) {
	s.mu.Lock()
	if add {
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
	s.mu.Unlock()
}

// dateLag is how many seconds before the Date shown a request may have
// arrived and still be answered with it.
const dateLag = 2

// dateCache keeps the Date header line for the current second, with the
// Server line after it.
type dateCache struct {
	sec    atomic.Int64
	line   atomic.Pointer[[]byte]
	mu     sync.Mutex
	server string // "Server: ...\r\n"; set before serving, and by setServer
}

// setServer changes the Server line the next responses show.
func (d *dateCache) setServer(software string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.server = "Server: " + software + "\r\n"
	d.line.Store(nil)
}

// get returns "Date: ...\r\n" + the Server line for now.
func (d *dateCache) get(now time.Time) []byte {
	sec := now.Unix()
	if cur := d.sec.Load(); sec <= cur && sec >= cur-dateLag {
		// A request that arrived a little before the second shown: the
		// Date stays between its arrival and its answer.
		if p := d.line.Load(); p != nil {
			return *p
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// An older time is a slow request, or the system clock set back: the
	// line follows it.
	if cur := d.sec.Load(); sec > cur || sec < cur-dateLag || d.line.Load() == nil {
		b := make([]byte, 0, 64)
		b = append(b, "Date: "...)
		b = now.UTC().AppendFormat(b, httpTimeFormat)
		b = append(b, "\r\n"...)
		b = append(b, d.server...)
		d.line.Store(&b)
		d.sec.Store(sec)
	}
	return *d.line.Load()
}

// httpTimeFormat is the IMF-fixdate form of RFC 9110.
const httpTimeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"
