package serve

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestFdInfo checks fdInfo against what package os says of the same files.
func TestFdInfo(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, []byte("twelve bytes"), 0o600))
		must(t, os.Chmod(p, mode))
		return p
	}
	sticky := filepath.Join(dir, "sticky")
	must(t, os.Mkdir(sticky, 0o700))
	must(t, os.Chmod(sticky, 0o777|os.ModeSticky))
	fifo := filepath.Join(dir, "fifo")
	must(t, syscall.Mkfifo(fifo, 0o640))
	link := filepath.Join(dir, "link")
	must(t, os.Symlink("plain", link))
	for _, p := range []string{
		mk("plain", 0o644), mk("exec", 0o755), mk("setuid", 0o4755|os.ModeSetuid),
		mk("setgid", 0o2750|os.ModeSetgid), dir, sticky, fifo, link, "/dev/null",
	} {
		want, err := os.Lstat(p)
		must(t, err)
		fi := &fdInfo{name: filepath.Base(p)}
		must(t, syscall.Lstat(p, &fi.st))
		if fi.Mode() != want.Mode() || fi.IsDir() != want.IsDir() || fi.Name() != want.Name() ||
			!fi.ModTime().Equal(want.ModTime()) || (want.Mode().IsRegular() && fi.Size() != want.Size()) {
			t.Errorf("%s: fdInfo says %v %v %q %v %d; os says %v %v %q %v %d", p,
				fi.Mode(), fi.IsDir(), fi.Name(), fi.ModTime(), fi.Size(),
				want.Mode(), want.IsDir(), want.Name(), want.ModTime(), want.Size())
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Ino != want.Sys().(*syscall.Stat_t).Ino {
			t.Errorf("%s: Sys is not the file's *syscall.Stat_t", p)
		}
	}
}

// TestOpenFast checks that openFast reads what open reads and falls back
// to open where it must.
func TestOpenFast(t *testing.T) {
	root := t.TempDir()
	body := make([]byte, 40000) // more than one copyFile buffer
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	must(t, os.WriteFile(filepath.Join(root, "inc.html"), body, 0o644))
	must(t, os.WriteFile(filepath.Join(root, "empty.html"), nil, 0o644))
	must(t, os.Symlink("/etc/passwd", filepath.Join(root, "out")))
	r, err := os.OpenRoot(root)
	must(t, err)
	defer r.Close()
	s := &site{dir: root}
	s.root.Store(r)
	s.rootFD.Store(int64(openDirFD(root)))
	if s.rootFD.Load() < 0 {
		t.Skip("no O_PATH root descriptor here")
	}

	for _, name := range []string{"inc.html", "empty.html"} {
		f, fi, err := s.openFast([]byte("/"+name), &fdInfo{})
		must(t, err)
		if _, ok := f.(fdFile); !ok && openat2.Load() {
			t.Errorf("%s: openFast gave a %T, not an fdFile", name, f)
		}
		want, _ := os.ReadFile(filepath.Join(root, name))
		got, err := io.ReadAll(f)
		must(t, err)
		if string(got) != string(want) || fi.Size() != int64(len(want)) || !fi.Mode().IsRegular() || fi.Name() != name {
			t.Errorf("%s: read %d bytes, size %d, mode %v, name %q; want %d bytes", name, len(got), fi.Size(), fi.Mode(), fi.Name(), len(want))
		}
		if n, err := f.Read(make([]byte, 8)); n != 0 || err != io.EOF {
			t.Errorf("%s: read past the end gave %d, %v; want 0, EOF", name, n, err)
		}
		must(t, f.Close())
	}
	if _, _, err := s.openFast([]byte("/missing.html"), nil); !os.IsNotExist(err) {
		t.Errorf("missing file: %v, want not exist", err)
	}
	if f, _, err := s.openFast([]byte("/out"), nil); err == nil {
		f.Close()
		t.Error("a symbolic link out of the root was opened")
	}
	if f, fi, err := s.openFast([]byte("/"), nil); err != nil || !fi.IsDir() {
		t.Errorf("root folder: %v, %v", fi, err)
	} else {
		f.Close()
	}
}
