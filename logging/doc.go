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
// goroutine removes rotated files beyond Options.Keep. Rotation happens
// between lines, at the exact byte size configured, below 1 MiB too. SIGUSR1
// handling calls Reopen, for an external logrotate.
//
// Rotated files are gzipped here, not by lumberjack: one goroutine per log
// path, woken by each rotation, writes the .gz with
// github.com/klauspost/compress/gzip at BestSpeed to a temporary name
// (".gz.tmp" appended, which lumberjack ignores) and renames it to
// lumberjack's name for it (".gz" appended, so that lumberjack's pruning
// counts the two as one rotated file). The plain file is removed once the
// .gz is synced to disk; the .gz files made within five seconds are synced
// together, since a sync for each rotation cost a busy log more than the
// compression itself. lumberjack prunes from its own listing of the folder
// at the same time: a file it removes while it is being compressed is not an error, and
// its .gz is removed too; each pass of the compressor also removes what is
// beyond keep, so keep is exact once it is idle. Close has it finish and
// stop.
//
// Why not lumberjack's own compression: it gzips with compress/gzip at the
// default level, which takes 9.2 ms per MiB of
// varied combined lines. On the bench's load (issue 3: the
// access log on must keep 90% of the requests per second with it off, on one
// core), the log grows about 14 MB/s, a 1 MiB file rotates every 70 ms, and
// lumberjack's gzip (a fresh writer of about 1 MB each time, so garbage to
// collect too) competed with the requests for that core. klauspost/compress's
// levels, on 1 MiB of varied combined lines (and of the bench's identical
// lines), on the same machine:
//
//	level                      varied lines      bench's lines
//	compress/gzip default      9.2 ms, 8.5%      2.0 ms, 0.35%
//	klauspost 1 (BestSpeed)    1.3 ms, 10.3%     0.39 ms, 0.36%
//	klauspost 2                2.1 ms, 10.0%     0.33 ms, 0.36%
//	klauspost 3                2.1 ms, 10.1%     0.31 ms, 0.36%
//	klauspost 4                2.2 ms, 9.9%      0.36 ms, 0.42%
//	klauspost 5                3.3 ms, 9.1%      0.45 ms, 0.41%
//
// (time to gzip 1 MiB, and the .gz's size as a share of it).
//
// Level 1 is the fastest and its files are within 0.3 points of levels 2
// and 3: it is used, at a seventh of the standard gzip's time. The
// compressor yields the processor after each 64 KiB it compresses, so that a
// large rotated file never holds up requests on a busy core for the
// scheduler's 10 ms slices: with rotate_size = "64MiB" on one core, 1 KiB
// keep-alive requests went from 0.91 to 0.97 of the rate with no log
// (alternating 1 s rounds, 30 each).
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
//   - Its goroutine (lumberjack.Logger.millRun, started on first use, which
//     prunes, and would compress) is never stopped, not even by Close. There
//     is one lumberjack.Logger per log path for the life of the process,
//     shared by every Logger writing that path and reused by New after Close
//     and by Reopen, so there is one such goroutine per log path ever opened
//     (one more when a reload changes keep): it waits, idle, on a channel.
//     Close waits for it to finish pruning.
//   - On rotation it gives the new file the owner and group of the old one,
//     which a process that dropped root privileges cannot do while the old
//     file is root's. Logger.Chown, called while still root, hands the
//     files it created itself (and the group of files the user already
//     owns) to the user, so that this becomes a chown to the process's own
//     user; a file it did not create and that is not the user's keeps its
//     owner, and the start stops naming it. lumberjack also opens and
//     renames by name, following links: while pwebs is root and the log
//     folder is writable by another user, the log is written through the
//     descriptor pwebs checked (opened with O_NOFOLLOW) and rotation waits
//     until privileges are dropped. The compressor gives a .gz the mode of its source, and its owner and
//     group when the process may (otherwise the .gz is the process's).
//
// lumberjack also keeps its pruning errors to itself: a rotated file left
// uncompressed or beyond keep for more than a minute is reported here, with
// the compressor's error when it has one. It has no "keep none" (MaxBackups
// 0 keeps all), so with keep = 0 the rotated file is removed here.
//
// What it must not do: speak HTTP or import any other pwebs package than conf
// and internal/strftime (serve fills a Record; a test enforces the imports); block or slow a caller
// of Access on the disk; keep a goroutine running after Close, but for
// lumberjack's one per log path; follow a symbolic link when handing files to
// another user.
package logging
