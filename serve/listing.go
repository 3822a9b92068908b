package serve

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"html/template"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pwebs/pwebs/cache"
	"github.com/pwebs/pwebs/logging"
)

// listEntry is one row of a directory listing.
type listEntry struct {
	Name    string    `json:"name"`
	Dir     bool      `json:"-"`
	Type    string    `json:"type"` // "file", "dir" or "other"
	Size    int64     `json:"size"`
	ModTime time.Time `json:"modified"`
	URL     string    `json:"url"` // relative, percent-escaped

	// sub is the stat of a subfolder (not one reached by a symbolic link),
	// for the cached listing's dependency on it: the time shown for a
	// subfolder changes when a name in it does.
	sub fs.FileInfo
}

// listing is a whole directory listing, as the template and JSON see it.
type listing struct {
	Path      string      `json:"path"`
	Entries   []listEntry `json:"entries"`   // never nil: an empty folder is []
	Total     int         `json:"total"`     // entries the listing would show, shown or not
	Truncated bool        `json:"truncated"` // more than listing_max_entries
	Parent    bool        `json:"-"`
	Sort      byte        `json:"-"` // 'N', 'S' or 'M'
	Desc      bool        `json:"-"`
	Software  string      `json:"-"` // server_tokens
	// Header and Readme are the folder's HEADER.html, shown above the
	// table, and its README.html (or README.txt, or README, as
	// preformatted text), shown below, as Apache's HeaderName and
	// ReadmeName show them.
	Header template.HTML `json:"-"`
	Readme template.HTML `json:"-"`
}

// sortParams reads Apache's listing query: C=N|S|M (column) and O=A|D
// (order), separated by ';' or '&'.
func sortParams(q []byte) (col byte, desc bool) {
	col = 'N'
	for len(q) > 0 {
		var kv []byte
		if i := bytes.IndexAny(q, ";&"); i >= 0 {
			kv, q = q[:i], q[i+1:]
		} else {
			kv, q = q, nil
		}
		if len(kv) != 3 || kv[1] != '=' {
			continue
		}
		switch kv[0] {
		case 'C':
			if kv[2] == 'N' || kv[2] == 'S' || kv[2] == 'M' {
				col = kv[2]
			}
		case 'O':
			desc = kv[2] == 'D'
		}
	}
	return col, desc
}

// wantsJSON reports whether an Accept value prefers application/json to
// text/html.
func wantsJSON(accept []byte) bool {
	var jsonQ, htmlQ float64 = -1, -1
	forEachToken(accept, func(tok []byte) {
		name, params := tok, []byte(nil)
		if i := bytes.IndexByte(tok, ';'); i >= 0 {
			name, params = trimOWS(tok[:i]), tok[i+1:]
		}
		q := qValue(params)
		switch {
		case equalFold(name, "application/json"):
			jsonQ = max(jsonQ, q)
		case equalFold(name, "text/html"):
			htmlQ = max(htmlQ, q)
		}
	})
	return jsonQ > 0 && jsonQ > htmlQ
}

// qValue reads the q parameter of a list element; 1 when absent.
func qValue(params []byte) float64 {
	for _, p := range bytes.Split(params, []byte{';'}) {
		p = trimOWS(p)
		if len(p) > 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=' {
			if q, err := strconv.ParseFloat(string(p[2:]), 64); err == nil {
				return q
			}
			return 0
		}
	}
	return 1
}

// serveDir answers a folder: its first index file, else the site's
// fallback, else a listing, else 403.
func (c *conn) serveDir(s *site, p []byte, dir *os.File, tok cache.Token) {
	rel := relPath(p)
	var absent []string
	for _, name := range s.index {
		f, err := s.openFile(joinRel(rel, name)) // non-blocking: an index that is a pipe is refused, not waited for
		if err != nil {
			absent = append(absent, filepath.Join(s.dir, filepath.FromSlash(joinRel(rel, name))))
			continue
		}
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			f.Close()
			continue
		}
		defer f.Close()
		ip := make([]byte, 0, len(p)+len(name))
		ip = append(append(ip, p...), name...)
		if sc, ok := c.scriptAt(s, ip, nil); ok {
			// index.php and the like run as scripts; REQUEST_URI stays
			// the folder's URL.
			c.runScript(s, sc)
			return
		}
		if c.st.isSSI(name, fi) {
			c.serveSSI(s, p, ip, filepath.Join(s.dir, filepath.FromSlash(joinRel(rel, name))), f, fi, nil, tok, absent)
			return
		}
		if !c.staticMethod() {
			return
		}
		c.serveRegular(s, p, filepath.Join(s.dir, filepath.FromSlash(joinRel(rel, name))), f, fi, tok, absent)
		return
	}
	if c.fallBack(s, p) {
		// A fallback takes folders with no index, before any listing, as
		// Apache's FallbackResource does.
		return
	}
	if !s.listing {
		c.srv.log.Info("Cannot serve directory "+s.dir+string(p)+": No matching index file and listing is off", "client", c.remoteAddr(), logging.RefererKey, c.referer())
		c.writeError(403)
		return
	}
	if !c.staticMethod() {
		return
	}
	col, desc := sortParams(c.req.rawQuery)
	asJSON := wantsJSON(c.req.accept)
	variant := listingVariant(col, desc, asJSON)
	ch := c.st.cache
	if ch != nil {
		if e, ok := ch.Get(c.cacheKey(s, p, variant)); ok {
			c.serveEntry(e)
			return
		}
	}
	dfi, err := dir.Stat()
	if err != nil {
		c.fileError(s, p, err)
		return
	}
	l, err := readListing(s, rel, dir, c.st.cfg.ListingMaxEntries, col, desc)
	if err != nil {
		c.fileError(s, p, err)
		return
	}
	l.Path = string(p)
	l.Parent = len(p) > 1
	l.Sort, l.Desc = col, desc
	l.Software = c.st.software
	if !asJSON {
		l.Header, l.Readme = listingNotes(s, rel)
	}
	var buf bytes.Buffer
	typ := "text/html; charset=utf-8"
	if asJSON {
		typ = "application/json; charset=utf-8"
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", " ")
		err = enc.Encode(l)
	} else {
		err = listingTemplate.Execute(&buf, l)
	}
	if err != nil {
		// Rendered into a buffer first, so a failure is a clean 500.
		c.srv.log.Error("listing "+s.dir+string(p)+": "+err.Error(), "client", c.remoteAddr(), logging.RefererKey, c.referer())
		c.writeError(500)
		return
	}
	// A listing has no Last-Modified, as Apache's and nginx's have none: the
	// folder's time does not change when a file in it grows, though the
	// listing shows its size. The ETag is the body's, so If-None-Match
	// works.
	body := bytes.Clone(buf.Bytes())
	h := fnv.New64a()
	h.Write(body)
	etag := "\"l" + strconv.FormatUint(h.Sum64(), 16) + "\""
	if ch != nil {
		// The entry depends on the folder (the cache drops it on an event
		// on any name in it) and on each subfolder shown, whose time it
		// shows.
		abs := s.absPath(p)
		deps := []cache.Dep{cache.DepOf(abs, dfi)}
		for i := range l.Entries {
			if sub := l.Entries[i].sub; sub != nil {
				deps = append(deps, cache.DepOf(filepath.Join(abs, l.Entries[i].Name), sub))
			}
		}
		e := c.st.newEntry(typ, body, time.Time{}, etag, "Accept", "", deps)
		c.cacheKey(s, p, variant)
		ch.Add(c.ownedKey(), e, tok)
		c.serveEntry(e)
		return
	}
	ct := content{typ: typ, size: int64(len(body)), etag: etag, body: body, vary: "Accept"}
	c.serveContent(&ct)
}

// listingVariant is the part of a listing's cache key after its path: the
// sort and the format.
func listingVariant(col byte, desc, asJSON bool) string {
	v := [4]byte{0, col, 'A', 'h'}
	if desc {
		v[2] = 'D'
	}
	if asJSON {
		v[3] = 'j'
	}
	return listingVariants[string(v[:])]
}

// listingVariants interns the twelve listing variants, so that building a
// key does not allocate.
var listingVariants = func() map[string]string {
	m := map[string]string{}
	for _, col := range "NSM" {
		for _, o := range "AD" {
			for _, f := range "hj" {
				k := string([]byte{0, byte(col), byte(o), byte(f)})
				m[k] = k
			}
		}
	}
	return m
}()

func joinRel(rel, name string) string {
	if rel == "." {
		return name
	}
	return rel + "/" + name
}

// readListing reads the entries of dir that a listing shows, and keeps the
// first max of them in the order col and desc ask (see sortListing), so that
// a listing cut short shows the start of the order asked, as Apache's does.
// Left out, and not counted in Total: dotfiles, entries removed meanwhile,
// and symbolic links that lead nowhere or out of the root. Every entry is
// read (a stat each), but at most 2*max are held at once.
func readListing(s *site, rel string, dir *os.File, max int, col byte, desc bool) (*listing, error) {
	l := &listing{Entries: []listEntry{}}
	for {
		batch, err := dir.ReadDir(256)
		for _, de := range batch {
			name := de.Name()
			if name == "" || name[0] == '.' {
				continue
			}
			fi, ierr := de.Info()
			if ierr != nil {
				continue // removed meanwhile
			}
			if fi.Mode()&fs.ModeSymlink != 0 {
				// Show what the link leads to, if it stays inside the root.
				if tfi, serr := s.fs().Stat(joinRel(rel, name)); serr == nil {
					fi = tfi
				} else {
					continue
				}
			}
			l.Total++
			e := listEntry{Name: name, Size: fi.Size(), ModTime: fi.ModTime().UTC().Truncate(time.Second)}
			switch {
			case fi.IsDir():
				e.Dir, e.Type, e.Size = true, "dir", 0
				if de.IsDir() {
					e.sub = fi
				}
			case fi.Mode().IsRegular():
				e.Type = "file"
			default:
				e.Type = "other"
			}
			if len(l.Entries) == 2*max {
				l.Entries = firstInOrder(l.Entries, max, col, desc)
			}
			l.Entries = append(l.Entries, e)
		}
		if err == io.EOF || len(batch) == 0 {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	l.Entries = firstInOrder(l.Entries, max, col, desc)
	l.Truncated = l.Total > len(l.Entries)
	for i := range l.Entries {
		e := &l.Entries[i]
		e.URL = string(appendEscapedPath(nil, []byte(e.Name)))
		if e.Dir {
			e.URL += "/"
		}
	}
	return l, nil
}

// firstInOrder sorts entries as sortListing does and keeps the first max.
func firstInOrder(entries []listEntry, max int, col byte, desc bool) []listEntry {
	sortListing(entries, col, desc)
	if len(entries) > max {
		clear(entries[max:])
		entries = entries[:max]
	}
	return entries
}

// sortListing orders entries, folders first, by the column asked.
func sortListing(es []listEntry, col byte, desc bool) {
	slices.SortStableFunc(es, func(a, b listEntry) int {
		if a.Dir != b.Dir {
			if a.Dir {
				return -1
			}
			return 1
		}
		var r int
		switch col {
		case 'S':
			r = cmpInt64(a.Size, b.Size)
		case 'M':
			r = a.ModTime.Compare(b.ModTime)
		}
		if r == 0 {
			r = strings.Compare(a.Name, b.Name)
		}
		if desc {
			r = -r
		}
		return r
	})
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// humanSize prints a size in binary units: "912 B", "1.2 KiB", "34 MiB".
func humanSize(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	f := float64(n)
	u := -1
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	if f < 10 {
		return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[u]
	}
	return strconv.FormatFloat(f, 'f', 0, 64) + " " + units[u]
}

// appendEscapedPath percent-escapes a URL path for use in a Location or
// an href: everything but unreserved characters, '/' and a few sub-delims
// is escaped, ':' included so that no name reads as a URL scheme.
func appendEscapedPath(dst, p []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range p {
		if isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/' ||
			c == '!' || c == '$' || c == '&' || c == '(' || c == ')' ||
			c == '*' || c == '+' || c == ',' || c == ';' || c == '=' || c == '@' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', hex[c>>4], hex[c&15])
	}
	return dst
}

// sortLink is the query of a column header: the same column flips order.
func sortLink(l *listing, col string) string {
	order := "A"
	if string(l.Sort) == col && !l.Desc {
		order = "D"
	}
	return "?C=" + col + ";O=" + order
}

// sortMark shows which column sorts, and which way.
func sortMark(l *listing, col string) string {
	if string(l.Sort) != col {
		return ""
	}
	if l.Desc {
		return " ▼"
	}
	return " ▲"
}

// listingTemplate renders a listing; html/template escapes every name for
// its context (the href values are already percent-escaped).
var listingTemplate = template.Must(template.New("listing").Funcs(template.FuncMap{
	"size":     humanSize,
	"sortLink": sortLink,
	"sortMark": sortMark,
	"when":     func(t time.Time) string { return t.Format("2006-01-02 15:04") },
}).Parse(listingHTML))

const listingHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Index of {{.Path}}</title>
<style>
:root { color-scheme: light dark; --fg: #1d1d1f; --bg: #fff; --muted: #6e6e73; --line: #e5e5ea; --link: #0a58ca; --hover: #f5f5f7;
  --i-dir: url('data:image/svg+xml,%3Csvg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="black" stroke-width="1.6" stroke-linejoin="round"%3E%3Cpath d="M3 6.5A1.5 1.5 0 0 1 4.5 5h4.2l2 2.2h8.8A1.5 1.5 0 0 1 21 8.7v9.8a1.5 1.5 0 0 1-1.5 1.5h-15A1.5 1.5 0 0 1 3 18.5z"/%3E%3C/svg%3E');
  --i-file: url('data:image/svg+xml,%3Csvg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="black" stroke-width="1.6" stroke-linejoin="round"%3E%3Cpath d="M6.5 3h7.3L19 8.2v11.3a1.5 1.5 0 0 1-1.5 1.5h-11A1.5 1.5 0 0 1 5 19.5v-15A1.5 1.5 0 0 1 6.5 3z M13.5 3v5.5H19"/%3E%3C/svg%3E');
  --i-up: url('data:image/svg+xml,%3Csvg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="black" stroke-width="1.6" stroke-linejoin="round"%3E%3Cpath d="M9 14 4 9l5-5 M4 9h10.5a5.5 5.5 0 0 1 0 11H11"/%3E%3C/svg%3E'); }
@media (prefers-color-scheme: dark) { :root { --fg: #f5f5f7; --bg: #1c1c1e; --muted: #98989d; --line: #38383a; --link: #6ea8fe; --hover: #2c2c2e; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 60rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
h1 { font-size: 1.35rem; font-weight: 600; margin: 0 0 1rem; word-break: break-all; }
table { width: 100%; border-collapse: collapse; }
th, td { padding: .45rem .6rem; text-align: left; border-bottom: 1px solid var(--line); }
th { font-size: .8rem; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
th a { color: inherit; text-decoration: none; }
td:first-child { word-break: break-all; }
th:nth-child(3), td:nth-child(3) { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td:nth-child(2) { white-space: nowrap; color: var(--muted); font-variant-numeric: tabular-nums; }
tbody tr:hover { background: var(--hover); }
a { color: var(--link); text-decoration: none; }
a:hover { text-decoration: underline; }
td a::before { content: ""; display: inline-block; width: 1.1em; height: 1.1em; vertical-align: -.18em; margin-right: .45em; background: currentColor; opacity: .75; -webkit-mask: var(--i-file) center / contain no-repeat; mask: var(--i-file) center / contain no-repeat; }
td a[href$="/"]::before { -webkit-mask-image: var(--i-dir); mask-image: var(--i-dir); }
td a[href="../"]::before { -webkit-mask-image: var(--i-up); mask-image: var(--i-up); }
.header { margin: 0 0 1rem; } .readme { margin: 1.5rem 0 0; } .readme pre { white-space: pre-wrap; font: .85rem/1.45 ui-monospace, SFMono-Regular, Menlo, monospace; }
footer { margin-top: 1.5rem; font-size: .8rem; color: var(--muted); }
@media (max-width: 36rem) { th:nth-child(2), td:nth-child(2) { display: none; } th, td { padding: .55rem .35rem; } }
</style>
</head>
<body>
<main>
<h1>Index of {{.Path}}</h1>
{{- with .Header}}
<div class="header">{{.}}</div>
{{- end}}
<table>
<thead><tr><th><a href="{{sortLink . "N"}}">Name{{sortMark . "N"}}</a></th><th><a href="{{sortLink . "M"}}">Last modified (UTC){{sortMark . "M"}}</a></th><th><a href="{{sortLink . "S"}}">Size{{sortMark . "S"}}</a></th></tr></thead>
<tbody>
{{- if .Parent}}
<tr><td><a href="../">Parent folder</a><td><td>
{{- end}}
{{- range .Entries}}
<tr><td><a href="{{.URL}}">{{.Name}}{{if .Dir}}/{{end}}</a><td><time>{{when .ModTime}}</time><td>{{if .Dir}}—{{else}}{{size .Size}}{{end}}
{{- end}}
</tbody>
</table>
{{- with .Readme}}
<div class="readme">{{.}}</div>
{{- end}}
<footer>{{len .Entries}} {{if eq (len .Entries) 1}}entry{{else}}entries{{end}}{{if .Truncated}} shown of {{.Total}}{{end}} · {{.Software}}</footer>
</main>
</body>
</html>
`

// maxNote bounds the HEADER and README files a listing shows.
const maxNote = 64 << 10

// listingNotes reads the folder's HEADER.html and README.html (or
// README.txt, or README, escaped into <pre>) for its listing. Files that
// are missing, not regular or larger than maxNote are left out. The
// listing's cache entry depends on its folder, so editing one drops it.
func listingNotes(s *site, rel string) (header, readme template.HTML) {
	read := func(name string) (string, bool) {
		f, err := s.openFile(joinRel(rel, name))
		if err != nil {
			return "", false
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxNote {
			return "", false
		}
		b, err := io.ReadAll(io.LimitReader(f, maxNote))
		return string(b), err == nil
	}
	if h, ok := read("HEADER.html"); ok {
		header = template.HTML(h) // the site's own HTML, as Apache includes it
	}
	if r, ok := read("README.html"); ok {
		readme = template.HTML(r)
	} else if r, ok := read("README.txt"); ok {
		readme = template.HTML("<pre>" + template.HTMLEscapeString(r) + "</pre>")
	} else if r, ok := read("README"); ok {
		readme = template.HTML("<pre>" + template.HTMLEscapeString(r) + "</pre>")
	}
	return header, readme
}
