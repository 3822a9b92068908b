package ssi

import (
	"errors"
	"io"
	"time"
)

// Host is what the evaluator asks of the server. The server implements it
// once per request; the evaluator never touches a socket or a file itself.
//
// Paths and URIs reach the Host already resolved against the page that
// names them: an include file="b.html" in /dir/a.shtml arrives as
// "/dir/b.html" (a URL path, which the Host maps to a file under the same
// document root), and a relative include virtual arrives absolute, its query
// string kept. Errors the Host returns print the error message at the
// directive; their text goes to the error log.
type Host interface {
	// Var returns a request variable: the CGI variables of the request and
	// DOCUMENT_NAME, DOCUMENT_URI, DOCUMENT_ARGS, DOCUMENT_PATH_INFO,
	// QUERY_STRING_UNESCAPED and USER_NAME. The name arrives upper-cased;
	// variables are case-insensitive as in Apache. DATE_LOCAL, DATE_GMT,
	// LAST_MODIFIED and set variables never reach Var.
	Var(name string) (string, bool)
	// Vars returns every request variable, in the order printenv lists
	// them.
	Vars() []Var
	// IncludeFile writes the file at the URL path p, processed as the
	// server would serve it: an SSI page is executed with the same State
	// (never a new one, or recursion goes unnoticed), and for a static file
	// the Host calls State.Depend with its path so the page stays
	// cacheable.
	IncludeFile(w io.Writer, p string) error
	// IncludeVirtual writes the response to an internal GET of uri through
	// the whole server: static files, nested SSI pages (executed with the
	// same State), CGI. When the target is a static file, the Host calls
	// State.Depend with its path so the page stays cacheable.
	IncludeVirtual(w io.Writer, uri string) error
	// Stat returns the size and modification time of a file: kind "file"
	// names a URL path as IncludeFile does, kind "virtual" a URI as
	// IncludeVirtual does. LAST_MODIFIED is the top page's Stat("virtual",
	// uri), asked once per request.
	Stat(kind, p string) (size int64, mod time.Time, err error)
	// ExecCmd runs cmd with /bin/sh -c and writes its standard output; env
	// is the environment printenv shows. It is called only when
	// Options.Exec is true.
	ExecCmd(w io.Writer, cmd string, env []Var) error
	// ExecCGI runs the CGI script at uri and writes its output. It is
	// called only when Options.Exec is true.
	ExecCGI(w io.Writer, uri string) error
	// Error records a problem at line of the page called name, for the
	// error log.
	Error(name string, line int, msg string)
}

// Var is one variable, as printenv shows it.
type Var struct {
	Name, Value string
}

// Errors that stop a rendering, or that the Host returns to the include that
// caused them.
var (
	// ErrRecursion is returned by Execute when the page is already being
	// executed further up the same request's include chain.
	ErrRecursion = errors.New("ssi: recursive include")
	// ErrDepth is returned by Execute when nesting would pass
	// Options.MaxDepth.
	ErrDepth = errors.New("ssi: includes nested too deeply")
	// ErrOutputLimit stops a rendering whose output passes
	// Options.MaxOutput.
	ErrOutputLimit = errors.New("ssi: output limit reached")
	// ErrWorkLimit stops a rendering that executes more than
	// Options.MaxDirectives directives.
	ErrWorkLimit = errors.New("ssi: directive limit reached")
)

// State is what one request's rendering shares across nested pages: the
// request time, the variables set so far, the chain of pages being executed
// and the budgets. The server makes one per request with NewState, passes it
// to the top page's Execute and to every nested page's Execute. A State is
// not safe for concurrent use; a request renders in one goroutine.
type State struct {
	now      time.Time
	loc      *time.Location
	gmt      *time.Location
	vars     []Var
	varIdx   map[string]int
	varBytes int64
	dateFmt  string // set by config timefmt; "" means Options.TimeFmt
	modTime  time.Time
	modDone  bool
	modOK    bool
	chain    []string
	frames   []*frame
	out      int64
	work     int
	fatal    error

	// Room for what every request needs, so that NewState's allocation
	// covers it: the output bound's writer and the first levels of chain
	// and frames.
	cw        countingWriter
	chainBuf  [4]string
	framesBuf [4]*frame
}

// NewState returns the State of a request received at now, the time
// DATE_LOCAL and DATE_GMT show. Times of
// DATE_LOCAL, LAST_MODIFIED and flastmod are shown in loc (nil means
// time.Local); tests pass a fixed time and zone so output is deterministic.
func NewState(now time.Time, loc *time.Location) *State {
	if loc == nil {
		loc = time.Local
	}
	s := &State{now: now, loc: loc, gmt: gmtZone}
	s.chain, s.frames = s.chainBuf[:0], s.framesBuf[:0]
	return s
}

// gmtZone names UTC "GMT", as Apache's DATE_GMT does.
var gmtZone = time.FixedZone("GMT", 0)

// Vars returns the variables set by the pages so far, in the order they
// were first set. The server adds them to the environment of CGI scripts
// that the pages include, as Apache does.
func (s *State) Vars() []Var { return append([]Var(nil), s.vars...) }

// Depend records that the output of the include in progress comes from the
// file at path. The Host calls it from IncludeVirtual or IncludeFile when
// the target is a static file; an include virtual that is neither confirmed
// so nor a nested SSI page makes the page uncacheable.
func (s *State) Depend(path string) {
	if f := s.top(); f != nil {
		f.confirmed = true
		f.report.Deps = appendNew(f.report.Deps, path)
	}
}

// Report describes one Execute: whether its output may be cached, and what
// it depended on.
type Report struct {
	// Cacheable is true when the output depends only on the page, the files
	// it included and the variables it set: no DATE_LOCAL or DATE_GMT, no
	// request variable (only DOCUMENT_NAME, DOCUMENT_URI, USER_NAME and
	// LAST_MODIFIED, which follow from the page, are allowed), no printenv,
	// no exec, no include virtual that the Host did not confirm as a static
	// file or nested page, and no error.
	Cacheable bool
	// Reason says why Cacheable is false.
	Reason string
	// Includes lists the URL paths and URIs of every file, virtual and
	// nested page the output depended on (include, fsize and flastmod
	// targets), without repeats.
	Includes []string
	// Deps lists the file paths the Host gave to State.Depend, nested
	// pages' included.
	Deps []string
	// Errors counts the directives that printed the error message.
	Errors int
}

// frame is the report of one Execute in progress.
type frame struct {
	report    Report
	confirmed bool
	// Small pages fill these without growing a slice.
	incBuf, depBuf [4]string
}

func newFrame() *frame {
	f := &frame{report: Report{Cacheable: true}}
	f.report.Includes, f.report.Deps = f.incBuf[:0], f.depBuf[:0]
	return f
}

func (s *State) top() *frame {
	if len(s.frames) == 0 {
		return nil
	}
	return s.frames[len(s.frames)-1]
}

func (s *State) uncacheable(reason string) {
	f := s.top()
	if f != nil && f.report.Cacheable {
		f.report.Cacheable = false
		f.report.Reason = reason
	}
}

func (s *State) included(target string) {
	if f := s.top(); f != nil {
		f.report.Includes = appendNew(f.report.Includes, target)
	}
}

func appendNew(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// countingWriter enforces Options.MaxOutput on everything a request writes,
// and remembers the first write error, which stops the rendering.
type countingWriter struct {
	w   io.Writer
	s   *State
	max int64
}

// WriteString writes s without copying it when the underlying writer can
// take a string.
func (c *countingWriter) WriteString(s string) (int, error) {
	if c.s.fatal != nil {
		return 0, c.s.fatal
	}
	if c.s.out+int64(len(s)) > c.max {
		return c.Write([]byte(s))
	}
	n, err := io.WriteString(c.w, s)
	c.s.out += int64(n)
	if err != nil && c.s.fatal == nil {
		c.s.fatal = err
	}
	return n, err
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.s.fatal != nil {
		return 0, c.s.fatal
	}
	if c.s.out+int64(len(b)) > c.max {
		keep := c.max - c.s.out
		if keep > 0 {
			n, _ := c.w.Write(b[:keep])
			c.s.out += int64(n)
		}
		c.s.fatal = ErrOutputLimit
		return 0, ErrOutputLimit
	}
	n, err := c.w.Write(b)
	c.s.out += int64(n)
	if err != nil && c.s.fatal == nil {
		c.s.fatal = err
	}
	return n, err
}
