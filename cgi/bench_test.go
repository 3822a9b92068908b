package cgi

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/pwebs/pwebs/conf"
)

// BenchmarkRun runs a script through Serve and, interleaved in the same
// loop so both see the same noise, a plain fork/exec of /bin/true: the
// floor for any CGI server. It reports runs/s of each and their ratio
// (of-true: 1.0 means Serve costs no more than spawning /bin/true).
func BenchmarkRun(b *testing.B) {
	run := func(b *testing.B, o Options, script string) {
		dir := copyScripts(b, script)
		h, sink := newHandler(b, o)
		r := scriptRequest(dir, script, "/cgi-bin/"+script)
		var serve, floor time.Duration
		b.ReportAllocs()
		for b.Loop() {
			t0 := time.Now()
			if err := exec.Command("/bin/true").Run(); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if _, err := h.Serve(context.Background(), &recorder{}, r); err != nil {
				waitIdle(b, h)
				b.Fatal(err, sink.all())
			}
			serve, floor = serve+time.Since(t1), floor+t1.Sub(t0)
		}
		waitIdle(b, h)
		b.ReportMetric(float64(b.N)/serve.Seconds(), "runs/s")
		b.ReportMetric(float64(b.N)/floor.Seconds(), "true-runs/s")
		b.ReportMetric(floor.Seconds()/serve.Seconds(), "of-true")
	}
	b.Run("sh-hello", func(b *testing.B) {
		needProgram(b, shPath)
		run(b, testOptions(), "hello.sh")
	})
	b.Run("sh-hello-rlimit", func(b *testing.B) {
		needProgram(b, shPath)
		o := testOptions()
		o.MaxCPU, o.MaxMemory = conf.D(30*time.Second), 512<<20
		run(b, o, "hello.sh")
	})
	b.Run("php-hello", func(b *testing.B) {
		needProgram(b, phpPath)
		o := testOptions()
		o.Interpreters = map[string]string{".php": phpPath}
		run(b, o, "hello.php")
	})
}
