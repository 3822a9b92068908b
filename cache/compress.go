package cache

import (
	"bytes"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// Gzip variants are made once per cache fill and served many times, so the
// level favours size a little over speed; BenchmarkGzip compares it with the
// standard library.
const gzipLevel = gzip.DefaultCompression

// minGzipLen is the shortest body worth compressing: below it the gzip header
// and trailer (18 bytes) eat the saving.
const minGzipLen = 128

// GzipOf returns the gzip variant of body, or nil when it would not save
// at least 1/16 of the body. Serve uses it to build an entry's variant
// before Add, so that the variant's response head can be rendered with it.
func GzipOf(body []byte) []byte { return gzipOf(body) }

// gzipOf returns the gzip variant of body, or nil when it would not save at
// least 1/16 of the body.
func gzipOf(body []byte) []byte {
	if len(body) < minGzipLen {
		return nil
	}
	z := gzipPool.Get().(*gzipper)
	defer gzipPool.Put(z)
	z.buf.Reset()
	z.w.Reset(&z.buf)
	if _, err := z.w.Write(body); err != nil {
		return nil
	}
	if err := z.w.Close(); err != nil {
		return nil
	}
	if z.buf.Len() > len(body)-len(body)/16 {
		return nil
	}
	// Copy out at the exact length, so the entry holds no spare capacity.
	gz := make([]byte, z.buf.Len())
	copy(gz, z.buf.Bytes())
	return gz
}

type gzipper struct {
	w   *gzip.Writer
	buf bytes.Buffer
}

var gzipPool = sync.Pool{New: func() any {
	z := new(gzipper)
	z.w, _ = gzip.NewWriterLevel(&z.buf, gzipLevel)
	return z
}}

// Compressible reports whether a body of the given Content-Type is worth
// keeping a gzip variant of: text/*, JavaScript, JSON and +json, XML and +xml
// (SVG, Atom, RSS, XHTML), WebAssembly, YAML, TOML, uncompressed fonts and
// icons. Parameters (";charset=...") are ignored and case does not matter.
// Already-compressed types (images, woff, archives, video) are not.
func Compressible(contentType string) bool {
	mt := contentType
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = strings.TrimSpace(mt)
	slash := strings.IndexByte(mt, '/')
	if slash <= 0 || slash == len(mt)-1 {
		return false
	}
	if strings.EqualFold(mt[:slash], "text") {
		return true
	}
	sub := mt[slash+1:]
	if hasSuffixFold(sub, "+json") || hasSuffixFold(sub, "+xml") {
		return true
	}
	for _, t := range compressibleTypes {
		if strings.EqualFold(mt, t) {
			return true
		}
	}
	return false
}

var compressibleTypes = [...]string{
	"application/javascript", "application/x-javascript", "application/ecmascript",
	"application/json", "application/x-ndjson", "application/xml", "application/wasm",
	"application/yaml", "application/x-yaml", "application/toml",
	"application/rtf", "application/postscript", "application/x-sh",
	"application/vnd.ms-fontobject", "application/x-font-ttf", "application/x-font-otf",
	"font/ttf", "font/otf", "font/collection",
	"image/x-icon", "image/vnd.microsoft.icon", "image/bmp",
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}
