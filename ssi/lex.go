package ssi

import (
	"strings"
)

// The lexer follows text/template/parse's design: a state function returns
// the next state, items carry their position and line, and the parser pulls
// items one at a time (no goroutine). Its states mirror mod_include's parser
// (PARSE_DIRECTIVE, PARSE_ARG, PARSE_TAIL, ...) so that malformed input is
// cut into directives exactly where Apache cuts it.

const (
	startSeq = "<!--#"
	endSeq   = "-->"
)

// itemType identifies the kind of a lexed item.
type itemType int

const (
	itemError     itemType = iota // a syntax problem; val is the message
	itemEOF                       // end of the page
	itemText                      // literal text outside directives
	itemDirective                 // "<!--#name"; val is the lower-cased name
	itemArgName                   // an attribute name, lower-cased
	itemArgValue                  // an attribute value, quote escapes removed
	itemEnd                       // "-->"
)

// item is one token of a page.
type item struct {
	typ  itemType
	pos  int    // byte offset in the page
	val  string // text, name, value or message
	line int    // 1-based line of pos
}

// stateFn is a state of the lexer, returning the next state.
type stateFn func(*lexer) stateFn

// lexer holds the scanning state of one page.
type lexer struct {
	input string
	start int     // start of the current item
	pos   int     // current position
	line  int     // line of start
	item  item    // the item most recently emitted
	next  stateFn // the state to resume from
	quote byte    // quote of the value being scanned, or 0
	dir   string  // name of the directive being scanned
}

func lex(input string) *lexer {
	return &lexer{input: input, line: 1, next: lexText}
}

// nextItem runs state functions until one emits an item.
func (l *lexer) nextItem() item {
	state := l.next
	for state != nil {
		state = state(l)
	}
	return l.item
}

// emit records an item running from start to pos and sets the state to
// resume from.
func (l *lexer) emit(t itemType, val string, next stateFn) stateFn {
	l.item = item{typ: t, pos: l.start, val: val, line: l.line}
	l.skip()
	l.next = next
	return nil
}

// skip drops the input between start and pos, counting its lines.
func (l *lexer) skip() {
	l.line += strings.Count(l.input[l.start:l.pos], "\n")
	l.start = l.pos
}

// skipSpace advances pos past white space and reports whether input remains.
func (l *lexer) skipSpace() bool {
	for l.pos < len(l.input) && isSpace(l.input[l.pos]) {
		l.pos++
	}
	return l.pos < len(l.input)
}

// matchEnd reports how far endSeq matches at i, starting with its k-th byte:
// it returns the position after the match and the number of bytes matched.
func (l *lexer) matchEnd(i, k int) (int, int) {
	for i < len(l.input) && k < len(endSeq) && l.input[i] == endSeq[k] {
		i++
		k++
	}
	return i, k
}

// lexText scans literal text up to the next "<!--#".
func lexText(l *lexer) stateFn {
	i := strings.Index(l.input[l.pos:], startSeq)
	if i < 0 {
		l.pos = len(l.input)
		if l.pos > l.start {
			return l.emit(itemText, l.input[l.start:l.pos], lexEOF)
		}
		return lexEOF
	}
	l.pos += i
	if l.pos > l.start {
		return l.emit(itemText, l.input[l.start:l.pos], lexDirective)
	}
	return lexDirective
}

// lexDirective scans "<!--#" and the directive name. As in Apache, the name
// ends at white space, or at a "-->" that directly follows it.
func lexDirective(l *lexer) stateFn {
	from := l.pos + len(startSeq)
	for i := from; i < len(l.input); {
		c := l.input[i]
		if isSpace(c) {
			return l.directiveName(from, i, i, lexPreArg)
		}
		if c != endSeq[0] {
			i++
			continue
		}
		j, k := l.matchEnd(i+1, 1)
		if k == len(endSeq) {
			return l.directiveName(from, i, i, lexEnd)
		}
		if j == len(l.input) {
			break
		}
		// Apache resumes right after the "-", not after the partial match:
		// "<!--#echo--->" is the directive "echo-".
		i++
	}
	l.pos = len(l.input)
	return lexUnterminated
}

// directiveName emits the directive item for the name input[from:to] and
// leaves pos at next.
func (l *lexer) directiveName(from, to, next int, state stateFn) stateFn {
	l.pos = next
	l.dir = lower(l.input[from:to])
	return l.emit(itemDirective, l.dir, state)
}

// lexEnd emits the "-->" that ends a directive.
func lexEnd(l *lexer) stateFn {
	l.pos += len(endSeq)
	return l.emit(itemEnd, endSeq, lexText)
}

// lexPreArg skips white space and decides between "-->" and an attribute.
// A "-" that does not start "-->" begins an attribute name, as in Apache.
func lexPreArg(l *lexer) stateFn {
	if !l.skipSpace() {
		return lexUnterminated
	}
	l.skip()
	if l.input[l.pos] == endSeq[0] {
		j, k := l.matchEnd(l.pos, 0)
		if k == len(endSeq) {
			return lexEnd
		}
		if j == len(l.input) {
			l.pos = j
			return lexUnterminated
		}
	}
	return lexArg
}

// lexArg starts an attribute. A value without a name is an error, but its
// value is still scanned so the directive ends where Apache ends it.
func lexArg(l *lexer) stateFn {
	if c := l.input[l.pos]; isQuote(c) {
		l.quote = c
		l.pos++
		l.skip()
		return l.emit(itemError, "missing argument name for value to tag "+l.dir, lexValue)
	}
	return lexArgName
}

// lexArgName scans an attribute name, which ends at white space or "=".
func lexArgName(l *lexer) stateFn {
	for l.pos < len(l.input) && !isSpace(l.input[l.pos]) && l.input[l.pos] != '=' {
		l.pos++
	}
	if l.pos == len(l.input) {
		return lexUnterminated
	}
	return l.emit(itemArgName, lower(l.input[l.start:l.pos]), lexArgEq)
}

// lexArgEq looks for the "=" after an attribute name; without one the
// attribute has no value.
func lexArgEq(l *lexer) stateFn {
	if !l.skipSpace() {
		return lexUnterminated
	}
	if l.input[l.pos] != '=' {
		l.skip()
		return lexPreArg
	}
	l.pos++
	if !l.skipSpace() {
		return lexUnterminated
	}
	l.quote = 0
	if c := l.input[l.pos]; isQuote(c) {
		l.quote = c
		l.pos++
	}
	l.skip()
	return lexValue
}

// lexValue scans an attribute value. A quoted value ends at its quote (a
// backslash escapes only the quote); an unquoted one ends at white space,
// which is consumed with it.
func lexValue(l *lexer) stateFn {
	in := l.input
	for i := l.pos; i < len(in); i++ {
		c := in[i]
		switch {
		case l.quote != 0 && c == '\\':
			if i+1 == len(in) {
				i = len(in) - 1
				continue
			}
			if in[i+1] == l.quote {
				i++
			}
		case l.quote != 0 && c == l.quote:
			val := in[l.start:i]
			if strings.IndexByte(val, '\\') >= 0 {
				val = strings.ReplaceAll(val, "\\"+string(l.quote), string(l.quote))
			}
			l.pos = i + 1
			return l.emit(itemArgValue, val, lexPreArg)
		case l.quote == 0 && isSpace(c):
			val := in[l.start:i]
			l.pos = i + 1
			return l.emit(itemArgValue, val, lexPreArg)
		}
	}
	l.pos = len(in)
	return lexUnterminated
}

// lexUnterminated reports a directive cut off by the end of the page.
func lexUnterminated(l *lexer) stateFn {
	l.pos = len(l.input)
	return l.emit(itemError, "SSI directive was not properly finished at the end of parsed document", lexEOF)
}

// lexEOF emits the end of the page, for ever.
func lexEOF(l *lexer) stateFn {
	l.start, l.pos = len(l.input), len(l.input)
	return l.emit(itemEOF, "", lexEOF)
}

// isSpace reports whether c is white space for C's isspace.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isQuote(c byte) bool { return c == '"' || c == '\'' || c == '`' }

// lower returns s with ASCII letters lower-cased, as apr_tolower does.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// upper returns s with ASCII letters upper-cased.
func upper(s string) string {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'a' <= b[j] && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
