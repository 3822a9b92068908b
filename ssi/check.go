package ssi

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// CheckHost is what Check asks of the server: whether a file or URI exists.
// Stat has the meaning of Host.Stat.
type CheckHost interface {
	Stat(kind, p string) (size int64, mod time.Time, err error)
}

// attrs lists the attributes each directive accepts.
var attrs = map[string][]string{
	"config":   {"errmsg", "echomsg", "sizefmt", "timefmt"},
	"echo":     {"var", "encoding", "decoding"},
	"exec":     {"cmd", "cgi"},
	"fsize":    {"file", "virtual"},
	"flastmod": {"file", "virtual"},
	"include":  {"file", "virtual", "onerror"},
	"printenv": {},
	"set":      {"var", "value", "encoding", "decoding"},
	"if":       {"expr"},
	"elif":     {"expr"},
	"else":     {},
	"endif":    {},
}

// Check finds the mistakes in a page without executing it, for pwebs check:
// syntax errors, unknown directives and attributes, attributes without a
// value, bad encoding, decoding and sizefmt values, expressions that do not
// parse in o.ExprSyntax, if/elif/else/endif that do not balance, exec while
// o.Exec is off, and include, fsize and flastmod targets that h cannot
// find (targets that use variables are not checked). uri is the page's URL
// path, against which relative targets resolve; h may be nil to skip the
// existence checks. Problems come in line order.
func Check(p *Page, uri string, o *Options, h CheckHost) []Problem {
	if o == nil {
		d := DefaultOptions()
		o = &d
	}
	var out []Problem
	add := func(line int, format string, args ...any) {
		out = append(out, Problem{Name: p.Name, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	out = append(out, p.errs...)
	c := &pageCtx{p: p, uri: uri}
	type open struct {
		line    int
		sawElse bool
	}
	var ifs []open
	for _, n := range p.nodes {
		d, ok := n.(*directiveNode)
		if !ok {
			continue
		}
		allowed, known := attrs[d.name]
		if !known {
			add(d.line, "unknown directive %q", d.name)
			continue
		}
		for _, a := range d.args {
			switch {
			case len(allowed) == 0:
				// Reported below as taking no attributes.
			case a.noName:
				// Reported by Parse.
			case !contains(allowed, a.name):
				add(d.line, "unknown attribute %q for %s", a.name, d.name)
			case !a.hasValue:
				add(d.line, "attribute %q of %s has no value; Apache stops reading the directive there", a.name, d.name)
			}
		}
		switch d.name {
		case "if":
			checkCond(d, o, add)
			ifs = append(ifs, open{line: d.line})
		case "elif":
			checkCond(d, o, add)
			if len(ifs) == 0 {
				add(d.line, "elif without if")
			} else if ifs[len(ifs)-1].sawElse {
				add(d.line, "elif after else (the if opened on line %d)", ifs[len(ifs)-1].line)
			}
		case "else":
			if len(ifs) == 0 {
				add(d.line, "else without if")
			} else if ifs[len(ifs)-1].sawElse {
				add(d.line, "second else for the if on line %d", ifs[len(ifs)-1].line)
			} else {
				ifs[len(ifs)-1].sawElse = true
			}
		case "endif":
			if len(ifs) == 0 {
				add(d.line, "endif without if")
			} else {
				ifs = ifs[:len(ifs)-1]
			}
		case "exec":
			if !o.Exec {
				add(d.line, "exec is not allowed (exec = false in [ssi])")
			}
		case "echo", "set", "include", "fsize", "flastmod", "config":
			if len(d.args) == 0 {
				add(d.line, "%s needs attributes", d.name)
			}
		}
		if (d.name == "else" || d.name == "endif" || d.name == "printenv") && len(d.args) > 0 {
			add(d.line, "%s takes no attributes", d.name)
		}
		checkValues(c, d, h, add)
	}
	for _, f := range ifs {
		add(f.line, "if without endif")
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func checkCond(d *directiveNode, o *Options, add func(int, string, ...any)) {
	if d.cond == nil {
		add(d.line, "%s needs exactly one attribute, expr=\"...\"", d.name)
		return
	}
	if o.ExprSyntax == "ap_expr" {
		if d.cond.apErr != nil {
			add(d.line, "bad expression %q: %v", d.args[0].value, d.cond.apErr)
		}
		return
	}
	if d.cond.legacyErr != nil {
		add(d.line, "bad expression %q: %v", d.args[0].value, d.cond.legacyErr)
		return
	}
	var bad func(n *lnode) string
	bad = func(n *lnode) string {
		if n == nil {
			return ""
		}
		switch n.typ {
		case lRegex:
			if n.parent == nil || (n.parent.typ != lEq && n.parent.typ != lNe) {
				return "regular expression without = or !="
			}
			if !strings.Contains(n.val, "$") {
				if _, err := compileRegexp(n.val); err != nil {
					return fmt.Sprintf("regular expression /%s/ does not compile: %v", n.val, err)
				}
			}
		case lLBrace:
			return "unmatched '('"
		case lEq, lNe, lGe, lGt, lLe, lLt, lAnd, lOr:
			if n.left == nil || n.right == nil {
				return "operator without operand"
			}
			if n.typ != lAnd && n.typ != lOr && n.left.typ != lString {
				return "comparison whose left side is not a string"
			}
		}
		if m := bad(n.left); m != "" {
			return m
		}
		return bad(n.right)
	}
	if m := bad(d.cond.legacy); m != "" {
		add(d.line, "bad expression %q: %s", d.args[0].value, m)
	}
}

// checkValues checks attribute values that can be judged without running
// the page.
func checkValues(c *pageCtx, d *directiveNode, h CheckHost, add func(int, string, ...any)) {
	for _, a := range d.args {
		if !a.hasValue {
			return
		}
		v := a.value
		switch {
		case a.name == "encoding" || a.name == "decoding":
			if _, err := transcode("", pick(a.name == "decoding", v, "none"), pick(a.name == "encoding", v, "none")); err != nil {
				add(d.line, "%v", err)
			}
		case d.name == "config" && a.name == "sizefmt":
			if v != "bytes" && v != "abbrev" && !strings.Contains(v, "$") {
				add(d.line, "sizefmt %q is neither \"bytes\" nor \"abbrev\"", v)
			}
		case (d.name == "include" || d.name == "fsize" || d.name == "flastmod") &&
			(a.name == "file" || a.name == "virtual" || a.name == "onerror"):
			v = decodeEntities(v)
			if strings.Contains(v, "$") {
				continue
			}
			kind, target := "virtual", c.resolveURI(v)
			if a.name == "file" {
				t, err := c.resolveFile(v)
				if err != nil {
					add(d.line, "%v", err)
					continue
				}
				kind, target = "file", t
			}
			if h == nil {
				continue
			}
			if i := strings.IndexByte(target, '?'); i >= 0 && kind == "virtual" {
				target = target[:i]
			}
			if _, _, err := h.Stat(kind, target); err != nil {
				add(d.line, "%s %q of %s not found: %v", a.name, v, d.name, err)
			}
		}
	}
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}
