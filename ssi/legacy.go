package ssi

import (
	"errors"
	"fmt"
	"strings"
)

// The classic expression syntax, as Apache's SSILegacyExprParser reads it.
// The tokenizer and the tree builder reproduce mod_include's, including its
// quirks: adjacent strings join with one space, a backslash escapes any
// character (so /a\.b/ is the pattern "a.b"), an unterminated quote is the
// empty string, && and || have equal precedence and group to the right, and
// both sides of && and || are evaluated. Variables are substituted when the
// expression is evaluated, not when it is parsed.

// ltok is a legacy token type.
type ltok int

const (
	lString ltok = iota
	lRegex
	lAnd
	lOr
	lNot
	lEq
	lNe
	lRBrace
	lLBrace
	lGroup
	lGe
	lLe
	lGt
	lLt
)

// lnode is a node of a legacy expression tree.
type lnode struct {
	typ                 ltok
	val                 string
	left, right, parent *lnode
	join                *strings.Builder // adjacent strings, while parsing
}

// maxExprTokens bounds the tokens of one expression, and so the depth of
// its tree.
const maxExprTokens = 4096

var errInvalidExpr = errors.New("invalid expression")

// lexLegacy returns the next token of s and the rest of s; ok is false at
// the end.
func lexLegacy(s string) (t lnode, rest string, ok bool) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	if i == len(s) {
		return t, "", false
	}
	c := s[i]
	i++
	next := func(b byte) bool { return i < len(s) && s[i] == b }
	var unmatched byte
	t.typ = lString
	switch c {
	case '(':
		t.typ = lLBrace
		return t, s[i:], true
	case ')':
		t.typ = lRBrace
		return t, s[i:], true
	case '=':
		t.typ = lEq
		if next('=') { // "==" is "=", as in Apache's lexer
			i++
		}
		return t, s[i:], true
	case '!':
		if next('=') {
			t.typ = lNe
			return t, s[i+1:], true
		}
		t.typ = lNot
		return t, s[i:], true
	case '\'':
		unmatched = '\''
	case '/':
		t.typ = lRegex
		unmatched = '/'
	case '|':
		if next('|') {
			t.typ = lOr
			return t, s[i+1:], true
		}
	case '&':
		if next('&') {
			t.typ = lAnd
			return t, s[i+1:], true
		}
	case '>':
		if next('=') {
			t.typ = lGe
			return t, s[i+1:], true
		}
		t.typ = lGt
		return t, s[i:], true
	case '<':
		if next('=') {
			t.typ = lLe
			return t, s[i+1:], true
		}
		t.typ = lLt
		return t, s[i:], true
	}
	// A string or a pattern: it starts after the quote, or at c.
	start := i
	if unmatched == 0 {
		start = i - 1
	}
	var b strings.Builder
	j := start
	end := -1
scan:
	for ; j < len(s); j++ {
		switch d := s[j]; {
		case d == '\\':
			if j+1 == len(s) {
				b.WriteByte('\\')
				j++
				end = j
				break scan
			}
			j++
			b.WriteByte(s[j])
			continue
		case unmatched != 0:
			if d == unmatched {
				unmatched = 0
				end = j
				j++
				break scan
			}
		case isSpace(d):
			end = j
			break scan
		case d == '(' || d == ')' || d == '=' || d == '!' || d == '<' || d == '>':
			end = j
			break scan
		case (d == '|' || d == '&') && j+1 < len(s) && s[j+1] == d:
			end = j
			break scan
		}
		b.WriteByte(s[j])
	}
	_ = end
	if unmatched != 0 {
		t.val = ""
	} else {
		t.val = b.String()
	}
	return t, s[j:], true
}

// parseLegacy builds the tree of a legacy expression the way mod_include
// does. An empty expression yields a nil tree, which is false.
func parseLegacy(expr string) (*lnode, error) {
	var root, current *lnode
	var joined []*lnode
	defer func() {
		for _, n := range joined {
			n.val, n.join = n.join.String(), nil
		}
	}()
	rest := expr
	for count := 0; ; count++ {
		tok, r, ok := lexLegacy(rest)
		if !ok {
			break
		}
		if count == maxExprTokens {
			return nil, fmt.Errorf("expression has more than %d tokens", maxExprTokens)
		}
		rest = r
		n := &lnode{typ: tok.typ, val: tok.val}
		switch n.typ {
		case lString:
			if current == nil {
				root, current = n, n
				break
			}
			switch current.typ {
			case lString:
				if current.join == nil {
					current.join = &strings.Builder{}
					current.join.WriteString(current.val)
					joined = append(joined, current)
				}
				if current.join.Len() > 0 {
					current.join.WriteByte(' ')
				}
				current.join.WriteString(n.val)
			case lEq, lNe, lAnd, lOr, lLBrace, lNot, lGe, lGt, lLe, lLt:
				n.parent = current
				current.right = n
				current = n
			default:
				return nil, errInvalidExpr
			}
		case lRegex:
			if current == nil {
				root, current = n, n
				break
			}
			switch current.typ {
			case lEq, lNe, lAnd, lOr, lLBrace, lNot:
				n.parent = current
				current.right = n
				current = n
			default:
				return nil, errInvalidExpr
			}
		case lAnd, lOr:
			if current == nil {
				return nil, errInvalidExpr
			}
			// Climb over operands and tighter operators; stop below the
			// nearest (, && or ||, which makes && and || group right.
		climbAndOr:
			for current != nil {
				switch current.typ {
				case lString, lRegex, lGroup, lNot, lEq, lNe, lGe, lGt, lLe, lLt:
					current = current.parent
				case lLBrace, lAnd, lOr:
					break climbAndOr
				default:
					return nil, errInvalidExpr
				}
			}
			root, current = graft(root, current, n), n
		case lNot, lLBrace:
			if current == nil {
				root, current = n, n
				break
			}
			switch current.typ {
			case lString, lRegex, lRBrace, lGroup:
				return nil, errInvalidExpr
			}
			current.right = n
			n.parent = current
			current = n
		case lEq, lNe, lGe, lGt, lLe, lLt:
			if current == nil {
				return nil, errInvalidExpr
			}
		climbCmp:
			for current != nil {
				switch current.typ {
				case lString, lRegex, lGroup:
					current = current.parent
				case lLBrace, lAnd, lOr:
					break climbCmp
				default:
					return nil, errInvalidExpr
				}
			}
			root, current = graft(root, current, n), n
		case lRBrace:
			for current != nil && current.typ != lLBrace {
				current = current.parent
			}
			if current == nil {
				return nil, errors.New("unmatched ')'")
			}
			current.typ = lGroup
		}
	}
	return root, nil
}

// graft makes the binary operator n take over current's right operand (or
// the whole tree when current is nil) as its left operand, and returns the
// new root.
func graft(root, current, n *lnode) *lnode {
	if current == nil {
		n.left = root
		root.parent = n
		return n
	}
	n.left = current.right
	if n.left != nil {
		n.left.parent = n
	}
	current.right = n
	n.parent = current
	return root
}

// evalLegacy evaluates a legacy tree. expand substitutes variables in a
// string; match runs a pattern and records its back-references.
func evalLegacy(n *lnode, expand func(string) string, match func(s, re string) (bool, error)) (bool, error) {
	if n == nil {
		return false, nil
	}
	switch n.typ {
	case lString:
		return expand(n.val) != "", nil
	case lRegex:
		return false, errors.New("no operator before regex")
	case lAnd, lOr:
		if n.left == nil || n.right == nil {
			return false, errInvalidExpr
		}
		// Apache evaluates both sides: a pattern on the right still sets
		// the back-references.
		l, err := evalLegacy(n.left, expand, match)
		if err != nil {
			return false, err
		}
		r, err := evalLegacy(n.right, expand, match)
		if err != nil {
			return false, err
		}
		if n.typ == lAnd {
			return l && r, nil
		}
		return l || r, nil
	case lEq, lNe:
		if n.left == nil || n.right == nil || n.left.typ != lString ||
			(n.right.typ != lString && n.right.typ != lRegex) {
			return false, errInvalidExpr
		}
		l, r := expand(n.left.val), expand(n.right.val)
		var v bool
		if n.right.typ == lRegex {
			m, err := match(l, r)
			if err != nil {
				return false, err
			}
			v = m
		} else {
			v = l == r
		}
		if n.typ == lNe {
			v = !v
		}
		return v, nil
	case lGe, lGt, lLe, lLt:
		if n.left == nil || n.right == nil || n.left.typ != lString || n.right.typ != lString {
			return false, errInvalidExpr
		}
		c := strings.Compare(expand(n.left.val), expand(n.right.val))
		switch n.typ {
		case lGe:
			return c >= 0, nil
		case lGt:
			return c > 0, nil
		case lLe:
			return c <= 0, nil
		}
		return c < 0, nil
	case lNot:
		if n.right == nil {
			return false, nil
		}
		v, err := evalLegacy(n.right, expand, match)
		return !v, err
	case lGroup:
		if n.right == nil {
			return true, nil
		}
		return evalLegacy(n.right, expand, match)
	case lLBrace:
		return false, errors.New("unmatched '('")
	}
	return false, errInvalidExpr
}
