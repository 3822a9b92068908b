package ssi

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pwebs/pwebs/internal/strftime"
)

// pageCtx is the evaluation state of one page, as mod_include's filter
// context: the settings of config, the if/else state and the last regular
// expression's back-references. Nested pages get their own.
type pageCtx struct {
	p       *Page
	uri     string
	w       io.Writer
	h       Host
	o       *Options
	s       *State
	errMsg  string
	timeFmt string
	bytes   bool // sizefmt bytes
	undef   string
	// printing and condTrue are Apache's SSI_FLAG_PRINTING and
	// SSI_FLAG_COND_TRUE; nesting counts ifs skipped inside a false branch.
	printing, condTrue bool
	nesting            int
	re                 *backrefs
	apMode             bool // evaluating an ap_expr
	line               int  // line of the directive being executed
	failed             bool // the directive printed the error message
}

// backrefs are the captures of the last regular expression that matched.
type backrefs struct {
	src  string
	re   string
	nsub int
	idx  []int
}

// Execute writes the output of the page p, reached at the URL path uri, to
// w as it is produced, and reports what the output depended on.
//
// s carries the request's shared state: pass the same State to the Execute
// of every page nested in the same request (the server does so from
// Host.IncludeVirtual and Host.IncludeFile), and nil only for a standalone
// rendering, which then uses the current time and zone. A page that is
// already being executed up the chain returns ErrRecursion, and one nested
// beyond o.MaxDepth returns ErrDepth, before writing anything; the include
// that asked for it prints the error message. Directive errors print the
// error message in place and are reported through h.Error; the returned
// error is non-nil only when the rendering had to stop: a write to w failed,
// or a bound (MaxOutput, MaxDirectives) was reached.
func (p *Page) Execute(w io.Writer, uri string, h Host, o *Options, s *State) (Report, error) {
	if s == nil {
		s = NewState(time.Now(), nil)
	}
	if o == nil {
		d := DefaultOptions()
		o = &d
	}
	if s.fatal != nil {
		return Report{}, s.fatal
	}
	for _, u := range s.chain {
		if u == uri {
			return Report{}, fmt.Errorf("%w of \"%s\"", ErrRecursion, uri)
		}
	}
	if len(s.chain) > o.MaxDepth {
		return Report{}, fmt.Errorf("%w (max_depth %d) at \"%s\"", ErrDepth, o.MaxDepth, uri)
	}
	if len(s.chain) == 0 {
		s.cw = countingWriter{w: w, s: s, max: int64(o.MaxOutput)}
		w = &s.cw
	} else if f := s.top(); f != nil {
		f.confirmed = true
	}
	s.chain = append(s.chain, uri)
	s.frames = append(s.frames, newFrame())
	c := &pageCtx{
		p: p, uri: uri, w: w, h: h, o: o, s: s,
		errMsg: o.ErrMsg, timeFmt: o.TimeFmt, bytes: o.SizeFmt == "bytes", undef: o.UndefinedEcho,
		printing: true, condTrue: true,
	}
	c.run()
	f := s.frames[len(s.frames)-1]
	s.frames = s.frames[:len(s.frames)-1]
	s.chain = s.chain[:len(s.chain)-1]
	r := f.report
	if parent := s.top(); parent != nil {
		pr := &parent.report
		pr.Includes = appendNew(pr.Includes, uri)
		for _, x := range r.Includes {
			pr.Includes = appendNew(pr.Includes, x)
		}
		for _, x := range r.Deps {
			pr.Deps = appendNew(pr.Deps, x)
		}
		if !r.Cacheable && pr.Cacheable {
			pr.Cacheable, pr.Reason = false, r.Reason
		}
		pr.Errors += r.Errors
	}
	return r, s.fatal
}

// run executes the page's nodes in order.
func (c *pageCtx) run() {
	for _, n := range c.p.nodes {
		if c.s.fatal != nil {
			return
		}
		switch n := n.(type) {
		case *textNode:
			if c.printing {
				io.WriteString(c.w, n.text)
			}
		case *errorNode:
			c.line = n.line
			if !c.work() {
				return
			}
			if c.printing {
				c.fail(n.msg)
			}
		case *directiveNode:
			c.line = n.line
			if !c.work() {
				return
			}
			c.directive(n)
		}
	}
	if !c.printing && c.s.fatal == nil {
		c.h.Error(c.p.Name, c.line, "missing closing endif directive")
	}
}

// work counts one directive against MaxDirectives.
func (c *pageCtx) work() bool {
	c.s.work++
	if c.s.work > c.o.MaxDirectives {
		if c.s.fatal == nil {
			c.s.fatal = ErrWorkLimit
		}
		return false
	}
	return true
}

// fail logs msg and prints the error message, once per directive.
func (c *pageCtx) fail(msg string) {
	c.h.Error(c.p.Name, c.line, msg)
	if f := c.s.top(); f != nil {
		f.report.Errors++
	}
	c.s.uncacheable("error: " + msg)
	io.WriteString(c.w, c.errMsg)
}

// failf logs a formatted message and prints the error message.
func (c *pageCtx) failf(format string, args ...any) { c.fail(fmt.Sprintf(format, args...)) }

func (c *pageCtx) directive(n *directiveNode) {
	switch n.name {
	case "if":
		c.doIf(n)
	case "elif":
		c.doElif(n)
	case "else":
		c.doElse(n)
	case "endif":
		c.doEndif(n)
	case "echo":
		c.doEcho(n)
	case "set":
		c.doSet(n)
	case "config":
		c.doConfig(n)
	case "include":
		c.doInclude(n)
	case "fsize", "flastmod":
		c.doFileInfo(n)
	case "printenv":
		c.doPrintenv(n)
	case "exec":
		c.doExec(n)
	default:
		if c.printing {
			c.failf("unknown directive \"%s\"", n.name)
		}
	}
}

// start does what every plain directive does first: it reports a missing
// argument and says whether to go on.
func (c *pageCtx) start(n *directiveNode) bool {
	if !c.printing {
		return false
	}
	if len(n.args) == 0 {
		c.failf("missing argument for %s element", n.name)
		return false
	}
	return true
}

func (c *pageCtx) doIf(n *directiveNode) {
	if !c.printing {
		c.nesting++
		return
	}
	v, ok := c.cond(n, "if")
	if !ok {
		// Apache stops printing until the next else, elif or endif.
		c.printing, c.condTrue = false, true
		return
	}
	c.printing, c.condTrue = v, v
	c.nesting = 0
}

func (c *pageCtx) doElif(n *directiveNode) {
	if c.nesting > 0 {
		return
	}
	if len(n.args) != 1 || n.args[0].name != "expr" || !n.args[0].hasValue {
		c.cond(n, "elif")
		c.printing, c.condTrue = false, true
		return
	}
	if c.condTrue {
		c.printing = false
		return
	}
	v, ok := c.cond(n, "elif")
	if !ok {
		c.printing, c.condTrue = false, true
		return
	}
	c.printing, c.condTrue = v, v
}

func (c *pageCtx) doElse(n *directiveNode) {
	if c.nesting > 0 {
		return
	}
	if len(n.args) > 0 {
		if c.printing {
			c.fail("else directive does not take tags")
		}
		return
	}
	if c.condTrue {
		c.printing = false
	} else {
		c.printing, c.condTrue = true, true
	}
}

func (c *pageCtx) doEndif(n *directiveNode) {
	if c.nesting > 0 {
		c.nesting--
		return
	}
	if len(n.args) > 0 {
		c.fail("endif directive does not take tags")
		return
	}
	c.printing, c.condTrue = true, true
}

// cond evaluates the expression of an if or elif; ok is false after an
// error, which has printed the error message.
func (c *pageCtx) cond(n *directiveNode, what string) (v, ok bool) {
	switch {
	case len(n.args) == 0:
		c.failf("missing expr argument for %s element", what)
		return false, false
	case len(n.args) > 1:
		c.failf("too many arguments for %s element", what)
		return false, false
	case n.args[0].name != "expr":
		c.failf("unknown parameter \"%s\" to tag %s", n.args[0].name, what)
		return false, false
	case !n.args[0].hasValue:
		c.failf("missing expr value for %s element", what)
		return false, false
	}
	expr := n.args[0].value
	var err error
	if c.o.ExprSyntax == "ap_expr" {
		if n.cond.apErr != nil {
			c.failf("could not parse expr \"%s\": %v", expr, n.cond.apErr)
			return false, false
		}
		c.apMode = true
		v, err = evalApCond(n.cond.ap, c)
		c.apMode = false
		// After an ap_expr, Apache keeps only $0 of the last match for
		// echo and set.
		if c.re != nil {
			c.re = &backrefs{src: c.re.src, re: "(null)", idx: c.re.idx[:2]}
		} else if n.cond.hasRegex {
			c.re = &backrefs{re: "(null)", idx: []int{-1, -1}}
		}
	} else {
		if n.cond.legacyErr != nil {
			c.failf("%v \"%s\"", n.cond.legacyErr, expr)
			return false, false
		}
		var xerr error
		v, err = evalLegacy(n.cond.legacy, func(s string) string {
			r, e := c.expand(s, false)
			if e != nil && xerr == nil {
				xerr = e
			}
			return r
		}, func(s, re string) (bool, error) { return c.match(s, re, false) })
		if err == nil {
			err = xerr
		}
	}
	if err != nil {
		c.failf("%v in expr \"%s\"", err, expr)
		return false, false
	}
	return v, true
}

// each runs fn for the directive's attributes in order, stopping at one
// without a value (as Apache does) or when fn returns false.
func each(n *directiveNode, fn func(a arg) bool) {
	for _, a := range n.args {
		if !a.hasValue || !fn(a) {
			return
		}
	}
}

func (c *pageCtx) doEcho(n *directiveNode) {
	if !c.start(n) {
		return
	}
	encoding, decoding := "entity", "none"
	each(n, func(a arg) bool {
		val := decodeEntities(a.value)
		switch a.name {
		case "var":
			name, err := c.expand(val, false)
			if err != nil {
				c.fail(err.Error())
				return false
			}
			v, ok := c.lookup(name)
			if !ok {
				io.WriteString(c.w, c.undef)
				return true
			}
			v, err = transcode(v, decoding, encoding)
			if err != nil {
				c.failf("%v of tag echo", err)
				return false
			}
			io.WriteString(c.w, v)
		case "encoding":
			encoding = val
		case "decoding":
			decoding = val
		default:
			c.failf("unknown parameter \"%s\" in tag echo", a.name)
			return false
		}
		return true
	})
}

// transcode applies the comma-separated decodings, then encodings, to v, as
// echo and set do.
func transcode(v, decoding, encoding string) (string, error) {
	if decoding == "none" && encoding == "entity" {
		return escapeHTML(v), nil
	}
	for _, d := range strings.FieldsFunc(decoding, isListSep) {
		switch lower(d) {
		case "none":
		case "url":
			v = unescapeURL(v, false)
		case "urlencoded":
			v = unescapeURL(v, true)
		case "entity":
			v = decodeEntities(v)
		case "base64":
			v = decodeBase64(v)
		default:
			return "", fmt.Errorf("unknown value \"%s\" to parameter \"decoding\"", d)
		}
	}
	for _, e := range strings.FieldsFunc(encoding, isListSep) {
		switch lower(e) {
		case "none":
		case "url":
			v = escapeURI(v)
		case "urlencoded":
			v = escapeURLEncoded(v)
		case "entity":
			v = escapeHTML(v)
		case "base64":
			v = encodeBase64(v)
		default:
			return "", fmt.Errorf("unknown value \"%s\" to parameter \"encoding\"", e)
		}
	}
	return v, nil
}

func isListSep(r rune) bool { return r == ',' || r == ' ' || r == '\t' }

func (c *pageCtx) doSet(n *directiveNode) {
	if !c.printing {
		return
	}
	if len(n.args) < 2 {
		c.fail("missing argument for set element")
		return
	}
	var name string
	haveVar := false
	encoding, decoding := "none", "none"
	each(n, func(a arg) bool {
		switch a.name {
		case "var":
			v, err := c.expand(decodeEntities(a.value), false)
			if err != nil {
				c.fail(err.Error())
				return false
			}
			name, haveVar = v, true
		case "decoding":
			decoding = a.value
		case "encoding":
			encoding = a.value
		case "value":
			if !haveVar {
				c.fail("variable must precede value in set directive")
				return false
			}
			v, err := c.expand(a.value, false)
			if err == nil {
				v, err = transcode(v, decoding, encoding)
			}
			if err == nil {
				err = c.setVar(name, v)
			}
			if err != nil {
				c.failf("%v in set directive", err)
				return false
			}
		default:
			c.fail("invalid tag for set directive")
			return false
		}
		return true
	})
}

// setVar sets a variable for the rest of the request, within MaxVarBytes.
func (c *pageCtx) setVar(name, value string) error {
	s := c.s
	key := upper(name)
	if i, ok := s.varIdx[key]; ok {
		grow := int64(len(value) - len(s.vars[i].Value))
		if s.varBytes+grow > int64(c.o.MaxVarBytes) {
			return fmt.Errorf("variables exceed max_var_bytes (%d)", int64(c.o.MaxVarBytes))
		}
		s.varBytes += grow
		s.vars[i].Value = value
		return nil
	}
	grow := int64(len(name) + len(value))
	if s.varBytes+grow > int64(c.o.MaxVarBytes) {
		return fmt.Errorf("variables exceed max_var_bytes (%d)", int64(c.o.MaxVarBytes))
	}
	s.varBytes += grow
	if s.varIdx == nil {
		s.varIdx = map[string]int{}
	}
	s.varIdx[key] = len(s.vars)
	s.vars = append(s.vars, Var{Name: name, Value: value})
	return nil
}

// unsetVar drops a set variable (config timefmt resets the date variables).
func (s *State) unsetVar(name string) {
	key := upper(name)
	i, ok := s.varIdx[key]
	if !ok {
		return
	}
	s.varBytes -= int64(len(s.vars[i].Name) + len(s.vars[i].Value))
	s.vars = append(s.vars[:i], s.vars[i+1:]...)
	delete(s.varIdx, key)
	for k, j := range s.varIdx {
		if j > i {
			s.varIdx[k] = j - 1
		}
	}
}

func (c *pageCtx) doConfig(n *directiveNode) {
	if !c.start(n) {
		return
	}
	each(n, func(a arg) bool {
		v, err := c.expand(a.value, false)
		if err != nil {
			c.fail(err.Error())
			return false
		}
		switch a.name {
		case "errmsg":
			c.errMsg = v
		case "echomsg":
			c.undef = v
		case "timefmt":
			c.timeFmt = v
			c.s.dateFmt = v
			for _, d := range []string{"DATE_LOCAL", "DATE_GMT", "LAST_MODIFIED"} {
				c.s.unsetVar(d)
			}
		case "sizefmt":
			switch v {
			case "bytes":
				c.bytes = true
			case "abbrev":
				c.bytes = false
			default:
				c.failf("unknown value \"%s\" to parameter \"sizefmt\" of tag config", v)
				return false
			}
		default:
			c.failf("unknown parameter \"%s\" to tag config", a.name)
			return false
		}
		return true
	})
}

// resolveFile checks an include file path and makes it a URL path beside
// the page.
func (c *pageCtx) resolveFile(p string) (string, error) {
	if p == "" || strings.HasPrefix(p, "/") || strings.HasPrefix(p, "\\") {
		return "", fmt.Errorf("unable to access file \"%s\": absolute or empty path", p)
	}
	for rest := p; rest != ""; {
		i := strings.IndexAny(rest, "/\\")
		seg := rest
		if i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if seg == ".." {
			return "", fmt.Errorf("unable to access file \"%s\": \"..\" is not allowed", p)
		}
	}
	return dirOf(c.uri) + p, nil
}

// resolveURI makes a relative URI absolute against the page's URI.
func (c *pageCtx) resolveURI(u string) string {
	if strings.HasPrefix(u, "/") {
		return u
	}
	return dirOf(c.uri) + u
}

// dirOf returns the folder part of a URL path, ending in "/".
func dirOf(uri string) string {
	if i := strings.LastIndexByte(uri, '/'); i >= 0 {
		return uri[:i+1]
	}
	return "/"
}

func (c *pageCtx) doInclude(n *directiveNode) {
	if !c.start(n) {
		return
	}
	lastErr := ""
	each(n, func(a arg) bool {
		if a.name != "virtual" && a.name != "file" && a.name != "onerror" {
			c.failf("unknown parameter \"%s\" to tag include", a.name)
			lastErr = ""
			return false
		}
		val, err := c.expand(decodeEntities(a.value), false)
		if err != nil {
			c.h.Error(c.p.Name, c.line, err.Error())
			lastErr = err.Error()
			return false
		}
		switch {
		case a.name == "file":
			target, ferr := c.resolveFile(val)
			if ferr == nil {
				c.s.included(target)
				ferr = c.call(func() error { return c.h.IncludeFile(c.w, target) })
				if ferr != nil {
					ferr = fmt.Errorf("unable to include file \"%s\": %w", val, ferr)
				}
			}
			err = ferr
		case a.name == "virtual" && lastErr == "", a.name == "onerror" && lastErr != "":
			target := c.resolveURI(val)
			c.s.included(target)
			err = c.call(func() error { return c.h.IncludeVirtual(c.w, target) })
			if err != nil {
				err = fmt.Errorf("unable to include \"%s\": %w", val, err)
			}
		default:
			return true
		}
		if c.s.fatal != nil {
			return false
		}
		if err != nil {
			c.h.Error(c.p.Name, c.line, err.Error())
			if lastErr != "" {
				return false
			}
			lastErr = err.Error()
			return true
		}
		lastErr = ""
		return true
	})
	if lastErr != "" && c.s.fatal == nil {
		if f := c.s.top(); f != nil {
			f.report.Errors++
		}
		c.s.uncacheable("error: " + lastErr)
		io.WriteString(c.w, c.errMsg)
	}
}

// call runs a Host include and checks that an include virtual's target was
// confirmed as a file or nested page; otherwise the page is not cacheable.
func (c *pageCtx) call(fn func() error) error {
	f := c.s.top()
	saved := f.confirmed
	f.confirmed = false
	err := fn()
	if !f.confirmed {
		c.s.uncacheable("include of dynamic content")
	}
	f.confirmed = saved
	return err
}

func (c *pageCtx) doFileInfo(n *directiveNode) {
	if !c.start(n) {
		return
	}
	each(n, func(a arg) bool {
		val, err := c.expand(decodeEntities(a.value), false)
		if err != nil {
			c.fail(err.Error())
			return false
		}
		var target string
		switch a.name {
		case "file":
			target, err = c.resolveFile(val)
		case "virtual":
			target = c.resolveURI(val)
		default:
			c.failf("unknown parameter \"%s\" to tag %s", a.name, n.name)
			return false
		}
		if err != nil {
			c.fail(err.Error())
			return false
		}
		c.s.included(target)
		size, mod, err := c.h.Stat(a.name, target)
		if err != nil {
			// Apache's words: a file it could not find is "looked up".
			verb := "get"
			if a.name == "file" {
				verb = "lookup"
			}
			c.failf("unable to %s information about \"%s\": %v", verb, val, err)
			return false
		}
		if n.name == "fsize" {
			if c.bytes {
				io.WriteString(c.w, formatBytes(size))
			} else {
				io.WriteString(c.w, formatAbbrev(size))
			}
		} else {
			io.WriteString(c.w, strftime.Format(c.timeFmt, mod.In(c.s.loc)))
		}
		return true
	})
}

func (c *pageCtx) doPrintenv(n *directiveNode) {
	if !c.printing {
		return
	}
	if len(n.args) > 0 {
		c.fail("printenv directive does not take tags")
		return
	}
	c.s.uncacheable("printenv")
	var b strings.Builder
	for _, v := range c.environ() {
		b.WriteString(escapeHTML(v.Name))
		b.WriteByte('=')
		b.WriteString(escapeHTML(v.Value))
		b.WriteByte('\n')
	}
	io.WriteString(c.w, b.String())
}

// environ lists every variable as printenv shows them: the Host's, with the
// date variables before DOCUMENT_URI as in Apache, and set variables
// replacing or following them.
func (c *pageCtx) environ() []Var {
	hv := c.h.Vars()
	env := make([]Var, 0, len(hv)+3+len(c.s.vars))
	dates := func() {
		for _, d := range []string{"DATE_LOCAL", "DATE_GMT", "LAST_MODIFIED"} {
			if v, ok := c.special(d); ok {
				env = append(env, Var{d, v})
			}
		}
	}
	done := false
	for _, v := range hv {
		if !done && upper(v.Name) == "DOCUMENT_URI" {
			dates()
			done = true
		}
		env = append(env, v)
	}
	if !done {
		dates()
	}
	for _, sv := range c.s.vars {
		replaced := false
		for i := range env {
			if upper(env[i].Name) == upper(sv.Name) {
				env[i].Value, replaced = sv.Value, true
				break
			}
		}
		if !replaced {
			env = append(env, sv)
		}
	}
	return env
}

func (c *pageCtx) doExec(n *directiveNode) {
	if !c.o.Exec {
		if c.printing {
			c.fail("exec used but not allowed (exec = false)")
		}
		return
	}
	if !c.start(n) {
		return
	}
	c.s.uncacheable("exec")
	each(n, func(a arg) bool {
		val := decodeEntities(a.value)
		var err error
		switch a.name {
		case "cmd":
			var cmd string
			cmd, err = c.expand(val, true)
			if err == nil {
				env := c.environ()
				err = c.h.ExecCmd(c.w, cmd, env)
			}
			if err != nil {
				err = fmt.Errorf("execution failure for parameter \"cmd\" to tag exec: %w", err)
			}
		case "cgi":
			var uri string
			uri, err = c.expand(val, false)
			if err == nil {
				err = c.h.ExecCGI(c.w, c.resolveURI(uri))
			}
			if err != nil {
				err = fmt.Errorf("invalid CGI ref \"%s\": %w", val, err)
			}
		default:
			err = fmt.Errorf("unknown parameter \"%s\" to tag exec", a.name)
		}
		if c.s.fatal != nil {
			return false
		}
		if err != nil {
			c.fail(err.Error())
			return false
		}
		return true
	})
}

// lookup returns a variable as get_include_var does: $0..$9 from the last
// regular expression, then set variables, the date variables, and the
// Host's. Names are case-insensitive.
func (c *pageCtx) lookup(name string) (string, bool) {
	if len(name) == 1 && name[0] >= '0' && name[0] <= '9' {
		return c.backref(int(name[0] - '0'))
	}
	if i, ok := c.s.varIdx[upper(name)]; ok {
		return c.s.vars[i].Value, true
	}
	if v, ok := c.special(name); ok {
		return v, true
	}
	key := upper(name)
	switch key {
	case "DOCUMENT_NAME", "DOCUMENT_URI", "USER_NAME":
	default:
		c.s.uncacheable("request variable " + key)
	}
	return c.h.Var(key)
}

// special computes DATE_LOCAL, DATE_GMT and LAST_MODIFIED.
func (c *pageCtx) special(name string) (string, bool) {
	fmtStr := c.s.dateFmt
	if fmtStr == "" {
		fmtStr = c.o.TimeFmt
	}
	switch upper(name) {
	case "DATE_LOCAL":
		c.s.uncacheable("DATE_LOCAL")
		return strftime.Format(fmtStr, c.s.now.In(c.s.loc)), true
	case "DATE_GMT":
		c.s.uncacheable("DATE_GMT")
		return strftime.Format(fmtStr, c.s.now.In(c.s.gmt)), true
	case "LAST_MODIFIED":
		if !c.s.modDone {
			c.s.modDone = true
			_, mod, err := c.h.Stat("virtual", c.s.chain[0])
			c.s.modTime, c.s.modOK = mod, err == nil
		}
		if !c.s.modOK {
			return "", false
		}
		return strftime.Format(fmtStr, c.s.modTime.In(c.s.loc)), true
	}
	return "", false
}

func (c *pageCtx) backref(i int) (string, bool) {
	re := c.re
	if re == nil {
		c.h.Error(c.p.Name, c.line, fmt.Sprintf("regex capture $%d refers to no regex", i))
		return "", false
	}
	if i > re.nsub {
		c.h.Error(c.p.Name, c.line, fmt.Sprintf("regex capture $%d is out of range (last regex was: '%s')", i, re.re))
		return "", false
	}
	if 2*i+1 >= len(re.idx) || re.idx[2*i] < 0 {
		return "", false
	}
	return re.src[re.idx[2*i]:re.idx[2*i+1]], true
}

// expand substitutes $name, ${name} and \$ in s as ap_ssi_parse_string
// does. With leaveName an undefined variable stays as written (exec cmd);
// otherwise it becomes empty. The result is bounded by MaxVarBytes.
func (c *pageCtx) expand(s string, leaveName bool) (string, error) {
	if strings.IndexByte(s, '$') < 0 && strings.IndexByte(s, '\\') < 0 {
		return s, nil
	}
	limit := int(c.o.MaxVarBytes)
	var b strings.Builder
	for i := 0; i < len(s); {
		if b.Len() > limit {
			return "", fmt.Errorf("variable expansion exceeds max_var_bytes (%d)", limit)
		}
		ch := s[i]
		switch {
		case ch == '\\':
			if i+1 < len(s) && s[i+1] == '$' {
				b.WriteByte('$')
				i += 2
			} else {
				b.WriteByte('\\')
				i++
			}
			continue
		case ch != '$':
			b.WriteByte(ch)
			i++
			continue
		}
		var key string
		var next, nameEnd int
		if i+1 < len(s) && s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				c.h.Error(c.p.Name, c.line, fmt.Sprintf("missing '}' on variable \"%s\"", s[i+2:]))
				return b.String(), nil
			}
			key, next, nameEnd = s[i+2:i+2+end], i+3+end, i+2+end
		} else {
			j := i + 1
			for j < len(s) && (s[j] == '_' || isAlnum(s[j])) {
				j++
			}
			key, next, nameEnd = s[i+1:j], j, j
		}
		if key == "" {
			b.WriteByte('$')
			i++
			continue
		}
		if v, ok := c.lookup(key); ok {
			b.WriteString(v)
		} else if leaveName {
			b.WriteString(s[i:nameEnd])
		}
		i = next
	}
	if b.Len() > limit {
		return "", fmt.Errorf("variable expansion exceeds max_var_bytes (%d)", limit)
	}
	return b.String(), nil
}

var regexps sync.Map // pattern -> *regexp.Regexp

const maxCachedRegexps = 1024

var regexpCount int64
var regexpMu sync.Mutex

// compileRegexp compiles a pattern, caching a bounded number of them.
func compileRegexp(pattern string) (*regexp.Regexp, error) {
	if r, ok := regexps.Load(pattern); ok {
		return r.(*regexp.Regexp), nil
	}
	r, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	regexpMu.Lock()
	if regexpCount < maxCachedRegexps {
		regexpCount++
		regexps.Store(pattern, r)
	}
	regexpMu.Unlock()
	return r, nil
}

// match runs pattern against s and records the back-references; a failed
// match forgets the previous ones, as Apache does.
func (c *pageCtx) match(s, pattern string, icase bool) (bool, error) {
	if len(pattern) > int(c.o.MaxRegexp) {
		return false, fmt.Errorf("regular expression longer than max_regexp (%d)", int64(c.o.MaxRegexp))
	}
	full := pattern
	if icase {
		full = "(?i)" + pattern
	}
	r, err := compileRegexp(full)
	if err != nil {
		// Apache logs the error and, by accident of its C code, counts the
		// failed compilation as a match (so != is false); the
		// back-references are left as they were.
		c.h.Error(c.p.Name, c.line, fmt.Sprintf("unable to compile pattern \"%s\": %v", pattern, err))
		return true, nil
	}
	idx := r.FindStringSubmatchIndex(s)
	if c.apMode {
		// ap_expr keeps the previous captures after a failed match, and
		// after a match of a pattern without groups.
		if idx != nil && r.NumSubexp() > 0 {
			c.re = &backrefs{src: s, re: pattern, nsub: r.NumSubexp(), idx: idx}
		}
		return idx != nil, nil
	}
	if idx == nil {
		c.re = nil
		return false, nil
	}
	c.re = &backrefs{src: s, re: pattern, nsub: r.NumSubexp(), idx: idx}
	return true, nil
}

// The apEnv methods let ap_expr evaluate against this page.

func (c *pageCtx) apVar(name string) string {
	if strings.HasPrefix(name, "TIME") {
		c.s.uncacheable("ap_expr " + name)
	}
	switch name {
	case "TIME_YEAR":
		return c.s.now.In(c.s.loc).Format("2006")
	case "TIME_MON":
		return c.s.now.In(c.s.loc).Format("01")
	case "TIME_DAY":
		return c.s.now.In(c.s.loc).Format("02")
	case "TIME_HOUR":
		return c.s.now.In(c.s.loc).Format("15")
	case "TIME_MIN":
		return c.s.now.In(c.s.loc).Format("04")
	case "TIME_SEC":
		return c.s.now.In(c.s.loc).Format("05")
	case "TIME_WDAY":
		return fmt.Sprint(int(c.s.now.In(c.s.loc).Weekday()))
	case "TIME":
		return c.s.now.In(c.s.loc).Format("20060102150405")
	case "LAST_MODIFIED":
		c.special("LAST_MODIFIED")
		if !c.s.modOK {
			return ""
		}
		return c.s.modTime.In(c.s.loc).Format("20060102150405")
	}
	v, _ := c.lookup(name)
	return v
}

func (c *pageCtx) header(name string) string {
	key := "HTTP_" + strings.ReplaceAll(upper(name), "-", "_")
	c.s.uncacheable("request header " + name)
	v, _ := c.h.Var(key)
	return v
}
