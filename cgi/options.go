package cgi

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pwebs/pwebs/conf"
	"golang.org/x/sys/unix"
)

// Options is the [cgi] section of pwebs.conf. DefaultOptions fills the
// defaults stated on each field; Validate checks a loaded section once, and
// New refuses Options that do not validate.
type Options struct {
	// Dirs maps a URL prefix such as "/cgi-bin/" to a folder, as Apache's
	// ScriptAlias does: every file under the folder is run as a script,
	// whatever its name, and none is ever sent as a file. Folder paths are
	// resolved by serve (relative to the config file) before New. Default:
	// none.
	Dirs map[string]string `toml:"dirs"`

	// Extensions lists file name extensions (with the dot) of scripts that
	// may sit anywhere under a document root, like Apache's
	// "AddHandler cgi-script .cgi". Matching ignores case. Default [".cgi"].
	Extensions []string `toml:"extensions"`

	// Interpreters maps an extension to the absolute path of a program
	// that runs files with that extension: ".php" = "/usr/bin/php-cgi".
	// The program is started as "program script-file"; the script itself
	// need not be executable, only readable. Matching ignores case.
	// Default: none.
	Interpreters map[string]string `toml:"interpreters"`

	// Timeout is how long a script may stay silent (write nothing to its
	// stdout) before it is stopped: SIGTERM to its process group, SIGKILL
	// after a short grace. It also bounds how long a script may keep
	// running after it closed its stdout. Default 60s.
	Timeout conf.Duration `toml:"timeout"`

	// MaxProcesses bounds the scripts running at once; a script's slot is
	// held until every process of its group has been reaped. Default 32.
	MaxProcesses int `toml:"max_processes"`

	// MaxWait is how long a request waits for a free process slot before
	// Serve gives up with ErrBusy (a 503 with Retry-After). Default 10s.
	MaxWait conf.Duration `toml:"max_wait"`

	// MaxCPU sets RLIMIT_CPU for each script, rounded up to whole seconds:
	// past it the kernel sends SIGXCPU, and SIGKILL one second later. Zero
	// (the default) leaves the limit unset. Setting it (or MaxMemory) also
	// sets RLIMIT_CORE to 0, so a script killed for it never leaves a core
	// file in its folder, and costs one extra exec per run (see the
	// package documentation).
	MaxCPU conf.Duration `toml:"max_cpu"`

	// MaxMemory sets RLIMIT_AS (address space, not resident memory) for
	// each script. Interpreters map much more than they use: allow a few
	// hundred MiB for php-cgi, perl or python3. Zero (the default) leaves
	// the limit unset; otherwise it must be at least 1MiB.
	MaxMemory conf.Size `toml:"max_memory"`

	// PassAuthorization passes the Authorization request header to scripts
	// as HTTP_AUTHORIZATION, as Apache's "CGIPassAuth On" does. Default
	// false: a script then cannot see the client's credentials, which
	// matters when scripts of several users share the server.
	PassAuthorization bool `toml:"pass_authorization"`
}

// DefaultOptions returns the defaults documented on Options.
func DefaultOptions() Options {
	return Options{
		Extensions:   []string{".cgi"},
		Timeout:      conf.D(60 * time.Second),
		MaxProcesses: 32,
		MaxWait:      conf.D(10 * time.Second),
	}
}

// Bounds on Options values that Validate enforces.
const (
	maxMaxProcesses = 4096    // more would exhaust file descriptors and pids first
	minMaxMemory    = 1 << 20 // RLIMIT_AS below this cannot even exec a program
	maxTimeout      = 24 * time.Hour
)

// Validate checks o and returns one *conf.KeyError per problem, or nil. It
// looks at the file system for interpreters (each must be an absolute path
// to an executable regular file); it is meant to run once, when the
// configuration is loaded.
func (o *Options) Validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) { errs = append(errs, conf.Errorf(key, format, args...)) }

	for _, prefix := range sortedKeys(o.Dirs) {
		key := "dirs." + prefix
		if !strings.HasPrefix(prefix, "/") {
			bad(key, "URL prefix %q must start with \"/\"", prefix)
		}
		if strings.ContainsAny(prefix, "?#\x00") {
			bad(key, "URL prefix %q must be a plain path", prefix)
		}
		if o.Dirs[prefix] == "" {
			bad(key, "folder is empty")
		}
	}
	for i, ext := range o.Extensions {
		if err := checkExt(ext); err != nil {
			bad(fmt.Sprintf("extensions[%d]", i), "%v", err)
		}
	}
	for _, ext := range sortedKeys(o.Interpreters) {
		key := "interpreters." + ext
		if err := checkExt(ext); err != nil {
			bad(key, "%v", err)
		}
		if err := checkProgram(o.Interpreters[ext]); err != nil {
			errs = append(errs, &conf.KeyError{Key: key, Err: err}) // keeps fs.ErrNotExist visible
		}
	}
	if d := o.Timeout.Duration; d <= 0 || d > maxTimeout {
		bad("timeout", "must be more than 0s and at most %v, got %v", maxTimeout, d)
	}
	if n := o.MaxProcesses; n < 1 || n > maxMaxProcesses {
		bad("max_processes", "must be from 1 to %d, got %d", maxMaxProcesses, n)
	}
	if d := o.MaxWait.Duration; d < 0 || d > maxTimeout {
		bad("max_wait", "must be from 0s to %v, got %v", maxTimeout, d)
	}
	if d := o.MaxCPU.Duration; d < 0 {
		bad("max_cpu", "must not be negative, got %v", d)
	}
	if m := o.MaxMemory; m != 0 && m < minMaxMemory {
		bad("max_memory", "must be 0 (no limit) or at least 1MiB, got %v", m)
	}
	return errs
}

// checkExt accepts an extension such as ".php": a dot, then at least one
// character, no other dot and no slash.
func checkExt(ext string) error {
	if len(ext) < 2 || ext[0] != '.' || strings.ContainsAny(ext[1:], "./\\\x00 ") {
		return fmt.Errorf("extension %q must be a dot followed by a name, such as \".cgi\"", ext)
	}
	return nil
}

// checkProgram accepts an absolute path to an executable regular file.
func checkProgram(p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("program %q must be an absolute path", p)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("program %q: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("program %q is not a regular file", p)
	}
	if err := unix.Faccessat(unix.AT_FDCWD, p, unix.X_OK, unix.AT_EACCESS); err != nil {
		return fmt.Errorf("program %q is not executable", p)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
