// Command stalecheck measures how long a caching web server keeps serving
// a file's old content after the file changed on disk.
//
// Usage:
//
//	stalecheck [-n 500] [-size 1024] [-timeout 2s] -file PATH URL
//
// PATH is the file that URL serves. Each of -n rounds makes sure the
// current content is being served (so it is in the server's cache), then
// rewrites the file with new content of -size bytes and requests URL over
// one keep-alive connection, again and again, until the new content comes
// back. The delay is the time from the end of the rewrite to the first
// response with the new body. Rounds alternate between the two ways files
// change: rewritten in place (truncate and write, as "cat > file" does)
// and replaced by a rename (write a temporary file beside it, rename it
// over the old one, as editors and "sed -i" do).
//
// It prints one line per kind and one for all rounds:
//
//	inplace n=250 median_ms=0.42 p99_ms=1.80 max_ms=2.10 stale=3 timeouts=0 wrong=0
//	rename  n=250 ...
//	all     n=500 ...
//
// stale counts the rounds where at least one response still had the old
// body: when it is 0, the delays are just the time of one request. A
// timeout is a round where the new body did not appear within -timeout;
// wrong counts responses that were neither the old nor the new body (a
// mixed or truncated body: always a bug, except that a server without a
// cache may show the half-written file of an in-place rewrite).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"
)

func main() {
	n := flag.Int("n", 500, "rounds")
	size := flag.Int("size", 1024, "bytes of each version of the file")
	timeout := flag.Duration("timeout", 2*time.Second, "longest wait for the new content in one round")
	file := flag.String("file", "", "the file that URL serves")
	flag.Parse()
	if flag.NArg() != 1 || *file == "" || *n < 1 || *size < 32 {
		fmt.Fprintln(os.Stderr, "usage: stalecheck [-n N] [-size BYTES] [-timeout DUR] -file PATH URL")
		os.Exit(2)
	}
	url := flag.Arg(0)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1}}

	kinds := []string{"inplace", "rename"}
	delays := map[string][]time.Duration{}
	timeouts := map[string]int{}
	wrong := map[string]int{}
	stale := map[string]int{}
	old := version(0, *size)
	if err := os.WriteFile(*file, old, 0o644); err != nil {
		fatal(err)
	}
	for i := 1; i <= *n; i++ {
		kind := kinds[i%2]
		// Serve the current version at least twice so that it is cached.
		if _, _, err := await(client, url, old, nil, *timeout); err != nil {
			fatal(fmt.Errorf("round %d: the current version is not served: %w", i, err))
		}
		if _, err := get(client, url); err != nil {
			fatal(err)
		}
		cur := version(i, *size)
		if err := rewrite(*file, cur, kind); err != nil {
			fatal(err)
		}
		start := time.Now()
		polls, bad, err := await(client, url, cur, old, *timeout)
		d := time.Since(start)
		wrong[kind] += bad
		if polls-bad > 1 {
			stale[kind]++
		}
		if err != nil {
			timeouts[kind]++
		} else {
			delays[kind] = append(delays[kind], d)
		}
		old = cur
	}
	var all []time.Duration
	for _, k := range kinds {
		report(k, delays[k], stale[k], timeouts[k], wrong[k])
		all = append(all, delays[k]...)
	}
	report("all", all, stale["inplace"]+stale["rename"], timeouts["inplace"]+timeouts["rename"], wrong["inplace"]+wrong["rename"])
}

// version returns the content of version i: a numbered line padded to size.
func version(i, size int) []byte {
	b := bytes.Repeat([]byte("."), size)
	copy(b, fmt.Sprintf("version %d\n", i))
	b[size-1] = '\n'
	return b
}

// rewrite changes file to body, in place or by renaming a new file over it.
func rewrite(file string, body []byte, kind string) error {
	if kind == "inplace" {
		return os.WriteFile(file, body, 0o644)
	}
	tmp := filepath.Join(filepath.Dir(file), "new-"+filepath.Base(file))
	if err := os.WriteFile(tmp, body, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// await requests url until it returns want, or timeout passes. It returns
// how many requests it made, and how many responses were neither want nor
// old (when old is not nil).
func await(client *http.Client, url string, want, old []byte, timeout time.Duration) (polls, bad int, err error) {
	until := time.Now().Add(timeout)
	for {
		body, err := get(client, url)
		polls++
		if err != nil {
			return polls, bad, err
		}
		if bytes.Equal(body, want) {
			return polls, bad, nil
		}
		if old != nil && !bytes.Equal(body, old) {
			bad++
		}
		if time.Now().After(until) {
			return polls, bad, fmt.Errorf("still not the new content after %v", timeout)
		}
	}
}

func get(client *http.Client, url string) ([]byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: status %d", url, resp.StatusCode)
	}
	return body, nil
}

func report(kind string, d []time.Duration, stale, timeouts, wrong int) {
	slices.Sort(d)
	q := func(f float64) float64 {
		if len(d) == 0 {
			return -1
		}
		i := max(0, min(int(f*float64(len(d))+0.999999)-1, len(d)-1))
		return float64(d[i]) / float64(time.Millisecond)
	}
	fmt.Printf("%-7s n=%d median_ms=%.3f p99_ms=%.3f max_ms=%.3f stale=%d timeouts=%d wrong=%d\n",
		kind, len(d), q(0.5), q(0.99), q(1), stale, timeouts, wrong)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "stalecheck:", err)
	os.Exit(1)
}
