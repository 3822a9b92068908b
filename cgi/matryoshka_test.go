package cgi

// Matryoshka tests: the test binary itself is the CGI script. When it finds
// itself started as one (GATEWAY_INTERFACE set and an X-Child request
// header naming what to do), TestMain runs childMain instead of the tests,
// so no interpreter is needed.

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if os.Getenv("GATEWAY_INTERFACE") == "CGI/1.1" && os.Getenv("HTTP_X_CHILD") != "" {
		// syscall.Exit, not os.Exit: it skips the race detector's
		// one-second sleep at exit, which would slow every run.
		syscall.Exit(childMain(os.Getenv("HTTP_X_CHILD")))
	}
	os.Exit(m.Run())
}

// childMain is the script. Every wait in it is bounded, so a child that the
// server failed to stop still ends by itself.
func childMain(mode string) int {
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	header := func() { fmt.Fprint(out, "Content-Type: text/plain\r\n\r\n"); out.Flush() }
	switch mode {
	case "env":
		header()
		env := os.Environ()
		sort.Strings(env)
		for _, e := range env {
			fmt.Fprintln(out, e)
		}
		wd, _ := os.Getwd()
		fmt.Fprintln(out, "cwd:"+wd)
		fmt.Fprintln(out, "args:"+strings.Join(os.Args[1:], "|"))
	case "fds":
		// Listed before anything else opens a descriptor (the runtime's
		// poller included), read with raw system calls.
		fds := openFDs()
		header()
		for _, fd := range fds {
			fmt.Fprintln(out, fd)
		}
	case "stream":
		header()
		fmt.Fprint(out, "line 1\n")
		out.Flush()
		// Line 2 only once the server has delivered line 1.
		if !waitFile(os.Getenv("HTTP_X_GATE"), 20*time.Second) {
			fmt.Fprint(out, "gate never opened\n")
			return 1
		}
		fmt.Fprint(out, "line 2\n")
	case "hang":
		// A grandchild in the group, then silence.
		sleep := exec.Command("sleep", "300")
		if err := sleep.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if os.Getenv("HTTP_X_IGNORE_TERM") != "" {
			signal.Ignore(syscall.SIGTERM)
		}
		os.WriteFile(os.Getenv("HTTP_X_PIDFILE"), []byte(fmt.Sprintf("%d %d", os.Getpid(), sleep.Process.Pid)), 0o644)
		if os.Getenv("HTTP_X_HEADER_FIRST") != "" {
			header()
			fmt.Fprint(out, "partial\n")
			out.Flush()
		}
		time.Sleep(2 * time.Minute)
	case "spew":
		// A grandchild in the group, then output until stopped.
		sleep := exec.Command("sleep", "300")
		if err := sleep.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		header()
		for i := 0; i < 60000; i++ {
			fmt.Fprintf(out, "chunk %d\n", i)
			if err := out.Flush(); err != nil {
				return 1
			}
			time.Sleep(time.Millisecond)
		}
	case "body":
		n, err := strconv.ParseInt(os.Getenv("CONTENT_LENGTH"), 10, 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad CONTENT_LENGTH:", err)
			return 1
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(os.Stdin, buf); err != nil {
			fmt.Fprintln(os.Stderr, "short body:", err)
			return 1
		}
		extra, _ := io.Copy(io.Discard, os.Stdin)
		sum := sha256.Sum256(buf)
		header()
		fmt.Fprintf(out, "length=%d sha256=%s extra=%d", n, hex.EncodeToString(sum[:]), extra)
	case "stderr":
		fmt.Fprintln(os.Stderr, "first line")
		fmt.Fprintln(os.Stderr, strings.Repeat("x", 3*maxStderrLine))
		w := bufio.NewWriter(os.Stderr)
		for i := 0; i < 20000; i++ { // 2 MB, far beyond a pipe's buffer
			fmt.Fprintf(w, "spew %05d %s\n", i, strings.Repeat("y", 90))
		}
		w.Flush()
		fmt.Fprintln(os.Stderr, "last line")
		header()
		fmt.Fprint(out, "ok")
	case "garbage":
		fmt.Fprint(out, "this is not a header\n\nbody\n")
		out.Flush()
		fmt.Fprintln(os.Stderr, "oops: it broke")
		return 3
	case "silent-exit":
		fmt.Fprintln(os.Stderr, "dying quietly")
		return 2
	case "nph":
		fmt.Fprint(out, "HTTP/1.0 203 Whatever\r\nContent-Type: text/plain\r\n\r\nraw body")
	case "local-redirect":
		fmt.Fprint(out, "Location: /elsewhere?x=1\n\nignored body")
	case "headers":
		fmt.Fprint(out, "Status: 201 Created\nContent-Type: text/html\nSet-Cookie: a=1\nSet-Cookie: b=2\nX-Bad Name: no\nConnection: close\n\ncreated")
	case "gate":
		header()
		fmt.Fprint(out, "waiting\n")
		out.Flush()
		waitFile(os.Getenv("HTTP_X_GATE"), 20*time.Second)
	case "linger":
		header()
		fmt.Fprint(out, "done early\n")
		out.Flush()
		os.Stdout.Close()
		time.Sleep(2 * time.Minute)
	case "leftover":
		sleep := exec.Command("sleep", "300") // stdout /dev/null: does not hold the response open
		if err := sleep.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		os.WriteFile(os.Getenv("HTTP_X_PIDFILE"), []byte(fmt.Sprintf("%d %d", os.Getpid(), sleep.Process.Pid)), 0o644)
		header()
		fmt.Fprint(out, "bye")
	case "crash":
		header()
		fmt.Fprint(out, "half")
		out.Flush()
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute)
	case "content-length":
		fmt.Fprint(out, "Content-Type: text/plain\nContent-Length: 10\n\n0123456789 and more")
	case "short":
		fmt.Fprint(out, "Content-Type: text/plain\nContent-Length: 10\n\n01234")
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", mode)
		return 1
	}
	return 0
}

// openFDs lists the process's open descriptors as "fd target", leaving out
// the one it reads /proc/self/fd through.
func openFDs() []string {
	dir, err := syscall.Open("/proc/self/fd", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	defer syscall.Close(dir)
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := syscall.ReadDirent(dir, buf)
		if err != nil || n == 0 {
			break
		}
		_, _, names = syscall.ParseDirent(buf[:n], -1, names)
	}
	var fds []string
	for _, name := range names {
		if name == strconv.Itoa(dir) {
			continue
		}
		target, _ := os.Readlink("/proc/self/fd/" + name)
		fds = append(fds, name+" "+target)
	}
	sort.Slice(fds, func(i, j int) bool {
		a, _ := strconv.Atoi(strings.Fields(fds[i])[0])
		b, _ := strconv.Atoi(strings.Fields(fds[j])[0])
		return a < b
	})
	return fds
}

// waitFile polls for a file to exist, at most d.
func waitFile(path string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// self returns the test binary's path, the script of the matryoshka tests.
func self(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// childRequest returns a request that runs the test binary in mode.
func childRequest(t testing.TB, mode string, extra ...Field) *Request {
	r := newRequest(self(t))
	r.Header = append(r.Header, Field{"X-Child", mode})
	r.Header = append(r.Header, extra...)
	return r
}
