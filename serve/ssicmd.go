package serve

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pwebs/pwebs/cgi"
	"github.com/pwebs/pwebs/ssi"
)

// toolState builds what the pwebs ssi and pwebs check commands need of a
// configuration: the sites and a CGI handler, but no cache, no listener.
func toolState(cfg *Config, log *slog.Logger) (*state, *cgi.Handler, error) {
	noCache := *cfg
	noCache.Cache.Enabled = false
	h, err := cgi.New(cfg.CGI, log)
	if err != nil {
		return nil, nil, err
	}
	st, err := newState(&noCache, log, nil, h)
	if err != nil {
		h.Close()
		return nil, nil, err
	}
	return st, h, nil
}

// siteOfFile finds the site whose document root holds file, and the file's
// URL path there.
func (st *state) siteOfFile(file string) (*site, string, bool) {
	var best *site
	for _, s := range st.sites {
		if within(file, s.dir) && (best == nil || len(s.dir) > len(best.dir)) {
			best = s
		}
	}
	if best == nil {
		return nil, "", false
	}
	rel, err := filepath.Rel(best.dir, file)
	if err != nil {
		return nil, "", false
	}
	return best, "/" + filepath.ToSlash(rel), true
}

// RenderSSI renders an SSI page as the server would answer a GET of it
// with query, writing the output to out and each problem to errw as
// "FILE:LINE: message". path is a file under a document root, or a URL
// path of the top-level site. query "" is a request without a '?'; a
// query may start with the '?', so that "?" is a request with an empty
// query string. It returns the number of problems.
func RenderSSI(cfg *Config, path, query string, out, errw io.Writer) (int, error) {
	log := slog.New(slog.NewTextHandler(errw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, h, err := toolState(cfg, log)
	if err != nil {
		return 0, err
	}
	defer st.close()
	defer h.Close()

	var s *site
	var uri, file string
	if abs, err := filepath.Abs(path); err == nil {
		if fi, err := os.Stat(abs); err == nil && fi.Mode().IsRegular() {
			var ok bool
			if s, uri, ok = st.siteOfFile(abs); !ok {
				return 0, fmt.Errorf("%s is not under a document root", path)
			}
			file = abs
		}
	}
	if s == nil {
		if !strings.HasPrefix(path, "/") {
			return 0, fmt.Errorf("%s: no such file (give a file under a document root, or a URL path)", path)
		}
		s, uri = st.def, path
		file = s.absPath([]byte(uri))
	}
	clean, status := cleanPath(nil, []byte(uri))
	if status != 0 {
		return 0, fmt.Errorf("%s: bad path", uri)
	}
	f, fi, err := s.open(clean)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if fi.IsDir() || !st.isSSI(fi.Name(), fi) {
		return 0, fmt.Errorf("%s is not an SSI page (see [ssi] extensions)", path)
	}
	page, err := st.page(file, f, fi)
	if err != nil {
		return 0, err
	}
	query, hasQuery := strings.CutPrefix(query, "?")
	hasQuery = hasQuery || query != ""
	target := string(clean)
	if hasQuery {
		target += "?" + query
	}
	problems := 0
	run := &ssiRun{
		st: st, s: s, state: ssi.NewState(time.Now(), nil), ctx: context.Background(),
		pageFile: file, pageURI: string(clean), query: query, hasQuery: hasQuery,
		errorf: func(name string, line int, msg string) {
			problems++
			fmt.Fprintf(errw, "%s:%d: %s\n", displayPath(name), line, escapeControls(msg))
		},
		cgiBase: &cgi.Request{
			Method: "GET", RequestURI: target, Proto: "HTTP/1.1", Scheme: "http",
			ScriptFilename: file, ScriptName: string(clean), QueryString: query, DocumentRoot: s.dir,
			ContextDocumentRoot: s.dir, RemoteAddr: "127.0.0.1", RemotePort: "0", ServerName: s.name,
			ServerPort: "80", ServerAddr: "127.0.0.1", ServerAdmin: s.serverAdmin, ServerSoftware: st.software,
			Client: "pwebs ssi",
		},
	}
	if _, err := page.Execute(out, string(clean), run, &st.cfg.SSI, run.state); err != nil {
		return problems + 1, err
	}
	return problems, nil
}

// escapeControls writes the control bytes of an SSI message as \xhh, as
// the error log does, so that a page cannot move the cursor of the
// terminal its messages go to.
func escapeControls(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			fmt.Fprintf(&b, "\\x%02x", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// displayPath shows a path relative to the current folder when it is
// below it.
func displayPath(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return p
}

// CheckSSI parses every SSI page under every document root and writes each
// problem as "FILE:LINE: message": syntax errors, unknown directives and
// attributes, unbalanced if/endif, exec while exec is off, and includes of
// files that do not exist. It returns the number of problems.
func CheckSSI(cfg *Config, out io.Writer) (int, error) {
	log := slog.New(slog.DiscardHandler)
	st, h, err := toolState(cfg, log)
	if err != nil {
		return 0, err
	}
	defer st.close()
	defer h.Close()
	total := 0
	for _, s := range st.sites {
		err := filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				fmt.Fprintf(out, "%s: %v\n", displayPath(path), err)
				total++
				return nil
			}
			if path != s.dir && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() || !d.Type().IsRegular() {
				return nil
			}
			fi, err := d.Info()
			if err != nil || !st.isSSI(d.Name(), fi) {
				return nil
			}
			src, err := os.ReadFile(path)
			if err != nil {
				fmt.Fprintf(out, "%s: %v\n", displayPath(path), err)
				total++
				return nil
			}
			_, uri, _ := st.siteOfFile(path)
			page := ssi.Parse(displayPath(path), src)
			run := &ssiRun{st: st, s: s, state: ssi.NewState(time.Now(), nil), ctx: context.Background(), pageFile: path, pageURI: uri}
			for _, p := range ssi.Check(page, uri, &st.cfg.SSI, run) {
				fmt.Fprintln(out, p.String())
				total++
			}
			return nil
		})
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
