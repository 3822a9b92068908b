package serve

import (
	"bytes"
	"fmt"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sys/unix"

	"github.com/pwebs/pwebs/cache"
	"github.com/pwebs/pwebs/cgi"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
)

// state is everything built from one Config: the sites with their open
// roots, the host table and the mime types. It is immutable once built;
// SIGHUP builds a new one and new connections use it.
type state struct {
	cfg   *Config
	log   *slog.Logger
	types *Types
	// expires gives the Cache-Control of static responses by type; nil
	// when expires is not set.
	expires *expiresTable
	// software names pwebs (server_tokens).
	software string
	// extraList is headers sorted by name; extraHeaders, the same
	// rendered as header lines.
	extraList    []cgi.Field
	extraHeaders []byte
	sites        []*site
	byHost       map[string]*site
	def          *site
	// cache holds files and generated pages; nil when [cache] is off.
	cache *cache.Cache
	// cgi runs scripts; aliases are the [cgi] dirs, longest prefix first.
	cgi     *cgi.Handler
	aliases []*alias
	// slots bounds the requests being served (max_clients).
	slots *slotQueue
	// pages holds SSI parse trees by file.
	pages *lru.Cache[string, *parsedPage]

	closeOnce sync.Once
}

// site is one document root and its serving settings: the top level or a
// [[vhost]].
type site struct {
	id           byte   // index in state.sites, the first byte of cache keys
	name         string // the first vhost name, or the server name
	dir          string // the document root, absolute
	root         atomic.Pointer[os.Root]
	rootFD       atomic.Int64 // the root opened O_PATH, for openat2; -1 if not
	rootMu       sync.Mutex   // serialises reopening the root
	index        []string
	listing      bool
	defaultType  string
	serverAdmin  string
	maxBodyBytes int64
	errorPages   map[int]*customPage // by status; nil when none is set
	fallbacks    []fallback          // longest prefix first
	redirects    []Redirect          // longest From first
	auth         []*authZone         // longest prefix first
	restrict     []restriction       // longest prefix first
	stats        *Stats              // the server's counters; nil in tests of the resolver alone
}

// alias is a URL prefix served from a folder of its own, every file of
// which is a CGI script (Apache's ScriptAlias).
type alias struct {
	prefix string // "/cgi-bin/", always ending in "/"
	dir    string // its folder, absolute
	root   *os.Root
}

// aliasFor returns the alias whose prefix the clean path p starts with.
func (st *state) aliasFor(p []byte) *alias {
	for _, a := range st.aliases {
		if len(p) >= len(a.prefix) && string(p[:len(a.prefix)]) == a.prefix {
			return a
		}
	}
	return nil
}

func newState(cfg *Config, log *slog.Logger, stats *Stats, cgiHandler *cgi.Handler) (*state, error) {
	if len(cfg.VHost) > 254 {
		return nil, fmt.Errorf("at most 254 virtual hosts are supported, not %d", len(cfg.VHost))
	}
	pages, err := lru.New[string, *parsedPage](maxSSIPages)
	if err != nil {
		return nil, err
	}
	st := &state{cfg: cfg, log: log, types: cfg.types, byHost: make(map[string]*site), cgi: cgiHandler, pages: pages}
	if st.types == nil {
		if err := cfg.finish(nil); err != nil {
			return nil, err
		}
		st.types = cfg.types
	}
	st.expires = newExpires(cfg.Expires)
	st.software = software(cfg.ServerTokens)
	st.extraList, st.extraHeaders = extraFields(cfg.Headers)
	def, err := newSite(0, cfg.ServerName, cfg.DocumentRoot, cfg, stats)
	if err != nil {
		return nil, err
	}
	st.def = def
	st.sites = append(st.sites, def)
	for i, v := range cfg.VHost {
		s, err := newSite(byte(i+1), v.Names[0], v.DocumentRoot, cfg, stats)
		if err != nil {
			st.close()
			return nil, err
		}
		if v.Index != nil {
			s.index = *v.Index
		}
		if v.DefaultType != nil {
			s.defaultType = *v.DefaultType
		}
		if v.Listing != nil {
			s.listing = *v.Listing
		}
		if v.ServerAdmin != nil {
			s.serverAdmin = *v.ServerAdmin
		}
		if v.MaxBodyBytes != nil {
			s.maxBodyBytes = int64(*v.MaxBodyBytes)
		}
		if v.ErrorPages != nil {
			s.errorPages = customPages(*v.ErrorPages)
		}
		if v.Fallback != nil {
			s.fallbacks = fallbacks(*v.Fallback)
		}
		if v.Redirects != nil {
			s.redirects = redirectRules(*v.Redirects)
		}
		if v.Auth != nil {
			s.auth = authZones(*v.Auth)
		}
		if v.Restrict != nil {
			s.restrict = restrictions(*v.Restrict)
		}
		st.sites = append(st.sites, s)
		for _, n := range v.Names {
			st.byHost[strings.ToLower(n)] = s
		}
	}
	for prefix, dir := range cfg.CGI.Dirs {
		if !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("cgi dirs %s: %w", prefix, err)
		}
		st.aliases = append(st.aliases, &alias{prefix: prefix, dir: dir, root: root})
	}
	sort.Slice(st.aliases, func(i, j int) bool { return len(st.aliases[i].prefix) > len(st.aliases[j].prefix) })
	if cfg.Cache.Enabled {
		// Serve makes gzip variants itself, before Add, so that their
		// response heads are rendered with them.
		opts := cfg.Cache
		opts.Compress = false
		c, err := cache.New(opts, log)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("cache: %w", err)
		}
		st.cache = c
		for _, s := range st.sites {
			if err := c.Watch(s.dir); err != nil {
				log.Warn("cache: cannot watch "+s.dir+"; its files are checked on every hit", "error", err)
			}
		}
	}
	return st, nil
}

func newSite(id byte, name, dir string, cfg *Config, stats *Stats) (*site, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("document_root: %w", err)
	}
	s := &site{
		id:           id,
		name:         name,
		dir:          dir,
		index:        cfg.Index,
		listing:      cfg.Listing,
		defaultType:  cfg.DefaultType,
		serverAdmin:  cfg.ServerAdmin,
		maxBodyBytes: int64(cfg.MaxBodyBytes),
		errorPages:   customPages(cfg.ErrorPages),
		fallbacks:    fallbacks(cfg.Fallback),
		redirects:    redirectRules(cfg.Redirects),
		auth:         authZones(cfg.Auth),
		restrict:     restrictions(cfg.Restrict),
		stats:        stats,
	}
	s.root.Store(root)
	s.rootFD.Store(int64(openDirFD(dir)))
	return s, nil
}

// close releases the roots; requests still using them get errors, so it
// runs only once no request can.
func (st *state) close() {
	st.closeOnce.Do(func() {
		for _, s := range st.sites {
			s.fs().Close()
			if fd := s.rootFD.Swap(-1); fd >= 0 {
				unix.Close(int(fd))
			}
		}
		if st.cache != nil {
			st.cache.Close()
		}
		for _, a := range st.aliases {
			a.root.Close()
		}
	})
}

// siteFor picks the site for a Host value (port ignored, case-insensitive)
// without allocating.
func (st *state) siteFor(host []byte) *site {
	if len(st.byHost) == 0 || len(host) == 0 {
		return st.def
	}
	// Strip the port: "[v6]:port" or "name:port".
	if host[0] == '[' {
		if i := bytes.IndexByte(host, ']'); i >= 0 {
			host = host[:i+1]
		}
	} else if i := lastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	// A trailing dot names the same host.
	if n := len(host); n > 0 && host[n-1] == '.' {
		host = host[:n-1]
	}
	var buf [256]byte
	if len(host) > len(buf) {
		return st.def
	}
	b := buf[:len(host)]
	for i, c := range host {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	if s, ok := st.byHost[string(b)]; ok {
		return s
	}
	return st.def
}

// knownHost reports whether a host (with or without a port) is one this
// server answers for as itself: a vhost name, server_name, localhost, or
// an IP address (a request to an address reached this server).
func (st *state) knownHost(host []byte) bool {
	name, _ := splitHost(host)
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if name == "localhost" || name == strings.ToLower(st.cfg.ServerName) {
		return true
	}
	if _, ok := st.byHost[name]; ok {
		return true
	}
	if strings.HasPrefix(name, "[") && strings.HasSuffix(name, "]") {
		name = name[1 : len(name)-1]
	}
	return net.ParseIP(name) != nil
}

func lastIndexByte(b []byte, c byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}
