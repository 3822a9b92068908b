package ssi

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// Encodings and decodings of echo and set, and the number formats of fsize,
// each reproducing the Apache function named in its comment.

const hexLower = "0123456789abcdef"

// escapeHTML escapes <, >, & and " as ap_escape_html2(s, 0) does.
func escapeHTML(s string) string {
	if !strings.ContainsAny(s, "<>&\"") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// escapeWith %-escapes, in lower-case hex, every byte that is neither an
// ASCII letter or digit nor in keep; plus turns spaces into "+".
func escapeWith(s, keep string, plus bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlnum(c) || strings.IndexByte(keep, c) >= 0:
			b.WriteByte(c)
		case plus && c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hexLower[c>>4])
			b.WriteByte(hexLower[c&15])
		}
	}
	return b.String()
}

// escapeURI escapes s as a URL path, as ap_escape_uri does (echo's "url").
func escapeURI(s string) string { return escapeWith(s, "$-_.+!*'(),:;@&=/~", false) }

// escapeURLEncoded escapes s as a form value, as ap_escape_urlencoded does
// (echo's "urlencoded").
func escapeURLEncoded(s string) string { return escapeWith(s, ".-*_", true) }

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescapeURL decodes %XX escapes as ap_unescape_url does (and, with plus,
// "+" as a space, as ap_unescape_urlencoded does). A bad escape is kept as
// it is. Apache works on C strings, so a decoded NUL ends the result.
func unescapeURL(s string, plus bool) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plus && c == '+' {
			c = ' '
		} else if c == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				c = hi<<4 | lo
				i += 2
			}
		}
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

// encodeBase64 encodes s as apr_pbase64_encode does.
func encodeBase64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// decodeBase64 decodes s as apr_pbase64_decode does: it decodes the leading
// run of base64 characters and ignores the rest, and a NUL ends the result.
func decodeBase64(s string) string {
	n := 0
	for n < len(s) && (isAlnum(s[n]) || s[n] == '+' || s[n] == '/') {
		n++
	}
	run := s[:n]
	if len(run)%4 == 1 {
		run = run[:len(run)-1]
	}
	out, err := base64.RawStdEncoding.DecodeString(run)
	if err != nil {
		// The last group may carry stray bits that the strict decoder
		// refuses; decode whole groups only, as APR keeps whole bytes.
		out, _ = base64.RawStdEncoding.DecodeString(run[:len(run)/4*4])
	}
	if i := strings.IndexByte(string(out), 0); i >= 0 {
		out = out[:i]
	}
	return string(out)
}

// entities are the named entities mod_include decodes, with their
// ISO-8859-1 bytes.
var entities = map[string]byte{
	"lt": '<', "gt": '>', "amp": '&', "quot": '"',
	"ETH": 0xd0, "eth": 0xf0, "Auml": 0xc4, "Euml": 0xcb, "Iuml": 0xcf, "Ouml": 0xd6,
	"Uuml": 0xdc, "auml": 0xe4, "euml": 0xeb, "iuml": 0xef, "ouml": 0xf6, "uuml": 0xfc,
	"yuml": 0xff, "Acirc": 0xc2, "Aring": 0xc5, "AElig": 0xc6, "Ecirc": 0xca, "Icirc": 0xce,
	"Ocirc": 0xd4, "Ucirc": 0xdb, "THORN": 0xde, "szlig": 0xdf, "acirc": 0xe2, "aring": 0xe5,
	"aelig": 0xe6, "ecirc": 0xea, "icirc": 0xee, "ocirc": 0xf4, "ucirc": 0xfb, "thorn": 0xfe,
	"Agrave": 0xc0, "Aacute": 0xc1, "Atilde": 0xc3, "Ccedil": 0xc7, "Egrave": 0xc8,
	"Eacute": 0xc9, "Igrave": 0xcc, "Iacute": 0xcd, "Ntilde": 0xd1, "Ograve": 0xd2,
	"Oacute": 0xd3, "Otilde": 0xd5, "Oslash": 0xd8, "Ugrave": 0xd9, "Uacute": 0xda,
	"Yacute": 0xdd, "agrave": 0xe0, "aacute": 0xe1, "atilde": 0xe3, "ccedil": 0xe7,
	"egrave": 0xe8, "eacute": 0xe9, "igrave": 0xec, "iacute": 0xed, "ntilde": 0xf1,
	"ograve": 0xf2, "oacute": 0xf3, "otilde": 0xf5, "oslash": 0xf8, "ugrave": 0xf9,
	"uacute": 0xfa, "yacute": 0xfd,
}

// decodeEntities decodes HTML entities as mod_include's decodehtml does:
// named entities from its ISO-8859-1 list become single bytes, decimal
// references become the byte they name, references to unused characters
// (&#0; to &#8;, &#11; to &#31;, &#127; to &#160;, 256 and up, and any
// non-decimal such as &#x41;) are deleted, and unknown names are kept.
func decodeEntities(s string) string {
	if strings.IndexByte(s, '&') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '&' {
			b = append(b, s[i])
			continue
		}
		semi := strings.IndexByte(s[i+1:], ';')
		if semi < 0 {
			b = append(b, s[i:]...)
			break
		}
		ref := s[i+1 : i+1+semi]
		if strings.HasPrefix(ref, "#") {
			digits, val := 0, 0
			for digits+1 < len(ref) && ref[digits+1] >= '0' && ref[digits+1] <= '9' {
				if val < 1000 {
					val = val*10 + int(ref[digits+1]-'0')
				}
				digits++
			}
			i += 1 + semi
			if digits+1 < len(ref) || val <= 8 || val >= 11 && val <= 31 || val >= 127 && val <= 160 || val >= 256 {
				continue
			}
			b = append(b, byte(val))
			continue
		}
		if c, ok := entities[ref]; ok {
			b = append(b, c)
			i += 1 + semi
			continue
		}
		b = append(b, '&')
	}
	return string(b)
}

// shellMeta are the bytes ap_escape_shell_cmd escapes with a backslash.
const shellMeta = "&;`'\"|*?~<>^()[]{}$\\\n\xff"

// QueryStringUnescaped returns the QUERY_STRING_UNESCAPED variable for the
// raw query string q, as Apache computes it: q with %XX escapes decoded,
// then every shell metacharacter escaped with a backslash. The server
// passes it to the evaluator through Host.Var.
func QueryStringUnescaped(q string) string {
	u := unescapeURL(q, false)
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		if strings.IndexByte(shellMeta, u[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(u[i])
	}
	return b.String()
}

// formatAbbrev formats a size in four characters as apr_strfsize does:
// "  0 ", "972 ", "1.0K", " 10K", "1.1M".
func formatAbbrev(size int64) string {
	const units = "KMGTPE"
	if size < 0 {
		return "  - "
	}
	if size < 973 {
		return pad3(strconv.FormatInt(size, 10)) + " "
	}
	u := 0
	for {
		remain := size & 1023
		size >>= 10
		if size >= 973 {
			u++
			continue
		}
		if size < 9 || size == 9 && remain < 973 {
			r := (remain*5 + 256) / 512
			if r >= 10 {
				size++
				r = 0
			}
			return strconv.FormatInt(size, 10) + "." + strconv.FormatInt(r, 10) + units[u:u+1]
		}
		if remain >= 512 {
			size++
		}
		return pad3(strconv.FormatInt(size, 10)) + units[u:u+1]
	}
}

func pad3(s string) string {
	for len(s) < 3 {
		s = " " + s
	}
	return s
}

// formatBytes formats a size with thousands separators, as mod_include's
// sizefmt bytes does: "1,153,434".
func formatBytes(size int64) string {
	s := strconv.FormatInt(size, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i := 0; i < len(s); i++ {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
