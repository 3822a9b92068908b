// Command probe plays a normal visitor while a server is under attack: it
// sends one GET every -interval on a new connection, for -duration, and
// reports how many were answered and how fast.
//
// Usage:
//
//	probe [-interval 100ms] [-duration 20s] [-timeout 10s] URL
//
// A request counts as answered when a 200 response with its whole body
// arrives within -timeout. Requests start on schedule whether or not the
// earlier ones have finished, so one stuck request does not hide the next.
// The result is one line on stdout:
//
//	sent=200 answered=200 pct=100.0 p50_ms=0.41 p99_ms=1.90 max_ms=2.31
//
// where the percentiles are over the answered requests (a value of -1 when
// none was). bench/slowloris.sh runs it beside slowhttptest.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
)

func main() {
	interval := flag.Duration("interval", 100*time.Millisecond, "time between two requests")
	duration := flag.Duration("duration", 20*time.Second, "how long to keep sending")
	timeout := flag.Duration("timeout", 10*time.Second, "time allowed for one complete response")
	flag.Parse()
	if flag.NArg() != 1 || *interval <= 0 || *duration <= 0 {
		fmt.Fprintln(os.Stderr, "usage: probe [-interval DUR] [-duration DUR] [-timeout DUR] URL")
		os.Exit(2)
	}
	url := flag.Arg(0)
	client := &http.Client{
		Timeout:   *timeout,
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
	}

	var (
		mu    sync.Mutex
		took  []time.Duration
		sent  int
		wg    sync.WaitGroup
		errs  = map[string]int{}
		tick  = time.NewTicker(*interval)
		until = time.Now().Add(*duration)
	)
	defer tick.Stop()
	for now := time.Now(); now.Before(until); now = <-tick.C {
		sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := get(client, url)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[err.Error()]++
				return
			}
			took = append(took, d)
		}()
	}
	wg.Wait()

	slices.Sort(took)
	pct := 100 * float64(len(took)) / float64(sent)
	fmt.Printf("sent=%d answered=%d pct=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
		sent, len(took), pct, ms(quantile(took, 0.50)), ms(quantile(took, 0.99)), ms(quantile(took, 1)))
	for e, n := range errs {
		fmt.Fprintf(os.Stderr, "probe: %d× %s\n", n, e)
	}
}

// get fetches url once and returns how long the whole response took.
func get(client *http.Client, url string) (time.Duration, error) {
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	return time.Since(start), nil
}

// quantile returns the q-quantile (nearest rank) of sorted, or -1 when it
// is empty.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return -time.Millisecond
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
