package serve

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain runs the tests, then checks that they left no goroutine behind:
// every server, cache, parker and script a test started must have been
// stopped by it.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := leakedGoroutines(10 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines left behind by the tests:\n%s", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines waits up to d for every goroutine but the test
// framework's and the runtime's to end, and returns the stacks of those
// that did not.
func leakedGoroutines(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		var left []string
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		for _, g := range strings.Split(string(buf), "\n\n") {
			if expectedGoroutine(g) {
				continue
			}
			left = append(left, g)
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return strings.Join(left, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// expectedGoroutine reports whether a goroutine's stack is one that lives
// as long as the process by design.
func expectedGoroutine(stack string) bool {
	for _, s := range []string{
		"serve.leakedGoroutines",            // this one
		"testing.runFuzzing",                // the fuzzing engine
		"runtime.goexit",                    // (only in an empty stack line)
		"os/signal.signal_recv",             // signal.Notify's loop
		"runtime.ensureSigM",                // the same
		"testing.(*T).Run",                  // a test still being torn down
		"testing.tRunner.func1",             // the same
		"lumberjack%2ev2.(*Logger).millRun", // lumberjack's compressor: one per log path for the process (see logging's package comment)
		"lumberjack.v2.(*Logger).millRun",
	} {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return strings.TrimSpace(stack) == ""
}
