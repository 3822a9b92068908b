package ssi_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pwebs/pwebs/conf"
	"github.com/pwebs/pwebs/ssi"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata with the current output")

const sep = "\n----\n"

// goldenCase is one testdata/*.txt file: an optional "options:" line, the
// page, "----", the exact output, "----", the reported errors.
type goldenCase struct {
	path    string
	header  string
	opts    ssi.Options
	apache  bool // compare with a real Apache too
	input   string
	output  string
	errors  string
	present bool // the file had output and error sections
}

func readGolden(t testing.TB, path string) goldenCase {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := goldenCase{path: path, opts: ssi.DefaultOptions(), apache: true}
	s := string(b)
	if rest, ok := strings.CutPrefix(s, "options:"); ok {
		line, body, _ := strings.Cut(rest, "\n")
		c.header = "options:" + line + "\n"
		s = body
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			v, err := strconv.Unquote(v)
			if err != nil {
				v = kv[len(k)+1:]
			}
			switch k {
			case "exec":
				c.opts.Exec = v == "true"
			case "expr_syntax":
				c.opts.ExprSyntax = v
			case "errmsg":
				c.opts.ErrMsg = v
			case "timefmt":
				c.opts.TimeFmt = v
			case "sizefmt":
				c.opts.SizeFmt = v
			case "undefined_echo":
				c.opts.UndefinedEcho = v
			case "max_depth":
				c.opts.MaxDepth, _ = strconv.Atoi(v)
			case "max_output":
				n, _ := strconv.Atoi(v)
				c.opts.MaxOutput = confSize(n)
			case "max_var_bytes":
				n, _ := strconv.Atoi(v)
				c.opts.MaxVarBytes = confSize(n)
			case "apache":
				c.apache = v == "yes"
			default:
				t.Fatalf("%s: unknown option %q", path, k)
			}
		}
	}
	parts := strings.SplitN(s, sep, 3)
	c.input = parts[0]
	if len(parts) == 3 {
		c.output, c.errors, c.present = parts[1], strings.TrimSuffix(parts[2], "\n"), true
	}
	return c
}

// render runs a page through the fake host.
func render(c goldenCase) (out string, errs []string, rep ssi.Report, err error) {
	h := &fakeHost{opts: &c.opts, state: ssi.NewState(testNow, testZone), self: c.input}
	p := ssi.Parse("page.shtml", []byte(c.input))
	var b bytes.Buffer
	rep, err = p.Execute(&b, pageURI, h, &c.opts, h.state)
	return b.String(), h.errs, rep, err
}

func goldenFiles(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	return files
}

func TestGolden(t *testing.T) {
	for _, path := range goldenFiles(t) {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			c := readGolden(t, path)
			out, errs, _, err := render(c)
			if err != nil {
				errs = append(errs, "Execute: "+err.Error())
			}
			gotErrs := strings.Join(errs, "\n")
			if *update {
				data := c.header + c.input + sep + out + sep + gotErrs + "\n"
				if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !c.present {
				t.Fatalf("%s has no expected output; run go test -update", path)
			}
			if out != c.output {
				t.Errorf("output:\ngot  %q\nwant %q", out, c.output)
			}
			if gotErrs != c.errors {
				t.Errorf("errors:\ngot  %q\nwant %q", gotErrs, c.errors)
			}
		})
	}
}

func confSize(n int) conf.Size { return conf.Size(n) }
