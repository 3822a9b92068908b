package serve

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files with the current output")

// TestConfigGolden loads each testdata/config case (the config, a "----"
// line, then "ok" or the expected problems) from a folder holding htdocs/
// and file.txt.
func TestConfigGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/config/*.txt")
	must(t, err)
	if len(files) == 0 {
		t.Fatal("no cases")
	}
	base := t.TempDir()
	must(t, os.Mkdir(filepath.Join(base, "htdocs"), 0o755))
	must(t, os.WriteFile(filepath.Join(base, "file.txt"), nil, 0o644))
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			must(t, err)
			input, want, ok := strings.Cut(string(data), "----\n")
			if !ok {
				t.Fatalf("%s has no ---- line", file)
			}
			got := "ok\n"
			if _, err := ParseConfig("pwebs.conf", base, []byte(input)); err != nil {
				got = strings.ReplaceAll(err.Error(), base, "BASE") + "\n"
			}
			if *update {
				must(t, os.WriteFile(file, []byte(input+"----\n"+got), 0o644))
				return
			}
			if got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := DefaultConfig()
	if c.MaxClients != 256 || c.HeaderTimeout.Seconds() != 10 || c.MaxHeaderBytes != 16<<10 || !c.Listing ||
		!reflect.DeepEqual(c.Listen, []string{"127.0.0.1:8080"}) || c.DocumentRoot != "htdocs" {
		t.Errorf("defaults differ from the documented ones: %+v", c)
	}
}

func TestConfigRelativePaths(t *testing.T) {
	base := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(base, "sites", "a"), 0o755))
	must(t, os.WriteFile(filepath.Join(base, "my.types"), []byte("text/x-thing thing\n"), 0o644))
	c, err := ParseConfig("pwebs.conf", base, []byte("document_root = \"sites/a\"\nmime_types = \"my.types\"\n"))
	must(t, err)
	if c.DocumentRoot != filepath.Join(base, "sites", "a") {
		t.Errorf("document_root %q not resolved against the config's folder", c.DocumentRoot)
	}
	if typ, ok := c.types.Lookup("x.THING"); !ok || typ != "text/x-thing; charset=utf-8" {
		t.Errorf("mime_types not read: %q %v", typ, ok)
	}
}

// TestShippedConfig checks the repository's pwebs.conf loads, and that
// it documents every key of Config and VHost.
func TestShippedConfig(t *testing.T) {
	path := filepath.Join("..", "pwebs.conf")
	c, err := LoadConfig(path, nil)
	if err != nil {
		t.Fatalf("shipped pwebs.conf: %v", err)
	}
	if !strings.HasSuffix(c.DocumentRoot, "htdocs") {
		t.Errorf("shipped document_root is %q", c.DocumentRoot)
	}
	text, err := os.ReadFile(path)
	must(t, err)
	var check func(typ reflect.Type, prefix string)
	check = func(typ reflect.Type, prefix string) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			tag := f.Tag.Get("toml")
			if tag == "" || tag == "-" {
				continue
			}
			ft := f.Type
			if ft.Kind() == reflect.Struct && ft.PkgPath() != "github.com/pwebs/pwebs/conf" {
				// A section: its header and each of its keys.
				if !strings.Contains(string(text), "["+tag+"]") {
					t.Errorf("pwebs.conf has no [%s] section", tag)
				}
				check(ft, tag+".")
				continue
			}
			keyRE := regexp.MustCompile(`(?m)^(# )?` + regexp.QuoteMeta(tag) + ` =`)
			if !keyRE.Match(text) && !strings.Contains(string(text), "[["+tag+"]]") && !strings.Contains(string(text), "["+prefix+tag+"]") {
				t.Errorf("pwebs.conf does not document %q", prefix+tag)
			}
		}
	}
	check(reflect.TypeOf(Config{}), "")
	check(reflect.TypeOf(VHost{}), "vhost.")
}

func TestConfigErrorType(t *testing.T) {
	_, err := ParseConfig("x.conf", t.TempDir(), []byte("bogus = 1\n"))
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || !strings.HasPrefix(ce.Problems[0], "x.conf:1: ") {
		t.Errorf("got %v", err)
	}
}

// FuzzConfig checks that no config text panics the loader, and that every
// error names the file.
func FuzzConfig(f *testing.F) {
	files, _ := filepath.Glob("testdata/config/*.txt")
	for _, file := range files {
		data, _ := os.ReadFile(file)
		input, _, _ := strings.Cut(string(data), "----\n")
		f.Add([]byte(input))
	}
	base := f.TempDir()
	os.Mkdir(filepath.Join(base, "htdocs"), 0o755)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ParseConfig("pwebs.conf", base, data)
		if err == nil {
			return
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(line, "pwebs.conf") {
				t.Fatalf("problem does not name the file: %q", line)
			}
		}
	})
}
