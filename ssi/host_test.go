package ssi_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/pwebs/pwebs/ssi"
)

// Fixed inputs of every golden case: the page is /dir/page.shtml, requested
// with rawQuery, at testNow, in the zone testZone.
var (
	testNow   = time.Date(2024, 3, 9, 14, 5, 9, 0, time.UTC)
	testZone  = time.UTC
	testMod   = time.Date(2023, 12, 25, 8, 30, 0, 0, time.UTC)
	fileMod   = time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)
	rawQuery  = "q=a%20b%26c;d&x=%3Cy%3E"
	pageURI   = "/dir/page.shtml"
	hostFiles = map[string]string{
		"/dir/inc.txt":       "included text\n",
		"/dir/amp.txt":       "A&B<x>\n",
		"/dir/sub/inner.txt": "inner\n",
		"/dir/empty.txt":     "",
		"/top.txt":           "top level\n",
		"/dir/nested.shtml":  "[nested <!--#echo var=\"DOCUMENT_NAME\" --> <!--#set var=\"fromNested\" value=\"yes\" --><!--#include file=\"inc.txt\" -->]\n",
		"/dir/self.shtml":    "self(<!--#include virtual=\"self.shtml\" -->)",
		"/dir/loop-a.shtml":  "a(<!--#include virtual=\"loop-b.shtml\" -->)",
		"/dir/loop-b.shtml":  "b(<!--#include file=\"loop-a.shtml\" -->)",
		"/dir/cfg.shtml":     "<!--#bogus --><!--#config errmsg=\"[inner]\" --><!--#bogus -->",
		"/dir/sub/rel.shtml": "rel:<!--#include file=\"inner.txt\" -->",
		"/dir/setter.shtml":  "<!--#config timefmt=\"%Y\" -->",
		"/cgi-bin/hello.cgi": "Hello from CGI\n",
		"/dir/s0.bin":        "",
		"/dir/s1.bin":        "x",
		"/dir/s1023.bin":     strings.Repeat("x", 1023),
		"/dir/s1536.bin":     strings.Repeat("x", 1536),
		"/dir/s10240.bin":    strings.Repeat("x", 10240),
		"/dir/s1153434.bin":  strings.Repeat("x", 1153434),
		"/dir/s972.bin":      strings.Repeat("x", 972),
		"/dir/s973.bin":      strings.Repeat("x", 973),
		"/dir/s9700.bin":     strings.Repeat("x", 9700),
		"/dir/s1048000.bin":  strings.Repeat("x", 1048000),
	}
)

func init() {
	// A chain of pages deeper than any max_depth: d1 includes d2, and so on.
	for i := 1; i <= 40; i++ {
		hostFiles[fmt.Sprintf("/dir/d%d.shtml", i)] = fmt.Sprintf("%d<!--#include virtual=\"d%d.shtml\" -->", i, i+1)
	}
	hostFiles["/dir/d41.shtml"] = "end"
}

// hostVars are the request variables the fake server gives, in printenv
// order.
func hostVars() []ssi.Var {
	return []ssi.Var{
		{"HTTP_HOST", "example.test"},
		{"HTTP_USER_AGENT", "golden/1.0"},
		{"SERVER_SOFTWARE", "pwebs"},
		{"REMOTE_ADDR", "127.0.0.1"},
		{"QUERY_STRING", rawQuery},
		{"REQUEST_URI", pageURI + "?" + rawQuery},
		{"SCRIPT_NAME", pageURI},
		{"DOCUMENT_URI", pageURI},
		{"DOCUMENT_ARGS", rawQuery},
		{"DOCUMENT_PATH_INFO", "/extra"},
		{"USER_NAME", "www"},
		{"DOCUMENT_NAME", "page.shtml"},
		{"QUERY_STRING_UNESCAPED", ssi.QueryStringUnescaped(rawQuery)},
	}
}

// fakeHost is a server with fixed variables and files. Files ending in
// .shtml are parsed and executed nested with the same State, as serve does.
type fakeHost struct {
	opts  *ssi.Options
	state *ssi.State
	self  string // the top page's source, served at pageURI
	errs  []string
	cmds  []string
}

var errNotFound = fmt.Errorf("not found: %w", fs.ErrNotExist)

var hostVarMap = func() map[string]string {
	m := map[string]string{}
	for _, v := range hostVars() {
		m[v.Name] = v.Value
	}
	return m
}()

func (h *fakeHost) Var(name string) (string, bool) {
	v, ok := hostVarMap[name]
	return v, ok
}

func (h *fakeHost) Vars() []ssi.Var { return hostVars() }

func (h *fakeHost) serve(w io.Writer, p string) error {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	body, ok := hostFiles[p]
	if p == pageURI && h.self != "" {
		body, ok = h.self, true
	}
	if !ok {
		return errNotFound
	}
	switch {
	case strings.HasSuffix(p, ".shtml"):
		page := ssi.Parse(p[1:], []byte(body))
		_, err := page.Execute(w, p, h, h.opts, h.state)
		return err
	case strings.HasPrefix(p, "/cgi-bin/"):
		_, err := io.WriteString(w, body)
		return err
	}
	h.state.Depend(p)
	_, err := io.WriteString(w, body)
	return err
}

func (h *fakeHost) IncludeFile(w io.Writer, p string) error      { return h.serve(w, p) }
func (h *fakeHost) IncludeVirtual(w io.Writer, uri string) error { return h.serve(w, uri) }

func (h *fakeHost) Stat(kind, p string) (int64, time.Time, error) {
	if i := strings.IndexByte(p, '?'); i >= 0 && kind == "virtual" {
		p = p[:i]
	}
	if p == pageURI {
		return 100, testMod, nil
	}
	body, ok := hostFiles[p]
	if !ok {
		return 0, time.Time{}, errNotFound
	}
	return int64(len(body)), fileMod, nil
}

func (h *fakeHost) ExecCmd(w io.Writer, cmd string, env []ssi.Var) error {
	h.cmds = append(h.cmds, cmd)
	if s, ok := strings.CutPrefix(cmd, "echo "); ok {
		_, err := io.WriteString(w, s+"\n")
		return err
	}
	if cmd == "env" {
		names := make([]string, 0, len(env))
		for _, v := range env {
			names = append(names, v.Name)
		}
		sort.Strings(names)
		_, err := io.WriteString(w, strings.Join(names, ",")+"\n")
		return err
	}
	return errors.New("command failed")
}

func (h *fakeHost) ExecCGI(w io.Writer, uri string) error {
	if !strings.HasPrefix(uri, "/cgi-bin/") {
		return errNotFound
	}
	return h.serve(w, uri)
}

func (h *fakeHost) Error(name string, line int, msg string) {
	h.errs = append(h.errs, fmt.Sprintf("%s:%d: %s", name, line, msg))
}
