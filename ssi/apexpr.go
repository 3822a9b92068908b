package ssi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The common part of Apache 2.4's ap_expr syntax, used when
// Options.ExprSyntax is "ap_expr":
//
//	cond := cond "||" cond | cond "&&" cond | "!" cond | "(" cond ")"
//	      | "true" | "false" | "-z" word | "-n" word
//	      | word ("==" | "!=" | "<" | "<=" | ">" | ">=") word
//	      | word ("-eq" | "-ne" | "-lt" | "-le" | "-gt" | "-ge") word
//	      | word ("=~" | "!~") regex | word "-in" "{" word {"," word} "}"
//	word := word "." word | digits | 'string' | "string" | %{NAME}
//	      | %{env:NAME} | %{reqenv:NAME} | %{HTTP:Header} | $0..$9
//	      | v('name') | reqenv(..) | env(..) | tolower(..) | toupper(..)
//	      | escape(..) | unescape(..) | base64(..) | unbase64(..)
//	regex := /pattern/[i] | m#pattern#[i] (any punctuation for #)
//
// Strings interpolate %{...} and $N. || binds loosest, then &&, then !.
// As in Apache, %{NAME} accepts only the names ap_expr knows (apVars);
// any other is a parse error.

// apNode is a node of an ap_expr tree.
type apNode = *apn

type apn struct {
	op    string // see evalApCond and evalApWord
	val   string
	icase bool
	kids  []*apn
}

// apVars are the %{NAME} variables of ap_expr that pwebs can answer.
// TIME_* come from the request time; the others from Host.Var.
var apVars = map[string]bool{
	"HTTP_ACCEPT": true, "HTTP_COOKIE": true, "HTTP_FORWARDED": true, "HTTP_HOST": true,
	"HTTP_PROXY_CONNECTION": true, "HTTP_REFERER": true, "HTTP_USER_AGENT": true,
	"REQUEST_METHOD": true, "REQUEST_SCHEME": true, "REQUEST_URI": true, "REQUEST_FILENAME": true,
	"SCRIPT_FILENAME": true, "REMOTE_ADDR": true, "REMOTE_HOST": true, "REMOTE_USER": true,
	"REMOTE_IDENT": true, "SERVER_NAME": true, "SERVER_PORT": true, "SERVER_ADMIN": true,
	"SERVER_PROTOCOL": true, "SERVER_SOFTWARE": true, "DOCUMENT_ROOT": true, "AUTH_TYPE": true,
	"THE_REQUEST": true, "CONTENT_TYPE": true, "PATH_INFO": true, "QUERY_STRING": true,
	"DOCUMENT_URI": true, "LAST_MODIFIED": true, "CONTEXT_PREFIX": true,
	"CONTEXT_DOCUMENT_ROOT": true, "HTTPS": true, "IPV6": true, "IS_SUBREQ": true,
	"HANDLER": true, "TIME_YEAR": true, "TIME_MON": true, "TIME_DAY": true, "TIME_HOUR": true,
	"TIME_MIN": true, "TIME_SEC": true, "TIME_WDAY": true, "TIME": true,
}

var apFuncs = map[string]bool{
	"v": true, "reqenv": true, "env": true, "tolower": true, "toupper": true,
	"escape": true, "unescape": true, "base64": true, "unbase64": true, "http": true, "req": true,
}

type apParser struct {
	s     string
	pos   int
	depth int
}

// maxApDepth bounds the nesting of an ap_expr: parentheses, ! and calls.
const maxApDepth = 200

// parseAp parses an ap_expr condition.
func parseAp(s string) (apNode, error) {
	p := &apParser{s: s}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos < len(p.s) {
		return nil, p.errorf("unexpected \"%s\"", p.s[p.pos:])
	}
	return n, nil
}

func (p *apParser) errorf(format string, args ...any) error {
	return fmt.Errorf("ap_expr: "+format, args...)
}

func (p *apParser) space() {
	for p.pos < len(p.s) && isSpace(p.s[p.pos]) {
		p.pos++
	}
}

// peek reports whether the input continues with tok after white space.
func (p *apParser) peek(tok string) bool {
	p.space()
	return strings.HasPrefix(p.s[p.pos:], tok)
}

// eat consumes tok if it comes next.
func (p *apParser) eat(tok string) bool {
	if p.peek(tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

// eatWord consumes a keyword such as "-eq" or "true" that must not run on
// into letters.
func (p *apParser) eatWord(w string) bool {
	if !p.peek(w) {
		return false
	}
	if e := p.pos + len(w); e < len(p.s) && isIdent(p.s[e]) {
		return false
	}
	p.pos += len(w)
	return true
}

func (p *apParser) or() (apNode, error) {
	l, err := p.and()
	for err == nil && p.eat("||") {
		var r apNode
		if r, err = p.and(); err == nil {
			l = &apn{op: "||", kids: []*apn{l, r}}
		}
	}
	return l, err
}

func (p *apParser) and() (apNode, error) {
	l, err := p.not()
	for err == nil && p.eat("&&") {
		var r apNode
		if r, err = p.not(); err == nil {
			l = &apn{op: "&&", kids: []*apn{l, r}}
		}
	}
	return l, err
}

func (p *apParser) not() (apNode, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxApDepth {
		return nil, p.errorf("expression nested more than %d deep", maxApDepth)
	}
	if p.peek("!") && !p.peek("!=") && !p.peek("!~") {
		p.pos++
		n, err := p.not()
		if err != nil {
			return nil, err
		}
		return &apn{op: "!", kids: []*apn{n}}, nil
	}
	return p.atom()
}

var apBinary = []string{"==", "!=", "<=", ">=", "=~", "!~", "<", ">", "="}
var apIntOps = []string{"-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-in"}

func (p *apParser) atom() (apNode, error) {
	p.space()
	switch {
	case p.pos == len(p.s):
		return nil, p.errorf("unexpected end of expression")
	case p.eat("("):
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.eat(")") {
			return nil, p.errorf("missing ')'")
		}
		return n, nil
	case p.eatWord("true"):
		return &apn{op: "true"}, nil
	case p.eatWord("false"):
		return &apn{op: "false"}, nil
	case p.eatWord("-z"), p.eatWord("-n"):
		op := p.s[p.pos-2 : p.pos]
		w, err := p.word()
		if err != nil {
			return nil, err
		}
		return &apn{op: op, kids: []*apn{w}}, nil
	}
	l, err := p.word()
	if err != nil {
		return nil, err
	}
	p.space()
	for _, op := range apBinary {
		if !p.eat(op) {
			continue
		}
		if op == "=~" || op == "!~" {
			re, err := p.regex()
			if err != nil {
				return nil, err
			}
			return &apn{op: op, kids: []*apn{l, re}}, nil
		}
		if op == "=" {
			op = "=="
		}
		r, err := p.word()
		if err != nil {
			return nil, err
		}
		return &apn{op: op, kids: []*apn{l, r}}, nil
	}
	for _, op := range apIntOps {
		if !p.eatWord(op) {
			continue
		}
		if op == "-in" {
			return p.list(l)
		}
		r, err := p.word()
		if err != nil {
			return nil, err
		}
		return &apn{op: op, kids: []*apn{l, r}}, nil
	}
	return nil, p.errorf("expected an operator after a word")
}

// list parses "{ word, word ... }" after -in.
func (p *apParser) list(l apNode) (apNode, error) {
	if !p.eat("{") {
		return nil, p.errorf("expected '{' after -in")
	}
	n := &apn{op: "-in", kids: []*apn{l}}
	for {
		w, err := p.word()
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, w)
		if p.eat("}") {
			return n, nil
		}
		if !p.eat(",") {
			return nil, p.errorf("expected ',' or '}' in list")
		}
	}
}

// word parses a word and any "." concatenations after it.
func (p *apParser) word() (apNode, error) {
	w, err := p.wordAtom()
	for err == nil && p.peek(".") {
		p.pos++
		var r apNode
		if r, err = p.wordAtom(); err == nil {
			w = &apn{op: "concat", kids: []*apn{w, r}}
		}
	}
	return w, err
}

func (p *apParser) wordAtom() (apNode, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxApDepth {
		return nil, p.errorf("expression nested more than %d deep", maxApDepth)
	}
	p.space()
	if p.pos == len(p.s) {
		return nil, p.errorf("unexpected end of expression")
	}
	c := p.s[p.pos]
	switch {
	case c == '\'' || c == '"':
		p.pos++
		return p.str(c)
	case c >= '0' && c <= '9':
		i := p.pos
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
		}
		return &apn{op: "lit", val: p.s[i:p.pos]}, nil
	case c == '%' && p.pos+1 < len(p.s) && p.s[p.pos+1] == '{':
		return p.variable()
	case c == '$' && p.pos+1 < len(p.s) && p.s[p.pos+1] >= '0' && p.s[p.pos+1] <= '9':
		p.pos += 2
		return &apn{op: "backref", val: p.s[p.pos-1 : p.pos]}, nil
	case isIdent(c):
		i := p.pos
		for p.pos < len(p.s) && isIdent(p.s[p.pos]) {
			p.pos++
		}
		name := p.s[i:p.pos]
		if !p.eat("(") {
			return nil, p.errorf("syntax error near \"%s\"", name)
		}
		if !apFuncs[name] {
			return nil, p.errorf("function '%s' does not exist", name)
		}
		arg, err := p.word()
		if err != nil {
			return nil, err
		}
		if !p.eat(")") {
			return nil, p.errorf("missing ')' after %s(", name)
		}
		return &apn{op: "fn", val: name, kids: []*apn{arg}}, nil
	}
	return nil, p.errorf("parse error near \"%s\"", p.s[p.pos:])
}

// variable parses %{NAME} or %{func:arg}.
func (p *apParser) variable() (apNode, error) {
	end := strings.IndexByte(p.s[p.pos:], '}')
	if end < 0 {
		return nil, p.errorf("missing '}'")
	}
	body := p.s[p.pos+2 : p.pos+end]
	p.pos += end + 1
	if fn, arg, ok := strings.Cut(body, ":"); ok {
		switch strings.ToLower(fn) {
		case "env", "reqenv", "osenv", "note":
			return &apn{op: "fn", val: "v", kids: []*apn{{op: "lit", val: arg}}}, nil
		case "http", "req", "req_novary":
			return &apn{op: "fn", val: "http", kids: []*apn{{op: "lit", val: arg}}}, nil
		}
		return nil, p.errorf("function '%s' does not exist", fn)
	}
	if !apVars[upper(body)] {
		return nil, p.errorf("variable '%s' does not exist", body)
	}
	return &apn{op: "var", val: upper(body)}, nil
}

// str parses a string literal after its opening quote q, with %{..} and $N
// interpolation and backslash escapes.
func (p *apParser) str(q byte) (apNode, error) {
	n := &apn{op: "concat"}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			n.kids = append(n.kids, &apn{op: "lit", val: lit.String()})
			lit.Reset()
		}
	}
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case c == q:
			p.pos++
			flush()
			return n, nil
		case c == '\\' && p.pos+1 < len(p.s):
			lit.WriteByte(p.s[p.pos+1])
			p.pos += 2
		case c == '%' && p.pos+1 < len(p.s) && p.s[p.pos+1] == '{':
			flush()
			v, err := p.variable()
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, v)
		case c == '$' && p.pos+1 < len(p.s) && p.s[p.pos+1] >= '1' && p.s[p.pos+1] <= '9':
			// Inside strings Apache reads $1..$9, not $0.
			flush()
			n.kids = append(n.kids, &apn{op: "backref", val: p.s[p.pos+1 : p.pos+2]})
			p.pos += 2
		default:
			lit.WriteByte(c)
			p.pos++
		}
	}
	return nil, p.errorf("unterminated string")
}

// regex parses /pattern/flags or m#pattern#flags.
func (p *apParser) regex() (apNode, error) {
	p.space()
	if p.pos >= len(p.s) {
		return nil, p.errorf("expected a regular expression")
	}
	delim := p.s[p.pos]
	if delim == 'm' && p.pos+1 < len(p.s) && !isIdent(p.s[p.pos+1]) && !isSpace(p.s[p.pos+1]) {
		p.pos++
		delim = p.s[p.pos]
	} else if delim != '/' {
		return nil, p.errorf("expected a regular expression")
	}
	p.pos++
	var b strings.Builder
	// As in Apache, the delimiter cannot be escaped: use m#...# for a
	// pattern that contains "/".
	for p.pos < len(p.s) && p.s[p.pos] != delim {
		b.WriteByte(p.s[p.pos])
		p.pos++
	}
	if p.pos >= len(p.s) {
		return nil, p.errorf("unterminated regular expression")
	}
	p.pos++
	n := &apn{op: "regex", val: b.String()}
	for p.pos < len(p.s) && isIdent(p.s[p.pos]) {
		if p.s[p.pos] != 'i' {
			return nil, p.errorf("unknown regular expression flag \"%c\"", p.s[p.pos])
		}
		n.icase = true
		p.pos++
	}
	return n, nil
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// apEnv is what evaluating an ap_expr needs from the evaluator.
type apEnv interface {
	lookup(name string) (string, bool) // set variables, then request variables
	apVar(name string) string          // %{NAME}
	header(name string) string         // %{HTTP:Name}
	match(s, re string, icase bool) (bool, error)
	backref(i int) (string, bool)
}

var errApEval = errors.New("ap_expr: cannot evaluate")

func evalApCond(n apNode, e apEnv) (bool, error) {
	switch n.op {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "!":
		v, err := evalApCond(n.kids[0], e)
		return !v, err
	case "&&", "||":
		l, err := evalApCond(n.kids[0], e)
		if err != nil {
			return false, err
		}
		if n.op == "&&" && !l || n.op == "||" && l {
			return l, nil
		}
		return evalApCond(n.kids[1], e)
	case "-z", "-n":
		w, err := evalApWord(n.kids[0], e)
		return (w == "") == (n.op == "-z"), err
	case "=~", "!~":
		s, err := evalApWord(n.kids[0], e)
		if err != nil {
			return false, err
		}
		m, err := e.match(s, n.kids[1].val, n.kids[1].icase)
		return m == (n.op == "=~"), err
	case "-in":
		s, err := evalApWord(n.kids[0], e)
		if err != nil {
			return false, err
		}
		for _, k := range n.kids[1:] {
			w, err := evalApWord(k, e)
			if err != nil {
				return false, err
			}
			if w == s {
				return true, nil
			}
		}
		return false, nil
	}
	l, err := evalApWord(n.kids[0], e)
	if err != nil {
		return false, err
	}
	r, err := evalApWord(n.kids[1], e)
	if err != nil {
		return false, err
	}
	switch n.op {
	case "==":
		return l == r, nil
	case "!=":
		return l != r, nil
	case "<":
		return l < r, nil
	case "<=":
		return l <= r, nil
	case ">":
		return l > r, nil
	case ">=":
		return l >= r, nil
	}
	li, err1 := strconv.ParseInt(strings.TrimSpace(l), 10, 64)
	ri, err2 := strconv.ParseInt(strings.TrimSpace(r), 10, 64)
	if err1 != nil || err2 != nil {
		return false, fmt.Errorf("ap_expr: %s needs integers, not \"%s\" and \"%s\"", n.op, l, r)
	}
	switch n.op {
	case "-eq":
		return li == ri, nil
	case "-ne":
		return li != ri, nil
	case "-lt":
		return li < ri, nil
	case "-le":
		return li <= ri, nil
	case "-gt":
		return li > ri, nil
	case "-ge":
		return li >= ri, nil
	}
	return false, errApEval
}

func evalApWord(n apNode, e apEnv) (string, error) {
	switch n.op {
	case "lit":
		return n.val, nil
	case "var":
		return e.apVar(n.val), nil
	case "backref":
		v, _ := e.backref(int(n.val[0] - '0'))
		return v, nil
	case "concat":
		var b strings.Builder
		for _, k := range n.kids {
			w, err := evalApWord(k, e)
			if err != nil {
				return "", err
			}
			b.WriteString(w)
		}
		return b.String(), nil
	case "fn":
		a, err := evalApWord(n.kids[0], e)
		if err != nil {
			return "", err
		}
		switch n.val {
		case "v", "reqenv", "env":
			v, _ := e.lookup(a)
			return v, nil
		case "http", "req":
			return e.header(a), nil
		case "tolower":
			return strings.ToLower(a), nil
		case "toupper":
			return strings.ToUpper(a), nil
		case "escape":
			return escapeURI(a), nil
		case "unescape":
			return unescapeURL(a, false), nil
		case "base64":
			return encodeBase64(a), nil
		case "unbase64":
			return decodeBase64(a), nil
		}
	}
	return "", errApEval
}
