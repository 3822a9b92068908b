package ssi_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pwebs/pwebs/ssi"
)

// seedFuzz adds every golden page, and a few hostile ones, to the corpus.
func seedFuzz(f *testing.F, add func(string)) {
	for _, path := range goldenFiles(f) {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		in, _, _ := strings.Cut(string(b), sep)
		add(in)
	}
	for _, s := range []string{
		"", "<!--#", "<!--#-->", "<!--#echo", `<!--#echo var="`, `<!--#echo var='\`,
		strings.Repeat("<!--#if expr=\"a\" -->", 100),
		`<!--#if expr="` + strings.Repeat("!", 5000) + `a" -->x<!--#endif -->`,
		`<!--#if expr="` + strings.Repeat("(", 3000) + `" -->x<!--#endif -->`,
		`<!--#set var="a" value="xxxxxxxxxxxxxxxx" -->` + strings.Repeat(`<!--#set var="a" value="$a$a" -->`, 30),
		`<!--#if expr="$x = /(a*)*b/" -->y<!--#endif -->`,
	} {
		add(s)
	}
}

func FuzzParse(f *testing.F) {
	seedFuzz(f, func(s string) { f.Add([]byte(s)) })
	f.Fuzz(func(t *testing.T, src []byte) {
		defer hangGuard(src)()
		p := ssi.Parse("fuzz", src)
		lines := bytes.Count(src, []byte("\n")) + 1
		for _, e := range p.Errors() {
			if e.Line < 1 || e.Line > lines {
				t.Fatalf("error at line %d of a %d-line page: %v", e.Line, lines, e)
			}
		}
		o := ssi.DefaultOptions()
		for _, pr := range ssi.Check(p, pageURI, &o, &fakeHost{}) {
			if pr.Line < 1 || pr.Line > lines {
				t.Fatalf("problem at line %d of a %d-line page: %v", pr.Line, lines, pr)
			}
		}
	})
}

// FuzzExecute renders arbitrary pages with small bounds, in both
// expression syntaxes and with exec on: no panic, no hang, output within
// MaxOutput, and a page without "<!--#" copied unchanged.
func FuzzExecute(f *testing.F) {
	seedFuzz(f, func(s string) { f.Add([]byte(s), false) })
	f.Fuzz(func(t *testing.T, src []byte, apExpr bool) {
		defer hangGuard(src)()
		o := ssi.DefaultOptions()
		o.MaxOutput = 1 << 20
		o.MaxDirectives = 5000
		o.MaxVarBytes = 64 << 10
		o.Exec = true
		if apExpr {
			o.ExprSyntax = "ap_expr"
		}
		h := &fakeHost{opts: &o, state: ssi.NewState(testNow, testZone), self: string(src)}
		var out countWriter
		_, err := ssi.Parse("fuzz", src).Execute(&out, pageURI, h, &o, h.state)
		if out.n > int64(o.MaxOutput) {
			t.Fatalf("wrote %d bytes, more than MaxOutput %d", out.n, o.MaxOutput)
		}
		if !bytes.Contains(src, []byte("<!--#")) && (err != nil || out.n != int64(len(src))) {
			t.Fatalf("plain page: wrote %d of %d bytes, error %v", out.n, len(src), err)
		}
	})
}

// hangGuard crashes the fuzz worker, which makes the engine save the input,
// when one input runs for more than ten seconds.
func hangGuard(src []byte) func() {
	t := time.AfterFunc(10*time.Second, func() {
		panic(fmt.Sprintf("input ran for more than 10s: %q", src))
	})
	return func() { t.Stop() }
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(b []byte) (int, error) {
	c.n += int64(len(b))
	return len(b), nil
}

var _ io.Writer = (*countWriter)(nil)

// BenchmarkExecute renders a page with three includes and an echo, the page
// of the bench/ comparison with Apache.
func BenchmarkExecute(b *testing.B) {
	src := []byte(`<html><head><title><!--#echo var="DOCUMENT_NAME" --></title></head><body>
<!--#include virtual="/top.txt" -->
<p>Some text between the includes, as a real page has.</p>
<!--#include file="inc.txt" -->
<p>More text.</p>
<!--#include file="sub/inner.txt" -->
</body></html>
`)
	p := ssi.Parse("bench.shtml", src)
	o := ssi.DefaultOptions()
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		h := &fakeHost{opts: &o, state: ssi.NewState(testNow, testZone)}
		if _, err := p.Execute(io.Discard, pageURI, h, &o, h.state); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse parses the same page.
func BenchmarkParse(b *testing.B) {
	src := []byte(strings.Repeat(`<p>text</p><!--#include virtual="/top.txt" --><!--#if expr="$a = /x/" -->y<!--#endif -->`, 20))
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		ssi.Parse("bench.shtml", src)
	}
}
