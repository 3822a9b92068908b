package logging

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pwebs/pwebs/conf"
)

func TestDefaultOptions(t *testing.T) {
	o := DefaultOptions()
	want := Options{Access: "logs/access_log", Error: "logs/error_log", Format: "combined", Level: "notice",
		RotateSize: 1 << 20, Keep: 20, Compress: true}
	if o != want {
		t.Errorf("got %+v, want %+v", o, want)
	}
	if errs := o.Validate(); len(errs) != 0 {
		t.Errorf("got %v, want the defaults to be valid", errs)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(o *Options)
		keys []string
	}{
		{"defaults", func(o *Options) {}, nil},
		{"access off, stderr", func(o *Options) { o.Access, o.Error = "", "-" }, nil},
		{"both std", func(o *Options) { o.Access, o.Error = "-", "-" }, nil},
		{"no rotation", func(o *Options) { o.RotateSize, o.Keep = 0, 0 }, nil},
		{"smallest rotation", func(o *Options) { o.RotateSize = MinRotateSize }, nil},
		{"LogFormat", func(o *Options) { o.Format = `%h %{X-Forwarded-For}i %>s` }, nil},
		{"error off", func(o *Options) { o.Error = "" }, []string{"error"}},
		{"same file", func(o *Options) { o.Access, o.Error = "logs/x", "./logs/x" }, []string{"access"}},
		{"bad format", func(o *Options) { o.Format = "%h %Z" }, []string{"format"}},
		{"bad level", func(o *Options) { o.Level = "verbose" }, []string{"level"}},
		{"tiny rotation", func(o *Options) { o.RotateSize = 100 }, []string{"rotate_size"}},
		{"negative rotation", func(o *Options) { o.RotateSize = -1 }, []string{"rotate_size"}},
		{"negative keep", func(o *Options) { o.Keep = -1 }, []string{"keep"}},
		{"all at once", func(o *Options) { o.Format, o.Level, o.Keep = "", "", -2 }, []string{"format", "level", "keep"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			tt.mod(&o)
			var keys []string
			for _, err := range o.Validate() {
				var ke *conf.KeyError
				if !errors.As(err, &ke) {
					t.Fatalf("got %T %v, want a *conf.KeyError", err, err)
				}
				keys = append(keys, ke.Key)
			}
			if got, want := fmt.Sprint(keys), fmt.Sprint(tt.keys); got != want {
				t.Errorf("got keys %q, want %q", got, want)
			}
		})
	}
	o := DefaultOptions()
	o.Level = "loud"
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), `key "level"`) {
		t.Errorf("New: got %v, want the validation error", err)
	}
}

var full = flag.Bool("full", false, "TestNoLinesLost: 200,000 records from 50 writers with rotate_size 64KiB")

// TestNoLinesLost has many writers log through a tiny rotate_size: every
// line must arrive, complete, exactly once, across the live file and every
// gzipped rotation. With -full it logs the load: 200,000 records
// from 50 writers with rotate_size = "64KiB".
func TestNoLinesLost(t *testing.T) {
	writers, records, size := 50, 400, conf.Size(4<<10)
	switch {
	case *full:
		writers, records, size = 50, 4000, 64<<10
	case testing.Short():
		writers, records = 8, 200
	}
	o := testOptions(t.TempDir())
	o.RotateSize = size
	start := time.Now()
	l, stderr := newTestLogger(t, o)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for n := range records {
				l.Access(recordN(w, n))
				if n%97 == 0 {
					l.Error().Warn("progress", "writer", w, "n", n)
				}
			}
		})
	}
	wg.Wait()
	logged := time.Since(start)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	closed := time.Since(start)
	seen := make(map[string]bool, writers*records)
	for _, line := range allLines(t, o.Access) {
		checkCombinedLine(t, []byte(line+"\n"))
		m := combinedLine.FindStringSubmatch(line + "\n")
		if seen[m[5]] {
			t.Fatalf("line %q twice", line)
		}
		seen[m[5]] = true
	}
	if got, want := len(seen), writers*records; got != want {
		t.Errorf("got %d lines, want %d", got, want)
	}
	files := len(logFiles(t, o.Access))
	if files < 10 {
		t.Errorf("got %d files, want many rotations", files)
	}
	t.Logf("%d writers x %d records, rotate_size %v: %d complete lines in %d files; Access calls took %v, Close returned at %v",
		writers, records, size, len(seen), files, logged, closed)
	if s := stderr.String(); s != "" {
		t.Errorf("got reports %q, want none", s)
	}
}

// TestFlushedWithinInterval checks that a line reaches the disk without
// Flush, by the next FlushInterval tick.
func TestFlushedWithinInterval(t *testing.T) {
	o := testOptions(t.TempDir())
	l, _ := newTestLogger(t, o)
	l.Access(sampleRecord())
	l.Error().Error("an error")
	for _, path := range []string{o.Access, o.Error} {
		if !waitFor(3*FlushInterval, func() bool {
			b, _ := os.ReadFile(path)
			return strings.Count(string(b), "\n") == 1
		}) {
			t.Errorf("%s: the line was not written within %v", path, 3*FlushInterval)
		}
	}
}

// TestUnwritableFolder replaces the log folder with a file, which fails for
// root too: the failure is reported once, callers go on, lines wait in
// memory, and all of them are written once the folder can be made again.
func TestUnwritableFolder(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	o.Error = filepath.Join(dir, "errors", "error_log")
	l, stderr := newTestLogger(t, o)
	l.Access(recordN(0, 0))
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	logs := filepath.Dir(o.Access)
	if err := os.RemoveAll(logs); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logs, []byte("in the way\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	for i := 1; i <= n; i++ {
		l.Access(recordN(0, i))
		if i%250 == 0 {
			if err := l.Flush(); err == nil {
				t.Fatal("Flush: got no error, want the folder's")
			}
		}
	}
	if got := strings.Count(stderr.String(), "cannot be written"); got != 1 {
		t.Errorf("got %d reports, want 1:\n%s", got, stderr)
	}
	if err := os.Remove(logs); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(); err != nil {
		t.Fatalf("Flush after the folder came back: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := allLines(t, o.Access)
	if len(lines) != n {
		t.Fatalf("got %d lines, want the %d written while the folder was missing", len(lines), n)
	}
	for i, line := range lines {
		if want := fmt.Sprintf("/n%d ", i+1); !strings.Contains(line, want) {
			t.Fatalf("line %d: got %q, want %q", i, line, want)
		}
	}
	s := stderr.String()
	if !strings.Contains(s, "writing works again; 0 lines were lost") {
		t.Errorf("got reports %q, want one saying writing works again", s)
	}
	errLog, _ := os.ReadFile(o.Error)
	if !strings.Contains(string(errLog), "cannot be written") || !strings.Contains(string(errLog), "works again") {
		t.Errorf("error log: got %q, want the access log's problem reported there too", errLog)
	}
}

// TestFolderRemoved checks that a removed folder and file are made again
// instead of lines going to a file nobody can see.
func TestFolderRemoved(t *testing.T) {
	o := testOptions(t.TempDir())
	l, stderr := newTestLogger(t, o)
	l.Access(recordN(0, 0))
	l.Error().Error("before")
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Dir(o.Access)); err != nil {
		t.Fatal(err)
	}
	l.Access(recordN(0, 1))
	l.Error().Error("after")
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if lines := allLines(t, o.Access); len(lines) != 1 || !strings.Contains(lines[0], "/n1 ") {
		t.Errorf("got %q, want the line written after the removal", lines)
	}
	if b, _ := os.ReadFile(o.Error); !strings.Contains(string(b), "after") {
		t.Errorf("error log: got %q, want the record written after the removal", b)
	}
	if s := stderr.String(); s != "" {
		t.Errorf("got reports %q, want none", s)
	}
}

// TestDiskFull writes to /dev/full, which always answers ENOSPC.
func TestDiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	o := testOptions(t.TempDir())
	o.Access, o.RotateSize = "/dev/full", 0
	l, stderr := newTestLogger(t, o)
	for i := range 5000 {
		l.Access(recordN(0, i))
		if i%1000 == 0 {
			if err := l.Flush(); err == nil || !strings.Contains(err.Error(), "no space left") {
				t.Fatalf("Flush: got %v, want no space left", err)
			}
		}
	}
	if got := strings.Count(stderr.String(), "cannot be written"); got != 1 {
		t.Errorf("got %d reports, want 1:\n%s", got, stderr)
	}
	l.Close()
	if !strings.Contains(stderr.String(), "5000 lines could not be written before closing") {
		t.Errorf("got reports %q, want the lost lines counted at Close", stderr)
	}
}

// TestDiskFullPartialWrite fills a small tmpfs, so that a write stops in the
// middle of a line: the file must keep whole lines only, and every line must
// be written once space is freed.
func TestDiskFullPartialWrite(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 40<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	o := testOptions(t.TempDir())
	o.Access, o.RotateSize = filepath.Join(mnt, "access_log"), 0
	l, stderr := newTestLogger(t, o)
	const n = 300 // about 40 KiB: more than the room left
	for i := range n {
		l.Access(recordN(0, i))
	}
	if err := l.Flush(); err == nil {
		t.Fatal("Flush: got no error, want no space left")
	}
	b, _ := os.ReadFile(o.Access)
	if len(b) == 0 || b[len(b)-1] != '\n' {
		t.Fatalf("got %d bytes ending in %q, want whole lines only", len(b), b[max(0, len(b)-20):])
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := allLines(t, o.Access)
	if len(lines) != n {
		t.Fatalf("got %d lines, want %d", len(lines), n)
	}
	for i, line := range lines {
		checkCombinedLine(t, []byte(line+"\n"))
		if want := fmt.Sprintf("/n%d ", i); !strings.Contains(line, want) {
			t.Fatalf("line %d: got %q, want %q", i, line, want)
		}
	}
	if got := strings.Count(stderr.String(), "cannot be written"); got != 1 {
		t.Errorf("got %d reports, want 1:\n%s", got, stderr)
	}
}

// TestReopen moves the live files away, as logrotate does, then reopens.
func TestReopen(t *testing.T) {
	o := testOptions(t.TempDir())
	l, stderr := newTestLogger(t, o)
	l.Access(recordN(0, 0))
	l.Error().Error("first")
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{o.Access, o.Error} {
		if err := os.Rename(p, p+".1"); err != nil {
			t.Fatal(err)
		}
	}
	l.Access(recordN(0, 1)) // buffered: goes to the moved file, flushed by Reopen
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Access(recordN(0, 2))
	l.Error().Error("second")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ file, want string }{
		{o.Access + ".1", "/n0 ,/n1 "},
		{o.Access, "/n2 "},
		{o.Error + ".1", "first"},
		{o.Error, "second"},
	}
	for _, tt := range tests {
		b, _ := os.ReadFile(tt.file)
		wants := strings.Split(tt.want, ",")
		if got := strings.Count(string(b), "\n"); got != len(wants) {
			t.Errorf("%s: got %d lines %q, want %d", tt.file, got, b, len(wants))
		}
		for _, w := range wants {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s: got %q, want %q", tt.file, b, w)
			}
		}
	}
	if s := stderr.String(); s != "" {
		t.Errorf("got reports %q, want none", s)
	}
}

func TestExistingFiles(t *testing.T) {
	t.Run("appended", func(t *testing.T) {
		o := testOptions(t.TempDir())
		os.MkdirAll(filepath.Dir(o.Access), 0o750)
		os.WriteFile(o.Access, []byte("earlier\n"), 0o640)
		l, _ := newTestLogger(t, o)
		l.Access(recordN(0, 0))
		l.Close()
		if lines := allLines(t, o.Access); len(lines) != 2 || lines[0] != "earlier" {
			t.Errorf("got %q, want the earlier line kept", lines)
		}
	})
	t.Run("past the limit", func(t *testing.T) {
		o := testOptions(t.TempDir())
		os.MkdirAll(filepath.Dir(o.Access), 0o750)
		big := strings.Repeat("x\n", 3<<10) // 6 KiB, past the 4 KiB limit
		os.WriteFile(o.Access, []byte(big), 0o640)
		l, _ := newTestLogger(t, o)
		l.Access(recordN(0, 0))
		l.Close()
		files := logFiles(t, o.Access)
		if len(files) != 2 || readLog(t, files[0]) != big {
			t.Errorf("got %q, want the big file rotated whole before the first new line", files)
		}
	})
	t.Run("a line longer than rotate_size", func(t *testing.T) {
		o := testOptions(t.TempDir())
		o.RotateSize = 1 << 10
		l, _ := newTestLogger(t, o)
		l.Access(recordN(0, 0))
		long := recordN(0, 1)
		long.RequestLine = append(long.RequestLine, strings.Repeat("y", 2000)...)
		l.Access(long)
		l.Access(recordN(0, 2))
		l.Close()
		files := logFiles(t, o.Access)
		if len(files) != 3 || !strings.Contains(readLog(t, files[1]), "yyy") {
			t.Errorf("got %q, want the long line alone in the middle file", files)
		}
		if got := len(allLines(t, o.Access)); got != 3 {
			t.Errorf("got %d lines, want 3", got)
		}
	})
}

func TestErrorLogFile(t *testing.T) {
	o := testOptions(t.TempDir())
	o.Level = "warn"
	l, _ := newTestLogger(t, o)
	log := l.Error()
	log.Info("dropped")
	log.Log(context.Background(), LevelNotice, "dropped too")
	log.Warn("slow client", "client", "127.0.0.1:5000")
	log.Error("script failed", "script", "/cgi-bin/x.cgi")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(o.Error)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %q, want 2 lines", b)
	}
	for i, want := range []string{"[pwebs:warn] [pid %d] [client 127.0.0.1:5000] slow client", "[pwebs:error] [pid %d] script failed script=/cgi-bin/x.cgi"} {
		if want = fmt.Sprintf(want, os.Getpid()); !strings.HasSuffix(lines[i], want) {
			t.Errorf("got %q, want it to end with %q", lines[i], want)
		}
	}
}

func TestAccessOff(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	o.Access = ""
	l, _ := newTestLogger(t, o)
	l.Access(sampleRecord())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "logs"))
	if len(entries) != 1 || entries[0].Name() != "error_log" {
		t.Errorf("got %v, want only error_log", entries)
	}
}

// TestAccessMeasuresDuration checks that Access fills a zero Duration from
// Time when the format prints it, and leaves it alone otherwise.
func TestAccessMeasuresDuration(t *testing.T) {
	tests := []struct {
		format string
		given  time.Duration
		want   func(d time.Duration) bool
	}{
		{"%D", 0, func(d time.Duration) bool { return d >= 50*time.Millisecond && d < time.Hour }},
		{"%{end:usec}t", 0, func(d time.Duration) bool { return d >= 50*time.Millisecond && d < time.Hour }},
		{"%D", 7 * time.Microsecond, func(d time.Duration) bool { return d == 7*time.Microsecond }},
		{"combined", 0, func(d time.Duration) bool { return d == 0 }},
	}
	for _, tt := range tests {
		o := testOptions(t.TempDir())
		o.Format = tt.format
		l, _ := newTestLogger(t, o)
		r := sampleRecord()
		r.Time = time.Now().Add(-50 * time.Millisecond)
		r.Duration = tt.given
		l.Access(r)
		if !tt.want(r.Duration) {
			t.Errorf("format %q, Duration %v given: got %v", tt.format, tt.given, r.Duration)
		}
	}
}

// TestStdStreams sends both logs to stdout and stderr (pipes here), which
// Close must leave open.
func TestStdStreams(t *testing.T) {
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = outW, errW
	o := testOptions(t.TempDir())
	o.Access, o.Error = "-", "-"
	l, err := New(o)
	os.Stdout, os.Stderr = stdout, stderr
	if err != nil {
		t.Fatal(err)
	}
	l.Access(sampleRecord())
	l.Error().Error("to stderr")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := outW.Write([]byte("still open\n")); err != nil {
		t.Errorf("stdout after Close: %v", err)
	}
	outW.Close()
	errW.Close()
	out, _ := io.ReadAll(outR)
	errOut, _ := io.ReadAll(errR)
	if want := string(must(ParseFormat("combined")).Append(nil, sampleRecord())) + "still open\n"; string(out) != want {
		t.Errorf("stdout: got %q, want %q", out, want)
	}
	if !strings.HasSuffix(string(errOut), "to stderr\n") {
		t.Errorf("stderr: got %q, want the error record", errOut)
	}
	if _, err := os.Stat("logs"); err == nil {
		t.Error("a logs folder was created, want none")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestAfterClose(t *testing.T) {
	l, _ := newTestLogger(t, testOptions(t.TempDir()))
	first := l.Close()
	if err := l.Close(); err != first {
		t.Errorf("second Close: got %v, want %v", err, first)
	}
	l.Access(sampleRecord())
	l.Error().Error("dropped")
	for name, f := range map[string]func() error{"Flush": l.Flush, "Reopen": l.Reopen} {
		if err := f(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: got %v, want ErrClosed", name, err)
		}
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o644)
	tests := []struct {
		name string
		mod  func(o *Options)
		want string
	}{
		{"access folder is a file", func(o *Options) { o.Access = filepath.Join(blocker, "access_log") }, "not a directory"},
		{"error folder is a file", func(o *Options) { o.Error = filepath.Join(blocker, "error_log") }, "not a directory"},
		{"a device cannot rotate", func(o *Options) { o.Access = "/dev/null" }, "cannot be rotated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions(dir)
			tt.mod(&o)
			before := runtime.NumGoroutine()
			l, err := New(o)
			if err == nil {
				l.Close()
				t.Fatalf("got no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want %q", err, tt.want)
			}
			if after := runtime.NumGoroutine(); after > before {
				t.Errorf("got %d goroutines after a failed New, want %d", after, before)
			}
		})
	}
}

// BenchmarkLoggerAccess measures the cost of logging a request. "caller"
// writes to /dev/null, so ns/op is what Access costs the request plus the
// writer's work. Every case flushes every 2,000 lines, so that ns/op includes
// writing (and rotating, and compressing) every line instead of dropping
// lines when the loop, which never blocks, outruns the writer: it is the
// sustained throughput of a log.
func BenchmarkLoggerAccess(b *testing.B) {
	for _, bc := range []struct {
		name     string
		access   string
		size     conf.Size
		compress bool
	}{
		{"caller", "/dev/null", 0, false},
		{"file", "", 0, false},
		{"file rotate 1MiB", "", 1 << 20, false},
		{"file rotate 1MiB gzip", "", 1 << 20, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			o := testOptions(b.TempDir())
			if bc.access != "" {
				o.Access = bc.access
			}
			o.RotateSize, o.Compress, o.Keep = bc.size, bc.compress, 3
			l, stderr := newTestLogger(b, o)
			r := sampleRecord()
			r.Time = time.Now()
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				l.Access(r)
				if n++; n%2000 == 0 {
					l.Flush()
				}
			}
			l.Flush()
			b.StopTimer()
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			if s := stderr.String(); s != "" {
				b.Fatalf("got reports %q, want none (lines dropped?)", s)
			}
		})
	}
}

// BenchmarkLoggerAccessParallel measures Access from GOMAXPROCS goroutines at
// once, writing to /dev/null: the contention between callers. One in 2,000
// calls flushes, so that the loop, which never blocks, cannot outrun the
// writer goroutine (a server's requests block on the network all the time).
func BenchmarkLoggerAccessParallel(b *testing.B) {
	o := testOptions(b.TempDir())
	o.Access, o.RotateSize = "/dev/null", 0
	l, stderr := newTestLogger(b, o)
	var calls atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := sampleRecord()
		r.Time = time.Now()
		for pb.Next() {
			l.Access(r)
			if calls.Add(1)%2000 == 0 {
				l.Flush()
			}
		}
	})
	b.StopTimer()
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	if s := stderr.String(); s != "" {
		b.Fatalf("got reports %q, want none (lines dropped?)", s)
	}
}

// TestLinesOfEveryLength checks that lines shorter and longer than the room
// Access makes for one (lineMax), and longer than a whole chunk, reach the
// file whole and in order, the long ones moving a chunk to a larger array.
func TestLinesOfEveryLength(t *testing.T) {
	o := testOptions(t.TempDir())
	o.RotateSize = 0
	l, stderr := newTestLogger(t, o)
	lengths := []int{0, 1, lineMax - 80, lineMax, lineMax + 1, 3000, chunkSize - 100, chunkSize, 2*chunkSize + 7}
	var want []string
	for i := range 400 {
		r := recordN(0, i)
		r.RequestLine = append(r.RequestLine, strings.Repeat("y", lengths[i%len(lengths)])...)
		want = append(want, string(l.format.Append(nil, r)))
		l.Access(r)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := allLines(t, o.Access)
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i]+"\n" != want[i] {
			t.Fatalf("line %d: got %d bytes %.60q, want %d bytes %.60q", i, len(got[i])+1, got[i], len(want[i]), want[i])
		}
	}
	if s := stderr.String(); s != "" {
		t.Errorf("got reports %q, want none", s)
	}
}
