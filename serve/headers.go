package serve

import (
	"maps"
	"slices"
	"strings"

	"github.com/pwebs/pwebs/cgi"
)

// reservedFields are the header fields headers may not set: pwebs writes
// them itself, for framing, validators and negotiation.
var reservedFields = []string{
	"connection", "content-encoding", "content-length", "content-range", "content-type", "date",
	"etag", "keep-alive", "last-modified", "location", "server", "te", "trailer", "transfer-encoding",
	"upgrade", "vary", "accept-ranges", "allow", "retry-after", "www-authenticate",
}

// extraFields returns headers sorted by name, and rendered as header
// lines.
func extraFields(m map[string]string) ([]cgi.Field, []byte) {
	var list []cgi.Field
	var b []byte
	for _, k := range slices.Sorted(maps.Keys(m)) {
		list = append(list, cgi.Field{Name: k, Value: m[k]})
		b = append(b, k...)
		b = append(b, ": "...)
		b = append(b, m[k]...)
		b = append(b, "\r\n"...)
	}
	return list, b
}

// checkHeaders validates a headers table at key; withExpires is set when
// expires is, which writes Cache-Control.
func checkHeaders(p *problems, key string, m map[string]string, withExpires bool) {
	for _, k := range foldUniqueKeys(p, key, m, "field") {
		ek := key + "." + k
		if withExpires && strings.EqualFold(k, "Cache-Control") {
			p.add(ek, "expires writes Cache-Control too: set it in one place")
			continue
		}
		ok := k != ""
		for i := 0; i < len(k); i++ {
			ok = ok && isTchar(k[i])
		}
		switch {
		case !ok:
			p.add(ek, "%q is not a header field name", k)
			continue
		case slices.Contains(reservedFields, strings.ToLower(k)):
			p.add(ek, "%s is written by pwebs itself and cannot be set here", k)
			continue
		}
		v := m[k]
		for i := 0; i < len(v); i++ {
			if !fieldValueByte[v[i]] {
				p.add(ek, "the value holds a control character (byte %#02x)", v[i])
				break
			}
		}
		if strings.TrimSpace(v) != v || v == "" {
			p.add(ek, "the value %q is empty or has spaces around it", v)
		}
	}
}

// appendExtraFields adds the configured headers to a response head; for a
// script's response (fields not nil), those the script sent itself are
// left out: the script's own value stands.
func (c *conn) appendExtraFields(fields []cgi.Field) {
	if len(c.st.extraHeaders) == 0 {
		return
	}
	if fields == nil {
		c.wbuf = append(c.wbuf, c.st.extraHeaders...)
		return
	}
	for _, h := range c.st.extraList {
		if !slices.ContainsFunc(fields, func(f cgi.Field) bool { return strings.EqualFold(f.Name, h.Name) }) {
			c.appendHeader(h.Name, h.Value)
		}
	}
}
