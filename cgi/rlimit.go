package cgi

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The rlimit re-exec. Resource limits must bind before a script's first
// instruction, and Go's os/exec runs no code of ours between fork and exec;
// setting the limits on the server itself around the fork would limit the
// server, and prlimit on the child's pid after Start comes too late (the
// script is already running). So when a limit is configured the script is
// started as
//
//	/proc/self/exe  argv: rlimitArg0 LIMITS PROGRAM ARGV0 ARGS...
//
// and init below, in that re-executed copy of the server, sets the limits
// and execs PROGRAM with the environment unchanged: same pid, same process
// group, same file descriptors. The copy runs only package initialisers
// (those of this package's dependencies, all without side effects) before
// it execs.

// rlimitArg0 is the argv[0] by which the re-executed binary knows its job.
// It cannot be mistaken for a real invocation of pwebs.
const rlimitArg0 = "pwebs-cgi-rlimit"

// selfExe is the server's own binary, valid in the child even if the file
// was replaced or removed since the server started.
const selfExe = "/proc/self/exe"

func init() {
	if len(os.Args) >= 4 && os.Args[0] == rlimitArg0 {
		os.Exit(rlimitMain(os.Args[1:]))
	}
}

// rlimitMain sets the limits in args[0] and execs args[1] with argv
// args[2:]. It returns only on failure, with the exit status to use; the
// message goes to stderr, which is the script's and so reaches the error
// log.
//
// RLIMIT_AS binds this very process too, and the Go runtime cannot map
// memory past it (the runtime alone reserves more address space than a
// typical limit), so everything execve needs is prepared first, the
// address-space limit is set last, and nothing allocates between it and
// the raw execve. syscall.Exec is not used because it allocates.
func rlimitMain(args []string) int {
	cpu, as, err := parseLimits(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "pwebs: cannot run %s: %v\n", args[1], err)
		return 127
	}
	prog, err := syscall.BytePtrFromString(args[1])
	if err != nil {
		return 127
	}
	argv, err := syscall.SlicePtrFromStrings(args[2:])
	if err != nil {
		return 127
	}
	envv, err := syscall.SlicePtrFromStrings(os.Environ())
	if err != nil {
		return 127
	}
	fail := make([]byte, 0, len(args[1])+128)
	fail = append(fail, "pwebs: cannot run "+args[1]+": "...)
	asLim, err := limitsBeforeExec(cpu, as)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pwebs: cannot run %s: %v\n", args[1], err)
		return 127
	}
	debug.SetGCPercent(-1) // no collection, so nothing the collector might map
	runtime.LockOSThread()
	if as > 0 {
		if _, _, e := unix.RawSyscall6(unix.SYS_PRLIMIT64, 0, unix.RLIMIT_AS, uintptr(unsafe.Pointer(&asLim)), 0, 0, 0); e != 0 {
			rawFail(fail, e)
			return 127
		}
	}
	_, _, e := unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(prog)),
		uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])))
	rawFail(fail, e)
	return 127
}

// rawFail writes msg and the error to stderr without allocating: msg has
// room for the error's text, which comes from a constant table.
func rawFail(msg []byte, e unix.Errno) {
	msg = append(msg, e.Error()...)
	msg = append(msg, '\n')
	unix.Write(2, msg)
}

// formatLimits encodes the limits for the re-exec's argv: whole CPU seconds
// (rounded up) and address-space bytes, 0 for none.
func formatLimits(cpu time.Duration, as int64) string {
	secs := int64((cpu + time.Second - 1) / time.Second)
	return "cpu=" + strconv.FormatInt(secs, 10) + ",as=" + strconv.FormatInt(as, 10)
}

func parseLimits(s string) (cpu, as uint64, err error) {
	c, a, ok := strings.Cut(s, ",")
	if !ok || !strings.HasPrefix(c, "cpu=") || !strings.HasPrefix(a, "as=") {
		return 0, 0, fmt.Errorf("bad limits %q", s)
	}
	if cpu, err = strconv.ParseUint(c[4:], 10, 64); err == nil {
		as, err = strconv.ParseUint(a[3:], 10, 64)
	}
	return cpu, as, err
}

// limitsBeforeExec sets RLIMIT_CPU (soft cpu seconds, hard one more, so a
// script gets SIGXCPU and a second to stop before SIGKILL) when cpu is not
// zero, RLIMIT_CORE to 0, and puts RLIMIT_NOFILE back as Go's os/exec would
// (see below); it returns the RLIMIT_AS value to set last, for as bytes.
// No limit is set above the hard limit in force.
func limitsBeforeExec(cpu, as uint64) (unix.Rlimit, error) {
	capped := func(res int, soft, hard uint64) (unix.Rlimit, error) {
		var cur unix.Rlimit
		if err := unix.Getrlimit(res, &cur); err != nil {
			return cur, err
		}
		hard = min(hard, cur.Max)
		return unix.Rlimit{Cur: min(soft, hard), Max: hard}, nil
	}
	set := func(name string, res int, soft, hard uint64) error {
		lim, err := capped(res, soft, hard)
		if err == nil {
			err = unix.Setrlimit(res, &lim)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	if cpu > 0 {
		if err := set("RLIMIT_CPU", unix.RLIMIT_CPU, cpu, cpu+1); err != nil {
			return unix.Rlimit{}, err
		}
	}
	if err := set("RLIMIT_CORE", unix.RLIMIT_CORE, 0, 0); err != nil {
		return unix.Rlimit{}, err
	}
	// The Go runtime of this re-executed copy raised its soft
	// RLIMIT_NOFILE to the hard limit minus one, its marker, and only
	// syscall.Exec (not usable here) would put the original back. The
	// original is not recorded anywhere this package can read, so the
	// kernel's and systemd's default soft limit, 1024, is restored; a
	// limit Go did not raise is left as it is.
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err == nil && nofile.Max > defaultNofile && nofile.Cur == nofile.Max-1 {
		if err := set("RLIMIT_NOFILE", unix.RLIMIT_NOFILE, defaultNofile, nofile.Max); err != nil {
			return unix.Rlimit{}, err
		}
	}
	if as == 0 {
		return unix.Rlimit{}, nil
	}
	lim, err := capped(unix.RLIMIT_AS, as, as)
	if err != nil {
		return lim, fmt.Errorf("RLIMIT_AS: %w", err)
	}
	return lim, nil
}

// defaultNofile is the soft RLIMIT_NOFILE of a process nobody raised.
const defaultNofile = 1024
