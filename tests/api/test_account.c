/* Account flows end to end against a real SMTP server (tests/api/smtp_sink.py, aiosmtpd on
 * loopback): email server settings, activation and password reset (link in the mail, the
 * token works once, expires, is throttled), retries while the mail server is down, the
 * outbox surviving a restart, SMTP AUTH and TLS policy, and secrets never in a response
 * nor in clear in the store. */
#include "api/harness.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define API            "/api/v1"
#define SETTINGS       API "/settings/email_server"
#define BEGIN_ACTIVATE API "/account/begin_activate"
#define BEGIN_BULK     API "/account/begin_activate_bulk"
#define BEGIN_RESET    API "/account/begin_reset_password"
#define ACTIVATE       API "/account/activate/"
#define RESET          API "/account/reset_password/"
#define SMTP_PASS      "Smtp-Relay-Secret-4711"
#define BASE_URL       "https://bi.example.test/"

static const char *const plugin_args[] = {"--plugin-dir", SENSED_TEST_PLUGIN_DIR "/authkit",
                                          "--plugin-dir", SENSED_TEST_PLUGIN_DIR "/accountkit",
                                          NULL};

/* ---- The SMTP sink ------------------------------------------------------------------ */
struct sink {
	pid_t pid;
	int port;
	char dir[64];
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A loopback port that was free a moment ago. */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fd >= 0);
	cr_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void sink_init(struct sink *k, int port)
{
	memset(k, 0, sizeof(*k));
	k->port = port ? port : free_port();
	snprintf(k->dir, sizeof(k->dir), "/tmp/sensed-smtp-XXXXXX");
	cr_assert(mkdtemp(k->dir));
}

/* Start the sink on k->port; with `user` it requires AUTH with user/pass. */
static void sink_run(struct sink *k, const char *user, const char *pass)
{
	char port[16], ready[128], log[128];
	snprintf(port, sizeof(port), "%d", k->port);
	snprintf(ready, sizeof(ready), "%s/ready", k->dir);
	snprintf(log, sizeof(log), "%s/sink.log", k->dir);
	fflush(NULL);
	k->pid = fork();
	cr_assert(k->pid >= 0);
	if (k->pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		execl("/usr/bin/python3", "python3", SENSED_SOURCE_DIR "/tests/api/smtp_sink.py",
		      port, k->dir, user, pass, (char *)NULL);
		_exit(127);
	}
	long long deadline = now_ms() + 15000;
	while (access(ready, F_OK) != 0) {
		int status;
		cr_assert(waitpid(k->pid, &status, WNOHANG) == 0, "smtp sink exited at start");
		cr_assert(now_ms() < deadline, "smtp sink not ready");
		usleep(20000);
	}
}

static void sink_halt(struct sink *k)
{
	if (k->pid > 0) {
		kill(k->pid, SIGTERM);
		waitpid(k->pid, NULL, 0);
		k->pid = 0;
	}
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void sink_stop(struct sink *k)
{
	sink_halt(k);
	remove_dir(k->dir);
}

/* Message n (1-based), waiting up to timeout_ms; NULL if it did not come. */
static json_t *sink_message(struct sink *k, int n, int timeout_ms)
{
	char path[128];
	long long deadline = now_ms() + timeout_ms;
	snprintf(path, sizeof(path), "%s/%d.json", k->dir, n);
	for (;;) {
		json_t *m = json_load_file(path, 0, NULL);
		if (m != NULL || now_ms() > deadline)
			return m;
		usleep(50000);
	}
}

static json_t *sink_expect(struct sink *k, int n)
{
	json_t *m = sink_message(k, n, 20000);
	cr_assert_not_null(m, "mail %d never arrived", n);
	return m;
}

/* ---- The server ---------------------------------------------------------------------- */
/* Start sensed with the account plugin's configuration section `account` (JSON text). */
static struct server *start(const char *account, const char *data_dir)
{
	char extra[1024];
	snprintf(extra, sizeof(extra),
	         "{\"loginRatePerMinute\": 100000, \"plugins\": {\"config\": {\"account\": %s}}}",
	         account ? account
	                 : "{\"publicBaseUrl\": \"" BASE_URL "\", \"retryInitialSeconds\": 1, "
	                   "\"retryMaxSeconds\": 2}");
	struct server_options opt = {
	    .extra_config = extra, .args = plugin_args, .data_dir = data_dir};
	return server_start(&opt);
}

/* Every response of this suite (harness_screen): never the SMTP password, never a hash. */
static void no_secret(const struct response *r)
{
	cr_assert_null(strstr(r->body, SMTP_PASS), "SMTP password in a response: %s", r->body);
	cr_assert_null(strstr(r->body, "$argon2"), "hash in a response: %s", r->body);
}

static void screen_responses(void)
{
	harness_screen(no_secret);
}

TestSuite(account, .init = screen_responses);

static void configure_mail(struct server *s, int port, const char *extra_members)
{
	char body[512];
	snprintf(
	    body, sizeof(body),
	    "{\"host\": \"127.0.0.1\", \"port\": %d, \"senderEmail\": \"noreply@sensed.test\", "
	    "\"senderName\": \"Sensed BI\"%s%s}",
	    port, extra_members ? ", " : "", extra_members ? extra_members : "");
	struct response *r = http(s, "POST", SETTINGS, admin_token(s), NULL, body);
	cr_assert_eq(r->status, 200, "%s", r->body);
	response_free(r);
}

/* A pending user (created, then made inactive, as one awaiting activation). */
static char *create_pending_user(struct server *s, const char *email, const char *user_name)
{
	char *id = authkit_create_user(s, email, user_name, "consumer", "Initial-Passw0rd!");
	char path[128];
	snprintf(path, sizeof(path), API "/test/authkit/users/%s/deactivate", id);
	cr_assert_eq(http_status(s, "POST", path, NULL, NULL), 204);
	return id;
}

static int begin(struct server *s, const char *path, const char *email)
{
	char body[256];
	snprintf(body, sizeof(body), "{\"email\": \"%s\"}", email);
	return http_status(s, "POST", path, NULL, body);
}

static long long kit_count(struct server *s, const char *collection)
{
	char path[128];
	snprintf(path, sizeof(path), API "/test/accountkit/count/%s", collection);
	struct response *r = http(s, "GET", path, NULL, NULL, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	long long n = json_integer_value(json_object_get(r->json, "count"));
	response_free(r);
	return n;
}

/* The outbox count once delivery settles: the sink has the message as soon as the SMTP
 * transaction ends, a moment before the delivery thread removes it from the outbox. */
static long long outbox_drained(struct server *s)
{
	long long n = kit_count(s, "mail_outbox");

	for (int i = 0; n != 0 && i < 100; i++) {
		usleep(50000);
		n = kit_count(s, "mail_outbox");
	}
	return n;
}

/* The token of the link `<BASE_URL>account/<kind>/<token>` in a mail body (malloc'd). */
static char *link_token(const json_t *mail, const char *kind)
{
	const char *body = json_string_value(json_object_get(mail, "body"));
	char prefix[128];
	cr_assert_not_null(body);
	snprintf(prefix, sizeof(prefix), BASE_URL "account/%s/", kind);
	const char *at = strstr(body, prefix);
	cr_assert_not_null(at, "no %s link in: %s", kind, body);
	at += strlen(prefix);
	size_t n = strspn(at, "0123456789abcdef");
	cr_assert_eq(n, 64, "token of %zu hex digits in: %s", n, body);
	return strndup(at, n);
}

static char *path_of(const char *base, const char *token)
{
	char *p = malloc(strlen(base) + strlen(token) + 1);
	cr_assert_not_null(p);
	strcpy(p, base);
	strcat(p, token);
	return p;
}

static int password_body_post(struct server *s, const char *path, const char *password)
{
	char body[256];
	snprintf(body, sizeof(body), "{\"password\": \"%s\"}", password);
	return http_status(s, "POST", path, NULL, body);
}

/* ---- settings/email_server ------------------------------------------------------------ */
Test(account, email_server_settings_lifecycle)
{
	struct server *s = start(NULL, NULL);
	const char *admin = admin_token(s);
	struct response *r;

	http_expect_error(s, "GET", SETTINGS, admin, NULL, 404, 7501);
	http_expect_error(s, "PATCH", SETTINGS, admin, "{\"port\": 26}", 400, 7501);
	http_expect_error(s, "DELETE", SETTINGS, admin, NULL, 404, 7501);

	r = http(s, "POST", SETTINGS, admin, NULL,
	         "{\"host\": \"smtp.example.test\", \"port\": 587, \"user\": \"relay\", \"pass\": "
	         "\"" SMTP_PASS
	         "\", \"senderEmail\": \"bi@example.test\", \"senderName\": \"BI\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_null(json_object_get(r->json, "pass"), "%s", r->body);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "host")), "smtp.example.test");
	cr_assert_eq(json_integer_value(json_object_get(r->json, "port")), 587);
	cr_assert(json_is_true(json_object_get(r->json, "enable")), "default enable: %s", r->body);
	cr_assert(json_is_false(json_object_get(r->json, "secure")));
	cr_assert(json_is_false(json_object_get(r->json, "ignoreTLS")));
	cr_assert(json_is_false(json_object_get(r->json, "requireTLS")));
	cr_assert(json_is_integer(json_object_get(r->json, "connectionTimeout")));
	response_free(r);

	http_expect_error(s, "POST", SETTINGS, admin,
	                  "{\"host\": \"other\", \"senderEmail\": \"a@b.c\"}", 400, 7501);

	r = http(s, "PATCH", SETTINGS, admin, NULL, "{\"port\": \"2525\", \"requireTLS\": true}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_integer_value(json_object_get(r->json, "port")), 2525);
	cr_assert(json_is_true(json_object_get(r->json, "requireTLS")));
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "user")), "relay");
	response_free(r);

	r = http(s, "GET", SETTINGS, admin, NULL, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_integer_value(json_object_get(r->json, "port")), 2525);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "senderEmail")),
	                 "bi@example.test");
	cr_assert_null(json_object_get(r->json, "pass"));
	response_free(r);

	/* the password is sealed at rest */
	cr_assert_not(store_contains(s, SMTP_PASS), "SMTP password in clear in the store");

	cr_assert_eq(http_status(s, "DELETE", SETTINGS, admin, NULL), 204);
	http_expect_error(s, "GET", SETTINGS, admin, NULL, 404, 7501);
	cr_assert_eq(server_stop(s), 0);
}

Test(account, email_server_settings_validation)
{
	struct server *s = start(NULL, NULL);
	const char *admin = admin_token(s);
	static const char *const bad[] = {
	    "{\"senderEmail\": \"a@b.c\"}",                                /* host missing */
	    "{\"host\": \"smtp.x\"}",                                      /* sender missing */
	    "{\"host\": \"smtp.x\", \"senderEmail\": \"not an address\"}", /* bad sender */
	    "{\"host\": \"smtp.x\", \"senderEmail\": \"a@b.c\", \"port\": 70000}",
	    "{\"host\": \"smtp.x\", \"senderEmail\": \"a@b.c\", \"port\": \"25x\"}",
	    "{\"host\": \"smtp.x\", \"senderEmail\": \"a@b.c\", \"secure\": \"yes\"}",
	    "{\"host\": \"smtp x\", \"senderEmail\": \"a@b.c\"}",
	    "{\"host\": \"smtp.x\", \"senderEmail\": \"a@b.c\", \"senderName\": \"a\\r\\nBcc: x\"}",
	    "{\"host\": \"smtp.x\", \"senderEmail\": \"a@b.c\", \"ignoreTLS\": true, "
	    "\"requireTLS\": true}",
	    "{\"host\": \"smtp.x\", \"senderEmail\": \"a@b.c\", \"color\": \"red\"}",
	    "[1, 2]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		http_expect_error(s, "POST", SETTINGS, admin, bad[i], 400, 1008);
	http_expect_error(s, "POST", SETTINGS, admin, "{\"host\": ", 400, 1001);
	http_expect_error(s, "GET", SETTINGS, admin, NULL, 404, 7501); /* nothing was stored */
	configure_mail(s, 25, NULL);
	http_expect_error(s, "PATCH", SETTINGS, admin, "{\"host\": \"\"}", 400, 1008);
	cr_assert_eq(server_stop(s), 0);
}

Test(account, email_server_settings_are_admin_only)
{
	struct server *s = start(NULL, NULL);
	free(
	    authkit_create_user(s, "viewer@sensed.test", "viewer", "consumer", "Viewer-Passw0rd!"));
	free(authkit_create_user(s, "designer@sensed.test", "designer", "contributor",
	                         "Design-Passw0rd!"));
	char *viewer = login(s, "viewer@sensed.test", "Viewer-Passw0rd!");
	char *designer = login(s, "designer@sensed.test", "Design-Passw0rd!");
	const char *body = "{\"host\": \"smtp.x\", \"senderEmail\": \"a@b.c\"}";
	cr_assert_not_null(viewer);
	cr_assert_not_null(designer);
	const char *callers[] = {viewer, designer};
	for (int i = 0; i < 2; i++) {
		http_expect_error(s, "GET", SETTINGS, callers[i], NULL, 403, 1009);
		http_expect_error(s, "POST", SETTINGS, callers[i], body, 403, 1009);
		http_expect_error(s, "PATCH", SETTINGS, callers[i], body, 403, 1009);
		http_expect_error(s, "DELETE", SETTINGS, callers[i], NULL, 403, 1009);
	}
	cr_assert_eq(http_status(s, "GET", SETTINGS, NULL, NULL), 401);
	http_expect_error(s, "GET", SETTINGS, admin_token(s), NULL, 404, 7501); /* nothing stored */
	free(viewer);
	free(designer);
	cr_assert_eq(server_stop(s), 0);
}

/* ---- Activation ---------------------------------------------------------------------- */
Test(account, activation_by_email_end_to_end)
{
	struct sink k;
	sink_init(&k, 0);
	sink_run(&k, NULL, NULL);
	struct server *s = start(NULL, NULL);
	configure_mail(s, k.port, NULL);
	char *id = create_pending_user(s, "new.person@sensed.test", "newperson");
	cr_assert_null(login(s, "new.person@sensed.test", "Initial-Passw0rd!"), "inactive login");

	/* the address is matched without regard to case */
	cr_assert_eq(begin(s, BEGIN_ACTIVATE, "NEW.person@sensed.TEST"), 204);
	json_t *mail = sink_expect(&k, 1);
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(mail, "rcptTos"), 0)),
	                 "new.person@sensed.test");
	cr_assert_str_eq(json_string_value(json_object_get(mail, "mailFrom")),
	                 "noreply@sensed.test");
	cr_assert_not_null(strstr(json_string_value(json_object_get(mail, "from")), "Sensed BI"));
	cr_assert_str_eq(json_string_value(json_object_get(mail, "subject")),
	                 "Activate your account");
	cr_assert_not_null(strstr(json_string_value(json_object_get(mail, "body")), "newperson"));
	char *token = link_token(mail, "activate");
	json_decref(mail);
	cr_assert_eq(outbox_drained(s), 0, "delivered mail stays in the outbox");
	/* the token is stored hashed; the mail body was stored sealed */
	cr_assert_not(store_contains(s, token), "token in clear in the store");

	char *path = path_of(ACTIVATE, token);
	struct response *r = http(s, "GET", path, NULL, NULL, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "userName")), "newperson");
	response_free(r);
	/* validation does not use the token up; a reset token is not an activation token */
	cr_assert_eq(http_status(s, "GET", path, NULL, NULL), 200);
	char *wrong_kind = path_of(RESET, token);
	http_expect_error(s, "GET", wrong_kind, NULL, NULL, 404, 1251);
	http_expect_error(s, "POST", wrong_kind, NULL, "{\"password\": \"x\"}", 404, 1251);

	http_expect_error(s, "POST", path, NULL, "{}", 400, 1008);
	http_expect_error(s, "POST", path, NULL, "{\"password\": \"\"}", 400, 1008);
	http_expect_error(s, "POST", path, NULL, "{\"password\": 5}", 400, 1008);
	cr_assert_eq(password_body_post(s, path, "Chosen-Passw0rd!"), 204);

	char *session = login(s, "new.person@sensed.test", "Chosen-Passw0rd!");
	cr_assert_not_null(session, "activated user cannot log in");
	/* single use */
	http_expect_error(s, "GET", path, NULL, NULL, 404, 1251);
	http_expect_error(s, "POST", path, NULL, "{\"password\": \"Other-Passw0rd!\"}", 404, 1251);
	cr_assert_null(login(s, "new.person@sensed.test", "Other-Passw0rd!"));
	/* an active user gets no activation mail */
	http_expect_error(s, "POST", BEGIN_ACTIVATE, NULL,
	                  "{\"email\": \"new.person@sensed.test\"}", 400, 1252);

	free(session);
	free(wrong_kind);
	free(path);
	free(token);
	free(id);
	cr_assert_eq(server_stop(s), 0);
	sink_stop(&k);
}

Test(account, unknown_and_malformed_requests)
{
	struct sink k;
	sink_init(&k, 0);
	sink_run(&k, NULL, NULL);
	struct server *s = start(NULL, NULL);
	configure_mail(s, k.port, NULL);
	free(
	    authkit_create_user(s, "active@sensed.test", "active", "consumer", "Active-Passw0rd!"));

	http_expect_error(s, "POST", BEGIN_ACTIVATE, NULL, "{\"email\": \"nobody@sensed.test\"}",
	                  404, 2001);
	http_expect_error(s, "POST", BEGIN_RESET, NULL, "{\"email\": \"nobody@sensed.test\"}", 404,
	                  2001);
	http_expect_error(s, "POST", BEGIN_RESET, NULL, "{}", 400, 1008);
	http_expect_error(s, "POST", BEGIN_RESET, NULL, "{\"email\": 7}", 400, 1008);
	http_expect_error(s, "POST", BEGIN_RESET, NULL, "[\"active@sensed.test\"]", 400, 1008);
	http_expect_error(s, "POST", BEGIN_RESET, NULL, "{\"email\": ", 400, 1001);
	http_expect_error(s, "POST", BEGIN_BULK, NULL, "{\"email\": \"active@sensed.test\"}", 400,
	                  1008);
	http_expect_error(s, "POST", BEGIN_BULK, NULL, "[{\"mail\": \"x\"}]", 400, 1008);
	/* tokens that never existed, of every shape */
	static const char *const tokens[] = {
	    "abc", "0000000000000000000000000000000000000000000000000000000000000000",
	    "ZZZZ000000000000000000000000000000000000000000000000000000000000", "%00"};
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
		char *a = path_of(ACTIVATE, tokens[i]), *b = path_of(RESET, tokens[i]);
		struct response *r = http(s, "GET", a, NULL, NULL, NULL);
		cr_assert(r->status == 404 || r->status == 400, "%d %s", r->status, r->body);
		response_free(r);
		r = http(s, "POST", b, NULL, NULL, "{\"password\": \"Whatever-1\"}");
		cr_assert(r->status == 404 || r->status == 400, "%d %s", r->status, r->body);
		response_free(r);
		free(a);
		free(b);
	}
	http_expect_error(
	    s, "GET", ACTIVATE "0000000000000000000000000000000000000000000000000000000000000000",
	    NULL, NULL, 404, 1251);
	/* nothing was sent */
	cr_assert_eq(outbox_drained(s), 0);
	cr_assert_null(sink_message(&k, 1, 300));
	cr_assert_eq(server_stop(s), 0);
	sink_stop(&k);
}

Test(account, bulk_activation_is_all_or_nothing)
{
	struct sink k;
	sink_init(&k, 0);
	sink_run(&k, NULL, NULL);
	struct server *s = start(NULL, NULL);
	configure_mail(s, k.port, NULL);
	free(create_pending_user(s, "one@sensed.test", "one"));
	free(create_pending_user(s, "two@sensed.test", "two"));

	/* one unknown address: nobody gets mail */
	http_expect_error(s, "POST", BEGIN_BULK, NULL,
	                  "[{\"email\": \"one@sensed.test\"}, {\"email\": \"ghost@sensed.test\"}]",
	                  404, 2001);
	cr_assert_eq(outbox_drained(s), 0);
	cr_assert_eq(kit_count(s, "account_tokens"), 0);

	cr_assert_eq(
	    http_status(s, "POST", BEGIN_BULK, NULL,
	                "[{\"email\": \"one@sensed.test\"}, {\"email\": \"TWO@sensed.test\"}, "
	                "{\"email\": \"one@sensed.test\"}]"),
	    204);
	json_t *m1 = sink_expect(&k, 1), *m2 = sink_expect(&k, 2);
	cr_assert_null(sink_message(&k, 3, 500), "a duplicate address got two mails");
	const char *to1 = json_string_value(json_array_get(json_object_get(m1, "rcptTos"), 0));
	const char *to2 = json_string_value(json_array_get(json_object_get(m2, "rcptTos"), 0));
	cr_assert(strcmp(to1, to2) != 0);
	cr_assert(!strcmp(to1, "one@sensed.test") || !strcmp(to1, "two@sensed.test"), "%s", to1);
	cr_assert(!strcmp(to2, "one@sensed.test") || !strcmp(to2, "two@sensed.test"), "%s", to2);
	/* each link activates its own user */
	json_t *mails[] = {m1, m2};
	for (int i = 0; i < 2; i++) {
		char *token = link_token(mails[i], "activate"), *path = path_of(ACTIVATE, token);
		const char *to =
		    json_string_value(json_array_get(json_object_get(mails[i], "rcptTos"), 0));
		cr_assert_eq(password_body_post(s, path, "Bulk-Passw0rd!"), 204);
		char *session = login(s, to, "Bulk-Passw0rd!");
		cr_assert_not_null(session, "%s cannot log in", to);
		free(session);
		free(path);
		free(token);
		json_decref(mails[i]);
	}
	cr_assert_eq(http_status(s, "POST", BEGIN_BULK, NULL, "[]"), 204);
	cr_assert_eq(server_stop(s), 0);
	sink_stop(&k);
}

/* ---- Password reset ------------------------------------------------------------------- */
Test(account, password_reset_end_to_end)
{
	struct sink k;
	sink_init(&k, 0);
	sink_run(&k, NULL, NULL);
	struct server *s = start(NULL, NULL);
	configure_mail(s, k.port, NULL);
	free(authkit_create_user(s, "forgetful@sensed.test", "forgetful", "contributor",
	                         "Old-Passw0rd!"));
	char *old_session = login(s, "forgetful@sensed.test", "Old-Passw0rd!");
	cr_assert_not_null(old_session);
	cr_assert_eq(http_status(s, "GET", SETTINGS, old_session, NULL), 403); /* token works */

	/* a first request, then a second: only the latest link works */
	cr_assert_eq(begin(s, BEGIN_RESET, "forgetful@sensed.test"), 204);
	json_t *first = sink_expect(&k, 1);
	cr_assert_eq(begin(s, BEGIN_RESET, "Forgetful@sensed.test"), 204);
	json_t *mail = sink_expect(&k, 2);
	cr_assert_str_eq(json_string_value(json_object_get(mail, "subject")),
	                 "Reset your password");
	char *stale = link_token(first, "reset_password"),
	     *token = link_token(mail, "reset_password");
	char *stale_path = path_of(RESET, stale), *path = path_of(RESET, token);
	http_expect_error(s, "GET", stale_path, NULL, NULL, 404, 1251);

	struct response *r = http(s, "GET", path, NULL, NULL, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(json_string_value(json_object_get(r->json, "userName")), "forgetful");
	response_free(r);
	cr_assert_eq(password_body_post(s, path, "New-Passw0rd!"), 204);

	/* the new password works, the old one does not, and old sessions are revoked */
	cr_assert_eq(http_status(s, "GET", SETTINGS, old_session, NULL), 401);
	cr_assert_null(login(s, "forgetful@sensed.test", "Old-Passw0rd!"));
	char *session = login(s, "forgetful@sensed.test", "New-Passw0rd!");
	cr_assert_not_null(session);
	/* single use */
	http_expect_error(s, "POST", path, NULL, "{\"password\": \"Third-Passw0rd!\"}", 404, 1251);
	http_expect_error(s, "GET", path, NULL, NULL, 404, 1251);
	cr_assert_null(login(s, "forgetful@sensed.test", "Third-Passw0rd!"));

	free(session);
	free(old_session);
	free(stale_path);
	free(path);
	free(stale);
	free(token);
	json_decref(first);
	json_decref(mail);
	cr_assert_eq(server_stop(s), 0);
	sink_stop(&k);
}

Test(account, pending_user_cannot_reset)
{
	struct sink k;
	sink_init(&k, 0);
	sink_run(&k, NULL, NULL);
	struct server *s = start(NULL, NULL);
	configure_mail(s, k.port, NULL);
	free(create_pending_user(s, "pending@sensed.test", "pending"));
	http_expect_error(s, "POST", BEGIN_RESET, NULL, "{\"email\": \"pending@sensed.test\"}", 400,
	                  1253);
	cr_assert_eq(outbox_drained(s), 0);
	cr_assert_eq(server_stop(s), 0);
	sink_stop(&k);
}

Test(account, tokens_expire)
{
	struct sink k;
	sink_init(&k, 0);
	sink_run(&k, NULL, NULL);
	struct server *s =
	    start("{\"publicBaseUrl\": \"" BASE_URL "\", \"resetTokenTtlSeconds\": 1, "
	          "\"activationTokenTtlSeconds\": 1}",
	          NULL);
	configure_mail(s, k.port, NULL);
	free(authkit_create_user(s, "slow@sensed.test", "slow", "consumer", "Slow-Passw0rd!"));
	free(create_pending_user(s, "late@sensed.test", "late"));
	cr_assert_eq(begin(s, BEGIN_RESET, "slow@sensed.test"), 204);
	cr_assert_eq(begin(s, BEGIN_ACTIVATE, "late@sensed.test"), 204);
	json_t *m1 = sink_expect(&k, 1), *m2 = sink_expect(&k, 2);
	json_t *reset_mail =
	    strstr(json_string_value(json_object_get(m1, "body")), "reset_password") ? m1 : m2;
	json_t *activate_mail = reset_mail == m1 ? m2 : m1;
	char *reset = link_token(reset_mail, "reset_password");
	char *activate = link_token(activate_mail, "activate");
	char *reset_path = path_of(RESET, reset), *activate_path = path_of(ACTIVATE, activate);
	sleep(2);
	http_expect_error(s, "GET", reset_path, NULL, NULL, 404, 1251);
	http_expect_error(s, "POST", reset_path, NULL, "{\"password\": \"Too-Late-1\"}", 404, 1251);
	http_expect_error(s, "GET", activate_path, NULL, NULL, 404, 1251);
	http_expect_error(s, "POST", activate_path, NULL, "{\"password\": \"Too-Late-1\"}", 404,
	                  1251);
	cr_assert_null(login(s, "slow@sensed.test", "Too-Late-1"));
	cr_assert_null(login(s, "late@sensed.test", "Too-Late-1"));
	free(reset);
	free(activate);
	free(reset_path);
	free(activate_path);
	json_decref(m1);
	json_decref(m2);
	cr_assert_eq(server_stop(s), 0);
	sink_stop(&k);
}

Test(account, mail_requests_are_throttled_per_address)
{
	struct sink k;
	sink_init(&k, 0);
	sink_run(&k, NULL, NULL);
	struct server *s = start("{\"publicBaseUrl\": \"" BASE_URL "\", \"mailThrottleMax\": 2, "
	                         "\"mailThrottleWindowSeconds\": 3}",
	                         NULL);
	configure_mail(s, k.port, NULL);
	free(
	    authkit_create_user(s, "victim@sensed.test", "victim", "consumer", "Victim-Passw0rd!"));
	free(authkit_create_user(s, "other@sensed.test", "other", "consumer", "Other-Passw0rd!"));

	cr_assert_eq(begin(s, BEGIN_RESET, "victim@sensed.test"), 204);
	cr_assert_eq(begin(s, BEGIN_RESET, "VICTIM@sensed.test"), 204);
	struct response *r =
	    http(s, "POST", BEGIN_RESET, NULL, NULL, "{\"email\": \"victim@sensed.test\"}");
	assert_error(r, 429, 1250);
	const char *retry = response_header(r, "Retry-After");
	cr_assert_not_null(retry);
	cr_assert(atoi(retry) >= 1 && atoi(retry) <= 3, "Retry-After: %s", retry);
	response_free(r);
	/* the throttle is per address */
	cr_assert_eq(begin(s, BEGIN_RESET, "other@sensed.test"), 204);
	cr_assert_not_null(sink_message(&k, 3, 20000));
	cr_assert_null(sink_message(&k, 4, 500), "a throttled request sent mail");
	/* the window passes */
	sleep(3);
	cr_assert_eq(begin(s, BEGIN_RESET, "victim@sensed.test"), 204);
	json_decref(sink_expect(&k, 4));
	for (int i = 1; i <= 3; i++)
		json_decref(sink_message(&k, i, 0));
	cr_assert_eq(server_stop(s), 0);
	sink_stop(&k);
}

Test(account, no_mail_without_an_enabled_server)
{
	struct server *s = start(NULL, NULL);
	free(
	    authkit_create_user(s, "someone@sensed.test", "someone", "consumer", "Some-Passw0rd!"));
	http_expect_error(s, "POST", BEGIN_RESET, NULL, "{\"email\": \"someone@sensed.test\"}", 400,
	                  1254);
	configure_mail(s, free_port(), "\"enable\": false");
	http_expect_error(s, "POST", BEGIN_RESET, NULL, "{\"email\": \"someone@sensed.test\"}", 400,
	                  1254);
	cr_assert_eq(outbox_drained(s), 0);
	cr_assert_eq(kit_count(s, "account_tokens"), 0);
	cr_assert_eq(server_stop(s), 0);
}

/* ---- Delivery: retries, restart, AUTH, TLS policy ------------------------------------- */
Test(account, mail_server_down_delays_mail)
{
	struct sink k;
	sink_init(&k, 0); /* its port is known, nothing listens yet */
	struct server *s = start(NULL, NULL);
	configure_mail(s, k.port, NULL);
	free(authkit_create_user(s, "patient@sensed.test", "patient", "consumer",
	                         "Patient-Passw0rd!"));
	cr_assert_eq(begin(s, BEGIN_RESET, "patient@sensed.test"), 204);
	sleep(2); /* at least one failed attempt */
	cr_assert_eq(kit_count(s, "mail_outbox"), 1, "the mail was lost while the server was down");
	cr_assert_not_null(strstr(server_output(s), "not delivered"), "no failed attempt logged");
	sink_run(&k, NULL, NULL);
	json_t *mail = sink_expect(&k, 1);
	char *token = link_token(mail, "reset_password"), *path = path_of(RESET, token);
	cr_assert_eq(http_status(s, "GET", path, NULL, NULL), 200);
	cr_assert_null(sink_message(&k, 2, 1500), "the mail was sent twice");
	cr_assert_eq(outbox_drained(s), 0);
	free(path);
	free(token);
	json_decref(mail);
	cr_assert_eq(server_stop(s), 0);
	sink_stop(&k);
}

Test(account, outbox_survives_restart)
{
	char data[] = "/tmp/sensed-account-data-XXXXXX";
	cr_assert(mkdtemp(data));
	struct sink k;
	sink_init(&k, 0);
	struct server *s = start(NULL, data);
	configure_mail(s, k.port, NULL);
	free(authkit_create_user(s, "later@sensed.test", "later", "consumer", "Later-Passw0rd!"));
	cr_assert_eq(begin(s, BEGIN_RESET, "later@sensed.test"), 204);
	cr_assert_eq(kit_count(s, "mail_outbox"), 1);
	cr_assert_eq(server_stop(s), 0);

	sink_run(&k, NULL, NULL);
	s = start(NULL, data);
	json_t *mail = sink_expect(&k, 1);
	char *token = link_token(mail, "reset_password"), *path = path_of(RESET, token);
	cr_assert_eq(password_body_post(s, path, "After-Restart-1"), 204);
	char *session = login(s, "later@sensed.test", "After-Restart-1");
	cr_assert_not_null(session);
	free(session);
	free(path);
	free(token);
	json_decref(mail);
	cr_assert_eq(server_stop(s), 0);
	sink_stop(&k);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", data);
	cr_assert_eq(system(cmd), 0);
}

Test(account, smtp_authentication_uses_the_sealed_password)
{
	struct sink k;
	sink_init(&k, 0);
	sink_run(&k, "relay-user", SMTP_PASS);
	struct server *s = start(NULL, NULL);
	configure_mail(s, k.port, "\"user\": \"relay-user\", \"pass\": \"wrong-password\"");
	free(
	    authkit_create_user(s, "authed@sensed.test", "authed", "consumer", "Authed-Passw0rd!"));
	cr_assert_eq(begin(s, BEGIN_RESET, "authed@sensed.test"), 204);
	cr_assert_null(sink_message(&k, 1, 1500), "delivered with a wrong SMTP password");
	cr_assert_eq(kit_count(s, "mail_outbox"), 1);

	struct response *r =
	    http(s, "PATCH", SETTINGS, admin_token(s), NULL, "{\"pass\": \"" SMTP_PASS "\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	response_free(r);
	json_t *mail = sink_expect(&k, 1);
	cr_assert_str_eq(json_string_value(json_object_get(mail, "login")), "relay-user");
	json_decref(mail);
	cr_assert_not(store_contains(s, SMTP_PASS), "SMTP password in clear in the store");
	cr_assert_eq(server_stop(s), 0);
	sink_stop(&k);
}

Test(account, require_tls_refuses_a_plain_server)
{
	struct sink k;
	sink_init(&k, 0);
	sink_run(&k, NULL, NULL); /* offers no STARTTLS */
	struct server *s = start(NULL, NULL);
	configure_mail(s, k.port, "\"requireTLS\": true");
	free(authkit_create_user(s, "careful@sensed.test", "careful", "consumer",
	                         "Careful-Passw0rd!"));
	cr_assert_eq(begin(s, BEGIN_RESET, "careful@sensed.test"), 204);
	cr_assert_null(sink_message(&k, 1, 1500), "sent in clear despite requireTLS");
	cr_assert_eq(kit_count(s, "mail_outbox"), 1);
	struct response *r =
	    http(s, "PATCH", SETTINGS, admin_token(s), NULL, "{\"requireTLS\": false}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	response_free(r);
	json_decref(sink_expect(&k, 1));
	cr_assert_eq(server_stop(s), 0);
	sink_stop(&k);
}

Test(account, mail_speaks_the_users_language)
{
	struct sink k;
	sink_init(&k, 0);
	sink_run(&k, NULL, NULL);
	struct server *s = start(NULL, NULL);
	configure_mail(s, k.port, NULL);
	char *id = authkit_create_user(s, "deutsch@sensed.test", "deutsch", "consumer",
	                               "Deutsch-Passw0rd!");
	char path[128];
	snprintf(path, sizeof(path), API "/test/accountkit/users/%s/locale", id);
	cr_assert_eq(http_status(s, "POST", path, NULL, "{\"localeId\": \"de-DE\"}"), 204);
	cr_assert_eq(begin(s, BEGIN_RESET, "deutsch@sensed.test"), 204);
	json_t *mail = sink_expect(&k, 1);
	/* UTF-8 in the subject survives the header encoding */
	cr_assert_str_eq(json_string_value(json_object_get(mail, "subject")),
	                 "Setzen Sie Ihr Passwort zur\u00fcck");
	const char *body = json_string_value(json_object_get(mail, "body"));
	cr_assert_not_null(strstr(body, "Hallo deutsch,"), "%s", body);
	free(link_token(mail, "reset_password"));
	json_decref(mail);
	free(id);
	cr_assert_eq(server_stop(s), 0);
	sink_stop(&k);
}

/* A self-signed certificate for 127.0.0.1 in k->dir (cert.pem, key.pem), and the sink's
 * environment to offer STARTTLS with it (inherited by sink_run's child). */
static void sink_use_tls(struct sink *k, char *cert, size_t cert_size)
{
	char cmd[1024], key[256];
	snprintf(cert, cert_size, "%s/cert.pem", k->dir);
	snprintf(key, sizeof(key), "%s/key.pem", k->dir);
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
	         "-addext subjectAltName=IP:127.0.0.1 -keyout '%s' -out '%s' 2>/dev/null",
	         key, cert);
	cr_assert_eq(system(cmd), 0, "openssl could not make a certificate");
	setenv("SMTP_SINK_TLS_CERT", cert, 1);
	setenv("SMTP_SINK_TLS_KEY", key, 1);
}

Test(account, starttls_with_a_verified_certificate)
{
	struct sink k;
	char cert[256], account[512];
	sink_init(&k, 0);
	sink_use_tls(&k, cert, sizeof(cert));
	sink_run(&k, NULL, NULL);
	snprintf(account, sizeof(account),
	         "{\"publicBaseUrl\": \"" BASE_URL "\", \"retryInitialSeconds\": 1, "
	         "\"retryMaxSeconds\": 2, \"caFile\": \"%s\"}",
	         cert);
	struct server *s = start(account, NULL);
	configure_mail(s, k.port, "\"requireTLS\": true");
	free(
	    authkit_create_user(s, "secure@sensed.test", "secure", "consumer", "Secure-Passw0rd!"));
	cr_assert_eq(begin(s, BEGIN_RESET, "secure@sensed.test"), 204);
	json_t *mail = sink_expect(&k, 1);
	cr_assert(json_is_true(json_object_get(mail, "tls")), "the mail did not travel over TLS");
	json_decref(mail);
	cr_assert_eq(outbox_drained(s), 0);
	cr_assert_eq(server_stop(s), 0);
	sink_stop(&k);
}

Test(account, starttls_refuses_an_unverified_certificate)
{
	struct sink k;
	char cert[256];
	sink_init(&k, 0);
	sink_use_tls(&k, cert, sizeof(cert));
	sink_run(&k, NULL, NULL);
	struct server *s = start(NULL, NULL); /* no caFile: the self-signed certificate fails */
	configure_mail(s, k.port, "\"requireTLS\": true");
	free(authkit_create_user(s, "wary@sensed.test", "wary", "consumer", "Wary-Passw0rd!"));
	cr_assert_eq(begin(s, BEGIN_RESET, "wary@sensed.test"), 204);
	cr_assert_null(sink_message(&k, 1, 1500),
	               "sent to a server whose certificate is unverified");
	cr_assert_eq(kit_count(s, "mail_outbox"), 1, "the mail must wait in the outbox");
	cr_assert_eq(server_stop(s), 0);
	sink_stop(&k);
}
