package serve

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/pwebs/pwebs/logging"
)

// Restrict is one entry of restrict: the paths under Prefix answer only
// clients whose address is in Allow, as Apache's Require ip; others get
// 403.
type Restrict struct {
	// Prefix is the URL path restricted, with every path below it.
	Prefix string `toml:"prefix"`
	// Allow lists addresses ("192.0.2.7", "::1") and networks
	// ("192.168.0.0/16", "fd00::/8").
	Allow []string `toml:"allow"`
}

// restriction is a Restrict ready to check requests.
type restriction struct {
	prefix string
	allow  []netip.Prefix
}

// restrictions builds a site's list from restrict, which validation
// checked, longest prefix first.
func restrictions(list []Restrict) []restriction {
	rs := make([]restriction, 0, len(list))
	for _, r := range list {
		x := restriction{prefix: r.Prefix}
		for _, a := range r.Allow {
			if p, err := parseAllow(a); err == nil {
				x.allow = append(x.allow, p)
			}
		}
		rs = append(rs, x)
	}
	slices.SortStableFunc(rs, func(a, b restriction) int { return len(b.prefix) - len(a.prefix) })
	return rs
}

// parseAllow reads an address or a network.
func parseAllow(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// checkRestrict validates a restrict list at key.
func checkRestrict(p *problems, key string, list []Restrict) {
	seen := map[string]bool{}
	for i, r := range list {
		ek := key + "." + strconv.Itoa(i)
		checkPrefix(p, ek+".prefix", r.Prefix, seen)
		if len(r.Allow) == 0 {
			p.add(ek, "allow is required: the addresses and networks that may ask")
		}
		for j, a := range r.Allow {
			pr, err := parseAllow(a)
			switch {
			case err != nil:
				p.addElem(ek+".allow", j, "%q is neither an address nor a network (write \"192.168.0.0/16\" or \"::1\")", a)
			case pr.Addr().Is4In6():
				// An IPv4 client is compared as IPv4, on any listener.
				p.addElem(ek+".allow", j, "%q is an IPv4 address written as IPv6, which no client matches: write %s", a, pr.Addr().Unmap())
			}
		}
	}
}

// checkPrefix validates the URL path prefix at key, one of a list whose
// prefixes seen holds, and reports whether it is a path.
func checkPrefix(p *problems, key, prefix string, seen map[string]bool) bool {
	if msg := prefixProblem(prefix); msg != "" {
		p.add(key, "%q %s", prefix, msg)
		return false
	}
	if seen[prefix] {
		p.add(key, "%q is listed twice", prefix)
	}
	seen[prefix] = true
	return true
}

// prefixProblem returns what is wrong with a URL path prefix, or "": it
// is matched against decoded, clean paths, so it must be one.
func prefixProblem(prefix string) string {
	if !strings.HasPrefix(prefix, "/") {
		return "is not a URL path: it must start with \"/\""
	}
	for i := 0; i < len(prefix); i++ {
		if prefix[i] < ' ' || prefix[i] == 0x7f {
			return "holds a control character"
		}
	}
	clean, st := cleanPath(make([]byte, 0, len(prefix)+1), []byte(prefix))
	switch {
	case st != 0:
		return "is not a URL path pwebs can serve"
	case string(clean) != prefix:
		return fmt.Sprintf("would never match: paths are matched decoded and clean; write %q", clean)
	}
	return ""
}

// underPrefix reports whether the clean path p is prefix or below it,
// by whole segments: "/a" takes "/a" and "/a/x" but not "/ab".
func underPrefix(p []byte, prefix string) bool {
	n := len(prefix)
	return len(p) >= n && string(p[:n]) == prefix && (len(p) == n || prefix[n-1] == '/' || p[n] == '/')
}

// restrictionFor returns the restriction the clean path p is under, or
// nil.
func (s *site) restrictionFor(p []byte) *restriction {
	for i := range s.restrict {
		if underPrefix(p, s.restrict[i].prefix) {
			return &s.restrict[i]
		}
	}
	return nil
}

// admits reports whether the client at remote ("ip:port") may ask.
func (r *restriction) admits(remote string) bool {
	host, _, _ := net.SplitHostPort(remote)
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, pr := range r.allow {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// allowed reports whether the client may ask for the clean path p, and
// answers 403 (and logs it, as Apache words it) when it may not.
func (c *conn) allowed(s *site, p []byte) bool {
	r := s.restrictionFor(p)
	if r == nil || r.admits(c.remoteAddr()) {
		return true
	}
	c.srv.log.Error(fmt.Sprintf("client denied by server configuration: %s%s", s.dir, p), "client", c.remoteAddr(), logging.RefererKey, c.referer())
	c.writeError(403)
	return false
}
