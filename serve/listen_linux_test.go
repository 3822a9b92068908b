package serve

import (
	"context"
	"net"
	"syscall"
	"testing"
)

// listenProtocol returns the protocol of a TCP listener's socket:
// IPPROTO_TCP, or IPPROTO_MPTCP (262) for Multipath TCP.
func listenProtocol(t *testing.T, ln net.Listener) int {
	t.Helper()
	rc, err := ln.(*net.TCPListener).SyscallConn()
	must(t, err)
	proto, serr := -1, error(nil)
	must(t, rc.Control(func(fd uintptr) {
		proto, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_PROTOCOL)
	}))
	must(t, serr)
	return proto
}

func TestListenPlainTCP(t *testing.T) {
	ln, err := listen("127.0.0.1:0", 16)
	must(t, err)
	defer ln.Close()
	if p := listenProtocol(t, ln); p != syscall.IPPROTO_TCP {
		t.Errorf("the listener's protocol is %d, want plain TCP (%d)", p, syscall.IPPROTO_TCP)
	}
	// What Go does by default, to tell whether this kernel could have
	// made the check fail.
	def, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	must(t, err)
	defer def.Close()
	if p := listenProtocol(t, def); p == syscall.IPPROTO_TCP {
		t.Log("this kernel has no Multipath TCP: Go's default listener is plain TCP too")
	}
}
