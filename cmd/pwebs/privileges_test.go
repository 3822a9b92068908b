package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pwebs/pwebs/serve"
)

// needRoot skips a test that starts pwebs as root when the tests do not
// run as root (CI runs them as root).
func needRoot(t *testing.T) {
	t.Helper()
	if !asRoot {
		t.Skip("needs root")
	}
}

// privilegedPort finds a free port below 1024 on 127.0.0.1.
func privilegedPort(t *testing.T) string {
	t.Helper()
	for p := 600; p < 1024; p++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err == nil {
			ln.Close()
			return ln.Addr().String()
		}
	}
	t.Fatal("no free privileged port")
	return ""
}

// procStatus returns the Uid, Gid and Groups lines of a process.
func procStatus(t *testing.T, pid int) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && (k == "Uid" || k == "Gid" || k == "Groups") {
			out[k] = strings.Fields(v)
		}
	}
	return out
}

func TestDropPrivileges(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "htdocs"), 0o755)
	os.MkdirAll(filepath.Join(dir, "cgi-bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "htdocs", "hello.txt"), []byte("hello"), 0o644)
	os.WriteFile(filepath.Join(dir, "cgi-bin", "id.sh"), []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nid -u; id -g; id -G\n"), 0o755)
	addr := privilegedPort(t)
	conf := filepath.Join(dir, "pwebs.conf")
	os.WriteFile(conf, []byte(serveAs(t, dir)+fmt.Sprintf(`listen = [%q]
document_root = "htdocs"
[log]
access = "logs/access_log"
error = "logs/error_log"
rotate_size = "2KiB"
keep = 1000
compress = true
[cgi]
dirs = { "/cgi-bin/" = "cgi-bin" }
`, addr)), 0o644)
	cmd, stderr := startProcess(t, dir, addr, "-c", conf)

	st := procStatus(t, cmd.Process.Pid)
	for _, k := range []string{"Uid", "Gid"} {
		if len(st[k]) != 4 {
			t.Fatalf("%s line: %v", k, st[k])
		}
		for _, id := range st[k] {
			if id != "65534" {
				t.Errorf("%s: %v, want 65534 in all four columns", k, st[k])
				break
			}
		}
	}
	for _, g := range st["Groups"] {
		if g == "0" {
			t.Errorf("Groups holds root's group: %v", st["Groups"])
		}
	}
	if code, body := fetch(t, "http://"+addr+"/hello.txt"); code != 200 || body != "hello" {
		t.Fatalf("serving: %d %q", code, body)
	}
	if _, body := fetch(t, "http://"+addr+"/cgi-bin/id.sh"); body != "65534\n65534\n65534\n" {
		t.Errorf("a CGI script runs as %q, want uid, gid and groups 65534", body)
	}

	// Rotation after the drop: enough requests to pass 2KiB several times.
	logs := filepath.Join(dir, "logs")
	for i := 0; i < 60; i++ {
		fetch(t, fmt.Sprintf("http://%s/hello.txt?n=%d", addr, i))
	}
	waitFor(t, "rotated logs", func() bool {
		m, _ := filepath.Glob(filepath.Join(logs, "access_log-*"))
		return len(m) >= 2
	})
	// SIGUSR1 after an external rotation moved the log away.
	must(t, os.Rename(filepath.Join(logs, "access_log"), filepath.Join(logs, "moved_log")))
	must(t, cmd.Process.Signal(syscall.SIGUSR1))
	waitFor(t, "logs reopened", func() bool { return strings.Contains(readFile(filepath.Join(logs, "error_log")), "logs reopened") })
	fetch(t, "http://"+addr+"/hello.txt?after=reopen")
	waitFor(t, "a new access_log", func() bool {
		return strings.Contains(readFile(filepath.Join(logs, "access_log")), "after=reopen")
	})
	fi, err := os.Stat(filepath.Join(logs, "access_log"))
	must(t, err)
	if s := fi.Sys().(*syscall.Stat_t); s.Uid != 65534 {
		t.Errorf("the reopened log belongs to uid %d", s.Uid)
	}
	if strings.Contains(stderr.String(), "permission denied") {
		t.Errorf("errors after the drop:\n%s", stderr.String())
	}
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRootWithoutUser(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "htdocs"), 0o755)
	os.WriteFile(filepath.Join(dir, "pwebs.conf"), []byte(fmt.Sprintf("listen = [%q]\n", freePort(t))), 0o644)
	_, stderr, code := runCmd(t, dir)
	if code != 1 || !strings.Contains(stderr, "will not serve as root") || !strings.Contains(stderr, "user") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = runCmd(t, dir, "-t")
	if code != 1 || !strings.Contains(stderr, "will not serve as root") {
		t.Errorf("-t: exit %d, stderr %q", code, stderr)
	}
}

func TestUnknownUserOrGroup(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "htdocs"), 0o755)
	os.WriteFile(filepath.Join(dir, "pwebs.conf"), []byte("user = \"no-such-user-pwebs\"\ngroup = \"no-such-group-pwebs\"\n"), 0o644)
	_, stderr, code := runCmd(t, dir, "-t")
	if code != 1 || !strings.Contains(stderr, `pwebs.conf:1: key "user": no such user`) || !strings.Contains(stderr, `pwebs.conf:2: key "group": no such group`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestCheckAsUser is pwebs -t as root: what matters after the drop is
// checked as that user.
func TestCheckAsUser(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "htdocs"), 0o755)
	os.WriteFile(filepath.Join(dir, "pwebs.conf"), []byte(serveAs(t, dir)+"document_root = \"htdocs\"\n"), 0o644)
	if _, stderr, code := runCmd(t, dir, "-t"); code != 0 {
		t.Fatalf("readable site: exit %d, %q", code, stderr)
	}
	// A log that is not a regular file is never rotated: /dev/null needs
	// no writable /dev.
	os.WriteFile(filepath.Join(dir, "devnull.conf"), []byte(serveAs(t, dir)+"document_root = \"htdocs\"\n[log]\naccess = \"/dev/null\"\nrotate_size = \"0\"\n"), 0o644)
	if _, stderr, code := runCmd(t, dir, "-t", "-c", filepath.Join(dir, "devnull.conf")); code != 0 {
		t.Errorf("access log /dev/null: exit %d, %q", code, stderr)
	}
	// A root-only document root, and a log folder that exists but is
	// root's (pwebs only gives away the folders it creates).
	os.Chmod(filepath.Join(dir, "htdocs"), 0o700)
	os.Mkdir(filepath.Join(dir, "logs"), 0o755)
	_, stderr, code := runCmd(t, dir, "-t")
	if code != 1 || !strings.Contains(stderr, "user nobody cannot read "+filepath.Join(dir, "htdocs")) ||
		!strings.Contains(stderr, "user nobody cannot write to "+filepath.Join(dir, "logs")) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	// A log folder of the user's holding a log file of root's, which
	// pwebs does not hand over.
	os.Chmod(filepath.Join(dir, "htdocs"), 0o755)
	os.Chown(filepath.Join(dir, "logs"), 65534, 65534)
	os.WriteFile(filepath.Join(dir, "logs", "access_log"), nil, 0o600)
	_, stderr, code = runCmd(t, dir, "-t")
	if code != 1 || !strings.Contains(stderr, "user nobody cannot write to "+filepath.Join(dir, "logs", "access_log")) {
		t.Errorf("a log file of root's: exit %d, stderr %q", code, stderr)
	}
	// A users file of root's, mode 600 (what htpasswd -c makes under umask
	// 077): read at start, it could never be read again to take a user
	// out.
	os.Remove(filepath.Join(dir, "logs", "access_log"))
	os.WriteFile(filepath.Join(dir, "users"), []byte("alice:$apr1$fgInUy/A$e0XDN1seykfMkzxJJhDgE0\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "auth.conf"), []byte(serveAs(t, dir)+"document_root = \"htdocs\"\nauth = [{ prefix = \"/p\", realm = \"R\", users = \"users\" }]\n[log]\naccess = \"\"\nerror = \"-\"\n"), 0o644)
	_, stderr, code = runCmd(t, dir, "-t", "-c", filepath.Join(dir, "auth.conf"))
	if code != 1 || !strings.Contains(stderr, "user nobody cannot read "+filepath.Join(dir, "users")) {
		t.Errorf("a users file of root's: exit %d, stderr %q", code, stderr)
	}
	os.Chmod(filepath.Join(dir, "users"), 0o644)
	if _, stderr, code := runCmd(t, dir, "-t", "-c", filepath.Join(dir, "auth.conf")); code != 0 {
		t.Errorf("a readable users file: exit %d, %q", code, stderr)
	}
}

// TestNotRoot runs pwebs as an ordinary user: user and group are ignored
// with a notice, and a privileged port gives an error that names the two
// ways out.
func TestNotRoot(t *testing.T) {
	needRoot(t) // to become nobody
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "htdocs"), 0o755)
	os.WriteFile(filepath.Join(dir, "htdocs", "x.txt"), []byte("x"), 0o644)
	openUp(t, dir)
	addr := freePort(t)
	conf := filepath.Join(dir, "pwebs.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("user = \"nobody\"\nlisten = [%q]\n[log]\naccess = \"\"\nerror = \"-\"\n", addr)), 0o644)
	_, stderr := startProcessAs(t, dir, addr, nobody, "-c", conf)
	if code, _ := fetch(t, "http://"+addr+"/x.txt"); code != 200 {
		t.Errorf("serving as nobody: %d", code)
	}
	waitFor(t, "the notice", func() bool { return strings.Contains(stderr.String(), "user and group are ignored") })

	priv := privilegedPort(t)
	os.WriteFile(conf, []byte(fmt.Sprintf("listen = [%q]\n[log]\naccess = \"\"\nerror = \"-\"\n", priv)), 0o644)
	cmd := execAs(dir, nobody, "-c", conf)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "CAP_NET_BIND_SERVICE") || !strings.Contains(string(out), "root with user") {
		t.Errorf("privileged port as nobody: %v %q", err, out)
	}
}

func TestWatchLimitCheck(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"htdocs/a/b", "htdocs/c", "htdocs/.git/x"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "pwebs.conf"), []byte("document_root = \"htdocs\"\n"), 0o644)
	cfg, err := serve.LoadConfig(filepath.Join(dir, "pwebs.conf"), nil)
	must(t, err)
	if p := watchProblem(cfg, 100); p != "" {
		t.Errorf("under the limit: %q", p)
	}
	// htdocs, a, a/b, c: four folders (the dot folder is not watched).
	if p := watchProblem(cfg, 3); !strings.Contains(p, "hold 4 folders") || !strings.Contains(p, "max_user_watches") {
		t.Errorf("over the limit: %q", p)
	}
}

// TestNotDumpable checks that pwebs stays non-dumpable after dropping
// privileges: a process of the serving user (any CGI script) must not read
// its memory or environment through /proc. The scripts run through the
// resource-limit re-exec, which must work all the same.
func TestNotDumpable(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "htdocs"), 0o755)
	os.MkdirAll(filepath.Join(dir, "cgi-bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "cgi-bin", "peek.sh"), []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n"+
		"if cat /proc/$PPID/environ >/dev/null 2>&1; then echo environ readable; else echo environ refused; fi\n"+
		"if cat /proc/$PPID/maps >/dev/null 2>&1; then echo maps readable; else echo maps refused; fi\n"), 0o755)
	addr := freePort(t)
	conf := filepath.Join(dir, "pwebs.conf")
	os.WriteFile(conf, []byte(serveAs(t, dir)+fmt.Sprintf(`listen = [%q]
document_root = "htdocs"
[log]
access = ""
error = "-"
[cgi]
dirs = { "/cgi-bin/" = "cgi-bin" }
max_cpu = "10s"
max_memory = "1GiB"
`, addr)), 0o644)
	cmd, stderr := startProcess(t, dir, addr, "-c", conf)
	waitFor(t, "the drop", func() bool { return strings.Contains(stderr.String(), "serving as user nobody") })

	// A dumpable process's /proc entries (but the folder itself) belong
	// to its user; a non-dumpable one's to root.
	for _, name := range []string{"environ", "mem"} {
		p := fmt.Sprintf("/proc/%d/%s", cmd.Process.Pid, name)
		fi, err := os.Stat(p)
		must(t, err)
		if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != 0 {
			t.Errorf("%s belongs to uid %d: pwebs is dumpable after the drop", p, uid)
		}
	}
	code, body := fetch(t, "http://"+addr+"/cgi-bin/peek.sh")
	if code != 200 || body != "environ refused\nmaps refused\n" {
		t.Errorf("a script reading pwebs's /proc entries: %d %q, want both refused (stderr %s)", code, body, stderr.String())
	}
}

// TestLogSymlinkRefused is a log replaced by a symbolic link to a file of
// root's, by the user pwebs serves as, before a start as root: pwebs must
// refuse it, naming it, and neither write to the file it points to nor
// give that file away.
func TestLogSymlinkRefused(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "htdocs"), 0o755)
	logs := filepath.Join(dir, "logs")
	os.Mkdir(logs, 0o750)
	must(t, os.Chown(logs, 65534, 65534))
	target := filepath.Join(dir, "shadow")
	must(t, os.WriteFile(target, []byte("root:secret\n"), 0o600))
	link := filepath.Join(logs, "access_log")
	must(t, os.Symlink(target, link))
	addr := freePort(t)
	os.WriteFile(filepath.Join(dir, "pwebs.conf"), []byte(serveAs(t, dir)+fmt.Sprintf("listen = [%q]\ndocument_root = \"htdocs\"\n", addr)), 0o644)

	for _, args := range [][]string{{"-t"}, nil} {
		_, stderr, code := runCmd(t, dir, args...)
		if code != 1 || !strings.Contains(stderr, link+" is a symbolic link") {
			t.Errorf("%v: exit %d, stderr %q, want an error naming %s", args, code, stderr, link)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "root:secret\n" {
		t.Errorf("the file the link points to was written: %q", b)
	}
	fi, err := os.Stat(target)
	must(t, err)
	if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != 0 {
		t.Errorf("the file the link points to was given to uid %d", uid)
	}
}

// TestRootAccount checks that a user or group that is root is refused by
// pwebs -t on the line of the key at fault, naming that key alone.
func TestRootAccount(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "htdocs"), 0o755)
	for _, tt := range []struct{ conf, want string }{
		{"user = \"nobody\"\ngroup = \"root\"\n", `pwebs.conf:2: key "group": "root" is root's group`},
		{"# serve as\nuser = \"root\"\n", `pwebs.conf:2: key "user": "root" is root`},
	} {
		os.WriteFile(filepath.Join(dir, "pwebs.conf"), []byte(tt.conf), 0o644)
		_, stderr, code := runCmd(t, dir, "-t")
		if code != 1 || !strings.HasPrefix(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q, want %q alone", tt.conf, code, stderr, tt.want)
		}
	}
}
