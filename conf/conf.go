// Package conf holds the small value types that every part of pwebs.conf
// shares: byte sizes such as "64MiB", durations such as "10s", and the error
// a section's Validate method returns to name the offending key.
//
// It imports only the standard library, so that every leaf package (cache,
// cgi, ssi, logging) can use it for its Options struct without importing
// serve or each other. Loading the file, and turning a key into a line
// number, is serve's job.
package conf

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written in pwebs.conf as a Go duration string
// ("10s", "1m30s", "250ms"), which may also count days and weeks ("30d",
// "1w", "1d12h"). A bare integer is refused, because "timeout = 5" would
// otherwise silently mean five nanoseconds.
type Duration struct{ time.Duration }

// D returns d as a time.Duration.
func D(d time.Duration) Duration { return Duration{d} }

// UnmarshalText parses a duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("invalid duration %q (want a value such as \"10s\", \"1m30s\" or \"30d\")", b)
	}
	d.Duration = v
	return nil
}

// parseDuration is time.ParseDuration with two more units: d (24h) and w
// (7d), as leading components ("1w2d3h").
func parseDuration(s string) (time.Duration, error) {
	var days time.Duration
	for {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i == len(s) || (s[i] != 'd' && s[i] != 'w') {
			break
		}
		unit := 24 * time.Hour
		if s[i] == 'w' {
			unit *= 7
		}
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n > int64(math.MaxInt64/unit) || days > math.MaxInt64-time.Duration(n)*unit {
			return 0, errors.New("duration out of range")
		}
		days += time.Duration(n) * unit
		if s = s[i+1:]; s == "" {
			return days, nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if days > 0 && (v < 0 || v > math.MaxInt64-days) {
		return 0, errors.New("duration out of range")
	}
	return days + v, nil
}

// MarshalText writes d as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Size is a number of bytes, written in pwebs.conf either as an integer or as
// a string with a unit: "512", "16KiB", "64MiB", "1GiB" (powers of 1024), or
// "16KB", "64MB", "1GB" (powers of 1000), or "16K", "64M", "1G" (powers of
// 1024, as Apache and nginx read them). Units are case-insensitive.
type Size int64

// ErrSize is returned (wrapped) for a size string that cannot be read.
var ErrSize = errors.New("conf: invalid size")

// sizeError explains a size that cannot be read; errors.Is matches ErrSize.
type sizeError struct{ s string }

func (e *sizeError) Error() string {
	return fmt.Sprintf("invalid size %q (want a value such as \"64MiB\")", e.s)
}
func (e *sizeError) Is(target error) bool { return target == ErrSize }

var units = []struct {
	suffix string
	mult   int64
}{
	// Longest suffixes first, so "KiB" is not read as "B".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// ParseSize reads a size such as "64MiB". Negative sizes are refused.
func ParseSize(s string) (Size, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			mult = u.mult
			break
		}
	}
	if t == "" {
		return 0, &sizeError{s}
	}
	// Fractions ("1.5MiB") are allowed; the result is rounded down to a byte.
	if strings.ContainsAny(t, ".eE") {
		f, err := strconv.ParseFloat(t, 64)
		if err != nil || f < 0 || f*float64(mult) > float64(1<<62) {
			return 0, &sizeError{s}
		}
		return Size(f * float64(mult)), nil
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, &sizeError{s}
	}
	return Size(n * mult), nil
}

// UnmarshalText parses a size string; see ParseSize.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// String writes s with the largest binary unit that divides it exactly.
func (s Size) String() string {
	n := int64(s)
	for _, u := range []struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// MarshalText writes s as String does.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// KeyError is a problem with one key of a configuration section. Key is the
// key's path inside its section ("timeout", or "interpreters..php"); the
// loader prefixes the section and finds the line.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return fmt.Sprintf("key %q: %v", e.Key, e.Err) }
func (e *KeyError) Unwrap() error { return e.Err }

// Errorf returns a *KeyError for key with a formatted message.
func Errorf(key, format string, args ...any) error {
	return &KeyError{Key: key, Err: fmt.Errorf(format, args...)}
}
