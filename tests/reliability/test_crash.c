/* Crash consistency: under concurrent durable write load, SIGKILL the server at random
 * moments, restart it on the same data directory and check that every write that was
 * acknowledged (201 received) is present with its content, and that the store opens
 * clean (the server starts; mdb_stat reads every database).  Rounds: CRASH_ROUNDS, alternating
 * between one commit per write and group commit (write_job: ?commit=group), where a 201 must
 * come only after the batch holding the write is on disk. */
#include "api/harness.h"
#include "reliability/rel.h"
#include "sensed/plugin.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CRASH_ROUNDS 50
#define WRITERS      4

static const char *const bench_args[] = {"--plugin-dir", SENSED_TEST_PLUGIN_DIR "/benchdoc", NULL};

struct ack {
	char id[25];
	long seq;
};

static struct {
	pthread_mutex_t lock;
	struct ack *acks;
	size_t count, capacity;
	long next_seq;
	volatile int stop;
	int port;
	const char *token;
	const char *path; /* the write route of this round */
	size_t group_acks;
} load = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* One writer: POSTs on a keep-alive connection until the server dies or stop is set. */
static void *writer(void *unused)
{
	char request[1024], reply[8192];
	int fd = -1;

	(void)unused;
	while (!load.stop) {
		long seq;
		char body[128];
		int status, n;
		const char *id;

		if (fd < 0 && (fd = rel_connect(load.port)) < 0)
			break;
		pthread_mutex_lock(&load.lock);
		seq = load.next_seq++;
		pthread_mutex_unlock(&load.lock);
		snprintf(body, sizeof(body), "{\"seq\":%ld,\"key\":\"k%ld\",\"pad\":\"%040ld\"}",
		         seq, seq % 97, seq);
		n = snprintf(request, sizeof(request),
		             "POST %s HTTP/1.1\r\nHost: t\r\nAuthorization: "
		             "Bearer %s\r\nContent-Type: application/json\r\nContent-Length: "
		             "%zu\r\n\r\n%s",
		             load.path, load.token, strlen(body), body);
		if (rel_send(fd, request, (size_t)n) != 0)
			break;
		status = rel_read_response(fd, reply, sizeof(reply), 5000);
		if (status < 0)
			break; /* killed before the answer: this write was never acknowledged */
		cr_assert_eq(status, 201, "write answered %d: %s", status, reply);
		id = strstr(reply, "\"_id\":\"");
		cr_assert(id, "no _id in %s", reply);
		pthread_mutex_lock(&load.lock);
		if (load.count == load.capacity) {
			load.capacity = load.capacity ? 2 * load.capacity : 1024;
			load.acks = realloc(load.acks, load.capacity * sizeof(*load.acks));
			cr_assert(load.acks);
		}
		memcpy(load.acks[load.count].id, id + 7, 24);
		load.acks[load.count].id[24] = '\0';
		load.acks[load.count].seq = seq;
		load.count++;
		if (strstr(load.path, "commit=group"))
			load.group_acks++;
		pthread_mutex_unlock(&load.lock);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static struct server *start(const char *dir)
{
	struct server_options opt = {
	    .args = bench_args,
	    .data_dir = dir,
	    .extra_config = "{\"durable\": true, \"accessLog\": false}",
	};

	return server_start(&opt);
}

/* Every acknowledged write in [from, to) reads back with its seq. */
static void verify(struct server *s, const char *token, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		char path[128];
		struct response *r;

		snprintf(path, sizeof(path), "/api/v1/bench/documents/%s", load.acks[i].id);
		r = http(s, "GET", path, token, NULL, NULL);
		cr_assert_eq(r->status, 200, "acknowledged write %s (seq %ld) lost: %d %s",
		             load.acks[i].id, load.acks[i].seq, r->status, r->body);
		cr_assert_eq(json_integer_value(json_object_get(r->json, "seq")), load.acks[i].seq,
		             "write %s holds the wrong content: %s", load.acks[i].id, r->body);
		response_free(r);
	}
}

Test(crash, acknowledged_writes_survive_sigkill, .timeout = 540)
{
	char dir[] = "/tmp/sensed-crash-XXXXXX", command[256];
	size_t checked_upto = 0, killed_mid_load = 0;
	char *token = NULL;

	cr_assert(mkdtemp(dir));
	srand((unsigned)getpid());
	for (int round = 0; round <= CRASH_ROUNDS; round++) {
		struct server *s = start(dir);
		pthread_t threads[WRITERS];
		pid_t pid;

		if (!token)
			token = strdup(admin_token(s));
		/* The previous round's acknowledged writes survived its SIGKILL. */
		verify(s, token, checked_upto, load.count);
		checked_upto = load.count;
		if (round == CRASH_ROUNDS) {
			verify(s, token, 0, load.count); /* and nothing older went missing */
			cr_assert_eq(server_stop(s), 0);
			break;
		}
		pid = rel_child_pid();
		cr_assert_gt(pid, 0);
		load.stop = 0;
		load.port = server_port(s);
		load.token = token;
		load.path =
		    round % 2 ? "/api/v1/bench/documents?commit=group" : "/api/v1/bench/documents";
		for (int i = 0; i < WRITERS; i++)
			cr_assert_eq(pthread_create(&threads[i], NULL, writer, NULL), 0);
		usleep((useconds_t)(20000 + rand() % 200000));
		size_t before = load.count;
		kill(pid, SIGKILL);
		load.stop = 1;
		for (int i = 0; i < WRITERS; i++)
			pthread_join(threads[i], NULL);
		if (load.count > before)
			killed_mid_load++; /* an answer was in flight at the kill */
		cr_assert_eq(server_stop(s), 128 + SIGKILL);
	}
	snprintf(command, sizeof(command), "mdb_stat -a %s >/dev/null", dir);
	cr_assert_eq(system(command), 0, "mdb_stat cannot read the store after the crashes");
	fprintf(stderr,
	        "crash: %d SIGKILL rounds, %zu acknowledged writes checked (%zu through group "
	        "commit, %ld attempted), %zu rounds with answers in flight\n",
	        CRASH_ROUNDS, load.count, load.group_acks, load.next_seq, killed_mid_load);
	cr_assert_gt(load.count, (size_t)CRASH_ROUNDS, "too few writes to mean anything");
	cr_assert_gt(load.group_acks, (size_t)CRASH_ROUNDS / 2, "too few group-commit writes");
	snprintf(command, sizeof(command), "rm -rf %s", dir);
	cr_assert_eq(system(command), 0);
	free(token);
	free(load.acks);
}

/* The group-commit route through write_job: the reply comes from done, after the commit; a
 * failing insert is answered with its own error and leaves nothing behind. */
Test(crash, group_commit_route_replies_after_the_commit)
{
	char dir[] = "/tmp/sensed-gc-XXXXXX", path[128], command[160];
	const char *json = "Content-Type: application/json\r\n";
	struct server *s;
	struct response *r;
	const char *token;
	char id[25];

	cr_assert(mkdtemp(dir));
	s = start(dir);
	token = admin_token(s);
	r = http(s, "POST", "/api/v1/bench/documents?commit=group", token, json,
	         "{\"seq\":1,\"key\":\"g\"}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert(json_is_string(json_object_get(r->json, "_id")), "%s", r->body);
	cr_assert(json_is_string(json_object_get(r->json, "created")), "%s", r->body);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(r->json, "_id")));
	response_free(r);
	snprintf(path, sizeof(path), "/api/v1/bench/documents/%s", id);
	r = http(s, "GET", path, token, NULL, NULL);
	cr_assert_eq(r->status, 200);
	cr_assert_eq(json_integer_value(json_object_get(r->json, "seq")), 1);
	response_free(r);

	/* The same _id again: the work fails (EEXISTS), rolled back alone, answered 400. */
	snprintf(command, sizeof(command), "{\"_id\":\"%s\",\"seq\":2}", id);
	r = http(s, "POST", "/api/v1/bench/documents?commit=group", token, json, command);
	assert_error(r, 400, SENSED_CODE_INVALID_PARAMETER);
	response_free(r);
	r = http(s, "POST", "/api/v1/bench/documents?commit=group", token, json,
	         "{\"_id\":\"not-an-id\"}");
	assert_error(r, 422, SENSED_CODE_INVALID_OBJECT_ID);
	response_free(r);
	r = http(s, "POST", "/api/v1/bench/documents?commit=later", token, json, "{}");
	assert_error(r, 400, SENSED_CODE_INVALID_PARAMETER);
	response_free(r);
	r = http(s, "GET", path, token, NULL, NULL);
	cr_assert_eq(json_integer_value(json_object_get(r->json, "seq")), 1, "%s", r->body);
	response_free(r);
	r = http(s, "GET", "/api/v1/bench/documents", token, NULL, NULL);
	cr_assert_eq(json_array_size(r->json), 1, "%s", r->body);
	response_free(r);
	cr_assert_eq(server_stop(s), 0);
	snprintf(command, sizeof(command), "rm -rf %s", dir);
	cr_assert_eq(system(command), 0);
}
