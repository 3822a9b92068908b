package cgi

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports enforces the package's dependency rules: the standard library
// but net/http, golang.org/x/sys, and conf; never serve, cache, ssi or
// logging.
func TestImports(t *testing.T) {
	forbidden := []string{
		"net/http",
		"github.com/pwebs/pwebs/serve", "github.com/pwebs/pwebs/cache",
		"github.com/pwebs/pwebs/ssi", "github.com/pwebs/pwebs/logging",
	}
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files: %v", err)
	}
	checked := 0
	for _, name := range files {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			checked++
			for _, bad := range forbidden {
				if path == bad || strings.HasPrefix(path, bad+"/") {
					t.Errorf("%s imports %s", name, path)
				}
			}
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			std := !strings.Contains(strings.Split(path, "/")[0], ".")
			if !std && path != "github.com/pwebs/pwebs/conf" && !strings.HasPrefix(path, "golang.org/x/sys/") {
				t.Errorf("%s imports %s: only the standard library, golang.org/x/sys and conf are allowed", name, path)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no imports checked")
	}
}
