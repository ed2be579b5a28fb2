/* Helpers of the reliability suite (tests/reliability): the server's pid, raw
 * connections that tolerate a dying server, process statistics.  Test-only. */
#ifndef SENSED_TESTS_RELIABILITY_REL_H
#define SENSED_TESTS_RELIABILITY_REL_H

#include <stddef.h>
#include <sys/types.h>

/* The pid of this thread's only live child (the server the harness started). */
pid_t rel_child_pid(void);
/* A connected loopback socket, or -1 (never aborts: the server may be gone). */
int rel_connect(int port);
/* Send everything; 0, or -1 when the peer is gone. */
int rel_send(int fd, const char *bytes, size_t len);
/* Read one HTTP/1.1 response (Content-Length framed) into buf (NUL-terminated).  Returns
 * the status, or -1 on EOF, error or a timeout of `timeout_ms`. */
int rel_read_response(int fd, char *buf, size_t size, int timeout_ms);
/* 1 when the server closed `fd` within timeout_ms (EOF or reset), 0 if still open. */
int rel_closed_within(int fd, int timeout_ms);
/* Resident set (kB) and open descriptors of a process; -1 when unknown. */
long rel_rss_kb(pid_t pid);
int rel_fd_count(pid_t pid);
long long rel_now_ms(void);

#endif
