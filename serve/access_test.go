package serve

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// combinedRE matches one Apache Combined Log Format line, with Apache's
// escaping inside the quoted fields.
var combinedRE = regexp.MustCompile(`^(\S+) (\S+) (\S+) \[(\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$`)

// readLogs returns every line of a log: the live file and every rotated
// file beside it, gzipped or not.
func readLogs(t *testing.T, live string) []string {
	t.Helper()
	files, err := filepath.Glob(live + "*")
	must(t, err)
	var lines []string
	for _, f := range files {
		fh, err := os.Open(f)
		must(t, err)
		var r io.Reader = fh
		if strings.HasSuffix(f, ".gz") {
			zr, err := gzip.NewReader(fh)
			must(t, err)
			r = zr
		}
		b, err := io.ReadAll(r)
		fh.Close()
		must(t, err)
		for _, l := range strings.Split(string(b), "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
	}
	return lines
}

// flushLogs stops the server's writes reaching the log: it shuts the server
// down and closes the logger, which writes out everything buffered.
func (ts *testServer) flushLogs() {
	ts.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ts.srv.Shutdown(ctx)
	if ts.logger != nil {
		must(ts.t, ts.logger.Close())
	}
}

func TestAccessLogCombined(t *testing.T) {
	ts := startServer(t, "[log]\naccess = \"logs/access_log\"\nerror = \"-\"\n", siteFiles)
	ts.get("/digits.txt", "Referer", "http://example.org/a \"quoted\" page", "User-Agent", "curl/8 \\ tester")
	ts.get("/missing", "User-Agent", "agent")
	ts.do("HEAD", "/digits.txt", nil)
	// A hostile request line: quotes, backslashes, a newline-like escape,
	// raw UTF-8, a control byte in a header.
	ts.roundTrip("GET /a\"b\\c\\n%0A/\xc3\xa9t\xc3\xa9?q=\"1\" HTTP/1.1\r\nHost: x\r\nUser-Agent: ua \"q\" \\ caf\xc3\xa9\r\nConnection: close\r\n\r\n")
	// Malformed requests are logged too.
	ts.roundTrip("GET / HTTP/1.1\nHost: x\n\n")
	ts.roundTrip("BREW /pot HTTP/9.9\r\nHost: x\r\n\r\n")
	// A client that leaves in the middle of a big response.
	big := filepath.Join(ts.root, "big.bin")
	must(t, os.WriteFile(big, make([]byte, 8<<20), 0o644))
	nc, err := net.Dial("tcp", ts.addr)
	must(t, err)
	fmt.Fprintf(nc, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	io.ReadFull(nc, make([]byte, 1000))
	nc.Close()
	time.Sleep(100 * time.Millisecond)
	ts.flushLogs()

	lines := readLogs(t, filepath.Join(ts.dir, "logs", "access_log"))
	if len(lines) != 7 {
		t.Fatalf("got %d lines, want 7:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	want := []struct {
		status, request, referer, agent string
	}{
		{"200", "GET /digits.txt HTTP/1.1", `http://example.org/a \"quoted\" page`, `curl/8 \\ tester`},
		{"404", "GET /missing HTTP/1.1", "-", "agent"},
		{"200", "HEAD /digits.txt HTTP/1.1", "-", "Go-http-client/1.1"},
		{"404", `GET /a\"b\\c\\n%0A/\xc3\xa9t\xc3\xa9?q=\"1\" HTTP/1.1`, "-", `ua \"q\" \\ caf\xc3\xa9`},
		{"400", "GET / HTTP/1.1", "-", "-"},
		{"505", "BREW /pot HTTP/9.9", "-", "-"},
		{"200", "GET /big.bin HTTP/1.1", "-", "-"},
	}
	for i, line := range lines {
		m := combinedRE.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("line %d is not a combined line: %q", i, line)
			continue
		}
		w := want[i]
		if m[6] != w.status || m[5] != w.request || m[8] != w.referer || m[9] != w.agent {
			t.Errorf("line %d: status %s request %q referer %q agent %q\nwant %s %q %q %q", i, m[6], m[5], m[8], m[9], w.status, w.request, w.referer, w.agent)
		}
		if m[1] != "127.0.0.1" {
			t.Errorf("line %d: host %q", i, m[1])
		}
	}
	if goaccess, err := exec.LookPath("goaccess"); err == nil {
		reportPath := filepath.Join(t.TempDir(), "r.json")
		out, err := exec.Command(goaccess, filepath.Join(ts.dir, "logs", "access_log"), "--log-format=COMBINED", "-o", reportPath, "--json-pretty-print").CombinedOutput()
		if err != nil {
			t.Fatalf("goaccess: %v\n%s", err, out)
		}
		checkGoaccess(t, out, reportPath)
	} else {
		requireTool(t, "goaccess")
	}
	// %b: the bytes actually sent, "-" for none.
	if m := combinedRE.FindStringSubmatch(lines[0]); m == nil || m[7] != "10" {
		t.Errorf("bytes of the first line: %q", lines[0])
	}
	if m := combinedRE.FindStringSubmatch(lines[2]); m == nil || m[7] != "-" {
		t.Errorf("bytes of the HEAD line: %q", lines[2])
	}
	if m := combinedRE.FindStringSubmatch(lines[6]); m == nil || m[7] == "-" || m[7] == fmt.Sprint(8<<20) {
		t.Errorf("bytes of the cut response should be what was sent: %q", lines[6])
	}
}

func TestAccessLogFormat(t *testing.T) {
	ts := startServer(t, "max_clients = 1\n[log]\naccess = \"logs/access_log\"\nerror = \"-\"\nformat = \"%a %m %U %q %H %>s %B %v %{queue}t %D %{Content-Type}o %{X-Test}i %%\"\n", siteFiles)
	ts.get("/digits.txt?x=1", "X-Test", "yes")
	ts.flushLogs()
	lines := readLogs(t, filepath.Join(ts.dir, "logs", "access_log"))
	if len(lines) != 1 {
		t.Fatalf("lines: %q", lines)
	}
	re := regexp.MustCompile(`^127\.0\.0\.1 GET /digits\.txt \?x=1 HTTP/1\.1 200 10 \S+ \d+ \d+ text/plain yes %$`)
	if !re.MatchString(lines[0]) {
		t.Errorf("got %q", lines[0])
	}
}

// TestAccessLogUnderLoad sends many requests from 50 clients with a tiny
// rotate_size: the lines across the live file and every gzipped rotation
// must number exactly the requests made, each complete.
func TestAccessLogUnderLoad(t *testing.T) {
	requests := 20000
	if testing.Short() {
		requests = 2000
	}
	if os.Getenv("PWEBS_FULL") != "" {
		requests = 200000 // the full size
	}
	const clients = 50
	ts := startServer(t, "[log]\naccess = \"logs/access_log\"\nerror = \"-\"\nrotate_size = \"64KiB\"\nkeep = 100000\n", siteFiles)
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent := map[string]int{}
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			nc, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer nc.Close()
			br := bufio.NewReader(nc)
			for i := c; i < requests; i += clients {
				path := fmt.Sprintf("/digits.txt?n=%d", i)
				fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: x\r\nUser-Agent: load\r\n\r\n", path)
				line, err := br.ReadString('\n')
				if err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
					t.Errorf("request %d: %q %v", i, line, err)
					return
				}
				for {
					l, err := br.ReadString('\n')
					if err != nil || l == "\r\n" {
						break
					}
				}
				io.ReadFull(br, make([]byte, 10))
				mu.Lock()
				sent[path]++
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	ts.flushLogs()
	lines := readLogs(t, filepath.Join(ts.dir, "logs", "access_log"))
	files, _ := filepath.Glob(filepath.Join(ts.dir, "logs", "access_log*"))
	if len(lines) != requests {
		t.Errorf("%d lines for %d requests, in %d files", len(lines), requests, len(files))
	}
	seen := map[string]int{}
	for _, l := range lines {
		m := combinedRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("incomplete or broken line: %q", l)
		}
		seen[strings.Fields(m[5])[1]]++
	}
	for p, n := range sent {
		if seen[p] != n {
			t.Errorf("%s: %d lines, %d requests", p, seen[p], n)
			break
		}
	}
	if len(files) < 10 {
		t.Errorf("only %d log files: rotation at 64KiB did not happen", len(files))
	}
	t.Logf("%d requests, %d lines, %d files", requests, len(lines), len(files))

	// goaccess reads the whole log without an invalid line.
	goaccess, err := exec.LookPath("goaccess")
	if err != nil {
		requireTool(t, "goaccess")
		return
	}
	all := filepath.Join(t.TempDir(), "all.log")
	sort.Strings(lines)
	must(t, os.WriteFile(all, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	reportPath := filepath.Join(t.TempDir(), "r.json")
	out, err := exec.Command(goaccess, all, "--log-format=COMBINED", "-o", reportPath, "--json-pretty-print").CombinedOutput()
	if err != nil {
		t.Fatalf("goaccess: %v\n%s", err, out)
	}
	checkGoaccess(t, out, reportPath)
}

// checkGoaccess reads goaccess's JSON report and fails on any line it
// could not parse.
func checkGoaccess(t *testing.T, out []byte, report string) {
	t.Helper()
	b, err := os.ReadFile(report)
	must(t, err)
	var r struct {
		General struct {
			Total  int `json:"total_requests"`
			Valid  int `json:"valid_requests"`
			Failed int `json:"failed_requests"`
		} `json:"general"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("goaccess report: %v\n%s", err, out)
	}
	if r.General.Failed != 0 || r.General.Valid == 0 {
		t.Errorf("goaccess: %d valid, %d invalid lines", r.General.Valid, r.General.Failed)
	}
}

// requireTool skips a test whose outside program is missing, or fails it
// when PWEBS_REQUIRE_ALL=1.
func requireTool(t *testing.T, name string) {
	t.Helper()
	if os.Getenv("PWEBS_REQUIRE_ALL") == "1" {
		t.Fatalf("%s is not installed (PWEBS_REQUIRE_ALL=1)", name)
	}
	t.Skipf("%s is not installed", name)
}

// TestAccessLogRefusedHead: a head refused for its framing or its host is
// logged with its own request line, never with bytes that follow it (which
// the client chooses, and could make look like another request).
func TestAccessLogRefusedHead(t *testing.T) {
	ts := startServer(t, "[log]\naccess = \"logs/access_log\"\nerror = \"-\"\n", siteFiles)
	cases := []struct{ raw, want string }{
		{"POST /login HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\nConnection: close\r\n\r\nGET /forged?x HTTP/1.1\r\nHost: h\r\n\r\n", "POST /login HTTP/1.1"},
		{"POST /te10 HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "POST /te10 HTTP/1.0"},
		{"GET /first HTTP/1.1\r\n\r\nGET /second HTTP/1.1\r\nHost: h\r\n\r\n", "GET /first HTTP/1.1"},
		{"GET /twohosts HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "GET /twohosts HTTP/1.1"},
		{"GET /badhost HTTP/1.1\r\nHost: a b/c\r\n\r\nDELETE /pretend HTTP/1.1\r\n\r\n", "GET /badhost HTTP/1.1"},
	}
	for _, c := range cases {
		if resp := ts.roundTrip(c.raw); !strings.HasPrefix(resp, "HTTP/1.1 400 ") {
			t.Errorf("%q: %.40q, want a 400", c.want, resp)
		}
	}
	ts.flushLogs()
	lines := readLogs(t, filepath.Join(ts.dir, "logs", "access_log"))
	if len(lines) != len(cases) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(cases), strings.Join(lines, "\n"))
	}
	for i, line := range lines {
		m := combinedRE.FindStringSubmatch(line)
		if m == nil || m[5] != cases[i].want || m[6] != "400" {
			t.Errorf("line %d: %q, want request %q and 400", i, line, cases[i].want)
		}
	}
}

// TestAccessLogCutHead: a client that ends its side of the connection in
// the middle of a request head is answered 400, and the request logged.
func TestAccessLogCutHead(t *testing.T) {
	ts := startServer(t, "[log]\naccess = \"logs/access_log\"\nerror = \"-\"\n", siteFiles)
	nc, err := net.Dial("tcp", ts.addr)
	must(t, err)
	defer nc.Close()
	fmt.Fprint(nc, "GET /partial HTTP/1.1\r\nHost: x\r\n")
	must(t, nc.(*net.TCPConn).CloseWrite())
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, _ := io.ReadAll(nc)
	if !strings.HasPrefix(string(resp), "HTTP/1.1 400 ") {
		t.Errorf("answer: %.60q, want a 400", resp)
	}
	ts.flushLogs()
	lines := readLogs(t, filepath.Join(ts.dir, "logs", "access_log"))
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if m := combinedRE.FindStringSubmatch(lines[0]); m == nil || m[5] != "GET /partial HTTP/1.1" || m[6] != "400" {
		t.Errorf("line %q", lines[0])
	}
}

// TestBytesReceived: %I is the request's head and the body bytes read,
// and %S adds %O, as mod_logio counts them.
func TestBytesReceived(t *testing.T) {
	ts := startCGIServerTop(t, "[log]\naccess = \"logs/access_log\"\nformat = \"%I %O %S\"\nerror = \"-\"\n", "")
	get := "GET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\n"
	post := "POST /cgi-bin/echo-body.sh HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
	bad := "GET /x HTTP/1.1\r\nHost: a b\r\n\r\n"
	rc := ts.dial()
	rc.send(get + post)
	rc.read("GET")
	rc.read("POST")
	ts.roundTrip(bad)
	lines := ts.accessLines()
	if len(lines) != 3 {
		t.Fatalf("lines: %q", lines)
	}
	for i, want := range []int{len(get), len(post), len(bad)} {
		var in, out, sum int
		if _, err := fmt.Sscanf(lines[i], "%d %d %d", &in, &out, &sum); err != nil || in != want || out <= 0 || sum != in+out {
			t.Errorf("line %d %q: want %%I %d and %%S = %%I + %%O", i, lines[i], want)
		}
	}
}
