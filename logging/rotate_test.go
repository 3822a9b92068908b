package logging

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pwebs/pwebs/conf"
)

// TestRotateAtExactSize checks lumberjack's first trap: it counts MaxSize in
// whole megabytes, but rotate_size is honoured to the byte, below 1 MiB too,
// and a file is rotated only when the next line would not fit.
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

// TestRotationsBackToBack checks lumberjack's second trap: it names a backup
// after the time to the millisecond and renames over a file of that name, so
// two rotations in one millisecond would lose the first one's lines. One
// flush of many lines at the smallest rotate_size rotates hundreds of times
// back to back: no line may be lost, and none may be there twice.
func TestRotationsBackToBack(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprint("compress=", compress), func(t *testing.T) {
			o := testOptions(t.TempDir())
			o.RotateSize, o.Compress = MinRotateSize, compress
			l, stderr := newTestLogger(t, o)
			const n = 2000 // about 285 rotations
			for i := range n {
				l.Access(recordN(0, i))
			}
			start := time.Now()
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			files := logFiles(t, o.Access)
			lines := allLines(t, o.Access)
			if len(lines) != n {
				t.Fatalf("got %d lines in %d files, want %d", len(lines), len(files), n)
			}
			for i, line := range lines {
				if want := fmt.Sprintf("GET /w0/n%d ", i); !strings.Contains(line, want) {
					t.Fatalf("line %d: got %q, want it to contain %q (each line once, in order)", i, line, want)
				}
			}
			if len(files) < 250 {
				t.Errorf("got %d files, want about 285 rotations", len(files))
			}
			for _, f := range files[:len(files)-1] {
				if got := strings.HasSuffix(f, ".gz"); got != compress {
					t.Errorf("%s: got compressed %v, want %v", f, got, compress)
				}
			}
			t.Logf("%d rotations in one flush took %v", len(files)-1, took)
			if s := stderr.String(); s != "" {
				t.Errorf("got reports %q, want none", s)
			}
		})
	}
}

// TestBackupNameTaken checks that a rotation never renames over a backup an
// earlier run left under the name lumberjack would give it now (as happens
// when the clock went back): it waits for a free millisecond.
func TestBackupNameTaken(t *testing.T) {
	o := testOptions(t.TempDir())
	o.RotateSize, o.Compress = MinRotateSize, false
	l, stderr := newTestLogger(t, o)
	const n = 10 // about 1.8 KiB: one rotation
	for i := range n {
		l.Access(recordN(0, i))
	}
	// Take every name of the next 200 milliseconds, then rotate at once.
	var taken []string
	now := time.Now()
	for ms := range 200 {
		name := backupName(o.Access, now.Add(time.Duration(ms)*time.Millisecond))
		if err := os.WriteFile(name, []byte("earlier "+name+"\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		taken = append(taken, name)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range taken {
		if got, want := readLog(t, name), "earlier "+name+"\n"; got != want {
			t.Fatalf("%s: got %q, want it untouched: %q", name, got, want)
		}
	}
	var mine []string
	for _, line := range allLines(t, o.Access) {
		if !strings.HasPrefix(line, "earlier ") {
			mine = append(mine, line)
		}
	}
	if len(mine) != n {
		t.Fatalf("got %d lines, want %d", len(mine), n)
	}
	if got := len(logFiles(t, o.Access)); got != len(taken)+2 {
		t.Errorf("got %d files, want the %d taken, one rotated and the live one", got, len(taken))
	}
	if s := stderr.String(); s != "" {
		t.Errorf("got reports %q, want none", s)
	}
}

// TestKeep checks that keep is exact once Close returns, compressed or not:
// lumberjack's mill and the compressor both prune, and flushes every few
// lines make them run while rotations go on, so that files are removed while
// they are being compressed.
func TestKeep(t *testing.T) {
	for _, compress := range []bool{true, false} {
		for _, keep := range []int{0, 1, 3} {
			t.Run(fmt.Sprintf("compress=%v/keep=%d", compress, keep), func(t *testing.T) {
				testKeep(t, compress, keep)
			})
		}
	}
}

func testKeep(t *testing.T, compress bool, keep int) {
	o := testOptions(t.TempDir())
	o.RotateSize, o.Keep, o.Compress = MinRotateSize, keep, compress
	l, stderr := newTestLogger(t, o)
	const n = 1000 // about 140 rotations
	for i := range n {
		l.Access(recordN(0, i))
		if i%20 == 0 {
			l.Flush()
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files := logFiles(t, o.Access)
	if got, want := len(files), keep+1; got != want {
		t.Fatalf("got files %q, want %d", files, want)
	}
	for _, f := range files[:len(files)-1] {
		if got := strings.HasSuffix(f, ".gz"); got != compress {
			t.Errorf("%s: got compressed %v, want %v", f, got, compress)
		}
	}
	checkNoTemps(t, o.Access)
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
}

// checkNoTemps fails when a compression left its temporary file beside the
// rotated files of path.
func checkNoTemps(t *testing.T, path string) {
	t.Helper()
	_, temps, err := scanBackups(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(temps) > 0 {
		t.Errorf("got temporary files %q, want none", temps)
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
// before the compressor was done: a rotated file not yet compressed, one
// whose compression was cut off (the .gz beside its source is redone from the
// source; a temporary .gz is removed), and more rotated files than keep.
// Files that are not rotated logs are left alone.
func TestMillFinishesEarlierWork(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	o.Keep = 2
	logs := filepath.Dir(o.Access)
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	old := o.Access + "-2025-12-31T23-59-59.999"
	a := o.Access + "-2026-01-01T00-00-00.000"
	b := o.Access + "-2026-01-01T00-00-01.000"
	write := func(name, s string) {
		if err := os.WriteFile(name, []byte(s), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	write(old+".gz", "")
	write(a, "a\n")
	write(a+".gz", "cut off")
	write(b, "b\n")
	write(b+tmpSuffix, "cut off") // a compression that did not finish
	other := filepath.Join(logs, "access_log-notes.txt")
	write(other, "not a backup\n")

	l, stderr := newTestLogger(t, o)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readLog(t, a+".gz"); got != "a\n" {
		t.Errorf("got %q, want %q", got, "a\n")
	}
	if got := readLog(t, b+".gz"); got != "b\n" {
		t.Errorf("got %q, want %q", got, "b\n")
	}
	for _, gone := range []string{a, b, old + ".gz", b + tmpSuffix} {
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

// TestGoroutinesBounded checks lumberjack's third trap: its compression
// goroutine, started on first use, is never stopped, not even by Close. There
// is one for each log path for the life of the process, and however many
// Loggers are made, reopened, rotated and closed on the same paths, the
// goroutines do not grow.
func TestGoroutinesBounded(t *testing.T) {
	o := testOptions(t.TempDir())
	o.RotateSize = MinRotateSize
	const cycles, perCycle = 20, 80
	cycle := func(i int) {
		l, stderr := newTestLogger(t, o)
		for j := range perCycle {
			l.Access(recordN(i, j))
			if j == perCycle/2 {
				if err := l.Reopen(); err != nil {
					t.Fatal(err)
				}
			}
		}
		l.Error().Error("an error line")
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if s := stderr.String(); s != "" {
			t.Fatalf("got reports %q, want none", s)
		}
	}
	mills0 := lumberjackMills()
	cycle(0)
	if got, want := lumberjackMills()-mills0, 2; got != want {
		t.Errorf("got %d lumberjack goroutines for the two logs, want %d", got, want)
	}
	before, mills := runtime.NumGoroutine(), lumberjackMills()
	for i := 1; i < cycles; i++ {
		cycle(i)
	}
	if !waitFor(5*time.Second, func() bool { return runtime.NumGoroutine() <= before }) {
		buf := make([]byte, 1<<20)
		t.Fatalf("got %d goroutines after %d cycles, want at most %d:\n%s", runtime.NumGoroutine(), cycles, before, buf[:runtime.Stack(buf, true)])
	}
	if got := lumberjackMills(); got != mills {
		t.Errorf("got %d lumberjack goroutines after %d cycles, want %d", got, cycles, mills)
	}
	if got := goroutines("logging.(*compressor).run("); got != 0 {
		t.Errorf("got %d compressor goroutines after Close, want none", got)
	}
	if got, want := len(allLines(t, o.Access)), cycles*perCycle; got != want {
		t.Errorf("got %d lines, want %d", got, want)
	}
	if got := len(logFiles(t, o.Access)); got < cycles*2 {
		t.Errorf("got %d files, want rotations in every cycle", got)
	}
}

// lumberjackMills counts the goroutines running lumberjack's mill, by the
// stack signature a leak check filters them by.
func lumberjackMills() int {
	return goroutines("gopkg.in/natefinch/lumberjack%2ev2.(*Logger).millRun(")
}

// goroutines counts the goroutines whose stack holds sig.
func goroutines(sig string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, sig) {
			n++
		}
	}
	return n
}

// TestRotationKeepsOwner checks what lumberjack does on rotation: it gives
// the new live file the owner of the old one, and a .gz the owner of its
// source. Files that Chown handed to the user stay the user's when root
// rotates them before dropping privileges.
func TestRotationKeepsOwner(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	o := testOptions(t.TempDir())
	o.RotateSize = MinRotateSize
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
	if len(files) < 3 {
		t.Fatalf("got %q, want several rotations", files)
	}
	for _, f := range files {
		if got, want := owner(t, f), 65534; got != want {
			t.Errorf("%s: got owner %d, want %d", f, got, want)
		}
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

// TestRotationAfterPrivilegeDrop checks lumberjack's fourth trap: on
// rotation it chowns the new file to the old file's owner, which fails for a
// process that dropped root privileges when the old file is still root's.
// It runs this test binary as nobody on logs that root opened, rotated and
// handed over with Chown: rotating, compressing and reopening must keep
// working, through lumberjack, as they must after pwebs drops privileges.
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
	filesBefore := len(logFiles(t, o.Access))

	// Logs in a folder of nobody's that Chown did not hand over: their
	// files are root's but writable by nobody's group, as some distributions
	// set them up (root:www-data 0660, say).
	o2 := testOptions(filepath.Join(dir, "unchowned"))
	logs2 := filepath.Dir(o2.Access)
	if err := os.MkdirAll(logs2, 0o750); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Dir(logs2), logs2} {
		if err := os.Chown(d, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{o2.Access, o2.Error} {
		if err := os.WriteFile(f, []byte("root's line\n"), 0o660); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f, 0o660); err != nil { // past the umask
			t.Fatal(err)
		}
		if err := os.Chown(f, 0, 65534); err != nil {
			t.Fatal(err)
		}
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
	files := logFiles(t, o.Access)
	if len(files) < filesBefore+10 {
		t.Errorf("got %d files, %d before: want the child to have rotated", len(files), filesBefore)
	}
	for i, f := range files {
		if got := owner(t, f); got != 65534 {
			t.Errorf("%s: got owner %d, want 65534", f, got)
		}
		if i < len(files)-1 && !strings.HasSuffix(f, ".gz") {
			t.Errorf("%s: not compressed", f)
		}
	}

	if got, want := len(allLines(t, o2.Access)), 1+60; got != want {
		t.Errorf("without Chown: got %d lines, want %d", got, want)
	}
	if files := logFiles(t, o2.Access); len(files) < 3 || owner(t, files[0]) != 0 {
		t.Errorf("without Chown: got files %q, want the first rotated one still root's", files)
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

	// Without Chown, lumberjack's rotation renames the root-owned file and
	// then fails to give the new one to root: the failure is reported, no
	// line is lost, and the next rotation, of a file that is nobody's, works.
	o2 := testOptions(filepath.Join(dir, "unchowned"))
	o2.RotateSize, o2.Compress = 1<<10, false
	l2, stderr2 := newTestLogger(t, o2)
	for i := range 60 {
		l2.Access(recordN(2, i))
		if i == 29 {
			if err := l2.Flush(); err != nil {
				t.Error(err)
			}
		}
	}
	if err := l2.Close(); err != nil {
		t.Error(err)
	}
	s := stderr2.String()
	for _, want := range []string{"cannot be rotated", "operation not permitted", "rotating works again"} {
		if !strings.Contains(s, want) {
			t.Errorf("without Chown: got reports %q, want %q", s, want)
		}
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

// TestSettingsChange checks a reload that changes keep and compress for a
// path already written: the new values apply, and going back to earlier ones
// reuses their lumberjack goroutine instead of starting another.
func TestSettingsChange(t *testing.T) {
	o := testOptions(t.TempDir())
	o.RotateSize = MinRotateSize
	run := func(keep int, compress bool, w int) {
		t.Helper()
		o.Keep, o.Compress = keep, compress
		l, stderr := newTestLogger(t, o)
		for i := range 40 {
			l.Access(recordN(w, i))
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if s := stderr.String(); s != "" {
			t.Errorf("got reports %q, want none", s)
		}
		files := logFiles(t, o.Access)
		if len(files) > keep+1 || len(files) < min(keep+1, 4) {
			t.Errorf("keep %d: got files %q, want at most %d, and several rotations", keep, files, keep+1)
		}
		for _, f := range files[:len(files)-1] {
			if got := strings.HasSuffix(f, ".gz"); got != compress {
				t.Errorf("%s: got compressed %v, want %v", f, got, compress)
			}
		}
	}
	mills := lumberjackMills()
	run(100, true, 0)
	run(3, false, 1)
	run(2, true, 2)
	if got, want := lumberjackMills()-mills, 3*2; got != want {
		t.Errorf("got %d more lumberjack goroutines, want %d (three settings, two logs)", got, want)
	}
	run(3, false, 3)
	run(100, true, 4)
	if got, want := lumberjackMills()-mills, 3*2; got != want {
		t.Errorf("got %d more lumberjack goroutines, want %d (earlier settings reused)", got, want)
	}
}

// TestSharedPath has two Loggers write one path at once, as when a reload
// opens the new Logger before closing the old one: they share one
// lumberjack.Logger and one count of the file's size, so lines stay whole,
// each once, and rotation stays exact.
func TestSharedPath(t *testing.T) {
	o := testOptions(t.TempDir())
	l1, stderr1 := newTestLogger(t, o)
	l2, stderr2 := newTestLogger(t, o)
	const n = 2000
	var wg sync.WaitGroup
	for w, l := range []*Logger{l1, l2} {
		wg.Go(func() {
			for i := range n {
				l.Access(recordN(w, i))
				if i%100 == 0 {
					l.Flush()
				}
			}
		})
	}
	wg.Wait()
	for _, l := range []*Logger{l1, l2} {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, line := range allLines(t, o.Access) {
		checkCombinedLine(t, []byte(line+"\n"))
		if seen[line] {
			t.Fatalf("line %q twice", line)
		}
		seen[line] = true
	}
	if got, want := len(seen), 2*n; got != want {
		t.Errorf("got %d lines, want %d", got, want)
	}
	files := logFiles(t, o.Access)
	for i, f := range files {
		s := readLog(t, f)
		if len(s) > int(o.RotateSize) {
			t.Errorf("%s: got %d bytes, want at most %d", f, len(s), o.RotateSize)
		}
		if i < len(files)-1 && len(s) < int(o.RotateSize)-300 {
			t.Errorf("%s: got %d bytes, want a rotation only when the next line did not fit", f, len(s))
		}
	}
	if s := stderr1.String() + stderr2.String(); s != "" {
		t.Errorf("got reports %q, want none", s)
	}
}

// compressNow compresses name as a pass does, then syncs its .gz and
// removes name at once, as the pass after syncDelay does.
func compressNow(c *compressor, name string) error {
	made, err := c.compress(name)
	if made {
		c.made(name)
	}
	return errors.Join(err, c.settle())
}

// TestSyncDelayed checks that a rotated file stays beside its .gz until the
// .gz is synced: delay after the first .gz was made, with no rotation to
// wake the compressor then, or when the compressor stops, whichever comes
// first. A .gz beside its plain file that the compressor did not make (a
// run that stopped before syncing it) is made again.
func TestSyncDelayed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay time.Duration
		halt  bool // the plain files go when the compressor stops
	}{
		{"after delay", 300 * time.Millisecond, false},
		{"on halt", time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "access_log")
			now := time.Now()
			a, b := backupName(path, now.Add(-time.Second)), backupName(path, now)
			for _, name := range []string{a, b} {
				if err := os.WriteFile(name, []byte(filepath.Base(name)+"\n"), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(a+".gz", []byte("not synced before a crash"), 0o640); err != nil {
				t.Fatal(err)
			}
			c := newCompressor(path, 5, tc.delay)
			go c.run()
			start := time.Now()
			c.kick()
			made := func() bool {
				ga, _ := tryReadLog(a + ".gz")
				gb, _ := tryReadLog(b + ".gz")
				return ga == filepath.Base(a)+"\n" && gb == filepath.Base(b)+"\n"
			}
			if !waitFor(5*time.Second, made) {
				t.Fatalf("the .gz files were not made")
			}
			if time.Since(start) < tc.delay/2 {
				for _, name := range []string{a, b} {
					if !exists(name) {
						t.Errorf("%s: removed before its .gz was synced", filepath.Base(name))
					}
				}
			}
			gone := func() bool { return !exists(a) && !exists(b) }
			if tc.halt {
				if gone() {
					t.Errorf("plain files removed before the compressor stopped")
				}
				if err := c.halt(); err != nil {
					t.Fatal(err)
				}
				if !gone() {
					t.Errorf("plain files left after the compressor stopped")
				}
			} else {
				if !waitFor(5*time.Second, gone) {
					t.Errorf("plain files left %v after the .gz were made", time.Since(start))
				}
				if err := c.halt(); err != nil {
					t.Fatal(err)
				}
			}
			if !made() {
				t.Errorf("the .gz files changed")
			}
			checkNoTemps(t, path)
		})
	}
}

// TestCompressPrunedMeanwhile checks the race between the compressor and
// lumberjack's mill, which removes rotated files beyond keep from its own
// listing of the folder: a rotated file removed while it is being compressed,
// or before, is not an error, and leaves no .gz, no temporary file and no
// plain file.
func TestCompressPrunedMeanwhile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access_log")
	name := backupName(path, time.Now())
	if err := os.WriteFile(name, []byte("a line\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	testHookCompressed = func(string) {
		if err := os.Remove(name); err != nil { // lumberjack prunes it
			t.Error(err)
		}
	}
	defer func() { testHookCompressed = nil }()
	c := &compressor{path: path, keep: 1}
	if err := compressNow(c, name); err != nil {
		t.Errorf("got %v, want no error", err)
	}
	testHookCompressed = nil
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("got %s left, want nothing", e.Name())
	}

	// Removed before the compressor opens it.
	if err := compressNow(c, name); err != nil {
		t.Errorf("gone before: got %v, want no error", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("gone before: got %d files, want none", len(entries))
	}
}

// TestCompressNoFollow checks that the compressor, which may run as root in
// a folder the user it hands the logs to may write, follows no symbolic link
// and opens no FIFO put in place of a rotated file or of its temporary file.
func TestCompressNoFollow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access_log")
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("not a log\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &compressor{path: path, keep: 1}

	// A link as the temporary file: replaced, the target left alone.
	name := backupName(path, time.Now())
	if err := os.WriteFile(name, []byte("a line\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, name+tmpSuffix); err != nil {
		t.Fatal(err)
	}
	if err := compressNow(c, name); err != nil {
		t.Fatal(err)
	}
	if got := readLog(t, name+".gz"); got != "a line\n" {
		t.Errorf("got %q, want %q", got, "a line\n")
	}
	if got := readLog(t, target); got != "not a log\n" {
		t.Errorf("target: got %q, want it untouched", got)
	}

	// A link, then a FIFO, as the rotated file: an error, and the target
	// is neither read nor compressed.
	name = backupName(path, time.Now().Add(time.Second))
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
	if err := compressNow(c, name); err == nil {
		t.Errorf("link: got no error, want one")
	}
	if exists(name + ".gz") {
		t.Errorf("link: got %s.gz, want none", name)
	}
	name = backupName(path, time.Now().Add(2*time.Second))
	if err := syscall.Mkfifo(name, 0o640); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- compressNow(c, name) }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("FIFO: got no error, want one")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("FIFO: the compressor blocks")
	}
	checkNoTemps(t, path)
}

// TestCompressKeepsAttributes checks what a compressed rotated file keeps of
// its source: the lines, the mode (past the umask), the modification time (in
// the gzip header), and, as root, the owner and group.
func TestCompressKeepsAttributes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "site.log")
	name := backupName(path, time.Now())
	if err := os.WriteFile(name, []byte("one\ntwo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2026, 11, 21, 10, 4, 5, 0, time.UTC)
	if err := os.Chtimes(name, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(name, 0o664); err != nil { // past the umask
		t.Fatal(err)
	}
	uid := os.Getuid()
	if uid == 0 {
		uid = 65534
		if err := os.Chown(name, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	c := &compressor{path: path, keep: 1}
	if err := compressNow(c, name); err != nil {
		t.Fatal(err)
	}
	if exists(name) {
		t.Errorf("%s: still there, want it removed", name)
	}
	gz := name + ".gz"
	if got := readLog(t, gz); got != "one\ntwo\n" {
		t.Errorf("got %q, want %q", got, "one\ntwo\n")
	}
	fi, err := os.Stat(gz)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), os.FileMode(0o664); got != want {
		t.Errorf("got mode %v, want %v", got, want)
	}
	if got := owner(t, gz); got != uid {
		t.Errorf("got owner %d, want %d", got, uid)
	}
	f, err := os.Open(gz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if !zr.ModTime.Equal(mtime) {
		t.Errorf("got gzip ModTime %v, want %v", zr.ModTime, mtime)
	}
	checkNoTemps(t, path)
}

// TestOpenRefuses checks what a log is never opened as: a symbolic link
// (whoever may write the log's folder could point it at any file), a file
// with other names, a FIFO nobody reads (the open must not block) and a
// socket. The file reached is left untouched.
func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("root:secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		make   func(path string) error
		rotate bool
		want   string
	}{
		{"symbolic link", func(p string) error { return os.Symlink(target, p) }, true, "is a symbolic link"},
		{"symbolic link, not rotating", func(p string) error { return os.Symlink(target, p) }, false, "is a symbolic link"},
		{"dangling symbolic link", func(p string) error { return os.Symlink(filepath.Join(dir, "nowhere"), p) }, true, "is a symbolic link"},
		{"hard link", func(p string) error { return os.Link(target, p) }, true, "has 2 hard links"},
		{"FIFO with no reader", func(p string) error { return syscall.Mkfifo(p, 0o600) }, false, "FIFO that no process reads"},
		{"socket", func(p string) error { return syscall.Mknod(p, syscall.S_IFSOCK|0o600, 0) }, false, "not a regular file"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions(filepath.Join(dir, itoa(i)))
			if !tt.rotate {
				o.RotateSize = 0
			}
			if err := os.MkdirAll(filepath.Dir(o.Access), 0o750); err != nil {
				t.Fatal(err)
			}
			if err := tt.make(o.Access); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				l, err := New(o)
				if err == nil {
					l.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), o.Access) {
					t.Errorf("got %v, want an error naming %s that says %q", err, o.Access, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("New blocked")
			}
			if got := readLog(t, target); got != "root:secret\n" {
				t.Errorf("the file reached was written: %q", got)
			}
			if _, err := os.Stat(filepath.Join(dir, "nowhere")); err == nil {
				t.Error("the dangling link's target was created")
			}
		})
	}
}

// TestChownOnlyOwnFiles is a start as root in a log folder that the user
// pwebs drops to may write: that user could have replaced the logs before
// the start. Chown hands over the files this process made and what is
// already the user's, and nothing else: not a file of root's moved there,
// not a character device, not what a symbolic link points to.
func TestChownOnlyOwnFiles(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give files to another user")
	}
	const nobody = 65534
	dir := t.TempDir()
	o := testOptions(dir)
	logs := filepath.Dir(o.Access)
	if err := os.Mkdir(logs, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(logs, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	// A file of root's that the user moved in as the live access log, and
	// one as a rotated file; a rotated file of the user's, in root's group.
	secret := []byte("root:secret\n")
	rotated := backupName(o.Access, time.Now().Add(-time.Hour))
	theirs := backupName(o.Access, time.Now().Add(-2*time.Hour))
	for _, f := range []string{o.Access, rotated, theirs} {
		if err := os.WriteFile(f, secret, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(theirs, nobody, 0); err != nil {
		t.Fatal(err)
	}
	// A character device as a second log: /dev/null's numbers, in dir.
	null := filepath.Join(dir, "null")
	if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	o.Error, o.RotateSize, o.Compress = null, 0, false

	l, _ := newTestLogger(t, o)
	err := l.Chown(nobody, nobody)
	for _, want := range []string{o.Access + " belongs to uid 0", rotated + " belongs to uid 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error saying %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), null) {
		t.Errorf("got %v, want nothing about %s, which is never rotated", err, null)
	}
	for f, want := range map[string]int{o.Access: 0, rotated: 0, theirs: nobody, null: 0, logs: nobody} {
		if got := owner(t, f); got != want {
			t.Errorf("%s: got owner %d, want %d", f, got, want)
		}
	}
	fi, err := os.Stat(theirs)
	if err != nil {
		t.Fatal(err)
	}
	if gid := fi.Sys().(*syscall.Stat_t).Gid; gid != nobody {
		t.Errorf("%s: got group %d, want %d (the user's file gets the group)", theirs, gid, nobody)
	}

	// A live file that the Logger created is the user's once handed over.
	if err := os.Remove(o.Access); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	if err := l.Chown(nobody, nobody); err != nil && strings.Contains(err.Error(), o.Access+" ") {
		t.Errorf("the file the Logger created: %v", err)
	}
	if got := owner(t, o.Access); got != nobody {
		t.Errorf("%s, created by the Logger: got owner %d, want %d", o.Access, got, nobody)
	}
}

// TestChownFolderReplaced checks that a folder New created is handed over
// only if it is still that folder: one replaced by a symbolic link (by a
// user who may write the folder above it) is not followed.
func TestChownFolderReplaced(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give files to another user")
	}
	const nobody = 65534
	dir := t.TempDir()
	site := filepath.Join(dir, "site")
	precious := filepath.Join(dir, "precious")
	for _, d := range []string{site, precious} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(site, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	o := testOptions(site)
	l, _ := newTestLogger(t, o)
	logs := filepath.Dir(o.Access)
	if err := os.Rename(logs, filepath.Join(site, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(precious, logs); err != nil {
		t.Fatal(err)
	}
	err := l.Chown(nobody, nobody)
	if err == nil || !strings.Contains(err.Error(), "folder "+logs+" was replaced") {
		t.Errorf("got %v, want an error saying the folder was replaced", err)
	}
	if got := owner(t, precious); got != 0 {
		t.Errorf("the folder the link points to was given to uid %d", got)
	}
	// The files the Logger created are handed over where they are.
	if got := owner(t, filepath.Join(site, "moved", "access_log")); got != nobody {
		t.Errorf("the access log the Logger created: got owner %d, want %d", got, nobody)
	}
}

// TestHeldWhileRoot checks that a process running as root never lets
// lumberjack open or rotate a log by name in a folder another user may
// write: the log is written through the descriptor checked when it was
// opened, and grows past rotate_size instead of rotating, until the process
// drops root (TestRotationAfterPrivilegeDrop checks the rotations after).
// In a folder only root may write, it rotates as usual.
func TestHeldWhileRoot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root")
	}
	for _, tt := range []struct {
		name    string
		owner   int
		rotates bool
	}{{"user's folder", 65534, false}, {"root's folder", 0, true}} {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions(t.TempDir())
			o.RotateSize, o.Compress = 1<<10, false
			logs := filepath.Dir(o.Access)
			if err := os.Mkdir(logs, 0o750); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(logs, tt.owner, tt.owner); err != nil {
				t.Fatal(err)
			}
			l, stderr := newTestLogger(t, o)
			for i := range 30 {
				l.Access(recordN(0, i))
			}
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			if got := len(allLines(t, o.Access)); got != 30 {
				t.Errorf("got %d lines, want 30", got)
			}
			if files := logFiles(t, o.Access); (len(files) > 1) != tt.rotates {
				t.Errorf("got files %q, want rotations: %v", files, tt.rotates)
			}
			if s := stderr.String(); s != "" {
				t.Errorf("got reports %q, want none", s)
			}
		})
	}
}

// TestGzipFileYields checks that compressing a rotated file lets other
// goroutines run between its blocks when there is one P, as a server pinned
// to one core has: a goroutine that counts and yields must get about one
// turn per block. Without the yields it only gets the scheduler's
// preemption every 10 ms, a few turns for the whole file.
func TestGzipFileYields(t *testing.T) {
	const blocks = 64
	var src strings.Builder
	for i := 0; src.Len() < blocks*gzipBuffer; i++ {
		fmt.Fprintf(&src, "127.0.0.%d - - [22/Nov/2026:00:%02d:%02d +0000] \"GET /page%d.html HTTP/1.1\" 200 %d \"-\" \"client/%d\"\n",
			i%250, i/60%60, i%60, i*7919%100003, i*31%65536, i%97)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var turns atomic.Int64
	var done atomic.Bool
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for !done.Load() {
			turns.Add(1)
			runtime.Gosched()
		}
	}()
	runtime.Gosched() // let it start
	start := turns.Load()
	if err := gzipFile(io.Discard, strings.NewReader(src.String()), time.Now()); err != nil {
		t.Fatal(err)
	}
	got := turns.Load() - start
	done.Store(true)
	<-stopped
	if got < blocks/2 {
		t.Errorf("another goroutine ran %d times while %d blocks were compressed, want at least %d", got, blocks, blocks/2)
	}
}
