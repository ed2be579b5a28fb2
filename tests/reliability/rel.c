/* Helpers of the reliability suite (contract in rel.h). */
#include "rel.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

long long rel_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

pid_t rel_child_pid(void)
{
	char path[64], buf[256] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)syscall(SYS_gettid));
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return buf[0] ? (pid_t)atol(buf) : -1;
}

int rel_connect(int port)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int rel_send(int fd, const char *bytes, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, bytes, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		bytes += n;
		len -= (size_t)n;
	}
	return 0;
}

static int wait_readable(int fd, long long deadline)
{
	for (;;) {
		long long left = deadline - rel_now_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int rc;

		if (left <= 0)
			return 0;
		rc = poll(&p, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		return rc > 0;
	}
}

int rel_read_response(int fd, char *buf, size_t size, int timeout_ms)
{
	long long deadline = rel_now_ms() + timeout_ms;
	size_t len = 0;

	for (;;) {
		char *end = len ? strstr(buf, "\r\n\r\n") : NULL;

		if (end) {
			const char *cl = strcasestr(buf, "\r\nContent-Length:");
			size_t body = cl ? strtoul(cl + 17, NULL, 10) : 0;
			size_t need = (size_t)(end + 4 - buf) + body;

			if (need >= size)
				return -1;
			if (len >= need) {
				int status = 0;

				buf[need] = '\0';
				if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
					return -1;
				/* Keep any pipelined rest out of this response. */
				return status;
			}
		}
		if (len + 1 >= size || !wait_readable(fd, deadline))
			return -1;
		ssize_t n = recv(fd, buf + len, size - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
	}
}

int rel_closed_within(int fd, int timeout_ms)
{
	long long deadline = rel_now_ms() + timeout_ms;
	char sink[4096];

	for (;;) {
		if (!wait_readable(fd, deadline))
			return 0;
		ssize_t n = recv(fd, sink, sizeof(sink), 0);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			return 1;
	}
}

long rel_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

int rel_fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}
