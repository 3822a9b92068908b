package ssi

import (
	"fmt"
	"strings"
)

// Page is a parsed SSI page: literal text and directives in page order, each
// directive with its line. A Page is immutable once Parse returns it, so the
// server may cache it and execute it from many goroutines at once.
//
// The nodes form a flat list rather than a nested tree on purpose: Apache
// runs if, elif, else and endif as a state machine over the flat stream, and
// only a flat list reproduces what it does with a stray else or endif.
type Page struct {
	// Name is the page's name in messages, normally its file path.
	Name  string
	nodes []node
	// errs holds the syntax problems, in page order.
	errs []Problem
}

// node is one element of a page: *textNode, *directiveNode or *errorNode.
type node interface {
	nodeLine() int
}

// textNode is literal text copied to the output.
type textNode struct {
	text string
	line int
}

// directiveNode is a well-formed directive.
type directiveNode struct {
	name string
	args []arg
	line int
	// cond holds the parsed expressions of if and elif, built once here
	// because their syntax does not depend on variables.
	cond *condExpr
}

// arg is one attribute of a directive. hasValue is false for a bare name,
// which stops every directive's attribute loop, as in Apache.
type arg struct {
	name     string
	value    string
	hasValue bool
	noName   bool
}

// errorNode is a directive that could not be parsed. It prints the error
// message in place of the directive.
type errorNode struct {
	msg  string
	dir  string
	line int
}

func (n *textNode) nodeLine() int      { return n.line }
func (n *directiveNode) nodeLine() int { return n.line }
func (n *errorNode) nodeLine() int     { return n.line }

// condExpr holds both parsed forms of an if or elif expression.
type condExpr struct {
	legacy    *lnode
	legacyErr error
	ap        apNode
	apErr     error
	hasRegex  bool // the ap_expr form uses =~ or !~
}

// Problem is one mistake found in a page, by Parse, Check or Execute.
type Problem struct {
	Name string // the page's name
	Line int    // 1-based line of the directive
	Msg  string
}

// String formats p as "name:line: message".
func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.Name, p.Line, p.Msg) }

// Error formats p as String does, so a Problem can be returned as an error.
func (p Problem) Error() string { return p.String() }

// Parse parses src, the content of the page called name. It never fails: a
// malformed directive becomes a node that prints the error message where it
// stands, and is listed by Errors.
func Parse(name string, src []byte) *Page {
	p := &Page{Name: name}
	l := lex(string(src))
	for {
		it := l.nextItem()
		switch it.typ {
		case itemEOF:
			return p
		case itemText:
			p.nodes = append(p.nodes, &textNode{text: it.val, line: it.line})
		case itemError:
			// Only an unterminated directive reaches here: it is cut by the
			// end of the page before its name was read.
			p.addError(it.line, it.val, "")
		case itemDirective:
			p.parseDirective(l, it)
		}
	}
}

// parseDirective reads the attributes of the directive started by d, up to
// its "-->".
func (p *Page) parseDirective(l *lexer, d item) {
	n := &directiveNode{name: d.val, line: d.line}
	msg := ""
	if n.name == "" {
		msg = "missing directive name"
	}
	for {
		it := l.nextItem()
		switch it.typ {
		case itemEnd:
			if msg != "" {
				p.addError(d.line, msg, n.name)
				return
			}
			if n.name == "if" || n.name == "elif" {
				n.cond = parseCond(n.args)
			}
			p.nodes = append(p.nodes, n)
			return
		case itemEOF:
			return
		case itemError:
			if it.val == "SSI directive was not properly finished at the end of parsed document" {
				p.addError(d.line, it.val, n.name)
				return
			}
			if msg == "" {
				msg = it.val
			}
			// The value that follows has no name; Apache keeps it as an
			// argument without one.
			n.args = append(n.args, arg{noName: true})
		case itemArgName:
			if it.val == "" && msg == "" {
				msg = "missing argument name for value to tag " + n.name
			}
			n.args = append(n.args, arg{name: it.val})
		case itemArgValue:
			if len(n.args) > 0 {
				a := &n.args[len(n.args)-1]
				a.value, a.hasValue = it.val, true
			}
		}
	}
}

func (p *Page) addError(line int, msg, dir string) {
	p.nodes = append(p.nodes, &errorNode{msg: msg, dir: dir, line: line})
	p.errs = append(p.errs, Problem{Name: p.Name, Line: line, Msg: msg})
}

// Errors returns the syntax problems Parse found, in page order.
func (p *Page) Errors() []Problem { return append([]Problem(nil), p.errs...) }

// parseCond parses the expression of an if or elif in both syntaxes, when
// the directive has the single expr attribute it needs.
func parseCond(args []arg) *condExpr {
	if len(args) != 1 || args[0].name != "expr" || !args[0].hasValue {
		return nil
	}
	c := &condExpr{}
	c.legacy, c.legacyErr = parseLegacy(args[0].value)
	c.ap, c.apErr = parseAp(args[0].value)
	c.hasRegex = strings.Contains(args[0].value, "=~") || strings.Contains(args[0].value, "!~")
	return c
}
