package serve

import (
	"strings"
	"testing"

	"github.com/pwebs/pwebs"
)

func TestParseTypes(t *testing.T) {
	types, err := ParseTypes("t", []byte("# comment\ntext/html html htm\nimage/png png\n\napplication/json json # trailing\ntext/x-a a\ntext/x-b a\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"index.html", "text/html; charset=utf-8", true},
		{"A.HTM", "text/html; charset=utf-8", true},
		{"x.png", "image/png", true},
		{"d.json", "application/json; charset=utf-8", true},
		{"later.a", "text/x-b; charset=utf-8", true},
		{"noext", "", false},
		{"dot.", "", false},
		{"a.tar.gz", "", false},
		{"dir.png/file", "", false},
	}
	for _, tt := range tests {
		got, ok := types.Lookup(tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	for _, bad := range []string{"nonsense png\n", "text/ html\n", "image/png a/b\n"} {
		if _, err := ParseTypes("bad", []byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "bad:1: ") {
			t.Errorf("%q: got %v, want an error at bad:1", bad, err)
		}
	}
}

func TestShippedMimeTypes(t *testing.T) {
	types, err := ParseTypes("mime.types", pwebs.MimeTypes)
	if err != nil {
		t.Fatal(err)
	}
	for _, ext := range strings.Fields("html css js mjs json xml txt svg png jpg gif webp avif ico woff2 pdf mp3 mp4 webm zip gz wasm") {
		if _, ok := types.Lookup("f." + ext); !ok {
			t.Errorf("the shipped mime.types lacks .%s", ext)
		}
	}
}

// FuzzParseTypes checks that no mime.types text panics the parser, and
// that every type it accepts looks up to a valid media type.
func FuzzParseTypes(f *testing.F) {
	f.Add(pwebs.MimeTypes)
	f.Add([]byte("text/html html\n# c\n\ttext/plain\ttxt  text\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		types, err := ParseTypes("f", data)
		if err != nil {
			return
		}
		for ext, typ := range types.byExt {
			if !validMediaType(strings.TrimSuffix(typ, "; charset=utf-8")) {
				t.Fatalf(".%s maps to %q", ext, typ)
			}
			if got, ok := types.Lookup("x." + ext); !ok || got != typ {
				t.Fatalf("Lookup(x.%s) = %q, %v; want %q", ext, got, ok, typ)
			}
		}
	})
}
