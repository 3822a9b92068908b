package serve

import (
	"regexp"
	"testing"
)

// chunkExtRE is RFC 9112's chunk-ext, over bytes read as Latin-1 runes.
var chunkExtRE = regexp.MustCompile("^(?:[ \t]*;[ \t]*" + tokenRE + "(?:[ \t]*=[ \t]*(?:" + tokenRE + "|" + quotedRE + "))?)*[ \t]*$")

const (
	tokenRE  = "[!#$%&'*+.^_`|~0-9A-Za-z-]+"
	quotedRE = `"(?:[\t \x21\x23-\x5b\x5d-\x7e\x{80}-\x{ff}]|\\[\t \x21-\x7e\x{80}-\x{ff}])*"`
)

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

func TestValidChunkExt(t *testing.T) {
	tests := []struct {
		ext  string
		want bool
	}{
		{"", true},
		{" ", true},
		{";a", true},
		{" ; a = b ; c", true},
		{`;a="x y \" z"`, true},
		{";a=\"\xe9\"", true},
		{";", false},
		{"x", false},
		{";a=", false},
		{`;a="open`, false},
		{";a=b\rc", false},
		{";\x00", false},
		{`;a="\` + "\x01\"", false},
		{";a b", false},
	}
	for _, tt := range tests {
		if got := validChunkExt([]byte(tt.ext)); got != tt.want {
			t.Errorf("validChunkExt(%q) = %v, want %v", tt.ext, got, tt.want)
		}
		if got := chunkExtRE.MatchString(latin1([]byte(tt.ext))); got != tt.want {
			t.Errorf("the reference grammar says %v for %q", got, tt.ext)
		}
	}
}

func TestValidTrailer(t *testing.T) {
	for line, want := range map[string]bool{
		"X: a b":     true,
		"X:":         true,
		"X-Y:\t\xe9": true,
		": a":        false,
		"X a":        false,
		" X: a":      false,
		"X: a\rb":    false,
		"X: \x00":    false,
		"X : a":      false,
		"X: a\x7fb":  false,
	} {
		if got := validTrailer([]byte(line)); got != want {
			t.Errorf("validTrailer(%q) = %v, want %v", line, got, want)
		}
	}
}

// FuzzChunkExt checks the chunk extension check against the grammar.
func FuzzChunkExt(f *testing.F) {
	for _, s := range []string{"", ";a", " ; a = \"b\\\"c\" ;d=e", ";a=\"", "\r", ";a=b\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, ext []byte) {
		if got, want := validChunkExt(ext), chunkExtRE.MatchString(latin1(ext)); got != want {
			t.Errorf("validChunkExt(%q) = %v, the grammar says %v", ext, got, want)
		}
	})
}
