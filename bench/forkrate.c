/*
 * forkrate: the fork/exec ceiling. How many processes per second this core
 * can start, read the output of and reap, as a CGI server does for every
 * request.
 *
 * Usage: forkrate [-d SECONDS] [-e TEXT] [-j N] PROGRAM [ARG...]
 *
 * It runs PROGRAM (an absolute path) again and again for SECONDS (default
 * 2), each time with a new pipe as its stdout, reads that pipe to its end,
 * then waits for the process, and prints one line:
 *
 *     runs=5321 seconds=2.000 per_sec=2660.5 failed=0
 *
 * With -j N, N such loops run at once (N processes of forkrate, each
 * starting one PROGRAM after another), and the line gives their total: what
 * the core does when N scripts are running at any time, as a server's are
 * under N or more concurrent requests, with no server at all.
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
#include <sys/mman.h>
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

/* counts is what one loop did; the loops of -j share an array of them. */
struct counts {
	long runs, failed;
	size_t len;            /* of the last output, kept in out */
	char out[512];
};

/* loop runs args[0] one process after another until the clock reaches
 * until, and counts the runs in c. It returns 0, or 1 when a process could
 * not be started. */
static int loop(char **args, const char *expect, double until, struct counts *c)
{
	static char out[1 << 16];
	size_t len = 0;
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
		c->runs++;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || (expect && !strstr(out, expect)))
			c->failed++;
	}
	c->len = len < sizeof c->out ? len : sizeof c->out - 1;
	memcpy(c->out, out, c->len);
	c->out[c->len] = 0;
	return 0;
}

int main(int argc, char **argv)
{
	double secs = 2;
	const char *expect = NULL;
	int jobs = 1, opt;
	while ((opt = getopt(argc, argv, "+d:e:j:")) != -1) {
		switch (opt) {
		case 'd': secs = atof(optarg); break;
		case 'e': expect = optarg; break;
		case 'j': jobs = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (optind >= argc || secs <= 0 || jobs < 1 || jobs > 1024)
		goto usage;
	char **args = argv + optind;

	/* Shared with the loops of -j, which are forked processes. */
	struct counts *c = mmap(NULL, jobs * sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED) {
		perror("forkrate: mmap");
		return 1;
	}
	double start = now(), until = start + secs;
	int bad = 0;
	if (jobs == 1) {
		bad = loop(args, expect, until, c);
	} else {
		for (int j = 0; j < jobs; j++) {
			pid_t pid = fork();
			if (pid < 0) {
				perror("forkrate: fork");
				return 1;
			}
			if (pid == 0)
				_exit(loop(args, expect, until, &c[j]));
		}
		for (;;) {
			int status;
			pid_t pid = wait(&status);
			if (pid < 0 && errno == EINTR)
				continue;
			if (pid < 0)
				break;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				bad = 1;
		}
	}
	double took = now() - start;
	long runs = 0, failed = 0;
	const char *last = c[0].out;
	for (int j = 0; j < jobs; j++) {
		runs += c[j].runs;
		failed += c[j].failed;
		if (c[j].failed)
			last = c[j].out;
	}
	if (bad)
		return 1;
	printf("runs=%ld seconds=%.3f per_sec=%.1f failed=%ld\n", runs, took, runs / took, failed);
	if (failed)
		fprintf(stderr, "forkrate: %ld of %ld runs of %s failed; the last output:\n%s\n", failed, runs, args[0], last);
	return 0;

usage:
	fprintf(stderr, "usage: forkrate [-d SECONDS] [-e TEXT] [-j N] PROGRAM [ARG...]\n");
	return 2;
}
