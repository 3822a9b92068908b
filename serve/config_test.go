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
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "htdocs"), 0o755))
	_, err := ParseConfig("x.conf", dir, []byte("bogus = 1\n"))
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

// TestConfigEveryProblem checks that a config reports every problem it
// can, not only the first value go-toml cannot decode: the type errors of
// several keys, unknown keys and the validation of the keys that decoded,
// each with its line, in the order of the lines. A problem with an element
// of a list names the element's line.
func TestConfigEveryProblem(t *testing.T) {
	base := t.TempDir()
	must(t, os.Mkdir(filepath.Join(base, "htdocs"), 0o755))
	tests := []struct {
		name, in string
		want     []string
	}{
		{"type error after others", "document_root = \"htdocs\"\nmax_clients = 0\nbogus = 1\nlisting = 1\n", []string{
			`p.conf:2: key "max_clients": must be at least 1, not 0`,
			`p.conf:3: key "bogus": unknown key`,
			`p.conf:4: key "listing": want true or false, not an integer`,
		}},
		{"several type errors", "max_clients = \"x\"\nlisten_backlog = true\nheader_timeout = 5\n[cache]\nenabled = 3\nmax_size = 1.5\n" +
			"[log]\nkeep = \"x\"\nbogus = 2\nlevel = \"loud\"\n[[vhost]]\nnames = 1\ndocument_root = \"nope\"\n[[vhost]]\nnames = [\"a\",\n 2]\ndocument_root = 7\n", []string{
			`p.conf:1: key "max_clients": want an integer, not a string`,
			`p.conf:2: key "listen_backlog": want an integer, not a boolean`,
			`p.conf:3: key "header_timeout": want a duration string such as "10s", not an integer`,
			`p.conf:5: key "cache.enabled": want true or false, not an integer`,
			`p.conf:6: key "cache.max_size": want a size such as "64MiB", not a number`,
			`p.conf:8: key "log.keep": want an integer, not a string`,
			`p.conf:9: key "log.bogus": unknown key`,
			`p.conf:10: key "log.level": `,
			`p.conf:12: key "vhost[0].names": want a list of strings, not an integer`,
			`p.conf:13: key "vhost[0].document_root": BASE/nope: no such file or directory`,
			`p.conf:16: key "vhost[1].names[1]": want a string, not an integer`,
			`p.conf:17: key "vhost[1].document_root": want a string, not an integer`,
		}},
		{"list element", "[cgi]\n\n\n\nextensions = [\".cgi\", \"cgi\"]\n", []string{
			`p.conf:5: key "cgi.extensions[1]": extension "cgi" must be`,
		}},
		{"list element on its own line", "document_root = \"htdocs\"\nindex = [\n  \"index.html\",\n  \"../up.html\",\n]\n", []string{
			`p.conf:4: key "index": "../up.html" is not a plain file name`,
		}},
		{"errors inside inline tables and lists name their own key", "expires = { \"image/*\" = \"1d\", \"text/css\" = \"soon\" }\n" +
			"redirects = [{ from = \"/z\", to = \"/y\" }, { from = \"/a\", to = \"/b\", status = \"301\" }]\n" +
			"auth = { prefix = \"/p\" }\n[error_pages]\n500 = 7\n[[vhost]]\nnames = [\"a\"]\ndocument_root = \"htdocs\"\nredirects = [{ from = \"/a\", to = \"/b\", staus = 301 }]\n", []string{
			`p.conf:1: key "expires.text/css": invalid duration "soon"`,
			`p.conf:2: key "redirects[1].status": want an integer, not a string`,
			`p.conf:3: key "auth": want a list of tables, [{ ... }], not an inline table`,
			`p.conf:5: key "error_pages.500": want a string, not an integer`,
			`p.conf:9: key "vhost[0].redirects[0].staus": unknown key`,
		}},
		{"validation in line order", "[log]\nlevel = \"loud\"\n\n[cgi]\ntimeout = \"0s\"\n[ssi]\nmax_depth = 0\n", []string{
			`p.conf:2: key "log.level": `,
			`p.conf:5: key "cgi.timeout": `,
			`p.conf:7: key "ssi.max_depth": `,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("p.conf", base, []byte(tt.in))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *ConfigError", err)
			}
			got := strings.ReplaceAll(err.Error(), base, "BASE")
			lines := strings.Split(got, "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("got:\n%s\nwant %d problems:\n%s", got, len(tt.want), strings.Join(tt.want, "\n"))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("problem %d: got %q, want %q", i+1, lines[i], w)
				}
			}
		})
	}
}

// TestConfigRootAccount checks that a user or group that is root is
// refused on the line of the key at fault.
func TestConfigRootAccount(t *testing.T) {
	base := t.TempDir()
	must(t, os.Mkdir(filepath.Join(base, "htdocs"), 0o755))
	tests := []struct{ in, want string }{
		{"document_root = \"htdocs\"\nuser = \"root\"\n", `p.conf:2: key "user": "root" is root`},
		{"user = \"nobody\"\ngroup = \"root\"\n", `p.conf:2: key "group": "root" is root's group`},
	}
	for _, tt := range tests {
		_, err := ParseConfig("p.conf", base, []byte(tt.in))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: got %v, want %q alone", tt.in, err, tt.want)
		}
	}
}

// TestConfigFromFlag checks that a bad value given by a command-line flag
// is blamed on the flag, not on the line of the file that it overrides.
func TestConfigFromFlag(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "htdocs"), 0o755))
	path := filepath.Join(dir, "pwebs.conf")
	must(t, os.WriteFile(path, []byte("# pwebs\nlisten = [\"127.0.0.1:8080\"]\ndocument_root = \"htdocs\"\nmax_clients = 0\n"), 0o644))
	_, err := LoadConfig(path, func(c *Config) {
		c.DocumentRoot = "/nonexistent-pwebs"
		c.FromFlag("document_root", "-root")
		c.Listen = []string{"8080"}
		c.FromFlag("listen", "-listen")
	})
	want := []string{
		"flag -listen: address \"8080\": missing port (write host:port)",
		"flag -root: /nonexistent-pwebs: no such file or directory",
		path + ":4: key \"max_clients\": must be at least 1, not 0",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("got:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

// TestVHostNameTrailingDot checks that a vhost name written with the
// trailing dot of a fully qualified name, or in capitals, matches as the
// Host header does.
func TestVHostNameTrailingDot(t *testing.T) {
	ts := startServerWith(t, "[[vhost]]\nnames = [\"Other.Example.\"]\ndocument_root = \"sites/other\"\n", map[string]string{
		"htdocs/index.html":      "main",
		"sites/other/index.html": "other",
	})
	for _, host := range []string{"other.example", "Other.Example.", "OTHER.EXAMPLE:8080"} {
		if resp, body := ts.get("/", "Host", host); resp.StatusCode != 200 || body != "other" {
			t.Errorf("Host %s: got %d %q, want 200 \"other\"", host, resp.StatusCode, body)
		}
	}
}

// TestConfigDecodeErrorsBounded checks that a file full of values that
// cannot be decoded reports maxDecodeErrors of them and says it stopped:
// each one costs decoding the whole file again.
func TestConfigDecodeErrorsBounded(t *testing.T) {
	in := strings.Repeat("[[vhost]]\nnames = 1\n", 4*maxDecodeErrors)
	_, err := ParseConfig("p.conf", t.TempDir(), []byte(in))
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != maxDecodeErrors+1 {
		t.Fatalf("got %v, want %d problems", err, maxDecodeErrors+1)
	}
	if got, want := ce.Problems[maxDecodeErrors], "p.conf: more than 50 values could not be decoded"; !strings.HasPrefix(got, want) {
		t.Errorf("last problem: got %q, want %q", got, want)
	}
}
