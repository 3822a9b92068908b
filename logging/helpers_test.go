package logging

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pwebs/pwebs/internal/syncbuf"
)

// syncBuffer is a bytes.Buffer safe to read while other goroutines write it.
type syncBuffer = syncbuf.Buffer

// testOptions returns options for logs in dir/logs with a small rotate size.
func testOptions(dir string) Options {
	o := DefaultOptions()
	o.Access = filepath.Join(dir, "logs", "access_log")
	o.Error = filepath.Join(dir, "logs", "error_log")
	o.RotateSize = 4 << 10
	o.Keep = 100000
	return o
}

// newTestLogger opens a Logger whose problem reports go to the returned
// buffer, closed when the test ends.
func newTestLogger(t testing.TB, o Options) (*Logger, *syncBuffer) {
	t.Helper()
	var stderr syncBuffer
	l, err := open(o, env{stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, &stderr
}

// logFiles returns the rotated files of path, oldest first, then path itself
// when it exists.
func logFiles(t testing.TB, path string) []string {
	t.Helper()
	list, err := backups(path)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, b := range slices.Backward(list) {
		if b.plain && b.gz {
			t.Errorf("got both %s and its .gz, want one", b.name)
		}
		if b.gz {
			files = append(files, b.name+".gz")
		} else {
			files = append(files, b.name)
		}
	}
	if _, err := os.Stat(path); err == nil {
		files = append(files, path)
	}
	return files
}

// readLog returns the contents of a log file, gunzipped when it ends in .gz.
func readLog(t testing.TB, name string) string {
	t.Helper()
	s, err := tryReadLog(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tryReadLog returns what readLog returns, or the error that stops it.
func tryReadLog(name string) (string, error) {
	b, err := os.ReadFile(name)
	if err != nil || !strings.HasSuffix(name, ".gz") {
		return string(b), err
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return string(plain), nil
}

// allLines returns the lines of path and of all its rotated files, oldest
// first.
func allLines(t testing.TB, path string) []string {
	t.Helper()
	var lines []string
	for _, f := range logFiles(t, path) {
		s := readLog(t, f)
		if s != "" && !strings.HasSuffix(s, "\n") {
			t.Errorf("%s ends in the middle of a line: %q", f, s[max(0, len(s)-80):])
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(s, "\n"), "\n")...)
		if s == "" {
			lines = lines[:len(lines)-1]
		}
	}
	return lines
}

// recordN returns a sample record whose path carries writer w and sequence n.
func recordN(w, n int) *Record {
	r := sampleRecord()
	r.RequestLine = []byte("GET /w" + itoa(w) + "/n" + itoa(n) + " HTTP/1.1")
	return r
}

func itoa(n int) string { return string(appendDigits(nil, n, 1)) }

// waitFor polls cond every 10ms, for at most d.
func waitFor(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}
