package serve

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// redirectStatuses are the statuses a redirect may answer with: Apache's
// permanent, temp, seeother and gone, and 307 and 308.
var redirectStatuses = []int{301, 302, 303, 307, 308, 410}

// redirectRules returns a site's redirects with their defaults filled in,
// longest From first, so that a rule for a folder's subfolder wins.
func redirectRules(list []Redirect) []Redirect {
	rules := make([]Redirect, len(list))
	for i, r := range list {
		if r.Status == 0 {
			r.Status = 302
		}
		rules[i] = r
	}
	slices.SortStableFunc(rules, func(a, b Redirect) int { return len(b.From) - len(a.From) })
	return rules
}

// checkRedirects validates a redirects list at key.
func checkRedirects(p *problems, key string, list []Redirect) {
	seen := map[string]bool{}
	for i, r := range list {
		ek := key + "." + strconv.Itoa(i)
		if !checkPrefix(p, ek+".from", r.From, seen) {
			continue
		}
		status := r.Status
		if status == 0 {
			status = 302
		}
		if !slices.Contains(redirectStatuses, status) {
			p.add(ek+".status", "%d is not a redirect status: write 301, 302, 303, 307, 308 or 410", r.Status)
			continue
		}
		switch {
		case status == 410 && r.To != "":
			p.add(ek+".to", "status 410 (gone) takes no to")
		case status == 410:
		case r.To == "":
			p.add(ek, "to is required: a URL or a local URL path")
		case strings.HasPrefix(r.To, "/"):
			path, query, _ := strings.Cut(r.To, "?")
			if msg := checkLocalPath(path); msg != "" {
				p.add(ek+".to", "%q %s", r.To, msg)
			} else if hasControlOrSpace(query) || strings.Contains(query, "#") {
				p.add(ek+".to", "%q: the query string holds a space, a control character or '#'", r.To)
			}
		default:
			if u, err := url.Parse(r.To); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || hasControlOrSpace(r.To) || strings.Contains(r.To, "#") {
				p.add(ek+".to", "%q is neither an http:// or https:// URL nor a local URL path (with no space or control character)", r.To)
			}
		}
	}
}

// redirectFor returns the site's redirect for the clean path p, and the
// rest of p after its From, if one applies. From matches whole segments:
// "/old" takes "/old" and "/old/x" but not "/older".
func (s *site) redirectFor(p []byte) (*Redirect, []byte) {
	for i := range s.redirects {
		if r := &s.redirects[i]; underPrefix(p, r.From) {
			return r, p[len(r.From):]
		}
	}
	return nil, nil
}

// answerRedirect answers the request with redirect r: the rest of the path
// (escaped) and the query string follow its To; a local To gets the
// request's scheme and host, as Apache makes it absolute.
func (c *conn) answerRedirect(r *Redirect, rest []byte) {
	if r.Status == 410 {
		c.writeError(410)
		return
	}
	req := &c.req
	loc := make([]byte, 0, 16+len(req.host)+len(r.To)+len(rest)+len(req.rawQuery))
	if r.To[0] == '/' {
		host := req.host
		if req.absHost != nil {
			host = req.absHost
		}
		if len(host) == 0 {
			host = []byte(c.site.name)
		}
		loc = append(loc, "http://"...)
		loc = append(loc, host...)
	}
	loc = append(loc, r.To...)
	loc = appendEscapedPath(loc, rest)
	if req.hasQuery && strings.IndexByte(r.To, '?') < 0 {
		loc = append(loc, '?')
		loc = append(loc, req.rawQuery...)
	}
	c.redirect(r.Status, loc)
}
