package serve

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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

// TestAccessLogConnection: %X, %k and %O, as Apache's mod_log_config and
// mod_logio print them: the connection's state after the response, the
// requests it carried before, and the bytes sent, head included; %L and
// %{VAR}e print "-".
func TestAccessLogConnection(t *testing.T) {
	conf := "[log]\naccess = \"logs/access_log\"\nerror = \"-\"\n" +
		`format = "%r|%X|%k|%O|%B|%L|%{UNIQUE_ID}e"` + "\n"
	ts := startServer(t, conf, map[string]string{"digits.txt": "0123456789"})
	big := filepath.Join(ts.root, "big.bin")
	must(t, os.WriteFile(big, make([]byte, 8<<20), 0o644))

	keep := ts.roundTrip("GET /digits.txt?1 HTTP/1.1\r\nHost: x\r\n\r\nGET /digits.txt?2 HTTP/1.1\r\nHost: x\r\n\r\n" +
		"HEAD /digits.txt?3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	old := ts.roundTrip("GET /missing HTTP/1.0\r\n\r\n")
	nc := ts.dial()
	nc.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	io.ReadFull(nc.br, make([]byte, 1000))
	nc.nc.Close()
	time.Sleep(100 * time.Millisecond)
	ts.flushLogs()

	lines := readLogs(t, filepath.Join(ts.dir, "logs", "access_log"))
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want 5:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	type field struct{ request, x, k, o, b string }
	var got []field
	for _, l := range lines {
		f := strings.Split(l, "|")
		if len(f) != 7 || f[5] != "-" || f[6] != "-" {
			t.Fatalf("line %q", l)
		}
		got = append(got, field{f[0], f[1], f[2], f[3], f[4]})
	}
	want := []field{
		{"GET /digits.txt?1 HTTP/1.1", "+", "0", "", "10"},
		{"GET /digits.txt?2 HTTP/1.1", "+", "1", "", "10"},
		{"HEAD /digits.txt?3 HTTP/1.1", "-", "2", "", "0"},
		{"GET /missing HTTP/1.0", "-", "0", strconv.Itoa(len(old)), ""},
		{"GET /big.bin HTTP/1.1", "X", "0", "", ""},
	}
	sum := 0
	for i, w := range want {
		g := got[i]
		if g.request != w.request || g.x != w.x || g.k != w.k || w.o != "" && g.o != w.o || w.b != "" && g.b != w.b {
			t.Errorf("line %d: %+v, want %+v", i, g, w)
		}
		if i < 3 {
			n, _ := strconv.Atoi(g.o)
			sum += n
		}
	}
	// The bytes sent on the first connection are the three responses'.
	if sum != len(keep) {
		t.Errorf("%%O of the three responses: %d bytes in all, want %d", sum, len(keep))
	}
	if o, _ := strconv.Atoi(got[4].o); o < 1000 || o >= 8<<20 {
		t.Errorf("%%O of the cut response: %s", got[4].o)
	}
}
