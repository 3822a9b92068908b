package cache

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports enforces the leaves rule: cache imports only the standard
// library (but no net/http), golang-lru, fsnotify, klauspost/compress, x/sys
// and conf; never serve, cgi, ssi or logging. Test files may also use the
// test helper internal/syncbuf.
func TestImports(t *testing.T) {
	allowed := []string{
		"github.com/hashicorp/golang-lru/v2",
		"github.com/fsnotify/fsnotify",
		"github.com/klauspost/compress",
		"golang.org/x/sys",
		"github.com/pwebs/pwebs/conf",
	}
	forbidden := []string{"net/http", "github.com/pwebs/pwebs/serve", "github.com/pwebs/pwebs/cgi",
		"github.com/pwebs/pwebs/ssi", "github.com/pwebs/pwebs/logging"}
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files found: %v", err)
	}
	under := func(p, prefix string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }
	for _, f := range files {
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			for _, bad := range forbidden {
				if under(p, bad) {
					t.Errorf("%s imports %s, which cache must not", f, p)
				}
			}
			std := !strings.Contains(strings.Split(p, "/")[0], ".")
			ok := std
			for _, a := range allowed {
				ok = ok || under(p, a)
			}
			ok = ok || strings.HasSuffix(f, "_test.go") && p == "github.com/pwebs/pwebs/internal/syncbuf"
			if !ok {
				t.Errorf("%s imports %s, which is not on cache's list", f, p)
			}
		}
	}
}
