package main

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFail2banReadsAuthFailures runs fail2ban-regex, with the apache-auth
// filter Debian ships, over the error log of a real pwebs after a wrong
// password and an unknown user: both lines must match, so that a fail2ban
// jail set up for Apache protects pwebs unchanged.
func TestFail2banReadsAuthFailures(t *testing.T) {
	const filter = "/etc/fail2ban/filter.d/apache-auth.conf"
	f2b, err := exec.LookPath("fail2ban-regex")
	if _, ferr := os.Stat(filter); err != nil || ferr != nil {
		if os.Getenv("PWEBS_REQUIRE_ALL") == "1" {
			t.Fatal("fail2ban is not installed (PWEBS_REQUIRE_ALL=1)")
		}
		t.Skip("fail2ban is not installed")
	}
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "htdocs", "private"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "htdocs", "private", "a.txt"), []byte("a"), 0o644))
	// alice's password is "pa:ss word" (htpasswd -B -C 4).
	must(t, os.WriteFile(filepath.Join(dir, "users"), []byte("alice:$2y$04$553zcVIMTYykIO0ZSvFVG.5lq9izdTK.JwCiooxhbPOfasGT8DGyO\n"), 0o644))
	addr := freePort(t)
	conf := fmt.Sprintf("%slisten = [%q]\ndocument_root = \"htdocs\"\nauth = [{ prefix = \"/private\", realm = \"R\", users = \"users\" }]\n[log]\naccess = \"\"\nerror = \"logs/error_log\"\n", serveAs(t, dir), addr)
	must(t, os.WriteFile(filepath.Join(dir, "pwebs.conf"), []byte(conf), 0o644))
	startProcess(t, dir, addr, "-c", "pwebs.conf")
	for _, cred := range []string{"alice:wrong", "mallory:x", "alice:pa:ss word"} {
		req, _ := http.NewRequest("GET", "http://"+addr+"/private/a.txt", nil)
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cred)))
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		must(t, err)
		resp.Body.Close()
	}
	log := filepath.Join(dir, "logs", "error_log")
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(log)
		if strings.Contains(string(b), "mallory") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failures are not in the error log:\n%s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, err := exec.Command(f2b, log, filter).CombinedOutput()
	if err != nil {
		t.Fatalf("fail2ban-regex: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Lines: \d+ lines?, \d+ ignored, (\d+) matched`).FindSubmatch(out)
	if m == nil || string(m[1]) != "2" {
		b, _ := os.ReadFile(log)
		t.Errorf("fail2ban matched %s lines, want 2:\n%s\nthe log:\n%s", m, out, b)
	}
}
