package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pwebs/pwebs/internal/syncbuf"
)

var binary string

// TestMain builds pwebs once for the tests that run it as a process.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pwebs-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// pwebs re-runs itself as the user it drops to (pwebs -t as root), so
	// that user must reach the binary.
	os.Chmod(dir, 0o755)
	binary = filepath.Join(dir, "pwebs")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building pwebs: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// asRoot is true when the tests run as root: pwebs then needs a user to
// drop to.
var asRoot = os.Geteuid() == 0

// serveAs returns the config line a served site needs: when the tests run
// as root, pwebs drops to nobody, who must then be able to read dir (the
// folders t.TempDir makes are private).
func serveAs(t *testing.T, dir string) string {
	t.Helper()
	if !asRoot {
		return ""
	}
	openUp(t, dir)
	return "user = \"nobody\"\n"
}

// openUp makes dir and the folders above it, up to /tmp, searchable and
// readable by everyone.
func openUp(t *testing.T, dir string) {
	t.Helper()
	for d := dir; d != "/" && d != os.TempDir() && d != "."; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func runCmd(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "htdocs"), 0o755)
	good := filepath.Join(dir, "good.conf")
	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(good, []byte(serveAs(t, dir)+"document_root = \"htdocs\"\n"), 0o644)
	os.WriteFile(bad, []byte("document_root = \"htdocs\"\n\nmax_clients = 0\nbogus_key = 1\n"), 0o644)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr []string
	}{
		{"good", []string{"-t", "-c", good}, 0, good + ": ok\n", nil},
		{"unknown key", []string{"-t", "-c", bad}, 1, "", []string{bad + ":4: key \"bogus_key\": unknown key"}},
		{"missing file", []string{"-t", "-c", filepath.Join(dir, "nope.conf")}, 1, "", []string{"nope.conf: no such file or directory"}},
		{"default file", []string{"-t"}, 1, "", []string{"pwebs.conf:3: key \"max_clients\": must be at least 1"}},
		{"version", []string{"-version"}, 0, "pwebs ", nil},
		{"bad flag", []string{"-nope"}, 2, "", []string{"flag provided but not defined"}},
	}
	os.WriteFile(filepath.Join(dir, "pwebs.conf"), []byte("document_root = \"htdocs\"\n\nmax_clients = 0\n"), 0o644)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCmd(t, dir, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !strings.HasPrefix(stdout, tt.stdout) {
				t.Errorf("stdout %q, want prefix %q", stdout, tt.stdout)
			}
			for _, w := range tt.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
}

// freePort finds a port that is free on 127.0.0.1 now.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProcess runs pwebs with args and waits until addr answers.
func startProcess(t *testing.T, dir, addr string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	return startProcessAs(t, dir, addr, nil, args...)
}

// nobody is the credential of the user nobody (uid and gid 65534).
var nobody = &syscall.Credential{Uid: 65534, Gid: 65534}

// startProcessAs is startProcess as the user of cred (nil: this process's).
func startProcessAs(t *testing.T, dir, addr string, cred *syscall.Credential, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	stderr := &syncBuffer{}
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Stderr = stderr
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return cmd, stderr
		}
		if time.Now().After(deadline) {
			t.Fatalf("pwebs did not listen on %s: %s", addr, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe to read while other goroutines write it.
type syncBuffer = syncbuf.Buffer

// execAs prepares pwebs with args, run as the user of cred.
func execAs(dir string, cred *syscall.Credential, args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return cmd
}

// tryFetch is fetch that reports failures as status 0.
func tryFetch(url string) (int, string) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeFolderWithoutConfig is "pwebs -root . -listen ADDR" in a folder
// with no pwebs.conf.
func TestServeFolderWithoutConfig(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hi there"), 0o644)
	addr := freePort(t)
	if asRoot {
		// Started as root with no config, pwebs refuses to serve; this is
		// the ordinary user's "serve this folder".
		openUp(t, dir)
		startProcessAs(t, dir, addr, nobody, "-root", ".", "-listen", addr)
	} else {
		startProcess(t, dir, addr, "-root", ".", "-listen", addr)
	}
	if code, body := fetch(t, "http://"+addr+"/hello.txt"); code != 200 || body != "hi there" {
		t.Errorf("got %d %q", code, body)
	}
	if code, body := fetch(t, "http://"+addr+"/"); code != 200 || !strings.Contains(body, "hello.txt") {
		t.Errorf("listing: %d %q", code, body)
	}
}

// TestSignals checks SIGHUP (a good config is applied, a bad one is
// refused while serving goes on) and SIGTERM (a clean exit 0).
func TestSignals(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a", "b"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
		os.WriteFile(filepath.Join(dir, d, "which.txt"), []byte(d), 0o644)
	}
	addr := freePort(t)
	conf := filepath.Join(dir, "pwebs.conf")
	user := serveAs(t, dir)
	write := func(root string, extra string) {
		os.WriteFile(conf, []byte(fmt.Sprintf("%slisten = [%q]\ndocument_root = %q\n%s", user, addr, root, extra)), 0o644)
	}
	write("a", "")
	cmd, stderr := startProcess(t, dir, addr, "-c", conf)
	if _, body := fetch(t, "http://"+addr+"/which.txt"); body != "a" {
		t.Fatalf("before reload: %q", body)
	}
	write("b", "")
	cmd.Process.Signal(syscall.SIGHUP)
	waitBody(t, "http://"+addr+"/which.txt", "b")

	write("a", "bogus = 1\n")
	cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "bogus") {
		if time.Now().After(deadline) {
			t.Fatalf("the bad config was not reported: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, body := fetch(t, "http://"+addr+"/which.txt"); body != "b" {
		t.Errorf("after a bad reload: %q, want the previous config's b", body)
	}

	// A reload turns the access log off, and another turns it on again.
	reloads := func() int { return strings.Count(stderr.String(), "configuration reloaded") }
	reloadWith := func(extra string) {
		t.Helper()
		n := reloads()
		write("b", extra)
		cmd.Process.Signal(syscall.SIGHUP)
		deadline := time.Now().Add(10 * time.Second)
		for reloads() == n {
			if time.Now().After(deadline) {
				t.Fatalf("no reload with %q: %s", extra, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// A reload opens its logs as the user pwebs runs as.
	logDir := filepath.Join(dir, "reloaded")
	os.Mkdir(logDir, 0o755)
	os.Chmod(logDir, 0o777)
	accessLog := filepath.Join(logDir, "access_log")
	reloadWith("[log]\naccess = \"\"\nerror = \"-\"\n")
	fetch(t, "http://"+addr+"/which.txt?while=off")
	reloadWith(fmt.Sprintf("[log]\naccess = %q\nerror = \"-\"\n", accessLog))
	fetch(t, "http://"+addr+"/which.txt?while=on")
	deadline = time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(accessLog)
		if strings.Contains(string(b), "while=on") {
			if strings.Contains(string(b), "while=off") {
				t.Errorf("a request made while the access log was off was logged:\n%s", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the access log turned on by a reload has no line: %q", b)
		}
		time.Sleep(20 * time.Millisecond)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("pwebs did not exit after SIGTERM")
	}
}

// TestSecondSignal: SIGTERM waits for a request in flight, and a second
// SIGTERM stops at once, long before shutdown_timeout.
func TestSecondSignal(t *testing.T) {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "htdocs"), 0o755))
	must(t, os.MkdirAll(filepath.Join(dir, "cgi-bin"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "cgi-bin", "slow.sh"), []byte("#!/bin/sh\nsleep 20\nprintf 'Content-Type: text/plain\\n\\nlate'\n"), 0o755))
	addr := freePort(t)
	conf := fmt.Sprintf("%slisten = [%q]\ndocument_root = \"htdocs\"\nshutdown_timeout = \"30s\"\n[log]\naccess = \"\"\nerror = \"-\"\n[cgi]\ndirs = { \"/cgi-bin/\" = \"cgi-bin\" }\ntimeout = \"60s\"\n", serveAs(t, dir), addr)
	must(t, os.WriteFile(filepath.Join(dir, "pwebs.conf"), []byte(conf), 0o644))
	cmd, stderr := startProcess(t, dir, addr, "-c", "pwebs.conf")
	// A client that waits for the script for as long as it takes.
	nc, err := net.Dial("tcp", addr)
	must(t, err)
	defer nc.Close()
	_, err = nc.Write([]byte("GET /cgi-bin/slow.sh HTTP/1.1\r\nHost: x\r\n\r\n"))
	must(t, err)
	time.Sleep(300 * time.Millisecond) // the script is running
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		t.Fatalf("pwebs exited at once on the first SIGTERM, with a request in flight: %s", stderr.String())
	case <-time.After(3 * time.Second):
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after the second SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("pwebs did not stop on a second SIGTERM: %s", stderr.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the second SIGTERM took %v to stop pwebs", d)
	}
	if !strings.Contains(stderr.String(), "stopping at once") {
		t.Errorf("the error log does not say why: %s", stderr.String())
	}
}

func waitBody(t *testing.T, url, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := fetch(t, url)
		if body == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: got %q, want %q", url, body, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFlagProblems checks that a bad -root or -listen is blamed on the
// flag, not on the line of the config file it overrides.
func TestFlagProblems(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "htdocs"), 0o755)
	conf := filepath.Join(dir, "pwebs.conf")
	os.WriteFile(conf, []byte(serveAs(t, dir)+"# pwebs\nlisten = [\"127.0.0.1:8080\"]\ndocument_root = \"htdocs\"\n"), 0o644)
	_, stderr, code := runCmd(t, dir, "-t", "-root", "/nonexistent-pwebs", "-listen", "8080")
	want := "flag -listen: address \"8080\": missing port (write host:port)\nflag -root: /nonexistent-pwebs: no such file or directory\n"
	if code != 1 || stderr != want {
		t.Errorf("exit %d, stderr %q, want %q", code, stderr, want)
	}
}

// TestStartErrorOnce checks that with no config file, where the error log
// is stderr, an error that stops pwebs is printed once.
func TestStartErrorOnce(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	cmd := exec.Command(binary, "-root", ".", "-listen", addr)
	if asRoot {
		// Started as root with no config, pwebs refuses to serve.
		openUp(t, dir)
		cmd = execAs(dir, nobody, "-root", ".", "-listen", addr)
	}
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("pwebs started on a busy address: %s", out)
	}
	if n := strings.Count(string(out), "address already in use"); n != 1 {
		t.Errorf("the error was printed %d times, want once:\n%s", n, out)
	}
}

// TestReloadReports checks what a SIGHUP logs: a refused configuration
// leaves one error log record per problem, in the order of the file's
// lines; an applied one that changes keys a reload cannot apply warns
// about each of them, at every reload until a restart.
func TestReloadReports(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "htdocs"), 0o755)
	os.WriteFile(filepath.Join(dir, "htdocs", "x.txt"), []byte("x"), 0o644)
	addr := freePort(t)
	conf := filepath.Join(dir, "pwebs.conf")
	head := serveAs(t, dir) + fmt.Sprintf("listen = [%q]\ndocument_root = \"htdocs\"\n", addr)
	os.WriteFile(conf, []byte(head+"[log]\naccess = \"\"\nerror = \"-\"\n"), 0o644)
	cmd, stderr := startProcess(t, dir, addr, "-c", conf)

	// Validation finds cgi.timeout before ssi.max_depth; the file has
	// them the other way round.
	lines := strings.Count(head, "\n")
	os.WriteFile(conf, []byte(head+"[ssi]\nmax_depth = 0\n[cgi]\ntimeout = \"0s\"\n[log]\naccess = \"\"\nerror = \"-\"\n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the refused reload", func() bool {
		return strings.Contains(stderr.String(), "ssi.max_depth") && strings.Contains(stderr.String(), "cgi.timeout")
	})
	var records []string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, "reload failed") {
			records = append(records, strings.ReplaceAll(l, `\"`, `"`)) // as the error log escapes them
		}
	}
	first := fmt.Sprintf("reload failed, still serving with the previous configuration: %s:%d: key \"ssi.max_depth\"", conf, lines+2)
	second := fmt.Sprintf("reload failed, still serving with the previous configuration: %s:%d: key \"cgi.timeout\"", conf, lines+4)
	if len(records) != 2 || !strings.Contains(records[0], first) || !strings.Contains(records[1], second) || !strings.HasPrefix(records[1], "[") {
		t.Errorf("got records %q, want one per problem, in line order:\n%s\n%s", records, first, second)
	}

	other := freePort(t)
	os.WriteFile(conf, []byte(strings.Replace(head, addr, other, 1)+"max_connections = 50\ndefer_accept = false\n[log]\naccess = \"\"\nerror = \"-\"\n"), 0o644)
	for i := 1; i <= 2; i++ {
		cmd.Process.Signal(syscall.SIGHUP)
		waitFor(t, "the reload", func() bool { return strings.Count(stderr.String(), "configuration reloaded") == i })
		for _, want := range []string{
			"listen changed, but takes effect only when pwebs is restarted: still " + addr,
			"max_connections changed, but takes effect only when pwebs is restarted: still 0",
			"defer_accept changed, but takes effect only when pwebs is restarted: still true",
		} {
			if n := strings.Count(stderr.String(), want); n != i {
				t.Errorf("reload %d: %q logged %d times, want %d:\n%s", i, want, n, i, stderr.String())
			}
		}
	}
	if code, _ := fetch(t, "http://"+addr+"/x.txt"); code != 200 {
		t.Errorf("the address in force: %d", code)
	}
}
