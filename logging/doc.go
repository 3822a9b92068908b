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
// Log files are written through gopkg.in/natefinch/lumberjack.v2. Past
// Options.RotateSize, lumberjack renames the file to lumberjack's backup name
// (access_log-2026-11-21T10-04-05.123, the UTC time of the rotation; for
// site.log, site-2026-11-21T10-04-05.123.log), starts a new one, and its own
// goroutine gzips the rotated file (".gz" appended) and removes those beyond
// Options.Keep. Rotation happens between lines, at the exact byte size
// configured, below 1 MiB too. SIGUSR1 handling calls Reopen, for an
// external logrotate.
//
// A log that cannot be written (disk full, folder removed, permission) is
// reported once on stderr, its lines kept in memory up to BufferLimit and
// written when a retry, every FlushInterval, works again; that is reported
// too. Lines are only lost when more than BufferLimit bytes wait, and then
// they are counted.
//
// lumberjack v2.2.1 has four traps, each handled here and tested:
//
//   - It counts MaxSize in whole megabytes. It is given a MaxSize it never
//     reaches; the bytes written are counted here, from the file's size when
//     opened, and Rotate is called before a line that would not fit.
//   - It names a backup after the time to the millisecond and renames over
//     an existing file of that name, so two rotations in one millisecond
//     would lose the first one's lines. A rotation here first waits, in the
//     writer goroutine, for a millisecond that no backup is named after.
//   - Its compression goroutine (lumberjack.Logger.millRun, started on first
//     use) is never stopped, not even by Close. There is one
//     lumberjack.Logger per log path for the life of the process, shared by
//     every Logger writing that path and reused by New after Close and by
//     Reopen, so there is one such goroutine per log path ever opened (one
//     more when a reload changes keep or compress): it waits, idle, on a
//     channel. Close waits for it to finish compressing and pruning.
//   - On rotation it gives the new file the owner and group of the old one
//     (and a .gz those of its source), which a process that dropped root
//     privileges cannot do while the old file is root's. Logger.Chown,
//     called while still root, hands the files to the user, so that this
//     becomes a chown to the process's own user.
//
// lumberjack also keeps its compression errors to itself: a rotated file
// left uncompressed or beyond keep for more than a minute is reported here.
// It has no "keep none" (MaxBackups 0 keeps all), so with keep = 0 the
// rotated file is removed here.
//
// What it must not do: speak HTTP or import any other pwebs package than conf
// (serve fills a Record; a test enforces the imports); block or slow a caller
// of Access on the disk; keep a goroutine running after Close, but for
// lumberjack's one per log path; follow a symbolic link when handing files to
// another user.
package logging
