package serve

import (
	"crypto/sha1"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// users.htpasswd was made by Apache's htpasswd: -B -C 4, -m, -s and -5, and
// one plain-text line, which pwebs refuses.
const testUsers = `alice:$2y$04$553zcVIMTYykIO0ZSvFVG.5lq9izdTK.JwCiooxhbPOfasGT8DGyO
bob:$apr1$fgInUy/A$e0XDN1seykfMkzxJJhDgE0
dave:{SHA}xO2etOilyqtV8o1RvvnmkeBx7QI=
frank:$6$vwjRhTAy82rvnFSZ$Ujl9sjsaHJg/zzNPnQfXlthSQk.uGZ2zLzmBNceuorxqJgNQofMtXTrTGNUIOns8gzYJEaLtt5iQpMZp.9Bi70
carol:plain
`

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

const authConf = `auth = [
  { prefix = "/private", realm = "Private area", users = "users.htpasswd" },
  { prefix = "/cgi-bin/env.sh", realm = "Scripts", users = "users.htpasswd" },
]
error_pages = { 401 = "/errors/401.html" }
[log]
access = "logs/access_log"
format = "%u %>s %U"
error = "-"
`

func TestAuth(t *testing.T) {
	ts := startCGIServerFiles(t, authConf, "", map[string]string{
		"users.htpasswd":         testUsers,
		"htdocs/private/a.txt":   "secret a",
		"htdocs/privateer.txt":   "public",
		"htdocs/errors/401.html": "please log in",
		"htdocs/pub.shtml":       `[<!--#include virtual="/private/a.txt" -->]`,
	})
	path := "/private/a.txt"
	tests := []struct {
		name, path, auth string
		status           int
		body             string
	}{
		{"no credentials", path, "", 401, "please log in"},
		{"bcrypt", path, basic("alice", "pa:ss word"), 200, "secret a"},
		{"bcrypt again, remembered", path, basic("alice", "pa:ss word"), 200, "secret a"},
		{"a wrong password", path, basic("alice", "nope"), 401, "please log in"},
		{"an unknown user", path, basic("mallory", "x"), 401, ""},
		{"apr1 MD5", path, basic("bob", "s3cret"), 200, "secret a"},
		{"SHA-1", path, basic("dave", "sha-pass"), 200, "secret a"},
		{"SHA-512 crypt", path, basic("frank", "sha5pass"), 200, "secret a"},
		{"plain text is refused", path, basic("carol", "plain"), 401, ""},
		{"the scheme in lower case", path, strings.Replace(basic("bob", "s3cret"), "Basic", "basic", 1), 200, "secret a"},
		{"another scheme", path, "Bearer abc", 401, ""},
		{"bad base64", path, "Basic !!!", 401, ""},
		{"the folder without its slash", "/private", "", 401, ""},
		{"a name that only starts alike", "/privateer.txt", "", 200, "public"},
		{"a missing file inside", "/private/nope", basic("bob", "s3cret"), 404, ""},
	}
	for _, tt := range tests {
		var header []string
		if tt.auth != "" {
			header = []string{"Authorization", tt.auth}
		}
		resp, body := ts.get(tt.path, header...)
		if resp.StatusCode != tt.status || !strings.Contains(body, tt.body) {
			t.Errorf("%s: %d %q; want %d %q", tt.name, resp.StatusCode, body, tt.status, tt.body)
		}
		if ch := resp.Header.Get("WWW-Authenticate"); (resp.StatusCode == 401) != (ch != "") ||
			(ch != "" && ch != `Basic realm="Private area", charset="UTF-8"`) {
			t.Errorf("%s: WWW-Authenticate %q", tt.name, ch)
		}
	}
	// A public SSI page includes a protected file only for a client that
	// could ask for it, and is never cached with it.
	for _, tc := range []struct{ auth, want string }{
		{"", "[[an error occurred while processing this directive]]"},
		{basic("bob", "s3cret"), "[secret a]"},
		{"", "[[an error occurred while processing this directive]]"},
		{basic("bob", "wrong"), "[[an error occurred while processing this directive]]"},
	} {
		var header []string
		if tc.auth != "" {
			header = []string{"Authorization", tc.auth}
		}
		if _, body := ts.get("/pub.shtml", header...); body != tc.want {
			t.Errorf("SSI include of a protected file (auth %q): %q, want %q", tc.auth, body, tc.want)
		}
	}
	// A script sees the user, not the password.
	_, body := ts.get("/cgi-bin/env.sh", "Authorization", basic("bob", "s3cret"))
	env := envOf(body)
	if env["REMOTE_USER"] != "bob" || env["AUTH_TYPE"] != "Basic" || env["HTTP_AUTHORIZATION"] != "" {
		t.Errorf("script: REMOTE_USER %q AUTH_TYPE %q HTTP_AUTHORIZATION %q", env["REMOTE_USER"], env["AUTH_TYPE"], env["HTTP_AUTHORIZATION"])
	}
	// Failures are logged in Apache's words, which fail2ban reads.
	errs := ts.errlog.String()
	for _, want := range []string{`user alice: authentication failure for \"/private/a.txt\": Password Mismatch`, "user mallory not found: /private/a.txt"} {
		if !strings.Contains(errs, want) {
			t.Errorf("the error log lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, "nope") && strings.Contains(errs, "pa:ss") {
		t.Errorf("a password reached the error log:\n%s", errs)
	}
	lines := strings.Join(ts.accessLines(), "\n")
	for _, want := range []string{"alice 200 /private/a.txt", "- 401 /private/a.txt", "bob 200 /cgi-bin/env.sh"} {
		if !strings.Contains(lines, want) {
			t.Errorf("no access line %q:\n%s", want, lines)
		}
	}
	// A user added to the file can log in a second later, without a
	// reload; a removed one cannot.
	users := filepath.Join(ts.dir, "users.htpasswd")
	must(t, os.WriteFile(users, []byte(strings.Replace(testUsers, "alice:", "erin:", 1)), 0o644))
	time.Sleep(1100 * time.Millisecond)
	if resp, _ := ts.get(path, "Authorization", basic("erin", "pa:ss word")); resp.StatusCode != 200 {
		t.Errorf("a user added to the file: %d", resp.StatusCode)
	}
	if resp, _ := ts.get(path, "Authorization", basic("alice", "pa:ss word")); resp.StatusCode != 401 {
		t.Errorf("a user removed from the file, remembered before: %d", resp.StatusCode)
	}
	// A users file that cannot be read lets no one in (500, as Apache),
	// until it can be read again.
	must(t, os.Rename(users, users+".away"))
	time.Sleep(1100 * time.Millisecond)
	if resp, _ := ts.get(path, "Authorization", basic("bob", "s3cret")); resp.StatusCode != 500 {
		t.Errorf("the users file gone: %d, want 500", resp.StatusCode)
	}
	must(t, os.Rename(users+".away", users))
	time.Sleep(1100 * time.Millisecond)
	if resp, _ := ts.get(path, "Authorization", basic("bob", "s3cret")); resp.StatusCode != 200 {
		t.Errorf("the users file back: %d, want 200", resp.StatusCode)
	}
	if !strings.Contains(ts.errlog.String(), "its zones answer 500 until it can be read") {
		t.Errorf("the unreadable users file is not logged")
	}
}

// TestAuthApacheWays: details in which pwebs reads credentials and the
// users file as Apache does.
func TestAuthApacheWays(t *testing.T) {
	users := testUsers + "dup:{SHA}" + shaB64("first") + "\ndup:{SHA}" + shaB64("second") + "\n"
	ts := startCGIServerFiles(t, authConf, "", map[string]string{"users.htpasswd": users, "htdocs/private/a.txt": "a"})
	for _, tc := range []struct {
		name, auth string
		status     int
	}{
		{"a user named twice is the first line's", basic("dup", "first"), 200},
		{"not the second's", basic("dup", "second"), 401},
		{"base64 without its padding", "Basic " + base64.RawStdEncoding.EncodeToString([]byte("bob:s3cret")), 200},
		{"an empty user", basic("", "x"), 401},
		{"another scheme", "Bearer abc", 401},
	} {
		if resp, _ := ts.get("/private/a.txt", "Authorization", tc.auth); resp.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
	}
	errs := ts.errlog.String()
	for _, want := range []string{"user  not found: /private/a.txt", "client used wrong authentication scheme: /private/a.txt"} {
		if !strings.Contains(errs, want) {
			t.Errorf("the error log lacks %q:\n%s", want, errs)
		}
	}
}

func shaB64(pw string) string {
	h := sha1.Sum([]byte(pw))
	return base64.StdEncoding.EncodeToString(h[:])
}

func TestAuthConfig(t *testing.T) {
	base := t.TempDir()
	writeFiles(t, base, map[string]string{"htdocs/users": testUsers, "htdocs/.users": testUsers, "users": testUsers, "empty": "", "plain": "carol:plain\n"})
	tests := []struct {
		auth string
		want string // a substring of the problem, "" for none
	}{
		{`{ prefix = "/p", realm = "R", users = "users" }`, ""},
		{`{ prefix = "/p", realm = "R", users = "htdocs/.users" }`, ""},
		{`{ prefix = "/p", realm = "R", users = "htdocs/users" }`, `key "auth[0].users": BASE/htdocs/users is inside the document root`},
		{`{ prefix = "/p", realm = "R", users = "missing" }`, `key "auth[0].users": BASE/missing: no such file`},
		{`{ prefix = "/p", realm = "R", users = "empty" }`, `holds no user pwebs can check`},
		{`{ prefix = "/p", realm = "R", users = "plain" }`, `holds no user pwebs can check`},
		{`{ prefix = "/p", realm = 'say "hi"', users = "users" }`, `key "auth[0].realm"`},
		{`{ prefix = "/p", realm = "", users = "users" }`, `key "auth[0].realm"`},
		{`{ prefix = "p", realm = "R", users = "users" }`, `key "auth[0].prefix"`},
		{`{ prefix = "/p", realm = "R" }`, `users is required`},
		{`{ prefix = "/p", realm = "R", users = "users" }, { prefix = "/p", realm = "R", users = "users" }`, `"/p" is listed twice`},
	}
	for _, tt := range tests {
		_, err := ParseConfig("pwebs.conf", base, []byte("document_root = \"htdocs\"\nauth = ["+tt.auth+"]\n"))
		got := ""
		if err != nil {
			got = strings.ReplaceAll(err.Error(), base, "BASE")
		}
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.auth, got, tt.want)
		}
	}
	c, err := ParseConfig("pwebs.conf", base, []byte("document_root = \"htdocs\"\nauth = [{ prefix = \"/p\", realm = \"R\", users = \"users\" }]\nerror_pages = { 401 = \"https://example.org/\" }\n"))
	if err == nil || !strings.Contains(err.Error(), "a 401 cannot redirect") {
		t.Errorf("a 401 error page that redirects: %v", err)
	}
	_ = c
}

func TestRestrict(t *testing.T) {
	conf := `restrict = [
  { prefix = "/admin", allow = ["10.0.0.0/8", "::1"] },
  { prefix = "/admin/local", allow = ["127.0.0.0/8"] },
  { prefix = "/mine", allow = ["127.0.0.1"] },
]
error_pages = { 403 = "/errors/403.html" }
`
	ts := startServer(t, conf, map[string]string{"admin/x": "x", "admin/local/y": "y", "administrator": "public", "mine/z": "z", "errors/403.html": "go away",
		"pub.shtml": `[<!--#include virtual="/admin/x" -->][<!--#include virtual="/mine/z" -->]`})
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/admin/x", 403, "go away"},
		{"/admin", 403, "go away"},
		{"/admin/local/y", 200, "y"}, // the longest prefix decides
		{"/administrator", 200, "public"},
		{"/mine/z", 200, "z"},
		{"/mine/", 200, "Index of /mine/"},
		{"/pub.shtml", 200, "[[an error occurred while processing this directive]][z]"},
	}
	for _, tt := range tests {
		resp, body := ts.get(tt.path)
		if resp.StatusCode != tt.status || !strings.Contains(body, tt.body) {
			t.Errorf("%s: %d %q; want %d %q", tt.path, resp.StatusCode, body, tt.status, tt.body)
		}
	}
	if !strings.Contains(ts.errlog.String(), "client denied by server configuration: "+ts.root+"/admin/x") {
		t.Errorf("the refusal is not logged as Apache words it:\n%s", ts.errlog.String())
	}
	base := t.TempDir()
	must(t, os.Mkdir(filepath.Join(base, "htdocs"), 0o755))
	_, err := ParseConfig("pwebs.conf", base, []byte("document_root = \"htdocs\"\nrestrict = [\n  { prefix = \"/a\", allow = [\"10.0.0.0/33\", \"localhost\"] },\n  { prefix = \"b\", allow = [\"::1\"] },\n  { prefix = \"/c\" },\n  { prefix = \"/d\", allow = [\"::ffff:127.0.0.1\"] },\n]\n"))
	want := []string{
		`pwebs.conf:6: key "restrict[3].allow": "::ffff:127.0.0.1" is an IPv4 address written as IPv6, which no client matches: write 127.0.0.1`,
		`pwebs.conf:3: key "restrict[0].allow": "10.0.0.0/33" is neither an address nor a network`,
		`pwebs.conf:3: key "restrict[0].allow": "localhost" is neither`,
		`pwebs.conf:4: key "restrict[1].prefix": "b" is not a URL path`,
		`pwebs.conf:5: key "restrict[2]": allow is required`,
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("config problems lack %q: %v", w, err)
		}
	}
}

func TestHeaders(t *testing.T) {
	top := `headers = { "X-Content-Type-Options" = "nosniff", "Content-Security-Policy" = "default-src 'self'" }
redirects = [{ from = "/old", to = "/digits.txt" }]
`
	ts := startCGIServerFiles(t, top, "", map[string]string{
		"htdocs/dir/x": "x", "htdocs/page.shtml": "page",
		"cgi-bin/own.sh": "#!/bin/sh\nprintf 'Content-Type: text/plain\\nx-content-type-options: script\\n\\nown'\n",
	})
	must(t, os.Chmod(filepath.Join(ts.dir, "cgi-bin", "own.sh"), 0o755))
	for _, tc := range []struct {
		path    string
		header  []string
		status  int
		nosniff string
	}{
		{"/digits.txt", nil, 200, "nosniff"},
		{"/digits.txt", nil, 200, "nosniff"}, // from the cache
		{"/digits.txt", []string{"If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT"}, 304, "nosniff"},
		{"/dir/", nil, 200, "nosniff"},
		{"/page.shtml", nil, 200, "nosniff"},
		{"/nope", nil, 404, "nosniff"},
		{"/old", nil, 302, "nosniff"},
		{"/cgi-bin/hello.sh", nil, 200, "nosniff"},
		{"/cgi-bin/own.sh", nil, 200, "script"},
	} {
		resp, _ := ts.get(tc.path, tc.header...)
		if resp.StatusCode != tc.status || resp.Header.Values("X-Content-Type-Options")[0] != tc.nosniff ||
			len(resp.Header.Values("X-Content-Type-Options")) != 1 || resp.Header.Get("Content-Security-Policy") != "default-src 'self'" {
			t.Errorf("%s: %d %v", tc.path, resp.StatusCode, resp.Header)
		}
	}
	// An nph- script writes its own head: nothing is added.
	raw := ts.roundTrip("GET /cgi-bin/nph-raw.sh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if strings.Contains(raw, "nosniff") {
		t.Errorf("headers were added to an nph- response:\n%s", raw)
	}
	base := t.TempDir()
	must(t, os.Mkdir(filepath.Join(base, "htdocs"), 0o755))
	_, err := ParseConfig("pwebs.conf", base, []byte("document_root = \"htdocs\"\nheaders = { \"Content-Type\" = \"x/y\", \"Bad Name\" = \"v\", \"X-A\" = \"a\\u0001b\", \"X-B\" = \"\" }\n"))
	for _, w := range []string{
		`key "headers.Bad Name": "Bad Name" is not a header field name`,
		`key "headers.Content-Type": Content-Type is written by pwebs itself`,
		`key "headers.X-A": the value holds a control character`,
		`key "headers.X-B": the value "" is empty`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("config problems lack %q: %v", w, err)
		}
	}
}

func TestServerTokens(t *testing.T) {
	for _, tc := range []struct{ tokens, want string }{{"", "pwebs/" + Version}, {`server_tokens = "product"` + "\n", "pwebs"}} {
		ts := startCGIServerFiles(t, tc.tokens, "", map[string]string{"htdocs/dir/x": "x"})
		resp, _ := ts.get("/digits.txt")
		if got := resp.Header.Get("Server"); got != tc.want {
			t.Errorf("%q: Server %q, want %q", tc.tokens, got, tc.want)
		}
		if _, body := ts.get("/nope"); !strings.Contains(body, "<address>"+tc.want+"</address>") {
			t.Errorf("%q: error page %q", tc.tokens, body)
		}
		if _, body := ts.get("/dir/"); !strings.Contains(body, "· "+tc.want+"</footer>") {
			t.Errorf("%q: listing footer in %q", tc.tokens, body)
		}
		if _, body := ts.get("/cgi-bin/env.sh"); envOf(body)["SERVER_SOFTWARE"] != tc.want {
			t.Errorf("%q: SERVER_SOFTWARE %q", tc.tokens, envOf(body)["SERVER_SOFTWARE"])
		}
	}
	base := t.TempDir()
	must(t, os.Mkdir(filepath.Join(base, "htdocs"), 0o755))
	if _, err := ParseConfig("pwebs.conf", base, []byte("document_root = \"htdocs\"\nserver_tokens = \"prod\"\n")); err == nil ||
		!strings.Contains(err.Error(), `pwebs.conf:2: key "server_tokens": "prod": write "full"`) {
		t.Errorf("a bad server_tokens: %v", err)
	}
}

// TestSameNameTwice: expires types and header names that differ only in
// case, and Cache-Control set both ways, are refused: which one won was
// left to chance.
func TestSameNameTwice(t *testing.T) {
	base := t.TempDir()
	must(t, os.Mkdir(filepath.Join(base, "htdocs"), 0o755))
	_, err := ParseConfig("pwebs.conf", base, []byte("document_root = \"htdocs\"\nexpires = { \"text/css\" = \"1h\", \"TEXT/CSS\" = \"2h\" }\nheaders = { \"X-A\" = \"1\", \"x-a\" = \"2\", \"Cache-Control\" = \"no-store\" }\n"))
	for _, w := range []string{
		`key "expires.text/css": "TEXT/CSS" and "text/css" are the same type`,
		`key "headers.x-a": "X-A" and "x-a" are the same field`,
		`key "headers.Cache-Control": expires writes Cache-Control too`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("config problems lack %q: %v", w, err)
		}
	}
}
