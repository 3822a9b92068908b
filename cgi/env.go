package cgi

import (
	"io"
	"slices"
	"strconv"
	"strings"
)

// Field is one header field: a request header as received, or a response
// header as the script wrote it.
type Field struct{ Name, Value string }

// Request is everything a script run needs, filled by serve. Paths are
// already resolved and checked by serve's path resolver; the package trusts
// them.
type Request struct {
	Method     string // REQUEST_METHOD: "GET", "HEAD", "POST", ...
	RequestURI string // REQUEST_URI: the original request target, before any index file was resolved
	Proto      string // SERVER_PROTOCOL as actually spoken: "HTTP/1.0" or "HTTP/1.1"
	Scheme     string // REQUEST_SCHEME: "http" (later "https")
	HTTPS      bool   // HTTPS=on when true; unset otherwise

	ScriptFilename string // SCRIPT_FILENAME: absolute path of the script file
	ScriptName     string // SCRIPT_NAME: URL path of the script
	PathInfo       string // PATH_INFO: percent-decoded and cleaned (no "." or ".." segments); "" when none
	QueryString    string // QUERY_STRING: raw, as received, without the "?"
	DocumentRoot   string // DOCUMENT_ROOT; PATH_TRANSLATED is DocumentRoot+PathInfo

	ContextPrefix       string // CONTEXT_PREFIX: for Dirs, the URL prefix ("/cgi-bin/")
	ContextDocumentRoot string // CONTEXT_DOCUMENT_ROOT: for Dirs, its folder

	RemoteAddr string // REMOTE_ADDR (and REMOTE_HOST): the client's IP address
	RemotePort string // REMOTE_PORT
	RemoteUser string // REMOTE_USER: "" on anonymous requests
	AuthType   string // AUTH_TYPE: "" on anonymous requests

	ServerName     string // SERVER_NAME: the virtual host's name
	ServerPort     string // SERVER_PORT
	ServerAddr     string // SERVER_ADDR: the local address the request came in on
	ServerAdmin    string // SERVER_ADMIN
	ServerSoftware string // SERVER_SOFTWARE: "pwebs/1.0"

	// Header holds the request header fields in order, names as received.
	Header []Field

	// Body is the request body, already de-chunked by serve, or nil when
	// the request has none. Serve reads it only while it runs: it never
	// returns while it still reads Body.
	Body io.Reader

	// ContentLength is the body's length, or -1 when it is unknown (a
	// chunked body): Serve then spools the body (in memory up to a bound,
	// then in an unlinked temporary file) to learn CONTENT_LENGTH before
	// the script starts.
	ContentLength int64

	// MaxBodyBytes bounds the body: a longer one makes Serve return
	// ErrBodyTooLarge before the script starts. Zero or less: no bound.
	MaxBodyBytes int64

	// Client is "ip:port", given to the error log as the "client" attr.
	Client string

	// Redirect holds the variables of the request this one was internally
	// redirected from (a script's local Location, an error page), already
	// named REDIRECT_*; RedirectStatus is that request's status,
	// REDIRECT_STATUS (0 means 200: php-cgi refuses to run without it).
	Redirect       []Field
	RedirectStatus int

	// Extra holds more variables for the script: the variables an SSI page set for the scripts it includes, as
	// Apache passes them. A name that is not a valid variable name (letters,
	// digits and '_', not starting with a digit) or that the variables
	// above already use is left out.
	Extra []Field
}

// safePath is the only value of the server's world that reaches a script:
// a fixed PATH, never the server's own.
const safePath = "/usr/local/bin:/usr/bin:/bin"

// Env returns the environment of a script run for r: every RFC 3875
// meta-variable, Apache's usual extras, REDIRECT_STATUS=200 (php-cgi
// refuses to run without it; after a redirect, r.RedirectStatus) and
// r.Redirect's variables, one HTTP_* variable per request header field
// name, and PATH=safePath. Nothing else of the server's environment is
// passed. Env is pure: it reads nothing but its arguments.
//
// Header fields: repeated names are joined with ", " (Cookie with "; ",
// which is what cookie parsers such as PHP's split on); names with a
// character other than a letter, a digit or '-' are dropped, as Apache does,
// so that "X_Foo" cannot pose as "X-Foo"; Content-Type and Content-Length
// become CONTENT_TYPE and CONTENT_LENGTH; Proxy is never passed (httpoxy,
// CVE-2016-5385), nor are Authorization and Proxy-Authorization unless
// o.PassAuthorization passes Authorization. A variable whose value would
// hold a NUL byte is left out, since no environment can carry it.
//
// REMOTE_USER and AUTH_TYPE are set only when non-empty, HTTPS only when
// r.HTTPS, PATH_TRANSLATED only when there is a PATH_INFO, CONTENT_LENGTH
// only when the length is known and there is a body (or a Content-Length
// field). REMOTE_HOST carries the address, as RFC 3875 allows when no name
// lookup is done.
func Env(r *Request, o *Options) []string {
	vars := make([]Field, 0, 32+len(r.Header)+len(r.Extra))
	add := func(k, v string) {
		if strings.IndexByte(v, 0) < 0 {
			vars = append(vars, Field{k, v})
		}
	}
	add("GATEWAY_INTERFACE", "CGI/1.1")
	add("SERVER_SOFTWARE", r.ServerSoftware)
	add("SERVER_NAME", r.ServerName)
	add("SERVER_ADDR", r.ServerAddr)
	add("SERVER_PORT", r.ServerPort)
	add("SERVER_ADMIN", r.ServerAdmin)
	add("SERVER_SIGNATURE", "")
	add("SERVER_PROTOCOL", r.Proto)
	add("REQUEST_SCHEME", r.Scheme)
	if r.HTTPS {
		add("HTTPS", "on")
	}
	add("REQUEST_METHOD", r.Method)
	add("REQUEST_URI", r.RequestURI)
	add("QUERY_STRING", r.QueryString)
	add("SCRIPT_NAME", r.ScriptName)
	add("SCRIPT_FILENAME", r.ScriptFilename)
	if r.PathInfo != "" {
		add("PATH_INFO", r.PathInfo)
		if r.DocumentRoot != "" {
			add("PATH_TRANSLATED", strings.TrimSuffix(r.DocumentRoot, "/")+r.PathInfo)
		}
	}
	add("DOCUMENT_ROOT", r.DocumentRoot)
	add("CONTEXT_PREFIX", r.ContextPrefix)
	add("CONTEXT_DOCUMENT_ROOT", r.ContextDocumentRoot)
	add("REMOTE_ADDR", r.RemoteAddr)
	add("REMOTE_HOST", r.RemoteAddr)
	add("REMOTE_PORT", r.RemotePort)
	if r.AuthType != "" {
		add("AUTH_TYPE", r.AuthType)
	}
	if r.RemoteUser != "" {
		add("REMOTE_USER", r.RemoteUser)
	}
	if r.RedirectStatus != 0 {
		add("REDIRECT_STATUS", strconv.Itoa(r.RedirectStatus))
	} else {
		add("REDIRECT_STATUS", "200")
	}
	for _, f := range r.Redirect {
		if validVarName(f.Name) {
			add(f.Name, f.Value)
		}
	}
	add("PATH", safePath)

	// Each field's variable name, "" for a field that is dropped.
	names := make([]string, len(r.Header))
	for i, f := range r.Header {
		names[i], _ = envName(f.Name)
	}
	hasLength := false
	for i, name := range names {
		if name == "" || slices.Contains(names[:i], name) {
			continue
		}
		switch name {
		case "HTTP_PROXY", "HTTP_PROXY_AUTHORIZATION":
			continue
		case "HTTP_AUTHORIZATION":
			if o == nil || !o.PassAuthorization {
				continue
			}
		case "HTTP_CONTENT_LENGTH":
			hasLength = true
			continue
		case "HTTP_CONTENT_TYPE":
			add("CONTENT_TYPE", joinValues(r.Header, names, i, ", "))
			continue
		}
		sep := ", "
		if name == "HTTP_COOKIE" {
			sep = "; "
		}
		add(name, joinValues(r.Header, names, i, sep))
	}
	if r.ContentLength >= 0 && (r.Body != nil || r.ContentLength > 0 || hasLength) {
		add("CONTENT_LENGTH", strconv.FormatInt(r.ContentLength, 10))
	}
	for _, f := range r.Extra {
		if validVarName(f.Name) && !slices.ContainsFunc(vars, func(kv Field) bool { return kv.Name == f.Name }) {
			add(f.Name, f.Value)
		}
	}
	return joinVars(vars)
}

// joinVars returns the variables as "NAME=value" strings, all cut from one
// string: two allocations, rather than one per variable.
func joinVars(vars []Field) []string {
	n := 0
	for _, kv := range vars {
		n += len(kv.Name) + 1 + len(kv.Value)
	}
	var b strings.Builder
	b.Grow(n)
	for _, kv := range vars {
		b.WriteString(kv.Name)
		b.WriteByte('=')
		b.WriteString(kv.Value)
	}
	all := b.String()
	env := make([]string, len(vars))
	for i, kv := range vars {
		m := len(kv.Name) + 1 + len(kv.Value)
		env[i], all = all[:m], all[m:]
	}
	return env
}

// validVarName reports whether s can name an environment variable that a
// shell script can read: letters, digits and '_', not starting with a digit.
func validVarName(s string) bool {
	if s == "" || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// envName turns a header field name into its HTTP_* variable name. It
// reports false for a name with a character other than an ASCII letter, a
// digit or '-'.
func envName(h string) (string, bool) {
	if h == "" {
		return "", false
	}
	var b strings.Builder
	b.Grow(5 + len(h))
	b.WriteString("HTTP_")
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z':
			b.WriteByte(c - ('a' - 'A'))
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == '-':
			b.WriteByte('_')
		default:
			return "", false
		}
	}
	return b.String(), true
}

// joinValues joins, in order, the values of the fields of hs from the i-th
// on whose variable name is names[i].
func joinValues(hs []Field, names []string, i int, sep string) string {
	v := hs[i].Value
	for j := i + 1; j < len(hs); j++ {
		if names[j] == names[i] {
			v += sep + hs[j].Value
		}
	}
	return v
}
