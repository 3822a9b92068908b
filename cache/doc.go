// Package cache is pwebs's memory cache of response bodies: static files up
// to a size limit and generated pages (directory listings, and later SSI and
// CGI output). It is bounded in bytes, evicts the least-recently-used entries
// to stay inside the bound, keeps a gzip variant of compressible bodies, and
// drops an entry as soon as any file or folder it was built from changes on
// disk, as reported by fsnotify.
//
// The bound counts memory, not only bodies: each entry is charged its body,
// its gzip variant, its key and a measured estimate of its bookkeeping, so a
// cache of many tiny files stays inside max_size too.
//
// The cache never turns a hit into wrong content. Serve takes a Token with
// Begin before it stats and reads the files of a new entry, and Add refuses
// the entry if any of those files (or a folder above them) changed after
// Begin, or no longer looks on disk as it did when serve read it. A change is
// therefore seen either by the reader or by Add, and a request that starts
// after the change has been delivered misses and reads the new file. Where no
// watch covers a file (the inotify watch limit was reached, the event queue
// overflowed, the file lies on a network filesystem, below a dot folder or
// outside every root, is reached through a symbolic link inside the tree, or
// has several hard links), Get checks the modification time, size, mode and
// inode of every dependency by stat on every hit instead. A listing there is
// not cached at all, since a stat of its folder does not show a file in it
// being rewritten. On Linux, each file an entry is built from is also
// watched by its inode, since a folder watch does not see a hard link made
// to it later in another folder, nor a write through that link: either
// drops the entry (see inode_linux.go).
//
// What inotify cannot report is not seen: writes through a shared mmap, a
// filesystem unmounted inside a root, and changes to a root's own ancestors
// other than the folder holding it. Invalidate covers such cases by hand.
//
// What the package must not do: it does not speak HTTP and imports no
// net/http (only serve knows HTTP); it never opens a file to serve it (serve
// reads the bodies and hands them over; the cache only stats files and lists
// folders to watch them); it is a leaf, importing only the standard library,
// golang-lru, fsnotify, klauspost/compress, x/sys and conf, never serve, cgi,
// ssi or logging (TestImports enforces this). It never opens a log file:
// errors and notices go to the *slog.Logger given to New, each kind said once
// at its level and later at debug.
//
// Paths are Unix paths: absolute, cleaned, with '/' separators.
package cache
