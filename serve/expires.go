package serve

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/pwebs/pwebs/conf"
)

// expiresTable is the Cache-Control of static responses by media type
// (expires): an exact type wins over its family ("image/*"), which wins
// over "default".
type expiresTable struct {
	exact  map[string]string // "text/css" -> "max-age=604800"
	family map[string]string // "image" -> ...
	def    string
}

// newExpires builds the table from expires, which validation checked; nil
// when it is empty.
func newExpires(m map[string]conf.Duration) *expiresTable {
	if len(m) == 0 {
		return nil
	}
	t := &expiresTable{exact: map[string]string{}, family: map[string]string{}}
	for k, d := range m {
		cc := "max-age=" + strconv.FormatInt(int64(d.Seconds()), 10)
		k = strings.ToLower(k)
		switch typ, sub, _ := strings.Cut(k, "/"); {
		case k == "default":
			t.def = cc
		case sub == "*":
			t.family[typ] = cc
		default:
			t.exact[k] = cc
		}
	}
	return t
}

// lookup returns the Cache-Control for a Content-Type (its parameters are
// ignored), or "".
func (t *expiresTable) lookup(typ string) string {
	if t == nil {
		return ""
	}
	base, _, _ := strings.Cut(typ, ";")
	base = strings.ToLower(strings.TrimSpace(base))
	if cc, ok := t.exact[base]; ok {
		return cc
	}
	family, _, _ := strings.Cut(base, "/")
	if cc, ok := t.family[family]; ok {
		return cc
	}
	return t.def
}

// foldUniqueKeys returns m's keys in order, leaving out (and reporting at
// key) each that differs from an earlier one only in case: which of the two
// would win is left to chance. what names a key ("type", "field").
func foldUniqueKeys[V any](p *problems, key string, m map[string]V, what string) []string {
	keys := slices.Sorted(maps.Keys(m))
	seen := map[string]string{}
	kept := keys[:0]
	for _, k := range keys {
		if prev, dup := seen[strings.ToLower(k)]; dup {
			p.add(key+"."+k, "%q and %q are the same %s: keep one", prev, k, what)
			continue
		}
		seen[strings.ToLower(k)] = k
		kept = append(kept, k)
	}
	return kept
}

// checkExpires validates an expires table at key.
func checkExpires(p *problems, key string, m map[string]conf.Duration) {
	for _, k := range foldUniqueKeys(p, key, m, "type") {
		ek := key + "." + k
		typ, sub, _ := strings.Cut(k, "/")
		switch {
		case k == "default":
		case !validMediaType(strings.ToLower(k)) || strings.Contains(k, ";") || (typ == "*"):
			p.add(ek, "%q is not a media type: write \"text/css\", \"image/*\" or \"default\"", k)
			continue
		case strings.Contains(sub, "*") && sub != "*":
			p.add(ek, "%q: only a whole subtype may be \"*\"", k)
			continue
		}
		if d := m[k].Duration; d < 0 {
			p.add(ek, "must not be negative")
		}
	}
}
