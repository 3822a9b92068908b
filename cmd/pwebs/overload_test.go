package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestOverload starts pwebs with 256 descriptors and max_clients = 100 and
// lets 2,000 clients connect at once: pwebs must not exit or spin, every
// connection it takes must get a complete response, the others must be
// refused or queued (never left hanging past header_timeout), and a
// request right after the load must be answered at once.
func TestOverload(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		if os.Getenv("PWEBS_REQUIRE_ALL") == "1" {
			t.Fatal("prlimit (util-linux) is required (PWEBS_REQUIRE_ALL=1) but missing")
		}
		t.Skip("prlimit (util-linux) is not installed")
	}
	const clients = 2000
	dir := t.TempDir()
	body := strings.Repeat("x", 1024)
	os.WriteFile(filepath.Join(dir, "1k.txt"), []byte(body), 0o644)
	addr := freePort(t)
	conf := filepath.Join(dir, "pwebs.conf")
	os.WriteFile(conf, []byte(serveAs(t, dir)+fmt.Sprintf("listen = [%q]\ndocument_root = \".\"\nmax_clients = 100\nheader_timeout = \"10s\"\n[log]\naccess = \"\"\nerror = \"-\"\n", addr)), 0o644)
	stderr := &syncBuffer{}
	cmd := exec.Command(prlimit, "--nofile=256:256", "--", binary, "-c", conf)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	waitListening(t, addr)

	var mu sync.Mutex
	var ok, refused, broken int
	var slowest time.Duration
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t0 := time.Now()
			nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				mu.Lock()
				refused++
				mu.Unlock()
				return
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(15 * time.Second))
			fmt.Fprintf(nc, "GET /1k.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
			var b []byte
			if err == nil {
				b, err = io.ReadAll(resp.Body)
			}
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && resp.StatusCode == 200 && string(b) == body:
				ok++
			case err == nil && resp.StatusCode == 503:
				refused++ // an honest "try later"
			case err != nil && isReset(err):
				refused++
			default:
				broken++
				if broken < 5 {
					t.Errorf("a client got an incomplete answer: %v (%d bytes)", err, len(b))
				}
			}
			if d > slowest {
				slowest = d
			}
		}()
	}
	close(start)
	wg.Wait()
	select {
	case err := <-exited:
		t.Fatalf("pwebs exited under load: %v\n%s", err, stderr.String())
	default:
	}
	t.Logf("%d complete responses, %d refused, %d broken; slowest client %v", ok, refused, broken, slowest)
	if broken > 0 {
		t.Errorf("%d clients got an incomplete answer", broken)
	}
	if slowest > 12*time.Second {
		t.Errorf("a client waited %v, more than header_timeout", slowest)
	}
	if ok < clients/2 {
		t.Errorf("only %d of %d clients were served", ok, clients)
	}
	t0 := time.Now()
	if code, b := fetch(t, "http://"+addr+"/1k.txt"); code != 200 || b != body {
		t.Errorf("after the load: %d", code)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("the first request after the load took %v", d)
	}
}

// isReset reports a connection the kernel refused (the listen backlog was
// full); a connection closed without an answer (EOF) is not one.
func isReset(err error) bool {
	s := err.Error()
	return strings.Contains(s, "connection reset") || strings.Contains(s, "broken pipe")
}
