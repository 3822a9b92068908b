// Package logging writes pwebs's two logs, in the formats the tools people
// already use (goaccess, AWStats, grep) expect from Apache httpd:
//
//   - the access log: one line per answered request, in the Combined Log
//     Format by default, or the Common Log Format, or any Apache LogFormat
//     string (see ParseFormat), escaped as Apache's mod_log_config escapes,
//     so that a request can never break or forge a line;
//   - the error log: Apache 2.4's error_log layout, written through a
//     log/slog Handler (see NewHandler), with Apache's level names and
//     LevelNotice between Info and Warn.
//
// A Logger buffers lines in memory and writes them from one goroutine per
// log, at least every FlushInterval, so a request never waits for the disk.
// Past Options.RotateSize, a file is renamed to name-<UTC time> (plus "-1",
// "-2"... when two rotations fall in the same millisecond), a new file is
// started, and another goroutine gzips the rotated file and removes those
// beyond Options.Keep. Rotation happens between lines, at the exact byte size
// configured, below 1 MiB too. SIGUSR1 handling calls Reopen, for an
// external logrotate.
//
// A log that cannot be written (disk full, folder removed, permission) is
// reported once on stderr, its lines kept in memory up to BufferLimit and
// written when a retry, every FlushInterval, works again; that is reported
// too. Lines are only lost when more than BufferLimit bytes wait, and then
// they are counted.
//
// Rotation is done here rather than by gopkg.in/natefinch/lumberjack.v2,
// whose v2.2.1 counts sizes in whole megabytes, overwrites a rotated file
// when two rotations fall in the same millisecond, never stops its
// compression goroutine, and on rotation chowns the new file to the old
// file's owner, which fails once privileges are dropped. A test here checks
// each of these points.
//
// What it must not do: speak HTTP or import any other pwebs package than conf
// (serve fills a Record; a test enforces the imports); block or slow a caller
// of Access on the disk; keep a goroutine running after Close; follow a
// symbolic link when handing files to another user.
package logging
