package serve

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// jsonListing is a listing as its JSON variant reads.
type jsonListing struct {
	Entries []struct {
		Name string `json:"name"`
		Type string `json:"type"`
		Size int64  `json:"size"`
	} `json:"entries"`
	Total     int  `json:"total"`
	Truncated bool `json:"truncated"`
}

// getListing fetches the JSON listing of path.
func (ts *testServer) getListing(path string) (jsonListing, string) {
	ts.t.Helper()
	resp, body := ts.get(path, "Accept", "application/json")
	if resp.StatusCode != 200 {
		ts.t.Fatalf("%s: status %d", path, resp.StatusCode)
	}
	var l jsonListing
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		ts.t.Fatalf("%s: %v\n%s", path, err, body)
	}
	return l, body
}

func (l jsonListing) names() string {
	var n []string
	for _, e := range l.Entries {
		n = append(n, e.Name)
	}
	return strings.Join(n, " ")
}

// TestListingTruncatedInOrder: a listing longer than listing_max_entries
// shows the first entries of the order asked, folders first, whatever
// order the folder is read in.
func TestListingTruncatedInOrder(t *testing.T) {
	files := map[string]string{"d/ydir/": "", "d/zdir/": ""}
	for i, name := range []string{"h", "c", "j", "a", "f", "b", "i", "e", "g", "d"} {
		files["d/"+name+".txt"] = strings.Repeat("x", 10+(i*7)%10) // sizes 10..19: h smallest, e largest
	}
	for _, cache := range []string{"true", "false"} {
		t.Run("cache="+cache, func(t *testing.T) {
			ts := startServer(t, "listing_max_entries = 3\n[cache]\nenabled = "+cache+"\n", files)
			tests := []struct{ query, want string }{
				{"", "ydir zdir a.txt"},
				{"?C=N;O=A", "ydir zdir a.txt"},
				{"?C=N;O=D", "zdir ydir j.txt"},
				{"?C=S;O=A", "ydir zdir h.txt"},
				{"?C=S;O=D", "zdir ydir e.txt"},
			}
			for _, tt := range tests {
				l, _ := ts.getListing("/d/" + tt.query)
				if got := l.names(); got != tt.want || l.Total != 12 || !l.Truncated {
					t.Errorf("%q: %q, total %d, truncated %v; want %q, 12, true", tt.query, got, l.Total, l.Truncated, tt.want)
				}
			}
			_, body := ts.get("/d/?C=N;O=D")
			if !strings.Contains(body, "3 entries shown of 12") || strings.Index(body, ">zdir/<") > strings.Index(body, ">j.txt<") {
				t.Errorf("HTML listing: %s", body[strings.Index(body, "<tbody>"):])
			}
		})
	}
}

// TestListingTotal: the total counts only what a listing would show: no
// dotfile, no symbolic link that leads out of the root or nowhere. An empty
// folder's JSON has an empty list of entries, not null.
func TestListingTotal(t *testing.T) {
	files := map[string]string{"d/a.txt": "a", "d/.hidden": "h", "empty/": ""}
	ts := startServerPre(t, "", files, func(dir string) {
		must(t, os.WriteFile(filepath.Join(dir, "outside.txt"), []byte("out"), 0o644))
	})
	d := filepath.Join(ts.root, "d")
	must(t, os.Symlink("a.txt", filepath.Join(d, "link-in")))
	must(t, os.Symlink(filepath.Join(ts.dir, "outside.txt"), filepath.Join(d, "link-out")))
	must(t, os.Symlink("../../outside.txt", filepath.Join(d, "link-up")))
	must(t, os.Symlink("nowhere", filepath.Join(d, "dangling")))

	l, _ := ts.getListing("/d/")
	if got := l.names(); got != "a.txt link-in" || l.Total != 2 || l.Truncated {
		t.Errorf("got %q, total %d, truncated %v; want \"a.txt link-in\", 2, false", got, l.Total, l.Truncated)
	}
	_, body := ts.get("/d/")
	if !strings.Contains(body, "<footer>2 entries ·") {
		t.Errorf("footer: %s", body[strings.Index(body, "<footer>"):])
	}

	l, body = ts.getListing("/empty/")
	if !strings.Contains(body, `"entries": []`) || l.Total != 0 {
		t.Errorf("empty folder: %s", body)
	}

	ts2 := startServer(t, "listing_max_entries = 1\n", map[string]string{"d/a.txt": "a", "d/b.txt": "b", "d/.hidden": "h"})
	must(t, os.Symlink("nowhere", filepath.Join(ts2.root, "d", "dangling")))
	must(t, os.Symlink("../..", filepath.Join(ts2.root, "d", "up")))
	_, body = ts2.get("/d/")
	if !strings.Contains(body, "<footer>1 entry shown of 2 ·") {
		t.Errorf("footer: %s", body[strings.Index(body, "<footer>"):])
	}
}

// TestListingValidators: a listing has an ETag made from its content and
// no Last-Modified (a file in the folder may grow without the folder's time
// changing), so If-Modified-Since never gives a 304 for a listing that
// changed, and If-None-Match gives one only for the same content.
func TestListingValidators(t *testing.T) {
	for _, cache := range []string{"true", "false"} {
		t.Run("cache="+cache, func(t *testing.T) {
			ts := startServer(t, "[cache]\nenabled = "+cache+"\n", map[string]string{"d/a.txt": "a"})
			resp, body := ts.get("/d/")
			etag := resp.Header.Get("ETag")
			if resp.StatusCode != 200 || etag == "" || !strings.Contains(body, "1 B") {
				t.Fatalf("listing: %d ETag %q", resp.StatusCode, etag)
			}
			if lm := resp.Header.Get("Last-Modified"); lm != "" {
				t.Errorf("Last-Modified %q, want none", lm)
			}
			future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
			if resp, _ := ts.get("/d/", "If-Modified-Since", future); resp.StatusCode != 200 {
				t.Errorf("If-Modified-Since: %d, want 200", resp.StatusCode)
			}
			if resp, _ := ts.get("/d/", "If-None-Match", etag); resp.StatusCode != 304 {
				t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
			}

			// The file grows; the folder's time stays.
			dfi, err := os.Stat(filepath.Join(ts.root, "d"))
			must(t, err)
			f, err := os.OpenFile(filepath.Join(ts.root, "d", "a.txt"), os.O_WRONLY|os.O_APPEND, 0)
			must(t, err)
			_, err = f.WriteString(strings.Repeat("a", 2999))
			must(t, err)
			must(t, f.Close())
			if nfi, err := os.Stat(filepath.Join(ts.root, "d")); err != nil || !nfi.ModTime().Equal(dfi.ModTime()) {
				t.Fatalf("the folder's time changed: %v", err)
			}
			waitFor(t, "the listing to show the new size", func() bool {
				_, body := ts.get("/d/")
				return strings.Contains(body, "2.9 KiB")
			})
			resp, _ = ts.get("/d/", "If-None-Match", etag)
			if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
				t.Errorf("If-None-Match with the old ETag: %d, ETag %q (was %q)", resp.StatusCode, resp.Header.Get("ETag"), etag)
			}
			if resp, _ := ts.get("/d/", "If-Modified-Since", future); resp.StatusCode != 200 {
				t.Errorf("If-Modified-Since after the change: %d, want 200", resp.StatusCode)
			}
		})
	}
}

// TestListingSubfolderTime: a cached listing shows the time of a subfolder
// as it is now: adding a file to the subfolder changes that time, though no
// name in the listed folder changed.
func TestListingSubfolderTime(t *testing.T) {
	ts := startServer(t, "", map[string]string{"top/sub/a.txt": "a", "top/b.txt": "b"})
	sub := filepath.Join(ts.root, "top", "sub")
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, os.Chtimes(sub, old, old))
	must(t, os.Chtimes(filepath.Join(ts.root, "top", "b.txt"), old, old))
	time.Sleep(100 * time.Millisecond) // for the change's event to pass
	ch := ts.srv.state.Load().cache
	waitFor(t, "a cached listing with the subfolder's old time", func() bool {
		hits := ch.Stats().Hits
		_, body := ts.get("/top/", "Accept", "application/json")
		return strings.Contains(body, `"modified": "2020-01-02T03:04:05Z"`) && ch.Stats().Hits > hits
	})
	must(t, os.WriteFile(filepath.Join(sub, "new.txt"), []byte("new"), 0o644))
	fi, err := os.Stat(sub)
	must(t, err)
	want := `"modified": "` + fi.ModTime().UTC().Format(time.RFC3339) + `"`
	waitFor(t, "the listing to show the subfolder's new time", func() bool {
		_, body := ts.get("/top/", "Accept", "application/json")
		return strings.Contains(body, want)
	})
}

// TestListingOffReferer: the error log's record of a folder refused for
// want of an index file names the request's Referer, as Apache's does.
func TestListingOffReferer(t *testing.T) {
	ts := startServer(t, "listing = false\n", map[string]string{"d/a.txt": "a"})
	if resp, _ := ts.get("/d/", "Referer", "http://ref/page"); resp.StatusCode != 403 {
		t.Fatalf("status %d, want 403", resp.StatusCode)
	}
	var line string
	for _, l := range strings.Split(ts.errlog.String(), "\n") {
		if strings.Contains(l, "Cannot serve directory") {
			line = l
		}
	}
	if !strings.Contains(line, "referer=http://ref/page") {
		t.Errorf("error log line %q lacks the referer", line)
	}
}

// TestListingNotes: a folder's HEADER.html shows above its listing and its
// README.html (or README.txt, escaped) below, as Apache's HeaderName and
// ReadmeName; editing one shows at once, though the listing is cached.
func TestListingNotes(t *testing.T) {
	ts := startServer(t, "", map[string]string{
		"a/HEADER.html": "<p class=x>Downloads</p>", "a/README.html": "<p>Read <b>me</b></p>", "a/f.bin": "f",
		"b/README.txt": "plain <text> & more", "c/f": "f", "d/README": "bare readme",
	})
	tests := []struct {
		path string
		want []string
		not  []string
	}{
		{"/a/", []string{"<h1>Index of /a/</h1>\n<div class=\"header\"><p class=x>Downloads</p></div>", "</table>\n<div class=\"readme\"><p>Read <b>me</b></p></div>"}, nil},
		{"/b/", []string{"<div class=\"readme\"><pre>plain &lt;text&gt; &amp; more</pre></div>"}, []string{`class="header"`}},
		{"/c/", nil, []string{`class="header"`, `class="readme"`}},
		{"/d/", []string{"<pre>bare readme</pre>"}, nil},
	}
	for _, tt := range tests {
		_, body := ts.get(tt.path)
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q:\n%s", tt.path, w, body)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(body, n) {
				t.Errorf("%s has %q", tt.path, n)
			}
		}
	}
	if _, body := ts.get("/a/", "Accept", "application/json"); strings.Contains(body, "Downloads") {
		t.Errorf("the JSON listing carries the header: %s", body)
	}
	must(t, os.WriteFile(filepath.Join(ts.root, "a", "README.html"), []byte("<p>changed</p>"), 0o644))
	waitFor(t, "the edited README in the listing", func() bool {
		_, body := ts.get("/a/")
		return strings.Contains(body, "<p>changed</p>")
	})
}
