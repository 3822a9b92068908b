package serve

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// maxMimeExt bounds the length of an extension looked up in a Types table;
// longer extensions never match and get the default type.
const maxMimeExt = 32

// Types maps file name extensions to Content-Type values, read from a file in
// Apache's mime.types format. The values already carry "; charset=utf-8" for
// text/*, JavaScript and JSON. A Types is immutable after ParseTypes and safe
// for concurrent use.
type Types struct {
	byExt map[string]string
}

// ParseTypes reads a mime.types file: one media type per line followed by
// its extensions, separated by spaces or tabs, "#" starting a comment. A later
// line wins for an extension named twice. name is used in errors, which read
// "name:line: message".
func ParseTypes(name string, data []byte) (*Types, error) {
	t := &Types{byExt: make(map[string]string)}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	var errs []string
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		typ := strings.ToLower(fields[0])
		if !validMediaType(typ) {
			errs = append(errs, fmt.Sprintf("%s:%d: invalid media type %q", name, line, fields[0]))
			continue
		}
		for _, ext := range fields[1:] {
			ext = asciiLower(strings.TrimPrefix(ext, "."))
			if ext == "" || len(ext) > maxMimeExt || strings.ContainsAny(ext, "./\\") || strings.ContainsFunc(ext, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				errs = append(errs, fmt.Sprintf("%s:%d: invalid extension %q", name, line, ext))
				continue
			}
			t.byExt[ext] = withCharset(typ)
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Sprintf("%s: %v", name, err))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return t, nil
}

// asciiLower lowers ASCII letters only, as Lookup does.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lower[c]
	}
	return string(b)
}

// validMediaType reports whether s looks like "type/subtype" made of token
// characters, with optional parameters after ";".
func validMediaType(s string) bool {
	base, _, _ := strings.Cut(s, ";")
	typ, sub, ok := strings.Cut(base, "/")
	if !ok || typ == "" || sub == "" {
		return false
	}
	for _, c := range []byte(typ + sub) {
		if !isTchar(c) {
			return false
		}
	}
	return true
}

// withCharset adds "; charset=utf-8" to the types that browsers would
// otherwise decode with a guessed charset.
func withCharset(typ string) string {
	if strings.Contains(typ, "charset=") {
		return typ
	}
	switch {
	case strings.HasPrefix(typ, "text/"),
		typ == "application/javascript",
		typ == "application/json",
		typ == "application/ld+json",
		typ == "application/manifest+json":
		return typ + "; charset=utf-8"
	}
	return typ
}

// Lookup returns the Content-Type for the file name name (only its last
// extension counts), and false when the extension is unknown. It does not
// allocate.
func (t *Types) Lookup(name string) (string, bool) {
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 || dot == len(name)-1 || strings.IndexByte(name[dot:], '/') >= 0 {
		return "", false
	}
	ext := name[dot+1:]
	if len(ext) > maxMimeExt {
		return "", false
	}
	var buf [maxMimeExt]byte
	b := buf[:len(ext)]
	for i := 0; i < len(ext); i++ {
		c := ext[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	typ, ok := t.byExt[string(b)]
	return typ, ok
}

// Len returns the number of extensions known.
func (t *Types) Len() int { return len(t.byExt) }
