package logging

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pwebs/pwebs/conf"
)

// TestRotateAtExactSize checks lumberjack's first trap: sizes are honoured to
// the byte, below 1 MiB too, and a file is rotated only when the next line
// would not fit.
func TestRotateAtExactSize(t *testing.T) {
	for _, size := range []conf.Size{1 << 10, 1536, 4 << 10, 10000} {
		t.Run(size.String(), func(t *testing.T) {
			o := testOptions(t.TempDir())
			o.RotateSize, o.Compress = size, false
			l, stderr := newTestLogger(t, o)
			const n = 300
			for i := range n {
				r := recordN(0, i)
				r.Path = []byte(strings.Repeat("x", i%50)) // vary line lengths
				r.RequestLine = append(r.RequestLine, r.Path...)
				l.Access(r)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			files := logFiles(t, o.Access)
			if len(files) < 5 {
				t.Fatalf("got %d files, want several rotations", len(files))
			}
			for i, f := range files {
				s := readLog(t, f)
				if int64(len(s)) > int64(size) {
					t.Errorf("%s: got %d bytes, want at most %d", f, len(s), size)
				}
				if i+1 < len(files) {
					next := readLog(t, files[i+1])
					first := next[:strings.IndexByte(next, '\n')+1]
					if int64(len(s)+len(first)) <= int64(size) {
						t.Errorf("%s: rotated at %d bytes though the next line (%d bytes) fit in %d", f, len(s), len(first), size)
					}
				}
			}
			lines := allLines(t, o.Access)
			if len(lines) != n {
				t.Fatalf("got %d lines, want %d", len(lines), n)
			}
			for i, line := range lines {
				if want := fmt.Sprintf("GET /w0/n%d ", i); !strings.Contains(line, want) {
					t.Fatalf("line %d: got %q, want it to contain %q (order kept)", i, line, want)
				}
			}
			if s := stderr.String(); s != "" {
				t.Errorf("got reports %q, want none", s)
			}
		})
	}
}

// TestSameMillisecond checks lumberjack's second trap: rotations in the same
// millisecond get distinct names, and no line is lost.
func TestSameMillisecond(t *testing.T) {
	o := testOptions(t.TempDir())
	o.RotateSize = 1 << 10
	frozen := time.Date(2026, 11, 21, 10, 4, 5, 123000000, time.UTC)
	l, _ := newTestLoggerClock(t, o, func() time.Time { return frozen })
	const n = 100
	for i := range n {
		l.Access(recordN(0, i))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files := logFiles(t, o.Access)
	if len(files) < 10 {
		t.Fatalf("got %d files, want at least 10 rotations", len(files))
	}
	for i, f := range files[:len(files)-1] {
		want := o.Access + "-2026-11-21T10-04-05.123"
		if i > 0 {
			want += "-" + itoa(i)
		}
		if want += ".gz"; f != want {
			t.Errorf("backup %d: got %s, want %s", i, f, want)
		}
	}
	if got := len(allLines(t, o.Access)); got != n {
		t.Errorf("got %d lines, want %d", got, n)
	}
}

// TestBackupNameSkipsTaken checks that a name taken by an earlier run, under
// either spelling, is not reused.
func TestBackupNameSkipsTaken(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access_log")
	frozen := time.Date(2026, 1, 2, 3, 4, 5, 6000000, time.UTC)
	lf := &logFile{path: path, now: func() time.Time { return frozen }}
	base := path + "-2026-01-02T03-04-05.006"
	tests := []struct {
		create string
		want   string
	}{
		{"", base},
		{base, base + "-1"},
		{base + "-1.gz", base + "-2"},
		{base + "-2", base + "-3"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.want), func(t *testing.T) {
			if tt.create != "" {
				if err := os.WriteFile(tt.create, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := lf.backupName()
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v, want %q", got, err, tt.want)
			}
		})
	}
}

func TestKeep(t *testing.T) {
	for _, keep := range []int{0, 1, 3} {
		t.Run(itoa(keep), func(t *testing.T) {
			o := testOptions(t.TempDir())
			o.RotateSize, o.Keep = 1<<10, keep
			l, stderr := newTestLogger(t, o)
			const n = 200
			for i := range n {
				l.Access(recordN(0, i))
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			files := logFiles(t, o.Access)
			if got, want := len(files), keep+1; got != want {
				t.Fatalf("got files %q, want %d", files, want)
			}
			// What is kept is the newest: the lines end with the last one.
			lines := allLines(t, o.Access)
			for i, line := range lines {
				if want := fmt.Sprintf("/n%d ", n-len(lines)+i); !strings.Contains(line, want) {
					t.Fatalf("line %d: got %q, want %q", i, line, want)
				}
			}
			if s := stderr.String(); s != "" {
				t.Errorf("got reports %q, want none", s)
			}
		})
	}
}

func TestCompress(t *testing.T) {
	for _, compress := range []bool{true, false} {
		t.Run(fmt.Sprint(compress), func(t *testing.T) {
			o := testOptions(t.TempDir())
			o.RotateSize, o.Compress = 1<<10, compress
			l, _ := newTestLogger(t, o)
			for i := range 50 {
				l.Access(recordN(0, i))
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			files := logFiles(t, o.Access)
			for _, f := range files[:len(files)-1] {
				if got := strings.HasSuffix(f, ".gz"); got != compress {
					t.Errorf("%s: got compressed %v, want %v", f, got, compress)
				}
				fi, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := fi.Mode().Perm(), os.FileMode(filePerm); got != want {
					t.Errorf("%s: got mode %v, want %v", f, got, want)
				}
			}
			if got := len(allLines(t, o.Access)); got != 50 {
				t.Errorf("got %d lines, want 50", got)
			}
		})
	}
}

// TestMillFinishesEarlierWork checks what New finds from a run that stopped
// while compressing: a complete .gz beside its source, a stray temporary
// file, a rotated file not yet compressed.
func TestMillFinishesEarlierWork(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	logs := filepath.Dir(o.Access)
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	a := o.Access + "-2026-01-01T00-00-00.000"
	b := o.Access + "-2026-01-01T00-00-01.000"
	write := func(name, s string) {
		if err := os.WriteFile(name, []byte(s), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	write(a, "a\n")
	if err := new(mill).compressFile(a); err != nil {
		t.Fatal(err)
	}
	gzA, _ := os.ReadFile(a + ".gz")
	write(a, "source of a, already compressed\n")
	write(b+".gz.tmp", "partial")
	write(b, "b\n")
	other := filepath.Join(logs, "access_log-notes.txt")
	write(other, "not a backup\n")

	l, stderr := newTestLogger(t, o)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(a + ".gz"); string(got) != string(gzA) {
		t.Errorf("%s.gz was rewritten, want it kept", a)
	}
	if got := readLog(t, a+".gz"); got != "a\n" {
		t.Errorf("got %q, want %q", got, "a\n")
	}
	if got := readLog(t, b+".gz"); got != "b\n" {
		t.Errorf("got %q, want %q", got, "b\n")
	}
	for _, gone := range []string{a, b, b + ".gz.tmp"} {
		if exists(gone) {
			t.Errorf("%s: still there, want it removed", gone)
		}
	}
	if !exists(other) {
		t.Errorf("%s was removed, want it left alone", other)
	}
	if s := stderr.String(); s != "" {
		t.Errorf("got reports %q, want none", s)
	}
}

// TestCloseStopsGoroutines checks lumberjack's third trap: Close leaves no
// goroutine behind, the compression one included.
func TestCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := range 5 {
		o := testOptions(t.TempDir())
		o.RotateSize = 1 << 10
		var stderr syncBuffer
		l, err := open(o, env{stderr: &stderr, now: time.Now})
		if err != nil {
			t.Fatal(err)
		}
		for j := range 40 {
			l.Access(recordN(i, j))
		}
		l.Error().Error("an error line")
		if err := l.Reopen(); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if len(logFiles(t, o.Access)) < 2 {
			t.Fatal("no rotation happened, so the compressor was not exercised")
		}
	}
	if !waitFor(2*time.Second, func() bool { return runtime.NumGoroutine() <= before }) {
		buf := make([]byte, 1<<20)
		t.Fatalf("got %d goroutines after Close, want %d:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
	}
}

// TestRotationKeepsProcessOwner checks lumberjack's fourth trap: the new live
// file belongs to the process, not to whoever owned the old one.
func TestRotationKeepsProcessOwner(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	o := testOptions(t.TempDir())
	o.RotateSize, o.Compress = 1<<10, false
	if err := os.MkdirAll(filepath.Dir(o.Access), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(o.Access, []byte("old line\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(o.Access, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	l, stderr := newTestLogger(t, o)
	for i := range 20 {
		l.Access(recordN(0, i))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files := logFiles(t, o.Access)
	if got, want := owner(t, files[0]), 65534; got != want {
		t.Errorf("%s: got owner %d, want %d (a rotated file keeps its owner)", files[0], got, want)
	}
	if got, want := owner(t, o.Access), os.Getuid(); got != want {
		t.Errorf("%s: got owner %d, want the process's %d", o.Access, got, want)
	}
	if s := stderr.String(); s != "" {
		t.Errorf("got reports %q, want none", s)
	}
}

func owner(t *testing.T, name string) int {
	t.Helper()
	fi, err := os.Lstat(name)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

func TestChown(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give files to another user")
	}
	const nobody = 65534
	t.Run("created folder", func(t *testing.T) {
		o := testOptions(t.TempDir())
		o.RotateSize = 1 << 10
		l, _ := newTestLogger(t, o)
		for i := range 30 {
			l.Access(recordN(0, i))
		}
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := l.Chown(nobody, nobody); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		check := append([]string{filepath.Dir(o.Access), o.Error}, logFiles(t, o.Access)...)
		for _, f := range check {
			if got := owner(t, f); got != nobody {
				t.Errorf("%s: got owner %d, want %d", f, got, nobody)
			}
		}
	})
	for _, tt := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o755, false}, {0o777, true}} {
		t.Run(fmt.Sprintf("existing folder %o", tt.mode), func(t *testing.T) {
			dir := t.TempDir()
			logs := filepath.Join(dir, "logs")
			if err := os.Mkdir(logs, tt.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(logs, tt.mode) // past the umask
			l, _ := newTestLogger(t, testOptions(dir))
			err := l.Chown(nobody, nobody)
			if tt.ok && err != nil {
				t.Errorf("got %v, want no error", err)
			}
			if !tt.ok && (err == nil || !strings.Contains(err.Error(), "not writable by uid 65534")) {
				t.Errorf("got %v, want an error saying the folder is not writable", err)
			}
			if got := owner(t, logs); got != 0 {
				t.Errorf("%s: got owner %d, want it left to root", logs, got)
			}
		})
	}
}

// TestRotationAfterPrivilegeDrop runs this test binary as nobody on logs that
// root opened and handed over with Chown: rotating, compressing and
// reopening must keep working, as they must after pwebs drops privileges.
func TestRotationAfterPrivilegeDrop(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to drop privileges")
	}
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	o := testOptions(dir)
	o.RotateSize = 1 << 10
	l, _ := newTestLogger(t, o)
	for i := range 30 {
		l.Access(recordN(0, i))
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := l.Chown(65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	child := filepath.Join(dir, "logging.test")
	if err := copyFile(exe, child); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(child, "-test.run=^TestPrivilegeDropChild$", "-test.v")
	cmd.Env = append(os.Environ(), "PWEBS_LOGGING_CHILD="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestPrivilegeDropChild") {
		t.Fatalf("child as uid 65534: %v\n%s", err, out)
	}
	if got, want := len(allLines(t, o.Access)), 30+200; got != want {
		t.Errorf("got %d lines, want %d", got, want)
	}
	for _, f := range logFiles(t, o.Access) {
		if got := owner(t, f); got != 65534 {
			t.Errorf("%s: got owner %d, want 65534", f, got)
		}
	}
}

// TestPrivilegeDropChild is the part of TestRotationAfterPrivilegeDrop that
// runs as nobody.
func TestPrivilegeDropChild(t *testing.T) {
	dir := os.Getenv("PWEBS_LOGGING_CHILD")
	if dir == "" {
		t.Skip("run by TestRotationAfterPrivilegeDrop")
	}
	o := testOptions(dir)
	o.RotateSize = 1 << 10
	l, stderr := newTestLogger(t, o)
	for i := range 200 {
		l.Access(recordN(1, i))
		if i == 100 {
			if err := l.Reopen(); err != nil {
				t.Error(err)
			}
		}
	}
	l.Error().Error("written as nobody")
	if err := l.Close(); err != nil {
		t.Error(err)
	}
	if s := stderr.String(); s != "" {
		t.Errorf("got reports %q, want none", s)
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
