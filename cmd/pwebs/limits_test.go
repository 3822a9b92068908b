package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cpuTicks returns a process's user+system time in clock ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// TestOutOfDescriptors starts pwebs with 64 descriptors and lets more
// clients connect than it can accept: it must neither exit nor spin, and
// must serve normally once they leave.
func TestOutOfDescriptors(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		if os.Getenv("PWEBS_REQUIRE_ALL") == "1" {
			t.Fatal("prlimit (util-linux) is required (PWEBS_REQUIRE_ALL=1) but missing")
		}
		t.Skip("prlimit (util-linux) is not installed")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ok.txt"), []byte("ok"), 0o644)
	addr := freePort(t)
	conf := filepath.Join(dir, "pwebs.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(serveAs(t, dir)+"listen = [%q]\ndocument_root = \".\"\nmax_connections = 1000\nkeepalive_timeout = \"60s\"\nheader_timeout = \"60s\"\n[log]\naccess = \"\"\nerror = \"-\"\n", addr)), 0o644)
	var stderr syncBuffer
	cmd := exec.Command(prlimit, "--nofile=64:64", "--", binary, "-c", conf)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	waitListening(t, addr)

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 150; i++ {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			break // the backlog is full: fine
		}
		conns = append(conns, c)
	}
	// Let the accept loop hit EMFILE and settle into its back-off.
	time.Sleep(500 * time.Millisecond)
	before := cpuTicks(t, cmd.Process.Pid)
	time.Sleep(2 * time.Second)
	used := cpuTicks(t, cmd.Process.Pid) - before
	// 2 s is 200 ticks; a spinning accept loop burns nearly all of them.
	if used > 60 {
		t.Errorf("pwebs used %d ticks of CPU in 2 s while out of descriptors: it spins", used)
	}
	if cmd.ProcessState != nil {
		t.Fatalf("pwebs exited: %s", stderr.String())
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	// As soon as the load stops a normal request is answered.
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := tryFetch("http://" + addr + "/ok.txt")
		if code == 200 && body == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving after the load stopped: %d %q\n%s", code, body, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), "too many open files") {
		t.Errorf("EMFILE was not reported in the error log:\n%s", stderr.String())
	}
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
