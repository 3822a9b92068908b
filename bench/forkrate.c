/*
 * forkrate: the fork/exec ceiling. How many processes per second this core
 * can start, read the output of and reap, one after another, as a CGI
 * server does for every request.
 *
 * Usage: forkrate [-d SECONDS] [-e TEXT] PROGRAM [ARG...]
 *
 * It runs PROGRAM (an absolute path) again and again for SECONDS (default
 * 2), each time with a new pipe as its stdout, reads that pipe to its end,
 * then waits for the process, and prints one line:
 *
 *     runs=5321 seconds=2.000 per_sec=2660.5 failed=0
 *
 * A run fails when the program exits with a status other than 0, or, with
 * -e, when its output does not contain TEXT. The program gets forkrate's
 * environment, so the caller sets what it needs (for php-cgi:
 * REDIRECT_STATUS, SCRIPT_FILENAME, REQUEST_METHOD).
 *
 * Processes are started with posix_spawn, which glibc implements with
 * clone(CLONE_VM|CLONE_VFORK): the cheapest way one process can start
 * another, so the figure is an upper bound for any server on this core.
 * bench/run.sh compiles it with cc and runs it pinned to the servers' core.
 * It is C, not Go, because Go's fork path measured about 8% slower here,
 * which would understate the ceiling. (No Go file sits beside it, so the
 * Go tool ignores it.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double secs = 2;
	const char *expect = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "+d:e:")) != -1) {
		switch (opt) {
		case 'd': secs = atof(optarg); break;
		case 'e': expect = optarg; break;
		default: goto usage;
		}
	}
	if (optind >= argc || secs <= 0)
		goto usage;
	char **args = argv + optind;

	static char out[1 << 16];
	long runs = 0, failed = 0;
	size_t len = 0;
	double start = now(), until = start + secs;
	while (now() < until) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) != 0) {
			perror("forkrate: pipe");
			return 1;
		}
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, p[1], 1);
		pid_t pid;
		int err = posix_spawn(&pid, args[0], &fa, NULL, args, environ);
		posix_spawn_file_actions_destroy(&fa);
		close(p[1]);
		if (err != 0) {
			fprintf(stderr, "forkrate: start %s: %s\n", args[0], strerror(err));
			return 1;
		}
		len = 0;
		for (;;) {
			ssize_t n = read(p[0], out + len, sizeof out - 1 - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len += n;
			if (len == sizeof out - 1)
				len = 0; /* keep reading; only a short output is checked */
		}
		out[len] = 0;
		close(p[0]);
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		runs++;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || (expect && !strstr(out, expect)))
			failed++;
	}
	double took = now() - start;
	printf("runs=%ld seconds=%.3f per_sec=%.1f failed=%ld\n", runs, took, runs / took, failed);
	if (failed)
		fprintf(stderr, "forkrate: %ld of %ld runs of %s failed; the last output:\n%s\n", failed, runs, args[0], out);
	return 0;

usage:
	fprintf(stderr, "usage: forkrate [-d SECONDS] [-e TEXT] PROGRAM [ARG...]\n");
	return 2;
}
