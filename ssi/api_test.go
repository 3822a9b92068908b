package ssi_test

import (
	"bytes"
	"errors"
	"go/build"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/pwebs/pwebs/conf"
	"github.com/pwebs/pwebs/ssi"
)

// TestImports fails if the package (tests aside) imports what it must not:
// ssi is pure, and leaves never import each other or serve. Of pwebs's own
// packages it may import conf and internal/strftime, which import only the
// standard library.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{"net/http", "os", "os/exec", "net", "syscall", "unsafe",
		"github.com/pwebs/pwebs/serve", "github.com/pwebs/pwebs/cache",
		"github.com/pwebs/pwebs/cgi", "github.com/pwebs/pwebs/logging"}
	for _, imp := range pkg.Imports {
		for _, f := range forbidden {
			if imp == f {
				t.Errorf("package ssi imports %q", imp)
			}
		}
		if strings.HasPrefix(imp, "github.com/pwebs/pwebs/") && imp != "github.com/pwebs/pwebs/conf" &&
			imp != "github.com/pwebs/pwebs/internal/strftime" {
			t.Errorf("package ssi imports %q; only conf and internal/strftime are allowed", imp)
		}
	}
}

// TestCheck runs Check on a page with ten different mistakes.
func TestCheck(t *testing.T) {
	src := strings.Join([]string{
		`<html>`,                                  // 1
		`<!--#ech var="x" -->`,                    // 2 unknown directive
		`<!--#echo vr="DOCUMENT_NAME" -->`,        // 3 unknown attribute
		`<!--#include file="missing.html" -->`,    // 4 missing file
		`<!--#if expr="a = b = c" -->`,            // 5 bad expression
		`<!--#exec cmd="ls" -->`,                  // 6 exec while off
		`<!--#else --><!--#else -->`,              // 7 second else
		`<!--#config sizefmt="big" -->`,           // 8 bad sizefmt
		`<!--#echo encoding="rot13" var="x" -->`,  // 9 bad encoding
		`<!--#endif --><!--#endif -->`,            // 10 endif without if
		`<!--#echo "DOCUMENT_NAME" -->`,           // 11 value without a name
		`<!--#include virtual="/dir/inc.txt" -->`, // fine
		`</html>`,
	}, "\n")
	p := ssi.Parse("site/page.shtml", []byte(src))
	o := ssi.DefaultOptions()
	got := ssi.Check(p, pageURI, &o, &fakeHost{})
	want := []string{
		`site/page.shtml:2: unknown directive "ech"`,
		`site/page.shtml:3: unknown attribute "vr" for echo`,
		`site/page.shtml:4: file "missing.html" of include not found: not found: file does not exist`,
		`site/page.shtml:5: bad expression "a = b = c": invalid expression`,
		`site/page.shtml:6: exec is not allowed (exec = false in [ssi])`,
		`site/page.shtml:7: second else for the if on line 5`,
		`site/page.shtml:8: sizefmt "big" is neither "bytes" nor "abbrev"`,
		`site/page.shtml:9: unknown value "rot13" to parameter "encoding"`,
		`site/page.shtml:10: endif without if`,
		`site/page.shtml:11: missing argument name for value to tag echo`,
	}
	var lines []string
	for _, pr := range got {
		lines = append(lines, pr.String())
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("Check:\ngot  %q\nwant %q", lines, want)
	}
}

// TestCheckMore covers the checks the ten-mistake page does not.
func TestCheckMore(t *testing.T) {
	tests := []struct{ src, want string }{
		{`<!--#if expr="a" -->`, `p:1: if without endif`},
		{`<!--#elif expr="a" -->`, `p:1: elif without if`},
		{"<!--#else -->", `p:1: else without if`},
		{`<!--#if expr="a" --><!--#else --><!--#elif expr="b" --><!--#endif -->`, `p:1: elif after else (the if opened on line 1)`},
		{`<!--#echo var -->`, `p:1: attribute "var" of echo has no value; Apache stops reading the directive there`},
		{`<!--#printenv x="1" -->`, `p:1: printenv takes no attributes`},
		{`<!--#if expr="a = /(/" --><!--#endif -->`, "p:1: bad expression \"a = /(/\": regular expression /(/ does not compile: error parsing regexp: missing closing ): `(`"},
		{`<!--#include file="../x" -->`, `p:1: unable to access file "../x": ".." is not allowed`},
		{`<!--#include virtual="/nope?x=1" -->`, `p:1: virtual "/nope?x=1" of include not found: not found: file does not exist`},
		{`<!--#include virtual="$x" -->`, ``},
		{`<!--#echo var="x"`, `p:1: SSI directive was not properly finished at the end of parsed document`},
		{`<!--#if -->`, "p:1: if needs exactly one attribute, expr=\"...\"\np:1: if without endif"},
		{`<!--#set -->`, `p:1: set needs attributes`},
	}
	o := ssi.DefaultOptions()
	for _, tt := range tests {
		var lines []string
		for _, pr := range ssi.Check(ssi.Parse("p", []byte(tt.src)), pageURI, &o, &fakeHost{}) {
			lines = append(lines, pr.String())
		}
		if got := strings.Join(lines, "\n"); got != tt.want {
			t.Errorf("Check(%q):\ngot  %q\nwant %q", tt.src, got, tt.want)
		}
	}
	ap := ssi.DefaultOptions()
	ap.ExprSyntax = "ap_expr"
	pr := ssi.Check(ssi.Parse("p", []byte(`<!--#if expr="a = b" --><!--#endif -->`)), pageURI, &ap, nil)
	if len(pr) != 1 || !strings.Contains(pr[0].Msg, "bad expression") {
		t.Errorf("Check with ap_expr: got %q, want one bad expression", pr)
	}
}

// TestReport checks what makes output cacheable.
func TestReport(t *testing.T) {
	tests := []struct {
		src       string
		cacheable bool
		includes  string
	}{
		{`plain <!--#set var="a" value="b" --><!--#echo var="a" -->`, true, ""},
		{`<!--#echo var="DOCUMENT_NAME" --><!--#echo var="LAST_MODIFIED" -->`, true, ""},
		{`<!--#include file="inc.txt" --><!--#fsize file="amp.txt" -->`, true, "/dir/inc.txt,/dir/amp.txt"},
		{`<!--#include virtual="/top.txt" -->`, true, "/top.txt"},
		{`<!--#include virtual="nested.shtml" -->`, true, "/dir/nested.shtml,/dir/inc.txt"},
		{`<!--#echo var="DATE_LOCAL" -->`, false, ""},
		{`<!--#echo var="DATE_GMT" -->`, false, ""},
		{`<!--#echo var="QUERY_STRING" -->`, false, ""},
		{`<!--#echo var="NOT_SET" -->`, false, ""},
		{`<!--#printenv -->`, false, ""},
		{`<!--#include virtual="/cgi-bin/hello.cgi" -->`, false, "/cgi-bin/hello.cgi"},
		{`<!--#exec cmd="echo x" -->`, false, ""},
		{`<!--#bogus -->`, false, ""},
		{`<!--#if expr="$HTTP_HOST" -->x<!--#endif -->`, false, ""},
	}
	for _, tt := range tests {
		o := ssi.DefaultOptions()
		o.Exec = true
		h := &fakeHost{opts: &o, state: ssi.NewState(testNow, testZone)}
		r, err := ssi.Parse("p", []byte(tt.src)).Execute(io.Discard, pageURI, h, &o, h.state)
		if err != nil {
			t.Fatal(err)
		}
		if r.Cacheable != tt.cacheable || strings.Join(r.Includes, ",") != tt.includes {
			t.Errorf("%q: got cacheable %v (%s), includes %q; want %v, %q", tt.src, r.Cacheable, r.Reason, r.Includes, tt.cacheable, tt.includes)
		}
	}
}

// TestDeps checks that files confirmed by the Host reach the report.
func TestDeps(t *testing.T) {
	o := ssi.DefaultOptions()
	h := &fakeHost{opts: &o, state: ssi.NewState(testNow, testZone)}
	r, _ := ssi.Parse("p", []byte(`<!--#include virtual="nested.shtml" --><!--#include file="amp.txt" -->`)).Execute(io.Discard, pageURI, h, &o, h.state)
	if got := strings.Join(r.Deps, ","); got != "/dir/inc.txt,/dir/amp.txt" {
		t.Errorf("Deps = %q, want %q", got, "/dir/inc.txt,/dir/amp.txt")
	}
}

// TestConcurrentExecute executes one cached Page from many goroutines.
func TestConcurrentExecute(t *testing.T) {
	p := ssi.Parse("p", []byte(`<!--#set var="x" value="$DOCUMENT_NAME" --><!--#if expr="$x = /(p)age/" --><!--#echo var="1" --><!--#endif --><!--#include file="inc.txt" -->`))
	o := ssi.DefaultOptions()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				h := &fakeHost{opts: &o, state: ssi.NewState(testNow, testZone)}
				var b bytes.Buffer
				if _, err := p.Execute(&b, pageURI, h, &o, h.state); err != nil {
					t.Error(err)
					return
				}
				if got := b.String(); got != "pincluded text\n" {
					t.Errorf("got %q, want %q", got, "pincluded text\n")
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestWriteError stops the rendering at the first failed write.
func TestWriteError(t *testing.T) {
	o := ssi.DefaultOptions()
	h := &fakeHost{opts: &o, state: ssi.NewState(testNow, testZone)}
	w := &failWriter{after: 1}
	_, err := ssi.Parse("p", []byte(`a<!--#echo var="DOCUMENT_NAME" -->b<!--#include file="inc.txt" -->`)).Execute(w, pageURI, h, &o, h.state)
	if !errors.Is(err, errShort) {
		t.Errorf("Execute error = %v, want %v", err, errShort)
	}
	if w.writes != 2 {
		t.Errorf("%d writes, want 2 (stop after the first failure)", w.writes)
	}
}

var errShort = errors.New("client gone")

type failWriter struct{ after, writes int }

func (f *failWriter) Write(b []byte) (int, error) {
	f.writes++
	if f.writes > f.after {
		return 0, errShort
	}
	return len(b), nil
}

// TestWorkLimit stops a fan-out of includes at MaxDirectives.
func TestWorkLimit(t *testing.T) {
	o := ssi.DefaultOptions()
	o.MaxDirectives = 50
	h := &fakeHost{opts: &o, state: ssi.NewState(testNow, testZone)}
	_, err := ssi.Parse("p", []byte(strings.Repeat(`<!--#include virtual="d1.shtml" -->`, 10))).Execute(io.Discard, pageURI, h, &o, h.state)
	if !errors.Is(err, ssi.ErrWorkLimit) {
		t.Errorf("Execute error = %v, want %v", err, ssi.ErrWorkLimit)
	}
}

func TestValidate(t *testing.T) {
	o := ssi.DefaultOptions()
	if errs := o.Validate(); len(errs) != 0 {
		t.Fatalf("defaults do not validate: %v", errs)
	}
	o.SizeFmt = "huge"
	o.ExprSyntax = "perl"
	o.MaxDepth = 0
	o.Extensions = []string{"shtml"}
	o.TimeFmt = ""
	o.MaxOutput = 0
	o.MaxRegexp = conf.Size(2 << 20)
	errs := o.Validate()
	var keys []string
	for _, err := range errs {
		var ke *conf.KeyError
		if !errors.As(err, &ke) {
			t.Fatalf("%v is not a *conf.KeyError", err)
		}
		keys = append(keys, ke.Key)
	}
	want := "extensions,sizefmt,expr_syntax,timefmt,max_depth,max_output,max_regexp"
	if got := strings.Join(keys, ","); got != want {
		t.Errorf("Validate keys = %q, want %q", got, want)
	}
}

func TestQueryStringUnescaped(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a=b%20c", "a=b c"},
		{"q=a%20b%26c;d", `q=a b\&c\;d`},
		{"x=%3Cy%3E%zz", `x=\<y\>%zz`},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ssi.QueryStringUnescaped(tt.in); got != tt.want {
			t.Errorf("QueryStringUnescaped(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	p := ssi.Parse("x.shtml", []byte("a\n<!--# echo -->\nb<!--#echo =\"v\" -->\n<!--#echo var=\"x\""))
	var got []string
	for _, e := range p.Errors() {
		got = append(got, e.String())
	}
	want := []string{
		"x.shtml:2: missing directive name",
		"x.shtml:3: missing argument name for value to tag echo",
		"x.shtml:4: SSI directive was not properly finished at the end of parsed document",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Errors:\ngot  %q\nwant %q", got, want)
	}
}

// TestNilState renders with a fresh State and default Options.
func TestNilState(t *testing.T) {
	var b bytes.Buffer
	_, err := ssi.Parse("p", []byte(`<!--#echo var="DATE_GMT" -->`)).Execute(&b, pageURI, &fakeHost{}, nil, nil)
	if err != nil || !strings.HasSuffix(b.String(), "GMT") {
		t.Errorf("got %q, %v; want a date in GMT", b.String(), err)
	}
}
