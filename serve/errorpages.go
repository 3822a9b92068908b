package serve

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/pwebs/pwebs/cgi"
	"github.com/pwebs/pwebs/logging"
)

// customPage is what answers one error status of a site (error_pages):
// a local URL path served in the built-in page's place, a URL redirected
// to, or HTML text.
type customPage struct {
	path, query string // a local page: its URL path and query string
	hasQuery    bool
	url         []byte // an external page: the 302's Location
	html        []byte // text sent as the page
}

// fallback is one entry of a site's fallback table.
type fallback struct {
	prefix string // a URL path prefix
	target []byte // the local URL path that answers under it
}

// customPages builds a site's table from error_pages, which validation
// checked; "default" entries are left out.
func customPages(m map[string]string) map[int]*customPage {
	if len(m) == 0 {
		return nil
	}
	pages := make(map[int]*customPage, len(m))
	for k, v := range m {
		code, _ := strconv.Atoi(k)
		switch kind := errorPageKind(v); kind {
		case "default":
		case "local":
			ep := &customPage{path: v}
			ep.path, ep.query, ep.hasQuery = strings.Cut(v, "?")
			pages[code] = ep
		case "url":
			pages[code] = &customPage{url: []byte(v)}
		default:
			pages[code] = &customPage{html: []byte(v)}
		}
	}
	return pages
}

// errorPageKind tells what an error_pages value is: "default", "local"
// (starts with "/"), "url" (a scheme and "://", such as https:// or
// ftp://) or "text".
func errorPageKind(v string) string {
	switch {
	case v == "default":
		return "default"
	case strings.HasPrefix(v, "/"):
		return "local"
	case hasScheme(v):
		return "url"
	}
	return "text"
}

// hasScheme reports whether v starts with a URL scheme and "://".
func hasScheme(v string) bool {
	i := strings.Index(v, "://")
	if i <= 0 {
		return false
	}
	for j := 0; j < i; j++ {
		c := v[j]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// fallbacks builds a site's table from fallback, longest prefix first.
func fallbacks(m map[string]string) []fallback {
	fb := make([]fallback, 0, len(m))
	for prefix, target := range m {
		fb = append(fb, fallback{prefix: prefix, target: []byte(target)})
	}
	slices.SortStableFunc(fb, func(a, b fallback) int { return len(b.prefix) - len(a.prefix) })
	return fb
}

// checkErrorPages validates an error_pages table at key.
func checkErrorPages(p *problems, key string, m map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v, ek := m[k], key+"."+k
		if code, err := strconv.Atoi(k); err != nil || code < 400 || code > 599 || strconv.Itoa(code) != k {
			p.add(ek, "%q is not an error status: write one from 400 to 599", k)
			continue
		}
		switch errorPageKind(v) {
		case "local":
			path, query, _ := strings.Cut(v, "?")
			if msg := checkLocalPath(path); msg != "" {
				p.add(ek, "%q %s", v, msg)
			} else if hasControlOrSpace(query) || strings.Contains(query, "#") {
				p.add(ek, "%q: the query string holds a space, a control character or '#'", v)
			}
		case "url":
			if u, err := url.Parse(v); err != nil || u.Host == "" || hasControlOrSpace(v) {
				p.add(ek, "%q is not a URL", v)
			} else if k == "401" {
				p.add(ek, "a 401 cannot redirect: the browser would never ask for a password; name a local page")
			}
		case "text":
			if strings.TrimSpace(v) == "" {
				p.add(ek, "is empty: write \"default\" for the built-in page")
			}
		}
	}
}

// checkFallback validates a fallback table at key.
func checkFallback(p *problems, key string, m map[string]string) {
	for _, prefix := range slices.Sorted(maps.Keys(m)) {
		target, ek := m[prefix], key+"."+prefix
		if msg := prefixProblem(prefix); msg != "" {
			p.add(ek, "prefix %q %s", prefix, msg)
			continue
		}
		if !strings.HasSuffix(prefix, "/") {
			p.add(ek, "prefix %q must end with \"/\": it names a folder", prefix)
			continue
		}
		if msg := checkLocalPath(target); msg != "" {
			p.add(ek, "%q %s", target, msg)
		}
	}
}

// hasControlOrSpace reports whether s holds a byte that may not stand in
// a URL as it is: a space or a control character.
func hasControlOrSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// checkLocalPath returns what is wrong with a configured URL path, or "".
func checkLocalPath(v string) string {
	if !strings.HasPrefix(v, "/") {
		return "is not a URL path: it must start with \"/\""
	}
	for i := 0; i < len(v); i++ {
		if b := v[i]; b <= ' ' || b == 0x7f || b == '#' || b == '?' {
			return "is not a URL path: it holds " + strconv.QuoteRune(rune(b))
		}
	}
	buf := make([]byte, 0, len(v)+1)
	clean, status := cleanPath(buf, []byte(v))
	switch {
	case status != 0:
		return "is not a URL path pwebs can serve"
	case hiddenPath(clean):
		return "names a hidden file, which pwebs refuses to serve"
	}
	return ""
}

// errDoc is the error an error page is being served for: while it is set,
// a 200 response becomes this status, with the error's extra field.
type errDoc struct {
	status      int
	name, value string // Allow, Retry-After, Content-Range...; "" for none
}

// serveErrorPage answers status with the site's error page for it, if it
// has one, and reports whether it did. A local page is an internal GET
// (HEAD stays HEAD) of its path, answered with status, as Apache serves an
// ErrorDocument: scripts and SSI pages see REDIRECT_STATUS, REDIRECT_URL,
// REDIRECT_QUERY_STRING and REDIRECT_REQUEST_METHOD. If the page itself
// fails, the built-in page for status answers (see writeErrorWith).
func (c *conn) serveErrorPage(status int, name, value string) bool {
	ep := c.site.errorPages[status]
	if ep == nil {
		return false
	}
	switch {
	case ep.url != nil && status == 401:
		// A redirect would never let the browser ask for a password.
		return false
	case ep.url != nil:
		c.redirect(302, ep.url)
		return true
	case ep.html != nil:
		c.writeErrorBody(status, name, value, "text/html; charset=utf-8", ep.html)
		return true
	}
	if c.redirects+1 >= maxRedirects {
		return false
	}
	r := &c.req
	url := c.pathBuf
	if c.fellBack && c.redirects == 0 {
		url = c.origPath // a fallback answered: the error is the path's asked for
	}
	c.keepOrigPath()
	vars := make([]cgi.Field, 0, 3)
	vars = append(vars, cgi.Field{Name: "REDIRECT_URL", Value: string(url)})
	if r.hasQuery {
		vars = append(vars, cgi.Field{Name: "REDIRECT_QUERY_STRING", Value: string(r.rawQuery)})
	}
	vars = append(vars, cgi.Field{Name: "REDIRECT_REQUEST_METHOD", Value: string(r.Method)})
	c.redirectVars, c.redirectStatus = vars, status
	c.errDoc = errDoc{status: status, name: name, value: value}
	c.resp.origStatus = status
	c.redirectTo(ep.path, ep.query, ep.hasQuery)
	return true
}

// errorPageFailed answers with the built-in page when the error page for
// c.errDoc could not be served (it gave status), and logs why. The page is
// not tried again.
func (c *conn) errorPageFailed(status int) {
	ed := c.errDoc
	c.errDoc = errDoc{}
	c.srv.log.Error(fmt.Sprintf("the error page for status %d (%s) answered %d; the built-in page was sent", ed.status, c.pathBuf, status),
		"client", c.remoteAddr(), logging.RefererKey, c.referer())
	if c.resp.headerSent {
		c.closeAfter = true
		return
	}
	c.writeErrorBody(ed.status, ed.name, ed.value, "text/html; charset=utf-8", c.builtinPage(ed.status))
}

// fallBack serves the request from the site's fallback for its path, when
// it has one, and reports whether it did: a path that names nothing, or a
// folder with no index file. The request keeps its method, body, query
// and REQUEST_URI; it is answered as if it had asked for the fallback's
// path. A fallback is taken once per request, and never for an error page.
func (c *conn) fallBack(s *site, p []byte) bool {
	if len(s.fallbacks) == 0 || c.fellBack || c.errDoc.status != 0 {
		return false
	}
	for _, fb := range s.fallbacks {
		if underPrefix(p, fb.prefix) {
			c.fellBack = true
			c.keepOrigPath()
			c.req.rawPath = fb.target
			c.dispatch()
			return true
		}
	}
	return false
}

// keepOrigPath saves the request's own clean path, which %U logs, before
// the first redirect replaces it.
func (c *conn) keepOrigPath() {
	if c.origPath == nil {
		c.origPath = append([]byte(nil), c.pathBuf...)
	}
}
