// Package ssi implements Server Side Includes as Apache httpd 2.4's
// mod_include does: a parser that turns a page into a list of text and
// directive nodes with line numbers, an evaluator that streams the page's
// output and asks a Host for variables, files and virtual includes, and a
// static checker for the people who write pages.
//
// The package is pure. It must not import net/http, os, os/exec, nor any
// other pwebs package but conf and internal/strftime (which formats timefmt
// dates): it never opens a file, runs a command or speaks HTTP. Everything outside the page goes through the Host interface,
// which the server implements, so the parser and the evaluator can be tested
// and fuzzed with plain strings. A test enforces the import rule.
//
// # Compatibility
//
// The parser follows mod_include's state machine byte for byte: directive
// and attribute names are case-insensitive, values may be quoted with ", '
// or a backtick (a backslash escapes only the quote), a value may be left
// unquoted (it then ends at white space), "<!--#printenv-->" needs no space
// before "-->", and an unterminated directive at the end of the page prints
// the error message. The classic expression syntax (Apache's
// SSILegacyExprParser) is the default; the common part of Apache 2.4's
// ap_expr syntax is available with Options.ExprSyntax = "ap_expr".
//
// Where pwebs deliberately differs from Apache:
//
//   - A page that includes itself, directly or not, prints the error
//     message at the include; Apache 2.4 has no such check and nests the
//     page ten times before its subrequest limit stops it.
//   - A malformed directive inside a false if branch is skipped; in Apache
//     it leaves an error flag set that silently drops the rest of the page.
//   - include file refuses any ".." element; Apache allows those that stay
//     below the page's folder.
//   - Regular expressions are Go's (RE2), not PCRE: see the README of
//     regexp/syntax. Back-references inside a pattern (\1), look-around
//     ((?=...), (?<=...)), possessive quantifiers and atomic groups are
//     refused as errors; \Z, \z and \A behave as in PCRE; POSIX classes
//     ([[:alpha:]]) work. A page that relies on those PCRE-only forms gets
//     the error message instead of a match. In exchange no pattern can take
//     more than linear time.
//   - Work and output are bounded (Options.MaxOutput, MaxDirectives,
//     MaxVarBytes, MaxRegexp, MaxDepth); Apache has no such bounds.
package ssi
