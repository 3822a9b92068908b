package ssi_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestApache renders every golden case that is not marked apache=no with a
// real Apache httpd 2.4 and mod_include, started on 127.0.0.1 with a private
// configuration in a temporary folder, and compares its output with the
// expected one. It skips when Apache is not installed, unless
// PWEBS_REQUIRE_ALL=1.
func TestApache(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Apache httpd")
	}
	bin, mods := findApache()
	if bin == "" {
		if os.Getenv("PWEBS_REQUIRE_ALL") == "1" {
			t.Fatal("Apache httpd 2.4 (apache2) with mod_include is not installed")
		}
		t.Skip("Apache httpd 2.4 (apache2) with mod_include is not installed")
	}
	root, err := os.MkdirTemp("", "pwebs-ssi-apache-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	docroot := filepath.Join(root, "htdocs")
	for p, body := range hostFiles {
		writeFile(t, filepath.Join(docroot, filepath.FromSlash(p)), body, 0o644, fileMod)
	}
	writeFile(t, filepath.Join(docroot, "cgi-bin", "hello.cgi"),
		"#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n%s' '"+hostFiles["/cgi-bin/hello.cgi"]+"'\n", 0o755, fileMod)
	for _, d := range []string{root, docroot, filepath.Join(docroot, "dir"), filepath.Join(docroot, "dir", "sub"), filepath.Join(docroot, "cgi-bin")} {
		os.Chmod(d, 0o755)
	}
	port := freePort(t)
	user := ""
	if os.Geteuid() == 0 {
		user = "User nobody\nGroup nogroup\n"
	}
	config := fmt.Sprintf(`ServerRoot %[1]s
PidFile %[1]s/httpd.pid
ErrorLog %[1]s/error_log
Listen 127.0.0.1:%[2]d
ServerName 127.0.0.1
%[4]sLoadModule mpm_prefork_module %[3]s/mod_mpm_prefork.so
LoadModule authz_core_module %[3]s/mod_authz_core.so
LoadModule mime_module %[3]s/mod_mime.so
LoadModule include_module %[3]s/mod_include.so
LoadModule cgi_module %[3]s/mod_cgi.so
StartServers 1
MinSpareServers 1
MaxSpareServers 2
TypesConfig /dev/null
AddType text/html .shtml
AddOutputFilter INCLUDES .shtml
DocumentRoot %[1]s/htdocs
<Directory %[1]s/htdocs>
  AllowOverride All
  Require all granted
</Directory>
<Directory %[1]s/htdocs/cgi-bin>
  Options +ExecCGI
  SetHandler cgi-script
</Directory>
`, root, port, mods, user)
	conf := filepath.Join(root, "httpd.conf")
	writeFile(t, conf, config, 0o644, time.Now())
	cmd := exec.Command(bin, "-f", conf, "-k", "start")
	cmd.Env = append(os.Environ(), "TZ=UTC")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("starting Apache: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		stop := exec.Command(bin, "-f", conf, "-k", "stop")
		stop.Run()
		for i := 0; i < 50; i++ {
			if _, err := os.Stat(filepath.Join(root, "httpd.pid")); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	client := &http.Client{Timeout: 10 * time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/dir/page.shtml?%s", port, rawQuery)
	waitFor(t, client, fmt.Sprintf("http://127.0.0.1:%d/top.txt", port))

	for _, path := range goldenFiles(t) {
		c := readGolden(t, path)
		if !c.apache || !c.present {
			continue
		}
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			options, legacy := "+IncludesNOEXEC", "on"
			if c.opts.Exec {
				options = "+Includes"
			}
			if c.opts.ExprSyntax == "ap_expr" {
				legacy = "off"
			}
			htaccess := "Options " + options + "\nSSILegacyExprParser " + legacy + "\n"
			writeFile(t, filepath.Join(docroot, "dir", ".htaccess"), htaccess, 0o644, fileMod)
			writeFile(t, filepath.Join(docroot, "dir", "page.shtml"), c.input, 0o644, testMod)
			resp, err := client.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if string(body) != c.output {
				t.Errorf("Apache's output differs from the golden output:\napache %q\ngolden %q", body, c.output)
			}
		})
	}
}

// findApache returns the apache2 binary and its modules folder, or "".
func findApache() (bin, mods string) {
	bin = os.Getenv("PWEBS_APACHE2")
	if bin == "" {
		bin, _ = exec.LookPath("apache2")
	}
	if bin == "" {
		if _, err := os.Stat("/usr/sbin/apache2"); err == nil {
			bin = "/usr/sbin/apache2"
		}
	}
	for _, m := range []string{"/usr/lib/apache2/modules", "/usr/lib64/httpd/modules"} {
		if _, err := os.Stat(filepath.Join(m, "mod_include.so")); err == nil {
			mods = m
		}
	}
	if bin == "" || mods == "" {
		return "", ""
	}
	return bin, mods
}

func writeFile(t *testing.T, path, body string, mode os.FileMode, mod time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, mode)
	if err := os.Chtimes(path, mod, mod); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitFor polls url until the server answers, for at most ten seconds.
func waitFor(t *testing.T, c *http.Client, url string) {
	for i := 0; i < 100; i++ {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("Apache did not answer at %s", url)
}
