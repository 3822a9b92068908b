package ssi

import (
	"strings"

	"github.com/pwebs/pwebs/conf"
)

// Options is the [ssi] section of pwebs.conf. DefaultOptions returns it with
// every default filled in; Validate checks it once, when the configuration is
// loaded.
type Options struct {
	// Extensions lists the file name endings served as SSI pages.
	// The default is [".shtml"].
	Extensions []string `toml:"extensions"`
	// XBitHack also parses .html files whose user-execute bit is set, as
	// Apache's XBitHack on. The default is false. The server checks the bit;
	// this package only carries the option.
	XBitHack bool `toml:"xbithack"`
	// Exec allows <!--#exec cmd --> and <!--#exec cgi -->. The default is
	// false: both print the error message and log why.
	Exec bool `toml:"exec"`
	// ErrMsg is printed in place of a directive that fails. The default is
	// "[an error occurred while processing this directive]".
	ErrMsg string `toml:"errmsg"`
	// TimeFmt is the strftime format of DATE_LOCAL, DATE_GMT, LAST_MODIFIED
	// and flastmod. The default is "%A, %d-%b-%Y %H:%M:%S %Z".
	TimeFmt string `toml:"timefmt"`
	// SizeFmt is how fsize prints sizes: "abbrev" (the default, "1.1M") or
	// "bytes" ("1,153,434").
	SizeFmt string `toml:"sizefmt"`
	// UndefinedEcho is what echo prints for an undefined variable. The
	// default is "(none)".
	UndefinedEcho string `toml:"undefined_echo"`
	// MaxDepth bounds nested SSI pages (an included page that includes
	// another, and so on). The default is 16.
	MaxDepth int `toml:"max_depth"`
	// ExprSyntax selects the syntax of if and elif expressions: "legacy"
	// (the default, Apache's SSILegacyExprParser on) or "ap_expr" (Apache
	// 2.4's default).
	ExprSyntax string `toml:"expr_syntax"`
	// MaxOutput bounds the bytes one request's page writes, nested pages
	// and included output included. The default is 64MiB; past it the
	// rendering stops with ErrOutputLimit.
	MaxOutput conf.Size `toml:"max_output"`
	// MaxDirectives bounds the directives one request executes, nested pages
	// included. The default is 100000; past it the rendering stops with
	// ErrWorkLimit.
	MaxDirectives int `toml:"max_directives"`
	// MaxVarBytes bounds the bytes held by set variables (names and values)
	// during one request. The default is 1MiB; a set that would pass it
	// prints the error message.
	MaxVarBytes conf.Size `toml:"max_var_bytes"`
	// MaxRegexp bounds the length of a regular expression after variable
	// substitution. The default is 4KiB; a longer one is an error.
	MaxRegexp conf.Size `toml:"max_regexp"`
}

// Default values of Options.
const (
	DefaultErrMsg        = "[an error occurred while processing this directive]"
	DefaultTimeFmt       = "%A, %d-%b-%Y %H:%M:%S %Z"
	DefaultUndefinedEcho = "(none)"
	DefaultMaxDepth      = 16
	DefaultMaxOutput     = 64 << 20
	DefaultMaxDirectives = 100000
	DefaultMaxVarBytes   = 1 << 20
	DefaultMaxRegexp     = 4 << 10
)

// DefaultOptions returns Options with every default filled in.
func DefaultOptions() Options {
	return Options{
		Extensions:    []string{".shtml"},
		ErrMsg:        DefaultErrMsg,
		TimeFmt:       DefaultTimeFmt,
		SizeFmt:       "abbrev",
		UndefinedEcho: DefaultUndefinedEcho,
		MaxDepth:      DefaultMaxDepth,
		ExprSyntax:    "legacy",
		MaxOutput:     DefaultMaxOutput,
		MaxDirectives: DefaultMaxDirectives,
		MaxVarBytes:   DefaultMaxVarBytes,
		MaxRegexp:     DefaultMaxRegexp,
	}
}

// Validate reports every invalid key as a *conf.KeyError. It is meant to run
// once, when pwebs.conf is loaded.
func (o *Options) Validate() []error {
	var errs []error
	for i, e := range o.Extensions {
		if !strings.HasPrefix(e, ".") || len(e) < 2 || strings.ContainsAny(e, "/\\ \t") {
			errs = append(errs, conf.Errorf("extensions", "entry %d %q is not a file extension such as \".shtml\"", i, e))
		}
	}
	if o.SizeFmt != "abbrev" && o.SizeFmt != "bytes" {
		errs = append(errs, conf.Errorf("sizefmt", "%q is neither \"abbrev\" nor \"bytes\"", o.SizeFmt))
	}
	if o.ExprSyntax != "legacy" && o.ExprSyntax != "ap_expr" {
		errs = append(errs, conf.Errorf("expr_syntax", "%q is neither \"legacy\" nor \"ap_expr\"", o.ExprSyntax))
	}
	if o.TimeFmt == "" {
		errs = append(errs, conf.Errorf("timefmt", "must not be empty"))
	}
	if o.MaxDepth < 1 || o.MaxDepth > 1000 {
		errs = append(errs, conf.Errorf("max_depth", "%d is outside 1..1000", o.MaxDepth))
	}
	if o.MaxOutput < 1 {
		errs = append(errs, conf.Errorf("max_output", "must be positive"))
	}
	if o.MaxDirectives < 1 {
		errs = append(errs, conf.Errorf("max_directives", "must be positive"))
	}
	if o.MaxVarBytes < 1 {
		errs = append(errs, conf.Errorf("max_var_bytes", "must be positive"))
	}
	if o.MaxRegexp < 1 || o.MaxRegexp > 1<<20 {
		errs = append(errs, conf.Errorf("max_regexp", "%d is outside 1..1MiB", int64(o.MaxRegexp)))
	}
	return errs
}
