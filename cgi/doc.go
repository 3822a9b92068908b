// Package cgi runs CGI/1.1 scripts (RFC 3875), PHP through php-cgi among
// them, by fork/exec, for pwebs's HTTP engine.
//
// It does everything about running a script except HTTP itself: it decides
// which files are scripts (IsScript), builds the meta-variables (Env, a pure
// function), spools request bodies of unknown length so CONTENT_LENGTH can
// be set, starts the script with no shell in between, in its own folder and
// its own process group, with the resource limits of Options, parses the
// CGI header block the script prints (a pure parser, bounded and fuzzed),
// and streams the body to a ResponseWriter as the script writes it. Every
// line a script writes to stderr goes to the error log with the script's
// name; every failed run leaves one error log record that explains it.
//
// A script that stays silent for Options.Timeout, whose client goes away
// (its context is cancelled), or that is still running when Handler.Close is
// called, is stopped: SIGTERM to its whole process group, then SIGKILL after
// a short grace. Every process of the group is reaped, grandchildren
// included: New makes the server a child subreaper (PR_SET_CHILD_SUBREAPER),
// so orphans of a script are re-parented to the server and not to init, and
// they are reaped by process group. A run ends when the script has exited and
// its output is at end of file; what is then left in its group is stopped
// too. A process that leaves its group (setsid, setpgid: a daemon) is outside
// the package's reach, as under Apache: it is not stopped, and being the
// server's child once its parent exits, its zombie is not reaped until the
// server exits (reaping children the package did not start could steal them
// from another part of the program).
//
// When Options.MaxCPU or Options.MaxMemory is set, scripts are started
// through a tiny re-exec of the server's own binary (/proc/self/exe) that
// sets the limits and then execs the script, so that the limits bind before
// the script's first instruction. The package's init function recognises
// that re-exec by its argv[0] and never returns in it; any binary that
// imports this package therefore supports it without further wiring.
//
// The package must not speak HTTP: it does not import net/http (nor
// net/http/cgi), never sees a socket and writes nothing but through
// ResponseWriter. It must not import serve, cache, ssi or logging (a test
// enforces this), must not open log files (errors go to the *slog.Logger
// given to New), and must not let anything of the server's environment reach
// a script but a fixed, safe PATH.
package cgi
