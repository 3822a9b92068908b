package logging

import (
	"path/filepath"

	"github.com/pwebs/pwebs/conf"
)

// MinRotateSize is the smallest rotate_size accepted, other than 0.
const MinRotateSize = 1 << 10

// Options is the [log] section of pwebs.conf.
type Options struct {
	// Access is the access log's path; "-" writes it to stdout and "" turns
	// it off. Default "logs/access_log".
	Access string `toml:"access"`

	// Error is the error log's path; "-" writes it to stderr. It cannot be
	// turned off. Default "logs/error_log".
	Error string `toml:"error"`

	// Format is the access log's format: "combined", "common" or an Apache
	// LogFormat string (see ParseFormat). Default "combined".
	Format string `toml:"format"`

	// Level is the least severe error log level written: "debug", "info",
	// "notice", "warn" or "error". Default "notice".
	Level string `toml:"level"`

	// RotateSize is the size past which a log file is renamed aside and a new
	// one started; lines are never split, so a file holds at most RotateSize
	// bytes unless one line is longer. 0 never rotates; otherwise at least
	// MinRotateSize. Default 1MiB.
	RotateSize conf.Size `toml:"rotate_size"`

	// Keep is how many rotated files of each log are kept; older ones are
	// removed. 0 keeps none. Default 20.
	Keep int `toml:"keep"`

	// Compress gzips rotated files in the background (at
	// klauspost/compress's BestSpeed). Default true.
	Compress bool `toml:"compress"`
}

// DefaultOptions returns the defaults stated on each field of Options.
func DefaultOptions() Options {
	return Options{
		Access:     "logs/access_log",
		Error:      "logs/error_log",
		Format:     "combined",
		Level:      "notice",
		RotateSize: 1 << 20,
		Keep:       20,
		Compress:   true,
	}
}

// Validate checks o and returns one *conf.KeyError per problem, naming the
// key: "error", "access", "format", "level", "rotate_size" or "keep".
func (o *Options) Validate() []error {
	var errs []error
	if o.Error == "" {
		errs = append(errs, conf.Errorf("error", "the error log cannot be turned off (use \"-\" for stderr)"))
	}
	if o.Access != "" && o.Access != "-" && filepath.Clean(o.Access) == filepath.Clean(o.Error) {
		errs = append(errs, conf.Errorf("access", "the access log and the error log must be different files"))
	}
	if _, err := ParseFormat(o.Format); err != nil {
		errs = append(errs, &conf.KeyError{Key: "format", Err: err})
	}
	if _, err := ParseLevel(o.Level); err != nil {
		errs = append(errs, &conf.KeyError{Key: "level", Err: err})
	}
	if o.RotateSize < 0 || (o.RotateSize > 0 && o.RotateSize < MinRotateSize) {
		errs = append(errs, conf.Errorf("rotate_size", "%d bytes is too small: use 0 (never rotate) or at least %s",
			int64(o.RotateSize), conf.Size(MinRotateSize)))
	}
	if o.Keep < 0 {
		errs = append(errs, conf.Errorf("keep", "must be 0 or more, not %d", o.Keep))
	}
	return errs
}
