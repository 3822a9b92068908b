package serve

import "path/filepath"

// cleanPath percent-decodes the path part of a request-target into dst and
// normalises it: repeated slashes merge, "." segments go, ".." removes the
// segment before it. It returns the result, which starts with "/" and keeps a
// trailing slash (a path ending in a dot segment names a folder and gets
// one, as RFC 3986's remove_dot_segments gives), and 0; or the status for a path that must not be served:
// 400 for a malformed escape or a ".." above the root, 404 for an encoded
// NUL or an encoded slash (as Apache's AllowEncodedSlashes Off answers).
// Decoding happens before dot segments are removed, so "%2e%2e" is "..".
// dst must have room for len(raw)+1 bytes; cleanPath does not allocate.
func cleanPath(dst, raw []byte) ([]byte, int) {
	if len(raw) == 0 || raw[0] != '/' {
		return nil, 400
	}
	dst = dst[:0]
	i := 0
	for i <= len(raw) {
		// Decode one segment into dst after a '/'.
		if len(dst) == 0 || dst[len(dst)-1] != '/' {
			dst = append(dst, '/')
		}
		segStart := len(dst)
		for i < len(raw) && raw[i] == '/' {
			i++
		}
		for i < len(raw) && raw[i] != '/' {
			c := raw[i]
			if c == '%' {
				if i+2 >= len(raw) || !isHexDigit(raw[i+1]) || !isHexDigit(raw[i+2]) {
					return nil, 400
				}
				c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
				i += 3
				if c == 0 || c == '/' {
					return nil, 404
				}
			} else {
				i++
			}
			dst = append(dst, c)
		}
		seg := dst[segStart:]
		switch {
		case len(seg) == 1 && seg[0] == '.':
			dst = dst[:segStart]
		case len(seg) == 2 && seg[0] == '.' && seg[1] == '.':
			if segStart == 1 {
				return nil, 400 // above the root
			}
			// Drop ".." and the segment before it, keeping its leading '/'.
			j := segStart - 2
			for j > 0 && dst[j] != '/' {
				j--
			}
			dst = dst[:j+1]
		}
		if i >= len(raw) {
			break
		}
	}
	return dst, 0
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// hiddenPath reports whether a clean path has a segment starting with "."
// (dotfiles and dot folders are refused), apart from a first segment of
// ".well-known".
func hiddenPath(p []byte) bool {
	for i := 0; i < len(p)-1; i++ {
		if p[i] == '/' && p[i+1] == '.' {
			if i == 0 && len(p) >= 12 && string(p[1:12]) == ".well-known" && (len(p) == 12 || p[12] == '/') {
				continue
			}
			return true
		}
	}
	return false
}

// joinRoot returns filepath.Join(dir, rel) for rel, a slash-separated path
// relative to dir. Paths that went through cleanPath are already clean, and
// then the result is a concatenation: one allocation, where filepath.Join
// makes one and cleans the whole path again. Any other rel goes through
// filepath.Join.
func joinRoot[T string | []byte](dir string, rel T) string {
	if !cleanRel(rel) || dir == "" || dir == "." || dir != filepath.Clean(dir) {
		return filepath.Join(dir, string(rel))
	}
	if dir[len(dir)-1] == '/' { // the root folder, "/"
		return dir + string(rel)
	}
	return dir + "/" + string(rel)
}

// cleanRel reports whether rel is a relative path that filepath.Clean
// leaves as it is and that is not ".": no empty, "." or ".." segment, no
// slash at either end.
func cleanRel[T string | []byte](rel T) bool {
	if len(rel) == 0 || rel[0] == '/' || rel[len(rel)-1] == '/' {
		return false
	}
	start := 0
	for i := 0; i <= len(rel); i++ {
		if i < len(rel) && rel[i] != '/' {
			continue
		}
		switch seg := rel[start:i]; {
		case len(seg) == 0, len(seg) == 1 && seg[0] == '.', len(seg) == 2 && seg[0] == '.' && seg[1] == '.':
			return false
		}
		start = i + 1
	}
	return true
}
