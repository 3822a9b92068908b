//go:build !linux

package serve

import (
	"net"
	"sync/atomic"
	"time"
)

// deferAccept is Linux's alone.
func deferAccept(net.Listener, bool, time.Duration) {}

// acceptor accepts the connections of a listener; outside Linux it is
// ln.Accept.
type acceptor struct{ ln net.Listener }

func newAcceptor(ln net.Listener, _ *atomic.Int64) *acceptor { return &acceptor{ln: ln} }

func (a *acceptor) accept() (net.Conn, error) { return a.ln.Accept() }

func (a *acceptor) close() {}
