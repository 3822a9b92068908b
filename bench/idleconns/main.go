// Command idleconns holds idle keep-alive connections open against a web
// server, so that the server's memory per idle connection can be measured.
//
// Usage:
//
//	idleconns [-n 10000] [-path /1k.html] [-dialers 64] [-hold 10m] HOST:PORT
//
// It opens n connections to HOST:PORT (at most -dialers at a time), sends
// one HTTP/1.1 keep-alive request for -path on each and reads the whole
// response, then keeps every connection open and idle. When all are open it
// prints one line to stdout,
//
//	ready open=9998 failed=2
//
// and waits. On SIGTERM or SIGINT (or after -hold) it checks which
// connections the server has closed meanwhile, prints
//
//	held open=9990 closed=8
//
// and exits. bench/run.sh reads the server's VmRSS before it starts this
// program and again after "ready", and divides the growth by the connections
// still open. The process needs an open-file limit above n (the Go runtime
// raises its soft limit to the hard limit by itself). It talks only to the
// address it is given, which bench/run.sh keeps on 127.0.0.1.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 10000, "connections to open")
	path := flag.String("path", "/1k.html", "path requested once on each connection")
	dialers := flag.Int("dialers", 64, "connections being opened at once")
	hold := flag.Duration("hold", 10*time.Minute, "longest time to hold the connections")
	timeout := flag.Duration("timeout", 10*time.Second, "time allowed to open one connection and read its response")
	flag.Parse()
	if flag.NArg() != 1 || *n < 1 || *dialers < 1 {
		fmt.Fprintln(os.Stderr, "usage: idleconns [-n N] [-path PATH] [-dialers D] [-hold DUR] HOST:PORT")
		os.Exit(2)
	}
	addr := flag.Arg(0)
	request := []byte("GET " + *path + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: pwebs-bench-idleconns\r\n\r\n")

	conns := make([]net.Conn, *n)
	var (
		mu       sync.Mutex
		failed   int
		firstErr error
	)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(*dialers, *n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := open(addr, request, *timeout)
				if err != nil {
					mu.Lock()
					failed++
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				conns[i] = c
			}
		}()
	}
	for i := range *n {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		fmt.Fprintf(os.Stderr, "idleconns: %d connections failed; the first: %v\n", failed, firstErr)
	}
	fmt.Printf("ready open=%d failed=%d\n", *n-failed, failed)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sigs:
	case <-time.After(*hold):
	}

	open, closed := 0, 0
	for _, c := range conns {
		if c == nil {
			continue
		}
		if alive(c) {
			open++
		} else {
			closed++
		}
		c.Close()
	}
	fmt.Printf("held open=%d closed=%d\n", open, closed)
}

// open dials addr, sends request and reads one complete response, which
// must not ask to close the connection.
func open(addr string, request []byte, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(request); err != nil {
		c.Close()
		return nil, fmt.Errorf("write: %w", err)
	}
	br := bufio.NewReaderSize(c, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("read response: %w", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("read body: %w", err)
	}
	if resp.Close {
		c.Close()
		return nil, errors.New("the server closes the connection after the response")
	}
	if br.Buffered() > 0 {
		c.Close()
		return nil, errors.New("bytes after the response")
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// alive reports whether the server still keeps c open: a short read that
// times out means open; EOF, a reset or data mean it was closed (or is
// unusable).
func alive(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(time.Millisecond))
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
