package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	htpasswd "github.com/tg123/go-htpasswd"

	"github.com/pwebs/pwebs/logging"
)

// Auth is one entry of auth: HTTP Basic authentication (RFC 7617) for the
// paths under Prefix, against an Apache htpasswd file, as Apache's
// AuthType Basic with AuthUserFile and Require valid-user.
type Auth struct {
	// Prefix is the URL path protected, with every path below it ("/private"
	// takes "/private/x" but not "/privateer").
	Prefix string `toml:"prefix"`
	// Realm is shown by the browser's login dialog.
	Realm string `toml:"realm"`
	// Users names the htpasswd file: lines "user:hash" with bcrypt ($2y$,
	// htpasswd -B), Apache MD5 ($apr1$, htpasswd -m), SHA-1 ({SHA},
	// htpasswd -s), SSHA, or SHA-256/512 crypt ($5$, $6$) hashes. Plain
	// text and DES crypt are refused.
	Users string `toml:"users"`
}

// htpasswdFormats are the hashes pwebs accepts: every one the library
// knows but plain text, which a file stolen or shown by mistake would give
// away.
var htpasswdFormats = []htpasswd.PasswdParser{htpasswd.AcceptBcrypt, htpasswd.AcceptMd5, htpasswd.AcceptSha, htpasswd.AcceptSsha, htpasswd.AcceptCryptSha}

// authZone is an auth entry ready to check requests.
type authZone struct {
	prefix    string
	challenge string // the WWW-Authenticate value
	users     *userFile
}

// userFile is an htpasswd file, read again when its size or time changes,
// with the credentials it accepted lately: bcrypt takes milliseconds by
// design, and a browser sends the same credentials with every request.
type userFile struct {
	path string

	mu       sync.Mutex
	file     *htpasswd.File
	size     int64
	mtime    time.Time
	checked  time.Time           // when the file was last stat-ed
	verified map[[32]byte]string // sha256(user NUL password) -> user
	err      error               // why the file cannot be read now; nil when it can
}

// maxVerified bounds the credentials remembered; past it they are
// forgotten all at once.
const maxVerified = 1024

// loadUsers reads an htpasswd file, reporting how many users it holds and
// how many lines it could not use (without their content, which holds
// hashes).
func loadUsers(path string) (uf *userFile, users, bad int, err error) {
	f, fi, users, bad, err := readUsers(path)
	if err != nil {
		return nil, 0, 0, err
	}
	return &userFile{path: path, file: f, size: fi.Size(), mtime: fi.ModTime(), checked: time.Now()}, users, bad, nil
}

// readUsers parses the htpasswd file at path.
func readUsers(path string) (f *htpasswd.File, fi os.FileInfo, users, bad int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	if fi, err = os.Stat(path); err != nil {
		return nil, nil, 0, 0, err
	}
	// A user named twice is the first line's, as Apache reads the file.
	var kept bytes.Buffer
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		name, _, _ := strings.Cut(line, ":")
		if line == "" || seen[name] {
			continue
		}
		seen[name] = true
		users++
		kept.WriteString(line)
		kept.WriteByte('\n')
	}
	f, err = htpasswd.NewFromReader(&kept, htpasswdFormats, func(error) { bad++ })
	if err != nil {
		return nil, nil, 0, 0, err
	}
	return f, fi, users - bad, bad, nil
}

// authZones builds a site's zones from auth, which validation checked and
// loaded; zones whose file cannot be read are left out (validation
// reported them).
func authZones(list []Auth) []*authZone {
	zones := make([]*authZone, 0, len(list))
	for _, a := range list {
		uf, _, _, err := loadUsers(a.Users)
		if err != nil {
			continue
		}
		zones = append(zones, &authZone{prefix: a.Prefix, users: uf,
			challenge: `Basic realm="` + a.Realm + `", charset="UTF-8"`})
	}
	// Longest prefix first: a zone inside another is checked as itself.
	slices.SortStableFunc(zones, func(a, b *authZone) int { return len(b.prefix) - len(a.prefix) })
	return zones
}

// match reports whether user and password are in the file, reading the
// file again if it changed (at most once a second). It returns an error,
// and no user matches, while the file cannot be read.
func (uf *userFile) match(user, password string, log *slog.Logger) (bool, error) {
	key := sha256.Sum256([]byte(user + "\x00" + password))
	uf.mu.Lock()
	uf.refresh(log)
	if uf.err != nil {
		err := uf.err
		uf.mu.Unlock()
		return false, err
	}
	if u, ok := uf.verified[key]; ok && u == user {
		uf.mu.Unlock()
		return true, nil
	}
	f := uf.file
	uf.mu.Unlock()
	if !f.Match(user, password) {
		return false, nil
	}
	uf.mu.Lock()
	if uf.file == f {
		if uf.verified == nil || len(uf.verified) >= maxVerified {
			uf.verified = make(map[[32]byte]string)
		}
		uf.verified[key] = user
	}
	uf.mu.Unlock()
	return true, nil
}

// exists reports whether the file names user.
func (uf *userFile) exists(user string) bool {
	uf.mu.Lock()
	f := uf.file
	uf.mu.Unlock()
	return f.Exists(user)
}

// refresh re-reads the file when its size or time changed, checking at
// most once a second; uf.mu is held. A file that cannot be read any more
// (removed, or made unreadable to pwebs's user) lets no one in until it
// can be read again, as Apache answers 500 then: a user taken out of it
// must not keep access.
func (uf *userFile) refresh(log *slog.Logger) {
	now := time.Now()
	if now.Sub(uf.checked) < time.Second {
		return
	}
	uf.checked = now
	fi, err := os.Stat(uf.path)
	if err == nil && uf.err == nil && fi.Size() == uf.size && fi.ModTime().Equal(uf.mtime) {
		return
	}
	var nf *htpasswd.File
	bad := 0
	if err == nil {
		nf, fi, _, bad, err = readUsers(uf.path)
	}
	if err != nil {
		if uf.err == nil {
			log.Error(fmt.Sprintf("cannot read the users file %s (%v): its zones answer 500 until it can be read", uf.path, err))
		}
		uf.err, uf.verified = err, nil
		return
	}
	if uf.err != nil {
		log.Log(context.Background(), logging.LevelNotice, "the users file "+uf.path+" can be read again")
	}
	if bad > 0 {
		log.Warn(fmt.Sprintf("users file %s: %d lines are not \"user:hash\" with a hash pwebs accepts; those users cannot log in", uf.path, bad))
	}
	uf.file, uf.size, uf.mtime, uf.verified, uf.err = nf, fi.Size(), fi.ModTime(), nil, nil
}

// authZoneFor returns the zone the clean path p is in, or nil.
func (s *site) authZoneFor(p []byte) *authZone {
	for _, z := range s.auth {
		if underPrefix(p, z.prefix) {
			return z
		}
	}
	return nil
}

// authorize checks the request's credentials for zone z and reports
// whether it may go on; if not, it has answered 401 (with the zone's
// challenge) and logged a wrong user or password as Apache words it, which
// fail2ban's apache-auth filter reads.
func (c *conn) authorize(z *authZone, p []byte) bool {
	v, sent := c.req.Lookup("Authorization")
	user, password, ok := basicCredentials(v)
	matched, err := false, error(nil)
	if ok {
		matched, err = z.users.match(user, password, c.srv.log)
	}
	var msg string
	switch {
	case err != nil:
		// The users file cannot be read: no one is let in (and no one is
		// told to try another password).
		c.writeError(500)
		return false
	case matched:
		c.authUser = user
		return true
	case ok && z.users.exists(user):
		msg = fmt.Sprintf("user %s: authentication failure for \"%s\": Password Mismatch", user, p)
	case ok:
		msg = fmt.Sprintf("user %s not found: %s", user, p)
	case sent && !(len(v) >= 6 && strings.EqualFold(string(v[:6]), "basic ")):
		msg = fmt.Sprintf("client used wrong authentication scheme: %s", p)
	}
	if msg != "" {
		// Apache's words (AH01617, AH01618, AH01614), which fail2ban's
		// apache-auth filter reads.
		c.srv.log.Error(msg, "client", c.remoteAddr(), logging.RefererKey, c.referer())
	}
	c.writeErrorWith(401, "WWW-Authenticate", z.challenge)
	return false
}

// basicCredentials decodes an Authorization field of the Basic scheme,
// with or without base64's padding. The user may be empty (no one has
// that name); it may hold no control character.
func basicCredentials(v []byte) (user, password string, ok bool) {
	const prefix = "basic "
	if len(v) < len(prefix) || !strings.EqualFold(string(v[:len(prefix)]), prefix) {
		return "", "", false
	}
	b64 := strings.TrimSpace(string(v[len(prefix):]))
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(b64); err != nil {
			return "", "", false
		}
	}
	user, password, ok = strings.Cut(string(raw), ":")
	if !ok || strings.IndexFunc(user, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		return "", "", false
	}
	return user, password, true
}

// checkAuth validates an auth list at key: each prefix, realm and users
// file, which must be readable now and hold at least one user. A users file
// inside a document root must be a dotfile, which pwebs never serves.
func (c *Config) checkAuth(p *problems, key string, list []Auth) {
	seen := map[string]bool{}
	for i := range list {
		a := &list[i]
		ek := key + "." + strconv.Itoa(i)
		checkPrefix(p, ek+".prefix", a.Prefix, seen)
		if a.Realm == "" || strings.ContainsAny(a.Realm, "\"\\") || strings.IndexFunc(a.Realm, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
			p.add(ek+".realm", "%q: write a name for the login dialog, without quotes, backslashes or control characters", a.Realm)
		}
		if a.Users == "" {
			p.add(ek, "users is required: the htpasswd file")
			continue
		}
		a.Users = c.abs(a.Users)
		_, users, bad, err := loadUsers(a.Users)
		if err != nil {
			p.add(ek+".users", "%s: %v", a.Users, unwrapPathError(err))
			continue
		}
		if bad > 0 {
			p.warn(ek+".users", "%s: %d lines are not \"user:hash\" with a hash pwebs accepts (bcrypt, $apr1$, {SHA}, {SSHA}, $5$, $6$); those users cannot log in", a.Users, bad)
		}
		if users == 0 {
			p.add(ek+".users", "%s holds no user pwebs can check: create one with htpasswd -B %s NAME", a.Users, a.Users)
		}
		roots := []string{c.DocumentRoot}
		for _, v := range c.VHost {
			roots = append(roots, v.DocumentRoot)
		}
		for _, r := range roots {
			if r != "" && within(a.Users, r) && !strings.HasPrefix(filepath.Base(a.Users), ".") {
				p.add(ek+".users", "%s is inside the document root %s, where anyone could read it: move it out, or name it with a leading dot", a.Users, r)
			}
		}
	}
}
