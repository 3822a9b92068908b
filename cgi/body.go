package cgi

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// spoolMemory bounds the part of a body of unknown length that is spooled
// in memory; past it the body goes to an unlinked temporary file in
// os.TempDir(), which the server's user must be able to write.
const spoolMemory = 256 << 10

// body is what a script gets on stdin.
type body struct {
	file   *os.File  // the child's stdin as it is (a spooled file); nil otherwise
	src    io.Reader // copied into a pipe by a goroutine; nil when file is set or there is no body
	length int64     // the length for CONTENT_LENGTH; -1 when there is no body
}

// close removes a spooled file.
func (b *body) close() {
	if b.file != nil {
		b.file.Close()
	}
}

// prepareBody returns the stdin of a run for r: nothing (the child gets
// /dev/null), the body streamed, or, when its length is unknown, the body
// spooled (at most r.MaxBodyBytes, else ErrBodyTooLarge) so its length is
// known before the script starts.
func prepareBody(r *Request) (body, error) {
	if r.Body == nil || r.ContentLength == 0 {
		return body{length: max(r.ContentLength, -1)}, nil
	}
	limit := r.MaxBodyBytes
	if r.ContentLength > 0 {
		if limit > 0 && r.ContentLength > limit {
			return body{}, fmt.Errorf("%w: %d bytes, at most %d allowed", ErrBodyTooLarge, r.ContentLength, limit)
		}
		return body{src: io.LimitReader(r.Body, r.ContentLength), length: r.ContentLength}, nil
	}
	if limit <= 0 {
		limit = 1<<63 - 1
	}
	// Unknown length: memory first, then a file.
	var mem bytes.Buffer
	n, err := io.Copy(&mem, io.LimitReader(r.Body, min(limit, spoolMemory)+1))
	if err != nil {
		return body{}, fmt.Errorf("cgi: reading request body: %w", err)
	}
	if n <= spoolMemory && n <= limit {
		return body{src: bytes.NewReader(mem.Bytes()), length: n}, nil
	}
	if n > limit {
		return body{}, fmt.Errorf("%w: over %d bytes", ErrBodyTooLarge, limit)
	}
	f, err := os.CreateTemp("", "pwebs-cgi-body-")
	if err != nil {
		return body{}, fmt.Errorf("cgi: spooling request body: %w", err)
	}
	os.Remove(f.Name()) // gone from the folder; the open file lives until closed
	b := body{file: f}
	if _, err := mem.WriteTo(f); err != nil {
		b.close()
		return body{}, fmt.Errorf("cgi: spooling request body: %w", err)
	}
	m, err := io.Copy(f, io.LimitReader(r.Body, limit-n+1))
	switch {
	case err != nil:
		b.close()
		return body{}, fmt.Errorf("cgi: spooling request body: %w", err)
	case n+m > limit:
		b.close()
		return body{}, fmt.Errorf("%w: over %d bytes", ErrBodyTooLarge, limit)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		b.close()
		return body{}, fmt.Errorf("cgi: spooling request body: %w", err)
	}
	b.length = n + m
	return b, nil
}
