/*
 * canned: answering with no work at all. It reads whatever a client sends
 * and writes one fixed response for each request it finds, without
 * parsing, routing, opening files, making headers or logging, so what its
 * rate measures is the rest: the kernel's TCP on loopback and the load
 * generator, which every server pays. bench/run.sh times it beside the SSI
 * row with the SSI page's bytes: a server whose page goes out at canned's
 * rate does nothing measurable beyond what answering at all costs, and
 * canned's rate over another server's is how far ahead of it any server
 * could be. (It is a simple loop, not the fastest possible one: pwebs has
 * matched and passed it within the machine's noise.)
 *
 * Usage: canned -p PORT FILE
 *
 * It listens on 127.0.0.1:PORT and answers every request (a run of bytes
 * ending in an empty line; keep-alive, pipelined or not) with
 *
 *     HTTP/1.1 200 OK\r\nContent-Length: N\r\nContent-Type: text/html\r\n\r\n
 *
 * followed by the N bytes of FILE, in one write, from one thread with one
 * epoll set: what nginx's or lighttpd's worker does, less all the HTTP.
 * It runs until killed. Request bodies are not supported (the bench sends
 * only GETs).
 *
 * It is C, as the fastest such loop is, and no Go file sits beside it, so
 * the Go tool ignores it. bench/run.sh compiles it with cc and pins it to
 * the servers' core.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ends is how many request ends ("\r\n\r\n") buf[0:n] holds, and how far
 * into the last four bytes a partial end had got, carried in *state. */
static int ends(const char *buf, ssize_t n, int *state)
{
	static const char end[] = "\r\n\r\n";
	int found = 0;
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == end[*state]) {
			if (++*state == 4) {
				found++;
				*state = 0;
			}
		} else {
			*state = buf[i] == '\r' ? 1 : 0;
		}
	}
	return found;
}

int main(int argc, char **argv)
{
	int port = 0, opt;
	while ((opt = getopt(argc, argv, "p:")) != -1) {
		if (opt != 'p')
			goto usage;
		port = atoi(optarg);
	}
	if (optind != argc - 1 || port <= 0 || port > 65535)
		goto usage;

	int fd = open(argv[optind], O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		perror(argv[optind]);
		return 1;
	}
	char head[128];
	int hlen = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\nContent-Type: text/html\r\n\r\n", (long long)st.st_size);
	size_t rlen = hlen + st.st_size;
	char *resp = malloc(rlen);
	if (resp == NULL || read(fd, resp + hlen, st.st_size) != st.st_size) {
		fprintf(stderr, "canned: cannot read %s\n", argv[optind]);
		return 1;
	}
	memcpy(resp, head, hlen);
	close(fd);

	int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 1024) != 0) {
		perror("canned: listen");
		return 1;
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)-1};
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);

	/* A connection's partial request end, indexed by descriptor. */
	static int state[65536];
	/* Room for the responses of every request one read can hold. */
	static char in[16384];
	char *out = malloc(rlen * (sizeof in / 4 + 1)); /* an end is 4 bytes at least */
	if (out == NULL)
		return 1;
	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		if (n < 0 && errno == EINTR)
			continue;
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 == (uint64_t)-1) {
				int c;
				while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					if (c >= 65536) {
						close(c);
						continue;
					}
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					state[c] = 0;
					struct epoll_event cev = {.events = EPOLLIN, .data.u64 = (uint64_t)c};
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
				}
				continue;
			}
			int c = (int)evs[i].data.u64;
			ssize_t r = read(c, in, sizeof in);
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r <= 0) {
				close(c);
				continue;
			}
			int k = ends(in, r, &state[c]);
			if (k == 0)
				continue;
			const char *p = resp;
			size_t len = rlen;
			if (k > 1) {
				for (int j = 0; j < k; j++)
					memcpy(out + j * rlen, resp, rlen);
				p = out;
				len = k * rlen;
			}
			/* The socket's buffer takes a few responses at once; a client
			 * that stops reading is closed rather than waited for. */
			if (write(c, p, len) != (ssize_t)len)
				close(c);
		}
	}

usage:
	fprintf(stderr, "usage: canned -p PORT FILE\n");
	return 2;
}
