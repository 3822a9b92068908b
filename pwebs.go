// Package pwebs holds what the whole program shares at the top of the
// repository: the built-in copy of mime.types, used when pwebs.conf does not
// name a mime_types file.
package pwebs

import _ "embed"

// MimeTypes is the repository's mime.types file, built into the program.
//
//go:embed mime.types
var MimeTypes []byte
