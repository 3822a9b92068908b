package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pwebs/pwebs/serve"
)

// account is the user and groups pwebs drops to.
type account struct {
	name   string
	uid    int
	gid    int
	groups []int // supplementary groups: the user's own, never root's
}

// lookupAccount resolves the config's user and group.
func lookupAccount(cfg *serve.Config) (*account, error) {
	u, err := user.Lookup(cfg.User)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", cfg.User, err)
	}
	a := &account{name: u.Username}
	if a.uid, err = strconv.Atoi(u.Uid); err != nil {
		return nil, fmt.Errorf("user %q: uid %q", cfg.User, u.Uid)
	}
	gid := u.Gid
	if cfg.Group != "" {
		g, err := user.LookupGroup(cfg.Group)
		if err != nil {
			return nil, fmt.Errorf("group %q: %w", cfg.Group, err)
		}
		gid = g.Gid
	}
	if a.gid, err = strconv.Atoi(gid); err != nil {
		return nil, fmt.Errorf("group %q: gid %q", cfg.Group, gid)
	}
	switch {
	case a.uid == 0:
		return nil, fmt.Errorf("user %q is root: pwebs does not serve as root", cfg.User)
	case a.gid == 0 && cfg.Group != "":
		return nil, fmt.Errorf("group %q is root's group: pwebs does not serve with it", cfg.Group)
	case a.gid == 0:
		return nil, fmt.Errorf("the primary group of user %q is root's: set group to another one", cfg.User)
	}
	ids, err := u.GroupIds()
	if err != nil {
		ids = nil // no supplementary groups rather than root's
	}
	seen := map[int]bool{}
	for _, s := range append([]string{strconv.Itoa(a.gid)}, ids...) {
		g, err := strconv.Atoi(s)
		if err != nil || g == 0 || seen[g] {
			continue
		}
		seen[g] = true
		a.groups = append(a.groups, g)
	}
	return a, nil
}

// dropPrivileges changes the whole process, every thread of it, to the
// account in the safe order: supplementary groups, then the group, then
// the user, each with its real, effective and saved IDs. It then checks
// that every thread shows the new IDs and that root cannot be regained;
// any failure is an error, and pwebs must exit.
func dropPrivileges(a *account) error {
	// syscall.Setgroups applies to every thread (unix.Setgroups only to
	// the calling one); Setresgid and Setresuid of x/sys go through the
	// same all-threads path.
	if err := syscall.Setgroups(a.groups); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := unix.Setresgid(a.gid, a.gid, a.gid); err != nil {
		return fmt.Errorf("setresgid %d: %w", a.gid, err)
	}
	if err := unix.Setresuid(a.uid, a.uid, a.uid); err != nil {
		return fmt.Errorf("setresuid %d: %w", a.uid, err)
	}
	// The process must stay non-dumpable, as the change of user leaves
	// it unless fs.suid_dumpable says otherwise: its /proc entries are
	// then root's, so the serving user's processes (every CGI script)
	// cannot read its memory (other clients' requests) or its
	// environment. Nothing of pwebs needs them: the re-exec that sets
	// scripts' resource limits follows /proc/self/exe, which a process
	// may always do for itself, and verifyDropped reads status files,
	// which anyone may read. A script is dumpable again once it execs.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE): %w", err)
	}
	return verifyDropped(a)
}

// verifyDropped checks the IDs of every thread, that setuid(0) fails and
// that the process is not dumpable.
func verifyDropped(a *account) error {
	if err := unix.Setuid(0); err == nil {
		return errors.New("setuid(0) succeeded after dropping privileges")
	}
	if d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); err != nil || d != 0 {
		return fmt.Errorf("the process is dumpable (%d, %v) after dropping privileges: the serving user could read its memory", d, err)
	}
	if r, e, s := unix.Getresuid(); r != a.uid || e != a.uid || s != a.uid {
		return fmt.Errorf("uids are %d %d %d after dropping privileges", r, e, s)
	}
	if r, e, s := unix.Getresgid(); r != a.gid || e != a.gid || s != a.gid {
		return fmt.Errorf("gids are %d %d %d after dropping privileges", r, e, s)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join("/proc/self/task", t.Name(), "status"))
		if err != nil {
			continue // the thread ended
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			f := strings.Fields(v)
			switch k {
			case "Uid", "Gid":
				want := strconv.Itoa(a.uid)
				if k == "Gid" {
					want = strconv.Itoa(a.gid)
				}
				for _, id := range f {
					if id != want {
						return fmt.Errorf("thread %s: %s %s after dropping privileges", t.Name(), k, v)
					}
				}
			case "Groups":
				for _, id := range f {
					if id == "0" {
						return fmt.Errorf("thread %s still has group 0", t.Name())
					}
				}
			}
		}
	}
	return nil
}

// checkAsUser tries each "r:" (a folder), "g:" (a file), "w:" or "x:" path with faccessat(2) as
// the account would, and returns what it cannot do, each as one message.
// The checks run on a thread of their own that takes the account's
// file-system IDs and groups (setfsuid, setfsgid and setgroups change only
// the calling thread when made as raw system calls); that thread is never
// given back to the scheduler, so it ends with the goroutine.
func checkAsUser(a *account, checks []string) ([]string, error) {
	type result struct {
		problems []string
		err      error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread goes with this goroutine
		groups := make([]uint32, len(a.groups))
		for i, g := range a.groups {
			groups[i] = uint32(g)
		}
		var gp unsafe.Pointer
		if len(groups) > 0 {
			gp = unsafe.Pointer(&groups[0])
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(gp), 0); e != 0 {
			done <- result{err: fmt.Errorf("setgroups: %w", e)}
			return
		}
		unix.RawSyscall(unix.SYS_SETFSGID, uintptr(a.gid), 0, 0)
		unix.RawSyscall(unix.SYS_SETFSUID, uintptr(a.uid), 0, 0)
		var problems []string
		for _, c := range checks {
			kind, path, ok := strings.Cut(c, ":")
			if !ok {
				continue
			}
			var mode uint32
			var what string
			switch kind {
			case "r":
				mode, what = unix.R_OK|unix.X_OK, "read"
			case "g":
				mode, what = unix.R_OK, "read"
			case "w":
				mode, what = unix.W_OK|unix.X_OK, "write to"
			case "f":
				mode, what = unix.W_OK, "write to"
			case "x":
				mode, what = unix.X_OK, "run"
			}
			if err := unix.Faccessat(unix.AT_FDCWD, path, mode, unix.AT_EACCESS); err != nil {
				problems = append(problems, fmt.Sprintf("cannot %s %s: %v", what, path, err))
			}
		}
		done <- result{problems: problems}
	}()
	r := <-done
	return r.problems, r.err
}

// checksAfterDrop lists what must work once pwebs runs as the account:
// every document root readable, the log folders writable, every CGI
// interpreter runnable, every script folder readable, and every users file
// of auth readable (pwebs reads it again when it changes).
func checksAfterDrop(cfg *serve.Config) []string {
	checks := []string{"r:" + cfg.DocumentRoot}
	for _, a := range cfg.Auth {
		checks = append(checks, "g:"+a.Users)
	}
	for _, v := range cfg.VHost {
		checks = append(checks, "r:"+v.DocumentRoot)
		if v.Auth != nil {
			for _, a := range *v.Auth {
				checks = append(checks, "g:"+a.Users)
			}
		}
	}
	for _, p := range []string{cfg.Log.Access, cfg.Log.Error} {
		if p == "" || p == "-" {
			continue
		}
		// A log that is not a regular file (/dev/null, a FIFO) is never
		// rotated: only the file itself must be writable. A log file that
		// exists must be writable too: pwebs hands over only the files it
		// creates.
		if fi, err := os.Stat(p); err == nil {
			checks = append(checks, "f:"+p)
			if !fi.Mode().IsRegular() {
				continue
			}
		}
		// A folder pwebs creates is given to the user; one that exists
		// must be writable by it.
		if fi, err := os.Stat(filepath.Dir(p)); err == nil && fi.IsDir() {
			checks = append(checks, "w:"+filepath.Dir(p))
		}
	}
	for _, prog := range cfg.CGI.Interpreters {
		if _, err := os.Stat(prog); err == nil {
			checks = append(checks, "x:"+prog)
		}
	}
	for _, dir := range cfg.CGI.Dirs {
		checks = append(checks, "r:"+dir)
	}
	if cfg.CGI.MaxCPU.Duration > 0 || cfg.CGI.MaxMemory > 0 {
		// Resource limits are set by re-running pwebs's own binary.
		if exe, err := os.Executable(); err == nil {
			checks = append(checks, "x:"+exe)
		}
	}
	slices.Sort(checks)
	return slices.Compact(checks)
}

// inotifyProblem reports when the folders the cache must watch pass the
// inotify watch limit of a user.
func inotifyProblem(cfg *serve.Config) string {
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_user_watches")
	if err != nil {
		return ""
	}
	limit, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return ""
	}
	return watchProblem(cfg, limit)
}

// watchProblem compares the folders under the document roots with a watch
// limit.
func watchProblem(cfg *serve.Config, limit int) string {
	if !cfg.Cache.Enabled {
		return ""
	}
	folders := 0
	roots := []string{cfg.DocumentRoot}
	for _, v := range cfg.VHost {
		roots = append(roots, v.DocumentRoot)
	}
	for _, r := range roots {
		filepath.WalkDir(r, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				if p != r && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				folders++
			}
			return nil
		})
	}
	if folders > limit {
		return fmt.Sprintf("the document roots hold %d folders but inotify allows %d watches per user (fs.inotify.max_user_watches): the cache will check the rest with stat on every hit", folders, limit)
	}
	return ""
}
