package logging

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports enforces the package's dependency rule: it never imports
// another pwebs package than conf and internal/strftime, which import only
// the standard library (serve imports logging, not the other way), nor
// net/http (only serve speaks HTTP); its non-test files import nothing but
// the standard library, conf, internal/strftime, x/sys, lumberjack and
// klauspost/compress's gzip.
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files: %v", err)
	}
	forbidden := []string{
		"github.com/pwebs/pwebs/serve",
		"github.com/pwebs/pwebs/cache",
		"github.com/pwebs/pwebs/cgi",
		"github.com/pwebs/pwebs/ssi",
		"github.com/pwebs/pwebs/cmd",
		"net/http",
	}
	allowed := []string{
		"github.com/pwebs/pwebs/conf",
		"github.com/pwebs/pwebs/internal/strftime",
		"golang.org/x/sys/",
		"gopkg.in/natefinch/lumberjack.v2",
		"github.com/klauspost/compress/gzip",
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if path == bad || strings.HasPrefix(path, bad+"/") {
					t.Errorf("%s imports %q, which logging must not import", name, path)
				}
			}
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			std := !strings.Contains(strings.Split(path, "/")[0], ".")
			ok := std
			for _, a := range allowed {
				ok = ok || path == a || strings.HasPrefix(path, a)
			}
			if !ok {
				t.Errorf("%s imports %q: logging's code may import only the standard library, conf, internal/strftime, x/sys, lumberjack and klauspost/compress/gzip", name, path)
			}
		}
	}
}
