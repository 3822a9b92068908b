package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// badPage has ten different mistakes, one per listed line.
const badPage = `<html>
<!--#bogus -->
<!--#echo bar="x" -->
<!--#include file="nope.html" -->
<!--#include virtual="/missing.html" -->
<!--#exec cmd="ls" -->
<!--#endif -->
<!--#config sizefmt="huge" -->
<!--#fsize file="/etc/passwd" -->
<!--#include file="../up.html" -->
<!--#if expr="$a = (" -->
x
<!--#endif -->
<!--#if expr="1" -->
unclosed
`

func ssiSite(t *testing.T) string {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "htdocs", "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "htdocs", "bad.shtml"), []byte(badPage), 0o644)
	os.WriteFile(filepath.Join(dir, "htdocs", "sub", "good.shtml"), []byte("<!--#include file=\"part.html\" --> <!--#echo var=\"QUERY_STRING\" -->\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "htdocs", "sub", "part.html"), []byte("PART"), 0o644)
	os.WriteFile(filepath.Join(dir, "pwebs.conf"), []byte("document_root = \"htdocs\"\n[log]\naccess = \"\"\nerror = \"-\"\n"), 0o644)
	return dir
}

func TestCheckCommand(t *testing.T) {
	dir := ssiSite(t)
	stdout, stderr, code := runCmd(t, dir, "check")
	if code != 1 {
		t.Errorf("exit %d, want 1 (stderr %q)", code, stderr)
	}
	want := []struct {
		line int
		text string
	}{
		{2, `unknown directive "bogus"`},
		{3, `unknown attribute "bar"`},
		{4, `"nope.html" of include not found`},
		{5, `"/missing.html" of include not found`},
		{6, "exec is not allowed"},
		{7, "endif without if"},
		{8, `sizefmt "huge"`},
		{9, "absolute"},
		{10, `".." is not allowed`},
		{11, "bad expression"},
		{14, "if without endif"},
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(lines), len(want), stdout)
	}
	for i, w := range want {
		prefix := filepath.Join("htdocs", "bad.shtml") + ":" + itoa(w.line) + ": "
		if !strings.HasPrefix(lines[i], prefix) || !strings.Contains(lines[i], w.text) {
			t.Errorf("problem %d: %q, want %q...%q", i, lines[i], prefix, w.text)
		}
	}
	// A site with no mistakes passes.
	os.Remove(filepath.Join(dir, "htdocs", "bad.shtml"))
	if stdout, _, code := runCmd(t, dir, "check"); code != 0 {
		t.Errorf("clean site: exit %d: %s", code, stdout)
	}
}

func TestSSICommand(t *testing.T) {
	dir := ssiSite(t)
	stdout, stderr, code := runCmd(t, dir, "ssi", "htdocs/sub/good.shtml", "q=1")
	if code != 0 || stdout != "PART q=1\n" {
		t.Errorf("good page: exit %d, %q, stderr %q", code, stdout, stderr)
	}
	stdout, _, code = runCmd(t, dir, "ssi", "/sub/good.shtml")
	if code != 0 || stdout != "PART \n" {
		t.Errorf("by URL path: exit %d, %q", code, stdout)
	}
	stdout, stderr, code = runCmd(t, dir, "ssi", "htdocs/bad.shtml")
	if code != 1 || !strings.Contains(stdout, "[an error occurred while processing this directive]") {
		t.Errorf("bad page: exit %d, %q", code, stdout)
	}
	if !strings.Contains(stderr, filepath.Join("htdocs", "bad.shtml")+":2: ") {
		t.Errorf("errors not as FILE:LINE: %q", stderr)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
