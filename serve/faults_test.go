package serve

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRootDisappears removes the document root while serving, then makes
// it again: a 503 with an error log line meanwhile (once the cache has
// dropped the file: its fsnotify event comes a little after the removal),
// the new folder served after.
func TestRootDisappears(t *testing.T) {
	ts := startServer(t, "", map[string]string{"a.txt": "first"})
	ts.waitBody("/a.txt", "first", 200)
	must(t, os.RemoveAll(ts.root))
	// The cached entry answers until the cache hears of the removal.
	ts.waitBody("/a.txt", "", 503)
	waitFor(t, "an error log line", func() bool { return strings.Contains(ts.errlog.String(), "document root is missing") })
	must(t, os.MkdirAll(ts.root, 0o755))
	must(t, os.WriteFile(filepath.Join(ts.root, "a.txt"), []byte("second"), 0o644))
	ts.waitBody("/a.txt", "second", 200)
	// Replaced by a rename: the new folder is served.
	tmp := ts.root + ".new"
	must(t, os.MkdirAll(tmp, 0o755))
	must(t, os.WriteFile(filepath.Join(tmp, "a.txt"), []byte("third"), 0o644))
	must(t, os.RemoveAll(ts.root))
	must(t, os.Rename(tmp, ts.root))
	ts.waitBody("/a.txt", "third", 200)
}

// TestFileChangesWhileSent truncates, replaces and deletes a big file
// while it is being sent: a truncation cuts the connection (never wrong
// bytes after the promised length), a replacement or deletion finishes the
// old content, and the server carries on.
func TestFileChangesWhileSent(t *testing.T) {
	const size = 32 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i % 251)
	}
	ts := startServer(t, "", nil)
	path := filepath.Join(ts.root, "big.bin")
	for _, change := range []string{"truncate", "replace", "delete"} {
		must(t, os.WriteFile(path, data, 0o644))
		// A small receive buffer, set before connecting, keeps most of the
		// file on the server's side while the change happens.
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8192) })
			return nil
		}}
		nc, err := d.Dial("tcp", ts.addr)
		must(t, err)
		nc.SetDeadline(time.Now().Add(20 * time.Second))
		fmt.Fprintf(nc, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReaderSize(nc, 4096)
		resp, err := http.ReadResponse(br, nil)
		must(t, err)
		length, _ := strconv.Atoi(resp.Header.Get("Content-Length"))
		head := make([]byte, 1<<20)
		if _, err = io.ReadFull(resp.Body, head); err != nil {
			t.Fatalf("%s: reading the first MiB: %v (status %d, length %d)", change, err, resp.StatusCode, length)
		}
		switch change {
		case "truncate":
			must(t, os.Truncate(path, 2<<20))
		case "replace":
			must(t, os.WriteFile(path+".tmp", []byte("new"), 0o644))
			must(t, os.Rename(path+".tmp", path))
		case "delete":
			must(t, os.Remove(path))
		}
		rest, err := io.ReadAll(resp.Body)
		got := append(head, rest...)
		for i, b := range got {
			if b != byte(i%251) {
				t.Fatalf("%s: wrong byte at %d", change, i)
			}
		}
		if change == "truncate" {
			if err == nil || len(got) >= length {
				t.Errorf("truncate: got %d of %d bytes and err %v; want a cut connection", len(got), length, err)
			}
		} else if err != nil || len(got) != size {
			t.Errorf("%s: got %d of %d bytes, err %v", change, len(got), size, err)
		}
		nc.Close()
	}
	must(t, os.WriteFile(path, []byte("ok"), 0o644))
	ts.waitBody("/big.bin", "ok", 200)
}

// TestScriptCrashes runs a script that dies of SIGSEGV before and after
// its header: a 500, or a cut response, and an error log line naming the
// signal.
func TestScriptCrashes(t *testing.T) {
	files := map[string]string{
		"cgi-bin/segv.sh":       "#!/bin/sh\nkill -SEGV $$\n",
		"cgi-bin/segv-later.sh": "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nstart\\n'\nkill -SEGV $$\n",
	}
	ts := startServerWith(t, "[cgi]\ndirs = { \"/cgi-bin/\" = \"cgi-bin\" }\n", files)
	for name := range files {
		must(t, os.Chmod(filepath.Join(ts.dir, name), 0o755))
	}
	start := time.Now()
	resp, _ := ts.get("/cgi-bin/segv.sh")
	if resp.StatusCode != 500 {
		t.Errorf("crash before the header: %d", resp.StatusCode)
	}
	t.Logf("crash before header answered in %v", time.Since(start))
	waitFor(t, "the crash in the error log", func() bool {
		return strings.Contains(ts.errlog.String(), "segv.sh") && strings.Contains(ts.errlog.String(), "SIGSEGV")
	})
	// After its header the status cannot change: the output is sent as it
	// came, and the error log says what happened.
	start = time.Now()
	raw := ts.roundTrip("GET /cgi-bin/segv-later.sh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if !strings.Contains(raw, "start\n") {
		t.Errorf("crash after the header: %q", raw)
	}
	t.Logf("crash after header answered in %v", time.Since(start))
	waitFor(t, "the second crash in the error log", func() bool {
		return strings.Contains(ts.errlog.String(), "segv-later.sh") && strings.Count(ts.errlog.String(), "SIGSEGV") >= 2
	})
	if resp, _ := ts.get("/cgi-bin/segv.sh"); resp.StatusCode != 500 {
		t.Errorf("the server stopped answering")
	}
}

// TestLogFolderRemoved removes the log folder while serving: requests are
// still answered, and logging resumes once the folder is back (pwebs makes
// it again).
func TestLogFolderRemoved(t *testing.T) {
	ts := startServer(t, "[log]\naccess = \"logs/access_log\"\nerror = \"-\"\n", siteFiles)
	logs := filepath.Join(ts.dir, "logs")
	ts.get("/digits.txt?before")
	must(t, ts.logger.Flush())
	must(t, os.RemoveAll(logs))
	// A file where the folder was: writing fails for root too.
	must(t, os.WriteFile(logs, []byte("in the way"), 0o644))
	for i := 0; i < 20; i++ {
		if resp, _ := ts.get(fmt.Sprintf("/digits.txt?during=%d", i)); resp.StatusCode != 200 {
			t.Fatalf("a request failed while the log could not be written")
		}
	}
	ts.logger.Flush()
	must(t, os.Remove(logs))
	ts.get("/digits.txt?after")
	waitFor(t, "logging to resume", func() bool {
		ts.logger.Flush()
		b, _ := os.ReadFile(filepath.Join(logs, "access_log"))
		return strings.Contains(string(b), "?after")
	})
	b, _ := os.ReadFile(filepath.Join(logs, "access_log"))
	if !strings.Contains(string(b), "during=19") {
		t.Errorf("the lines of the outage were lost:\n%s", b)
	}
}

// TestGracefulStopUnderLoad stops the server while clients send requests
// as fast as they can: every response a client gets is complete.
func TestGracefulStopUnderLoad(t *testing.T) {
	ts := startServer(t, "", siteFiles)
	stop := make(chan struct{})
	results := make(chan [2]int, 16)
	for i := 0; i < 16; i++ {
		go func() {
			ok, bad := 0, 0
			defer func() { results <- [2]int{ok, bad} }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				nc, err := net.Dial("tcp", ts.addr)
				if err != nil {
					return // no longer accepting
				}
				nc.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(nc)
				for j := 0; j < 20; j++ {
					if _, err := fmt.Fprintf(nc, "GET /digits.txt HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
						break
					}
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						break // closed before this request was read: never accepted
					}
					b, err := io.ReadAll(resp.Body)
					if err != nil || string(b) != "0123456789" {
						bad++
					} else {
						ok++
					}
					if resp.Close {
						break
					}
				}
				nc.Close()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	ts.flushLogs() // Shutdown
	close(stop)
	ok, bad := 0, 0
	for i := 0; i < 16; i++ {
		r := <-results
		ok, bad = ok+r[0], bad+r[1]
	}
	if bad > 0 || ok == 0 {
		t.Errorf("%d complete responses, %d incomplete", ok, bad)
	}
}
