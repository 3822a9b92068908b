package cgi

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pwebs/pwebs/conf"
)

func TestDefaultOptions(t *testing.T) {
	o := DefaultOptions()
	if errs := o.Validate(); errs != nil {
		t.Fatalf("defaults do not validate: %v", errs)
	}
	if !slices.Equal(o.Extensions, []string{".cgi"}) || o.Timeout.Duration != 60*time.Second || o.MaxProcesses != 32 ||
		o.MaxWait.Duration != 10*time.Second || o.MaxCPU.Duration != 0 || o.MaxMemory != 0 || o.PassAuthorization ||
		len(o.Dirs) != 0 || len(o.Interpreters) != 0 {
		t.Errorf("got defaults %+v", o)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-exec")
	os.WriteFile(notExec, []byte("x"), 0o644)
	tests := []struct {
		name   string
		change func(*Options)
		keys   []string // keys of the errors, in order
	}{
		{"valid", func(o *Options) {
			o.Dirs = map[string]string{"/cgi-bin/": "/srv/cgi-bin"}
			o.Interpreters = map[string]string{".sh": "/bin/sh"}
			o.MaxCPU, o.MaxMemory = conf.D(30*time.Second), 512<<20
		}, nil},
		{"bad dirs", func(o *Options) { o.Dirs = map[string]string{"cgi-bin/": "/x", "/ok/": ""} }, []string{"dirs./ok/", "dirs.cgi-bin/"}},
		{"bad extensions", func(o *Options) { o.Extensions = []string{".cgi", "cgi", ".", ".a.b", "./x"} },
			[]string{"extensions[1]", "extensions[2]", "extensions[3]", "extensions[4]"}},
		{"bad interpreters", func(o *Options) {
			o.Interpreters = map[string]string{".a": "sh", ".b": notExec, ".c": dir, ".d": filepath.Join(dir, "missing"), "e": "/bin/sh"}
		}, []string{"interpreters..a", "interpreters..b", "interpreters..c", "interpreters..d", "interpreters.e"}},
		{"bad numbers", func(o *Options) {
			o.Timeout, o.MaxProcesses, o.MaxWait, o.MaxCPU, o.MaxMemory = conf.D(0), 0, conf.D(-time.Second), conf.D(-time.Second), 1000
		}, []string{"timeout", "max_processes", "max_wait", "max_cpu", "max_memory"}},
		{"too many processes", func(o *Options) { o.MaxProcesses = maxMaxProcesses + 1 }, []string{"max_processes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			tt.change(&o)
			var keys []string
			for _, err := range o.Validate() {
				var ke *conf.KeyError
				if !errors.As(err, &ke) {
					t.Fatalf("error %v is not a *conf.KeyError", err)
				}
				keys = append(keys, ke.Key)
			}
			if !slices.Equal(keys, tt.keys) {
				t.Errorf("got keys %q, want %q", keys, tt.keys)
			}
			if _, err := New(o, nil); (err == nil) != (tt.keys == nil) {
				t.Errorf("New: got %v", err)
			}
		})
	}
}
