package cache

import (
	"errors"

	"github.com/pwebs/pwebs/conf"
)

// Options is the [cache] section of pwebs.conf.
type Options struct {
	// Enabled turns the cache on. Default true. When false, Get always
	// misses, Add stores nothing, and no folder is watched.
	Enabled bool `toml:"enabled"`

	// MaxSize is the most memory the cached entries may take, all variants
	// included: each entry is charged the capacity of its body and gzip
	// variant, its ExtraSize, its key, and a fixed estimate of its
	// bookkeeping (see entryOverhead), so that the bound holds for memory and
	// not only for bodies. It is never exceeded. Default 64MiB; it must be
	// positive when the cache is enabled.
	MaxSize conf.Size `toml:"max_size"`

	// MaxFileSize is the largest body the cache stores; bigger files and
	// pages are not cached (serve sends big files with sendfile). Default
	// 1MiB; it may not exceed MaxSize.
	MaxFileSize conf.Size `toml:"max_file_size"`

	// Compress keeps a gzip variant of bodies of a compressible type (see
	// Compressible) when it is at least 1/16 smaller than the body. Default
	// true.
	Compress bool `toml:"compress"`
}

// DefaultOptions returns the defaults stated on each field of Options.
func DefaultOptions() Options {
	return Options{
		Enabled:     true,
		MaxSize:     64 << 20,
		MaxFileSize: 1 << 20,
		Compress:    true,
	}
}

// Validate reports every problem with o, each as a *conf.KeyError naming the
// key. It returns nil when o is usable.
func (o *Options) Validate() []error {
	var errs []error
	if o.MaxSize < 0 {
		errs = append(errs, conf.Errorf("max_size", "must not be negative, got %d", o.MaxSize))
	}
	if o.MaxFileSize < 0 {
		errs = append(errs, conf.Errorf("max_file_size", "must not be negative, got %d", o.MaxFileSize))
	}
	if o.Enabled && o.MaxSize == 0 {
		errs = append(errs, conf.Errorf("max_size", "must be positive when the cache is enabled (set enabled = false to turn it off)"))
	}
	if o.MaxSize >= 0 && o.MaxFileSize > o.MaxSize {
		errs = append(errs, conf.Errorf("max_file_size", "%v is larger than max_size (%v)", o.MaxFileSize, o.MaxSize))
	}
	return errs
}

// validate joins Validate's errors into one, for New.
func (o *Options) validate() error {
	return errors.Join(o.Validate()...)
}
