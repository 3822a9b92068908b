package serve

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/pwebs/pwebs"
	"github.com/pwebs/pwebs/cache"
	"github.com/pwebs/pwebs/cgi"
	"github.com/pwebs/pwebs/conf"
	"github.com/pwebs/pwebs/logging"
	"github.com/pwebs/pwebs/ssi"
)

// Config is pwebs.conf: every setting of the server, with the default of each
// key in its comment. Load fills the defaults, decodes the file strictly
// (unknown keys, wrong types and bad values are errors that name the file,
// the line and the key), resolves relative paths against the config file's
// folder and validates everything once; nothing is re-checked per request.
type Config struct {
	// Listen is the list of addresses to listen on, "host:port", IPv6 as
	// "[::1]:8080". Default ["127.0.0.1:8080"].
	Listen []string `toml:"listen"`
	// ServerName is the server's own name: SERVER_NAME for scripts and
	// requests that carry no Host, and %v in the access log. Default: the
	// machine's host name.
	ServerName string `toml:"server_name"`
	// ServerAdmin is an address shown to scripts as SERVER_ADMIN. Default "".
	ServerAdmin string `toml:"server_admin"`
	// ServerTokens is how pwebs names itself in the Server field, error
	// pages, listings and SERVER_SOFTWARE, as Apache's ServerTokens:
	// "full" ("pwebs/0.1.0") or "product" ("pwebs"). Default "full".
	ServerTokens string `toml:"server_tokens"`
	// DocumentRoot is the folder served for requests that match no virtual
	// host. Default "htdocs".
	DocumentRoot string `toml:"document_root"`
	// Index lists the file names served for a folder, in order. Default
	// ["index.html", "index.htm"].
	Index []string `toml:"index"`
	// MimeTypes names a file in Apache's mime.types format. Default "": the
	// copy built into pwebs.
	MimeTypes string `toml:"mime_types"`
	// DefaultType is the Content-Type of files whose extension mime.types
	// does not know. Default "application/octet-stream".
	DefaultType string `toml:"default_type"`
	// Listing turns on directory listings for folders with no index file.
	// Default true.
	Listing bool `toml:"listing"`
	// ListingMaxEntries bounds the entries a listing shows; the rest are
	// counted but not shown. Default 10000.
	ListingMaxEntries int `toml:"listing_max_entries"`
	// ErrorPages maps an error status (400 to 599) to what answers it, as
	// Apache's ErrorDocument: a local URL path ("/errors/404.html") is
	// served in the built-in page's place with the error's status; an
	// http:// or https:// URL is a 302 redirect to it; "default" is the
	// built-in page; any other text is sent as the page's HTML. Default
	// none.
	ErrorPages map[string]string `toml:"error_pages"`
	// Fallback maps a URL prefix to a local URL path that answers the
	// requests under it that name no file, and folders with no index file,
	// as Apache's FallbackResource: a front controller ("/index.php") keeps
	// the request's method, body and REQUEST_URI. The longest prefix wins.
	// Default none.
	Fallback map[string]string `toml:"fallback"`
	// Redirects lists redirects, as Apache's Redirect: a request for From,
	// or for a path below it, is answered Status (default 302) with a
	// Location of To followed by the rest of the path and the query
	// string. To is an http:// or https:// URL or a local URL path;
	// status 410 takes no To. Default none.
	Redirects []Redirect `toml:"redirects"`
	// Expires maps a media type ("text/css"), a type's family ("image/*")
	// or "default" to how long browsers and caches may keep a static file
	// or a cached SSI page of that type without asking again, as Apache's
	// ExpiresByType: sent as Cache-Control: max-age. Default none.
	Expires map[string]conf.Duration `toml:"expires"`
	// Auth lists the URL paths that need a user and password (HTTP Basic
	// authentication against an Apache htpasswd file). Default none.
	Auth []Auth `toml:"auth"`
	// Restrict lists the URL paths only some client addresses may ask
	// for; others get 403. Default none.
	Restrict []Restrict `toml:"restrict"`
	// Headers are header fields added to every response pwebs writes
	// (files, listings, SSI pages, redirects, error pages) and to a
	// script's response unless the script sent the field itself, as
	// Apache's Header set or nginx's add_header ... always. Fields pwebs
	// writes itself (Content-Type, ETag, Location...) cannot be set.
	// Default none.
	Headers map[string]string `toml:"headers"`
	// MaxClients bounds the requests being served at once, from a complete
	// request head to the end of its response. More requests wait in a FIFO
	// queue. Default 256.
	MaxClients int `toml:"max_clients"`
	// MaxConnections bounds open client connections; at the bound the
	// accept loop pauses and idle keep-alive connections are closed first.
	// Default 0: derived from the open-file limit.
	MaxConnections int `toml:"max_connections"`
	// ListenBacklog is the listen(2) backlog. Default 1024.
	ListenBacklog int `toml:"listen_backlog"`
	// DeferAccept has the kernel hand a connection to pwebs only once its
	// client has sent something, for up to header_timeout (Linux's
	// TCP_DEFER_ACCEPT, Apache's AcceptFilter data, nginx's deferred): a
	// connection that sends nothing costs the server nothing, and one whose
	// request is there is answered without waiting for it. Default true.
	DeferAccept bool `toml:"defer_accept"`
	// HeaderTimeout is the time allowed to receive a request's headers,
	// from its first byte. Default 10s.
	HeaderTimeout conf.Duration `toml:"header_timeout"`
	// KeepaliveTimeout is the idle time allowed between requests on one
	// connection. Default 5s.
	KeepaliveTimeout conf.Duration `toml:"keepalive_timeout"`
	// BodyTimeout is the time allowed between two reads of a request body
	// that makes no progress. Default 60s.
	BodyTimeout conf.Duration `toml:"body_timeout"`
	// SendTimeout drops a client that accepts no bytes for this long.
	// Default 60s.
	SendTimeout conf.Duration `toml:"send_timeout"`
	// QueueTimeout is how long a request may wait for a max_clients slot
	// before it is answered 503 with Retry-After. Default 10s.
	QueueTimeout conf.Duration `toml:"queue_timeout"`
	// ShutdownTimeout is how long SIGINT/SIGTERM waits for requests in
	// flight before closing their connections. Default 10s.
	ShutdownTimeout conf.Duration `toml:"shutdown_timeout"`
	// MaxHeaderBytes bounds a request's line and header fields together.
	// Default 16KiB; at least 1KiB.
	MaxHeaderBytes conf.Size `toml:"max_header_bytes"`
	// MaxBodyBytes bounds a request body. Default 10MiB.
	MaxBodyBytes conf.Size `toml:"max_body_bytes"`
	// User is the account pwebs serves as when it is started as root: it
	// binds its ports and opens its logs as root, then drops to this user
	// for good. Required when started as root (pwebs refuses to serve as
	// root); ignored, with a notice, otherwise. Default "".
	User string `toml:"user"`
	// Group is the group pwebs serves as when it is started as root.
	// Default: the user's primary group.
	Group string `toml:"group"`

	// VHost lists the name-based virtual hosts. A request whose Host
	// matches none is served from the top-level settings.
	VHost []VHost `toml:"vhost"`

	// Cache is the [cache] section: the memory cache of files and pages.
	Cache cache.Options `toml:"cache"`

	// Log is the [log] section: the access and error logs. With no config
	// file, both go to the terminal (stdout and stderr).
	Log logging.Options `toml:"log"`

	// CGI is the [cgi] section: script folders, extensions, interpreters
	// and the limits of script runs.
	CGI cgi.Options `toml:"cgi"`

	// SSI is the [ssi] section: Server Side Includes.
	SSI ssi.Options `toml:"ssi"`

	// Warnings lists problems that do not stop the server (an interpreter
	// that is not installed), as "FILE:LINE: message".
	Warnings []string `toml:"-"`

	// file is the config file read, "" for the built-in defaults; base is
	// the folder relative paths are resolved against.
	file, base string
	// flags maps the keys set by command-line flags to those flags (see
	// FromFlag).
	flags map[string]string
	// types is the parsed mime_types file.
	types *Types
}

// VHost is one [[vhost]] table: a set of host names and the serving keys
// that differ from the top level. A key left out takes the top-level value.
type VHost struct {
	// Names are the host names served, matched case-insensitively against
	// the Host header with its port removed. At least one is required.
	Names []string `toml:"names"`
	// DocumentRoot is the folder served for these names. Required.
	DocumentRoot string     `toml:"document_root"`
	Index        *[]string  `toml:"index"`
	DefaultType  *string    `toml:"default_type"`
	Listing      *bool      `toml:"listing"`
	ServerAdmin  *string    `toml:"server_admin"`
	MaxBodyBytes *conf.Size `toml:"max_body_bytes"`
	// ErrorPages, Fallback, Redirects, Auth and Restrict, when set,
	// replace the top-level ones whole.
	ErrorPages *map[string]string `toml:"error_pages"`
	Fallback   *map[string]string `toml:"fallback"`
	Redirects  *[]Redirect        `toml:"redirects"`
	Auth       *[]Auth            `toml:"auth"`
	Restrict   *[]Restrict        `toml:"restrict"`
}

// Redirect is one entry of redirects.
type Redirect struct {
	From   string `toml:"from"`
	To     string `toml:"to"`
	Status int    `toml:"status"`
}

// DefaultConfig returns the built-in configuration: what pwebs uses with no
// config file, and what every key of a config file defaults to. Relative
// paths in it are relative to the current folder.
func DefaultConfig() *Config {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return &Config{
		Listen:            []string{"127.0.0.1:8080"},
		ServerName:        host,
		ServerTokens:      "full",
		DocumentRoot:      "htdocs",
		Index:             []string{"index.html", "index.htm"},
		DefaultType:       "application/octet-stream",
		Listing:           true,
		ListingMaxEntries: 10000,
		MaxClients:        256,
		ListenBacklog:     1024,
		DeferAccept:       true,
		HeaderTimeout:     conf.D(10 * time.Second),
		KeepaliveTimeout:  conf.D(5 * time.Second),
		BodyTimeout:       conf.D(60 * time.Second),
		SendTimeout:       conf.D(60 * time.Second),
		QueueTimeout:      conf.D(10 * time.Second),
		ShutdownTimeout:   conf.D(10 * time.Second),
		MaxHeaderBytes:    16 << 10,
		MaxBodyBytes:      10 << 20,
		Cache:             cache.DefaultOptions(),
		Log:               logging.DefaultOptions(),
		CGI:               cgi.DefaultOptions(),
		SSI:               ssi.DefaultOptions(),
	}
}

// ConfigError is every problem found in one config file, each as
// "FILE:LINE: message" (or "FILE: message" when no line applies, or
// "flag -root: message" for a value a command-line flag set), in the
// order of their lines.
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string { return strings.Join(e.Problems, "\n") }

// LoadConfig reads the config file at path; path "" means the built-in
// defaults, relative to the current folder. override, when not nil, runs
// after the file is decoded and before anything is validated (the command
// line's -listen and -root use it, and call FromFlag). The returned error is
// a *ConfigError listing every problem.
func LoadConfig(path string, override func(*Config)) (*Config, error) {
	c := DefaultConfig()
	if path == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, &ConfigError{Problems: []string{"pwebs: " + err.Error()}}
		}
		c.base = wd
		// With no config file, log to the terminal, as a quick
		// "serve this folder" run should.
		c.Log.Access, c.Log.Error = "-", "-"
		if override != nil {
			override(c)
		}
		if err := c.finish(nil); err != nil {
			return nil, err
		}
		return c, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{Problems: []string{fmt.Sprintf("%s: %v", path, unwrapPathError(err))}}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &ConfigError{Problems: []string{fmt.Sprintf("%s: %v", path, err)}}
	}
	c.file = path
	c.base = filepath.Dir(abs)
	return c.decode(data, override)
}

// ParseConfig is LoadConfig on data already read, with relative paths
// resolved against base; name is used in errors. It is what the fuzz test
// and the unit tests drive.
func ParseConfig(name, base string, data []byte) (*Config, error) {
	c := DefaultConfig()
	c.file, c.base = name, base
	return c.decode(data, nil)
}

// FromFlag records that a command-line flag set key (as in the file:
// "document_root", "listen"), so that a problem with its value names the
// flag instead of a line of the file. The override function given to
// LoadConfig calls it.
func (c *Config) FromFlag(key, flag string) {
	if c.flags == nil {
		c.flags = make(map[string]string)
	}
	c.flags[key] = flag
}

// maxDecodeErrors bounds the values decode reports it could not decode.
const maxDecodeErrors = 50

// decode fills c from a TOML document, then resolves and validates it. It
// reports every problem it finds, not just the first: go-toml stops at the
// first value it cannot decode, so that value's expression is blanked out
// of the document (its lines kept, as blank lines) and the rest decoded
// again, until what is left decodes; unknown keys are then reported, and
// the keys that decoded are validated.
func (c *Config) decode(data []byte, override func(*Config)) (*Config, error) {
	scan, perr := scanKeys(data)
	if perr != nil {
		return nil, &ConfigError{Problems: []string{fmt.Sprintf("%s:%s", c.file, perr)}}
	}
	file, base := c.file, c.base
	p := &problems{file: file, lines: scan.lines, cols: scan.cols}
	for _, k := range checkValueKinds(p, scan) {
		data = scan.blank(data, scan.lines[k])
	}
	for tries := 1; ; tries++ {
		*c = *DefaultConfig()
		c.file, c.base = file, base
		err := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields().Decode(c)
		p.decodeProblems(err)
		var strict *toml.StrictMissingError
		var de *toml.DecodeError
		if err == nil || errors.As(err, &strict) || !errors.As(err, &de) {
			break // unknown keys come last, once everything else decodes
		}
		if tries == maxDecodeErrors {
			// Each try decodes the whole file again: stop before that
			// takes long, and leave validation out, since what decoded
			// is not all there is.
			p.addLine(math.MaxInt, fmt.Sprintf("%s: more than %d values could not be decoded; the rest of the file is not checked", c.file, maxDecodeErrors))
			return nil, p.err()
		}
		line, _ := de.Position()
		blanked := scan.blank(data, line)
		if blanked == nil {
			break
		}
		data = blanked
	}
	if override != nil {
		override(c)
	}
	if c.check(p); len(p.list) > 0 {
		return nil, p.err()
	}
	return c, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// decodeProblems records go-toml's errors as "FILE:LINE: key ...: message",
// and marks the keys of values that could not be decoded as bad.
func (p *problems) decodeProblems(err error) {
	if err == nil {
		return
	}
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		for _, e := range strict.Errors {
			line, col := e.Position()
			key := p.keyAt(arrayKey(e.Key(), line, p.lines), line, col)
			p.addLine(line, fmt.Sprintf("%s:%d: key %q: unknown key", p.file, line, displayKey(key)))
		}
		return
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		msg := humanDecodeError(strings.TrimPrefix(de.Error(), "toml: "))
		if key := de.Key(); len(key) > 0 {
			path := p.keyAt(arrayKey(key, line, p.lines), line, col)
			p.markBad(path)
			p.addLine(line, fmt.Sprintf("%s:%d: key %q: %s", p.file, line, displayKey(path), msg))
			return
		}
		p.addLine(line, fmt.Sprintf("%s:%d: %s", p.file, line, msg))
		return
	}
	p.addLine(0, fmt.Sprintf("%s: %v", p.file, err))
}

// keyAt narrows a key go-toml reported at line and col to the key written
// there: go-toml names an inline table or list as a whole ("redirects") and
// an unknown key inside one by its own name ("stat"). Of the keys on that
// line that extend key, or end with its last part, the one starting last
// at or before col is the one; key itself when there is none.
func (p *problems) keyAt(key string, line, col int) string {
	last := key
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		last = key[i+1:]
	}
	best, bestCol := key, -1
	for k, l := range p.lines {
		if l != line || (k != key && !strings.HasPrefix(k, key+".") && !strings.HasSuffix(k, "."+last)) {
			continue
		}
		c := p.cols[k]
		if c > col || c < bestCol || c == bestCol && len(k) <= len(best) {
			continue
		}
		best, bestCol = k, c
	}
	return best
}

// arrayKey turns a go-toml key path into one of keyLines's, with the index
// of the array table it is in ("vhost.1.colour"), found from the line it is
// on.
func arrayKey(key []string, line int, lines map[string]int) string {
	if len(key) < 2 {
		return strings.Join(key, ".")
	}
	best := -1
	for i := 0; ; i++ {
		l, ok := lines[key[0]+"."+strconv.Itoa(i)]
		if !ok || l > line {
			break
		}
		best = i
	}
	if best < 0 {
		return strings.Join(key, ".")
	}
	return key[0] + "." + strconv.Itoa(best) + "." + strings.Join(key[1:], ".")
}

var goTypeRE = regexp.MustCompile(`^cannot decode TOML ([\w ]+?) into (?:struct field \S+ of type )?(\S+)$`)

// humanDecodeError rewrites go-toml's type errors without Go type names.
func humanDecodeError(msg string) string {
	m := goTypeRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	typ := strings.TrimPrefix(m[2], "*")
	want := map[string]string{
		"int": "an integer", "int64": "an integer", "bool": "true or false", "string": "a string",
		"[]string": "a list of strings", "map[string]string": "a table of strings",
		"map[string]conf.Duration": "a table of durations",
	}[typ]
	switch {
	case want != "":
	case strings.HasPrefix(typ, "[]"):
		want = "a list of tables, [{ ... }]"
	case strings.HasPrefix(typ, "map["):
		want = "a table"
	default:
		want = "another type"
	}
	return fmt.Sprintf("want %s, not %s %s", want, article(m[1]), m[1])
}

func article(kind string) string {
	if strings.IndexByte("aeiou", kind[0]) >= 0 {
		return "an"
	}
	return "a"
}

// keyScan is what scanKeys finds in a TOML document.
type keyScan struct {
	// lines maps every key ("max_clients", "vhost.1.document_root",
	// "cgi.interpreters..php") and every element of a list
	// ("cgi.extensions.1") to the line it is written on, so that
	// validation errors can name a line. Array tables are numbered from 0
	// in the path. Tables map to the line of their header.
	lines map[string]int
	// cols maps the same keys to the column their key (or, for a list's
	// element, its value) starts at, so that a decoder's error inside an
	// inline table or list can be put on its own key.
	cols map[string]int
	// kinds maps every key to the kind of its value.
	kinds map[string]unstable.Kind
	// exprs holds the first line of every top-level expression (a table
	// header or a key = value), in order, and which are table headers.
	exprs []expr
	// last is the document's last line.
	last int
}

type expr struct {
	line  int
	table bool
}

// keyLines returns the lines of every key of a TOML document; see
// keyScan.lines.
func keyLines(data []byte) (map[string]int, error) {
	scan, err := scanKeys(data)
	if err != nil {
		return nil, err
	}
	return scan.lines, nil
}

// scanKeys finds the keys of a TOML document, their lines and the kinds of
// their values, and where each expression begins.
func scanKeys(data []byte) (*keyScan, error) {
	var p unstable.Parser
	p.Reset(data)
	scan := &keyScan{
		lines: make(map[string]int),
		cols:  make(map[string]int),
		kinds: make(map[string]unstable.Kind),
		last:  bytes.Count(data, []byte("\n")) + 1,
	}
	lines, cols, kinds := scan.lines, scan.cols, scan.kinds
	var table []string
	counts := make(map[string]int)
	lineOf := func(n *unstable.Node) int {
		return p.Shape(n.Raw).Start.Line
	}
	colOf := func(n *unstable.Node) int {
		if n.Raw.Length == 0 {
			return 0
		}
		return p.Shape(n.Raw).Start.Column
	}
	keyOf := func(it unstable.Iterator) (parts []string, first *unstable.Node) {
		for it.Next() {
			if first == nil {
				first = it.Node()
			}
			parts = append(parts, string(it.Node().Data))
		}
		return parts, first
	}
	// valueLine is the line a value starts on, or def when the parser
	// does not tell (a nested list).
	var valueLine func(n *unstable.Node, def int) int
	valueLine = func(n *unstable.Node, def int) int {
		if n.Raw.Length > 0 {
			return lineOf(n)
		}
		it := n.Children()
		if it.Next() {
			return valueLine(it.Node(), def)
		}
		return def
	}
	var walkValue func(full []string, v *unstable.Node, line int)
	var walkInline func(prefix []string, n *unstable.Node)
	walkValue = func(full []string, v *unstable.Node, line int) {
		switch v.Kind {
		case unstable.InlineTable:
			walkInline(full, v)
		case unstable.Array:
			it := v.Children()
			for i := 0; it.Next(); i++ {
				el := append(slices.Clone(full), strconv.Itoa(i))
				elLine := valueLine(it.Node(), line)
				lines[strings.Join(el, ".")] = elLine
				cols[strings.Join(el, ".")] = colOf(it.Node())
				line = elLine
				walkValue(el, it.Node(), elLine)
			}
		}
	}
	walkInline = func(prefix []string, n *unstable.Node) {
		it := n.Children()
		for it.Next() {
			kv := it.Node()
			if kv.Kind != unstable.KeyValue {
				continue
			}
			parts, first := keyOf(kv.Key())
			full := append(slices.Clone(prefix), parts...)
			if first != nil {
				lines[strings.Join(full, ".")] = lineOf(first)
				cols[strings.Join(full, ".")] = colOf(first)
				kinds[strings.Join(full, ".")] = kv.Value().Kind
				walkValue(full, kv.Value(), lineOf(first))
			}
		}
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table:
			parts, first := keyOf(e.Key())
			table = parts
			if first != nil {
				lines[strings.Join(table, ".")] = lineOf(first)
				scan.exprs = append(scan.exprs, expr{line: lineOf(first), table: true})
			}
		case unstable.ArrayTable:
			parts, first := keyOf(e.Key())
			name := strings.Join(parts, ".")
			idx := counts[name]
			counts[name]++
			table = append(parts, strconv.Itoa(idx))
			if first != nil {
				lines[strings.Join(table, ".")] = lineOf(first)
				if idx == 0 {
					lines[name] = lineOf(first)
				}
				scan.exprs = append(scan.exprs, expr{line: lineOf(first), table: true})
			}
		case unstable.KeyValue:
			parts, first := keyOf(e.Key())
			full := append(slices.Clone(table), parts...)
			if first != nil {
				lines[strings.Join(full, ".")] = lineOf(first)
				cols[strings.Join(full, ".")] = colOf(first)
				kinds[strings.Join(full, ".")] = e.Value().Kind
				scan.exprs = append(scan.exprs, expr{line: lineOf(first)})
				walkValue(full, e.Value(), lineOf(first))
			}
		}
	}
	if err := p.Error(); err != nil {
		var perr *unstable.ParserError
		if errors.As(err, &perr) && len(perr.Highlight) > 0 {
			off := bytes.Index(data, perr.Highlight)
			if sh := p.Shape(p.Range(perr.Highlight)); off >= 0 {
				return nil, fmt.Errorf("%d: %s", sh.Start.Line, perr.Message)
			}
		}
		return nil, fmt.Errorf(" %v", err)
	}
	return scan, nil
}

// blank returns a copy of data in which the expression holding line, up to
// the next expression (a table header: up to the next table header), is
// made of blank lines, so that a decoder skips it and every other key stays
// on its line. It returns nil when no expression holds line.
func (scan *keyScan) blank(data []byte, line int) []byte {
	i := len(scan.exprs) - 1
	for i >= 0 && scan.exprs[i].line > line {
		i--
	}
	if i < 0 {
		return nil
	}
	from, to := scan.exprs[i].line, scan.last
	for _, e := range scan.exprs[i+1:] {
		if e.table || !scan.exprs[i].table {
			to = e.line - 1
			break
		}
	}
	out := slices.Clone(data)
	n := 1
	for j, b := range out {
		switch {
		case b == '\n':
			n++
		case b != '\r' && n >= from && n <= to:
			out[j] = ' '
		}
	}
	return out
}

var (
	durationType = reflect.TypeOf(conf.Duration{})
	sizeType     = reflect.TypeOf(conf.Size(0))
)

// checkValueKinds reports values whose TOML kind cannot fill their field
// where go-toml would not say where: a duration must be a string, a size a
// string or an integer. It returns their keys, which it marks as bad.
func checkValueKinds(p *problems, scan *keyScan) []string {
	keys := make([]string, 0, len(scan.kinds))
	for k := range scan.kinds {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return scan.lines[keys[i]] < scan.lines[keys[j]] })
	var bad []string
	for _, key := range keys {
		typ := fieldType(reflect.TypeOf(Config{}), strings.Split(key, "."))
		kind := scan.kinds[key]
		var want string
		switch {
		case typ == durationType && kind != unstable.String:
			want = `a duration string such as "10s"`
		case typ == sizeType && kind != unstable.String && kind != unstable.Integer:
			want = `a size such as "64MiB"`
		default:
			continue
		}
		line := scan.lines[key]
		p.markBad(key)
		p.addLine(line, fmt.Sprintf("%s:%d: key %q: want %s, not %s", p.file, line, displayKey(key), want, kindName(kind)))
		bad = append(bad, key)
	}
	return bad
}

// fieldType follows a key path through Config's TOML tags; nil when the
// path names no field.
func fieldType(t reflect.Type, path []string) reflect.Type {
	for _, part := range path {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
			found := false
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				if name, _, _ := strings.Cut(f.Tag.Get("toml"), ","); name == part {
					t, found = f.Type, true
					break
				}
			}
			if !found {
				return nil
			}
		case reflect.Slice, reflect.Array, reflect.Map:
			t = t.Elem()
		default:
			return nil
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func kindName(k unstable.Kind) string {
	switch k {
	case unstable.String:
		return "a string"
	case unstable.Integer:
		return "an integer"
	case unstable.Float:
		return "a number"
	case unstable.Bool:
		return "true or false"
	case unstable.Array:
		return "a list"
	case unstable.InlineTable:
		return "a table"
	}
	return "a date"
}

// problems collects the problems of a config, each with the line of its
// key, to be reported in the order of their lines.
type problems struct {
	file     string
	lines    map[string]int    // see keyScan.lines
	cols     map[string]int    // see keyScan.cols
	flags    map[string]string // keys set by command-line flags, and the flags
	bad      map[string]bool   // keys whose values could not be decoded
	list     []problem
	warnings []problem
}

// problem is one problem: its text, and the line it is sorted by (0 when
// none applies, which comes first).
type problem struct {
	line int
	text string
}

// addLine records a problem already formatted.
func (p *problems) addLine(line int, text string) {
	p.list = append(p.list, problem{line: line, text: text})
}

// markBad records that key's value could not be decoded: validation, which
// sees the default in its place, says nothing more of it, nor of the keys
// below it or above it.
func (p *problems) markBad(key string) {
	if p.bad == nil {
		p.bad = make(map[string]bool)
	}
	p.bad[key] = true
}

// isBad reports whether key, a key below it or a key above it is bad.
func (p *problems) isBad(key string) bool {
	key = normKey(key)
	for k := range p.bad {
		if k == key || strings.HasPrefix(k, key+".") || strings.HasPrefix(key, k+".") {
			return true
		}
	}
	return false
}

// warn records a problem that does not stop the server.
func (p *problems) warn(key, format string, args ...any) {
	saved := p.list
	p.list = nil
	p.add(key, format, args...)
	p.warnings = append(p.warnings, p.list...)
	p.list = saved
}

// add records a problem with key (a dotted path as keyLines builds it;
// shown to the user with array indexes as written in the file). A key set
// by a command-line flag is blamed on the flag.
func (p *problems) add(key, format string, args ...any) {
	line, ok := p.lookup(key)
	p.addAt(key, line, ok, fmt.Sprintf(format, args...))
}

// addElem records a problem with element i of the list at key, on the
// element's line.
func (p *problems) addElem(key string, i int, format string, args ...any) {
	line, ok := p.lines[key+"."+strconv.Itoa(i)]
	if !ok {
		line, ok = p.lookup(key)
	}
	p.addAt(key, line, ok, fmt.Sprintf(format, args...))
}

// addAt records msg about key, on line when known.
func (p *problems) addAt(key string, line int, known bool, msg string) {
	if p.isBad(key) {
		return
	}
	top, _, _ := strings.Cut(key, ".")
	if flag, ok := p.flags[top]; ok {
		p.addLine(0, fmt.Sprintf("flag %s: %s", flag, msg))
		return
	}
	shown := displayKey(key)
	file := p.file
	if file == "" {
		file = "pwebs"
	}
	if known {
		p.addLine(line, fmt.Sprintf("%s:%d: key %q: %s", file, line, shown, msg))
		return
	}
	p.addLine(0, fmt.Sprintf("%s: key %q: %s", file, shown, msg))
}

// lookup finds the line of key, or of the nearest enclosing table. A list
// element may be written "extensions[1]" or "extensions.1".
func (p *problems) lookup(key string) (int, bool) {
	if line, ok := p.lines[key]; ok {
		return line, true
	}
	for k := normKey(key); k != ""; {
		if line, ok := p.lines[k]; ok {
			return line, true
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0, false
}

var indexRE = regexp.MustCompile(`\[([0-9]+)\]`)

// normKey writes the list indexes of key as keyLines does:
// "cgi.extensions[1]" becomes "cgi.extensions.1".
func normKey(key string) string {
	if !strings.Contains(key, "[") {
		return key
	}
	return indexRE.ReplaceAllString(key, ".$1")
}

// addSection records the errors a leaf's Validate returned for section.
func (p *problems) addSection(section string, errs []error) {
	for _, err := range errs {
		var ke *conf.KeyError
		if errors.As(err, &ke) {
			p.add(section+"."+ke.Key, "%v", ke.Err)
			continue
		}
		p.add(section, "%v", err)
	}
}

// err returns the problems as a *ConfigError, in the order of their lines.
func (p *problems) err() error {
	return &ConfigError{Problems: texts(p.list)}
}

// texts returns the texts of list, in the order of their lines.
func texts(list []problem) []string {
	slices.SortStableFunc(list, func(a, b problem) int { return a.line - b.line })
	out := make([]string, len(list))
	for i, pr := range list {
		out[i] = pr.text
	}
	return out
}

// displayKey turns "vhost.1.names" into "vhost[1].names".
func displayKey(key string) string {
	parts := strings.Split(key, ".")
	var b strings.Builder
	for i, part := range parts {
		if _, err := strconv.Atoi(part); err == nil && i > 0 && parts[i-1] != "error_pages" {
			// A list index; error_pages is a table keyed by numbers.
			b.WriteString("[" + part + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(part)
	}
	return b.String()
}

// finish resolves paths and validates the decoded config.
func (c *Config) finish(lines map[string]int) error {
	p := &problems{file: c.file, lines: lines}
	if c.check(p); len(p.list) > 0 {
		return p.err()
	}
	return nil
}

// check resolves paths and validates the decoded config, adding what it
// finds to p.
func (c *Config) check(p *problems) {
	p.flags = c.flags
	c.validate(p)
	c.Warnings = texts(p.warnings)
}

// File returns the config file's path as given, "" for built-in defaults.
func (c *Config) File() string { return c.file }

// abs resolves a path of the config against its folder.
func (c *Config) abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(c.base, p)
}

func (c *Config) validate(p *problems) {
	if len(c.Listen) == 0 {
		p.add("listen", "at least one address is required")
	}
	seen := map[string]bool{}
	for i, a := range c.Listen {
		a = strings.TrimSpace(a)
		c.Listen[i] = a
		host, port, err := splitHostPort(a)
		if err != nil {
			p.addElem("listen", i, "address %q: %v", a, err)
			continue
		}
		_ = host
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			p.addElem("listen", i, "address %q: bad port", a)
		}
		if seen[a] {
			p.addElem("listen", i, "address %q is listed twice", a)
		}
		seen[a] = true
	}
	if c.ServerName == "" {
		p.add("server_name", "must not be empty")
	}
	if c.ServerTokens != "full" && c.ServerTokens != "product" {
		p.add("server_tokens", "%q: write \"full\" (pwebs/%s) or \"product\" (pwebs)", c.ServerTokens, Version)
	}
	c.DocumentRoot = c.abs(c.DocumentRoot)
	checkDir(p, "document_root", c.DocumentRoot)
	checkIndex(p, "index", c.Index)
	checkErrorPages(p, "error_pages", c.ErrorPages)
	checkFallback(p, "fallback", c.Fallback)
	checkRedirects(p, "redirects", c.Redirects)
	checkExpires(p, "expires", c.Expires)
	if c.MimeTypes != "" {
		c.MimeTypes = c.abs(c.MimeTypes)
		data, err := os.ReadFile(c.MimeTypes)
		if err != nil {
			p.add("mime_types", "%v", unwrapPathError(err))
		} else if t, err := ParseTypes(c.MimeTypes, data); err != nil {
			p.add("mime_types", "%v", err)
		} else {
			c.types = t
		}
	} else {
		t, err := ParseTypes("mime.types", pwebs.MimeTypes)
		if err != nil {
			p.add("mime_types", "built-in table: %v", err)
		}
		c.types = t
	}
	if !validMediaType(strings.ToLower(c.DefaultType)) {
		p.add("default_type", "%q is not a media type", c.DefaultType)
	}
	positive := func(key string, v int) {
		if v < 1 {
			p.add(key, "must be at least 1, not %d", v)
		}
	}
	positive("max_clients", c.MaxClients)
	positive("listen_backlog", c.ListenBacklog)
	positive("listing_max_entries", c.ListingMaxEntries)
	if c.MaxConnections < 0 {
		p.add("max_connections", "must not be negative")
	}
	for _, kd := range []struct {
		key string
		d   conf.Duration
	}{
		{"header_timeout", c.HeaderTimeout}, {"keepalive_timeout", c.KeepaliveTimeout},
		{"body_timeout", c.BodyTimeout}, {"send_timeout", c.SendTimeout},
		{"queue_timeout", c.QueueTimeout}, {"shutdown_timeout", c.ShutdownTimeout},
	} {
		if kd.d.Duration <= 0 {
			p.add(kd.key, "must be positive, not %v", kd.d.Duration)
		}
	}
	if c.MaxHeaderBytes < 1024 {
		p.add("max_header_bytes", "must be at least 1KiB, not %d bytes", c.MaxHeaderBytes)
	}
	if c.MaxHeaderBytes > 1<<20 {
		p.add("max_header_bytes", "must be at most 1MiB")
	}
	if c.MaxBodyBytes < 0 {
		p.add("max_body_bytes", "must not be negative")
	}
	p.addSection("cache", c.Cache.Validate())
	for _, lp := range []*string{&c.Log.Access, &c.Log.Error} {
		if *lp != "" && *lp != "-" {
			*lp = c.abs(*lp)
		}
	}
	p.addSection("log", c.Log.Validate())
	for prefix, dir := range c.CGI.Dirs {
		c.CGI.Dirs[prefix] = c.abs(dir)
		checkDir(p, "cgi.dirs."+prefix, c.CGI.Dirs[prefix])
	}
	for _, err := range c.CGI.Validate() {
		var ke *conf.KeyError
		if errors.As(err, &ke) && strings.HasPrefix(ke.Key, "interpreters.") && errors.Is(err, fs.ErrNotExist) {
			// A missing interpreter only disables its scripts (they get
			// 503 and an error log line), so a site without PHP starts.
			p.warn("cgi."+ke.Key, "%v (its scripts will answer 503 until it is installed)", ke.Err)
			continue
		}
		p.addSection("cgi", []error{err})
	}
	p.addSection("ssi", c.SSI.Validate())
	if c.User != "" {
		if u, err := user.Lookup(c.User); err != nil {
			p.add("user", "no such user %q", c.User)
		} else if u.Uid == "0" {
			p.add("user", "%q is root: pwebs does not serve as root; name an ordinary user", c.User)
		} else if u.Gid == "0" && c.Group == "" {
			p.add("user", "the primary group of %q is root's: set group to another one", c.User)
		}
	}
	if c.Group != "" {
		if g, err := user.LookupGroup(c.Group); err != nil {
			p.add("group", "no such group %q", c.Group)
		} else if g.Gid == "0" {
			p.add("group", "%q is root's group: pwebs does not serve with it; name another group", c.Group)
		}
	} else if c.User == "" && c.Group != "" {
		p.add("group", "group is set without user")
	}
	names := map[string]int{}
	for i, v := range c.VHost {
		key := "vhost." + strconv.Itoa(i)
		if len(v.Names) == 0 {
			p.add(key+".names", "at least one name is required")
		}
		for j, name := range v.Names {
			// As a Host header is matched: without case, and without
			// the trailing dot of a fully qualified name.
			n := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
			v.Names[j] = n
			if n == "" || strings.ContainsAny(n, "/ :\t") {
				p.addElem(key+".names", j, "%q is not a host name", name)
				continue
			}
			if prev, dup := names[n]; dup && prev == i {
				p.addElem(key+".names", j, "%q is listed twice", n)
			} else if dup {
				p.addElem(key+".names", j, "%q is already served by vhost[%d]", n, prev)
			}
			names[n] = i
		}
		if v.DocumentRoot == "" {
			p.add(key, "document_root is required")
		} else {
			c.VHost[i].DocumentRoot = c.abs(v.DocumentRoot)
			checkDir(p, key+".document_root", c.VHost[i].DocumentRoot)
		}
		if v.Index != nil {
			checkIndex(p, key+".index", *v.Index)
		}
		if v.DefaultType != nil && !validMediaType(strings.ToLower(*v.DefaultType)) {
			p.add(key+".default_type", "%q is not a media type", *v.DefaultType)
		}
		if v.MaxBodyBytes != nil && *v.MaxBodyBytes < 0 {
			p.add(key+".max_body_bytes", "must not be negative")
		}
		if v.ErrorPages != nil {
			checkErrorPages(p, key+".error_pages", *v.ErrorPages)
		}
		if v.Fallback != nil {
			checkFallback(p, key+".fallback", *v.Fallback)
		}
		if v.Redirects != nil {
			checkRedirects(p, key+".redirects", *v.Redirects)
		}
		if v.Auth != nil {
			c.checkAuth(p, key+".auth", *v.Auth)
		}
		if v.Restrict != nil {
			checkRestrict(p, key+".restrict", *v.Restrict)
		}
	}
	c.checkAuth(p, "auth", c.Auth)
	checkRestrict(p, "restrict", c.Restrict)
	checkHeaders(p, "headers", c.Headers, len(c.Expires) > 0)
	// A log inside a document root would be served to anyone.
	roots := []string{c.DocumentRoot}
	for _, v := range c.VHost {
		roots = append(roots, v.DocumentRoot)
	}
	for _, kp := range [][2]string{{"log.access", c.Log.Access}, {"log.error", c.Log.Error}} {
		key, lp := kp[0], kp[1]
		if lp == "" || lp == "-" {
			continue
		}
		if fi, err := os.Lstat(lp); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			// Whoever may write the log's folder could point it at any
			// file that pwebs, started as root, would then append to.
			p.add(key, "%s is a symbolic link, which pwebs does not follow for a log: name the file itself", lp)
		}
		for _, r := range roots {
			if r != "" && within(lp, r) {
				p.add(key, "%s is inside the document root %s, where anyone could read it", lp, r)
			}
		}
	}
}

// within reports whether path p is root or below it.
func within(p, root string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

func checkDir(p *problems, key, dir string) {
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		p.add(key, "%s: %v", dir, unwrapPathError(err))
	case !fi.IsDir():
		p.add(key, "%s is not a folder", dir)
	}
}

func checkIndex(p *problems, key string, index []string) {
	for i, name := range index {
		if name == "" || strings.ContainsAny(name, "/\\\x00") || name[0] == '.' {
			p.addElem(key, i, "%q is not a plain file name", name)
		}
	}
}

// splitHostPort accepts "host:port", "[v6]:port" and ":port".
func splitHostPort(a string) (host, port string, err error) {
	i := strings.LastIndexByte(a, ':')
	if i < 0 {
		return "", "", errors.New("missing port (write host:port)")
	}
	host, port = a[:i], a[i+1:]
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return "", "", errors.New("unbalanced [ ]")
		}
		host = host[1 : len(host)-1]
	} else if strings.Contains(host, ":") {
		return "", "", errors.New("an IPv6 address must be written in brackets: [::1]:8080")
	}
	return host, port, nil
}
