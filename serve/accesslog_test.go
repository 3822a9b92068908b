package serve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAccessLogRepeatedFields: a field sent several times, in the request
// or in a script's response, is logged with every value joined by ", ", as
// Apache logs it; Content-Type keeps its first value without parameters.
func TestAccessLogRepeatedFields(t *testing.T) {
	conf := "[cgi]\ndirs = { \"/cgi-bin/\" = \"cgi-bin\" }\n" +
		"[log]\naccess = \"logs/access_log\"\nerror = \"-\"\n" +
		`format = "\"%{Referer}i\" \"%{User-Agent}i\" [%{Set-Cookie}o] [%{X-Foo}o] [%{Content-Type}o] [%{X-None}o]"` + "\n"
	ts := startServerWith(t, conf, map[string]string{
		"htdocs/digits.txt": "0123456789",
		"cgi-bin/cookies.sh": "#!/bin/sh\nprintf 'Content-Type: text/plain; charset=iso-8859-1\\r\\nSet-Cookie: a=1\\r\\n" +
			"Set-Cookie: b=2\\r\\nX-Foo: one\\r\\nX-Foo: two\\r\\n\\r\\nhi\\n'\n",
	})
	must(t, os.Chmod(filepath.Join(ts.dir, "cgi-bin", "cookies.sh"), 0o755))
	head := "Host: x\r\nUser-Agent: Mozilla/5.0\r\nReferer: http://a/\r\nUser-Agent: evilbot\r\nReferer: http://b/\r\nConnection: close\r\n\r\n"
	for _, target := range []string{"/cgi-bin/cookies.sh", "/digits.txt"} {
		if resp := ts.roundTrip("GET " + target + " HTTP/1.1\r\n" + head); statusOfRaw(resp) != "200" {
			t.Fatalf("%s: %.80q", target, resp)
		}
	}
	ts.flushLogs()
	got := readLogs(t, filepath.Join(ts.dir, "logs", "access_log"))
	want := []string{
		`"http://a/, http://b/" "Mozilla/5.0, evilbot" [a=1, b=2] [one, two] [text/plain] [-]`,
		`"http://a/, http://b/" "Mozilla/5.0, evilbot" [-] [-] [text/plain] [-]`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
