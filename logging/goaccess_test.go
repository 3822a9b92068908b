package logging

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestGoaccess has goaccess parse a Combined log written by a Logger, hostile
// request lines included, and checks that it finds no invalid line.
func TestGoaccess(t *testing.T) {
	goaccess, err := exec.LookPath("goaccess")
	if err != nil {
		if os.Getenv("PWEBS_REQUIRE_ALL") == "1" {
			t.Fatal("goaccess is required (PWEBS_REQUIRE_ALL=1) but not installed: apt-get install goaccess")
		}
		t.Skip("goaccess not installed (Debian package goaccess); skipping")
	}
	dir := t.TempDir()
	o := testOptions(dir)
	o.RotateSize = 0
	l, _ := newTestLogger(t, o)

	var records []*Record
	base := time.Date(2026, 11, 21, 10, 4, 5, 0, time.FixedZone("", 3600))
	for i, h := range hostileRequests {
		r := sampleRecord()
		r.Time = base.Add(time.Duration(i) * time.Second)
		r.RequestLine = []byte(h.requestLine)
		r.ReqHeader = hdrs("User-Agent", h.ua, "Referer", h.referer)
		r.Status = 400
		records = append(records, r)
	}
	variants := []func(r *Record){
		func(r *Record) {},
		func(r *Record) { r.User = "alice" },
		func(r *Record) { r.RemoteAddr = "[2001:db8::7]:51000" },
		func(r *Record) { r.Status, r.BodyBytes = 304, 0 },
		func(r *Record) { r.Status, r.RequestLine = 404, []byte("HEAD /missing.png HTTP/1.0") },
		func(r *Record) { r.Status, r.RequestLine = 500, []byte("POST /cgi-bin/form.php?x=1 HTTP/1.1") },
		func(r *Record) { *r = Record{Time: r.Time, RemoteAddr: "10.0.0.1:1", Status: 408} },
		func(r *Record) { r.ReqHeader = hdrs("Referer", "", "User-Agent", "") },
	}
	for i := range 200 {
		r := sampleRecord()
		r.Time = base.Add(time.Duration(i) * time.Minute)
		variants[i%len(variants)](r)
		records = append(records, r)
	}
	for _, r := range records {
		l.Access(r)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	report, invalid := filepath.Join(dir, "report.json"), filepath.Join(dir, "invalid.txt")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goaccess, o.Access, "--log-format=COMBINED", "--no-global-config",
		"-o", report, "--invalid-requests="+invalid)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("goaccess: %v\n%s", err, out)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		General struct {
			Total  int `json:"total_requests"`
			Valid  int `json:"valid_requests"`
			Failed int `json:"failed_requests"`
		} `json:"general"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.General.Failed != 0 || got.General.Valid != len(records) {
		bad, _ := os.ReadFile(invalid)
		t.Errorf("goaccess: got %+v, want %d valid and none failed; invalid lines:\n%s", got.General, len(records), bad)
	}
}
