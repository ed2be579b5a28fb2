/* The command line: --version, --help, bad options and configuration, --check-config,
 * backup of a live store. */
#include "api/harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct run {
	int status;
	char output[16384];
};

/* Run a shell command line with the sensed binary as $0's first word; capture both
 * streams. */
static void run(struct run *r, const char *args)
{
	char cmd[4096];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1", SENSED_BIN, args);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	n = fread(r->output, 1, sizeof(r->output) - 1, p);
	r->output[n] = '\0';
	r->status = pclose(p);
	r->status = WIFEXITED(r->status) ? WEXITSTATUS(r->status) : 128;
}

static char *write_temp(const char *text)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/sensed-cli-XXXXXX");
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

Test(cli, version_names_the_sdk_abi)
{
	struct run r;

	run(&r, "--version");
	cr_assert_eq(r.status, 0);
	cr_assert_not_null(strstr(r.output, "sensed "), "%s", r.output);
	cr_assert_not_null(strstr(r.output, "SDK ABI 1."), "%s", r.output);
}

Test(cli, help_lists_every_option)
{
	static const char *const options[] = {"--config", "--listen", "--data", "--plugin-dir",
	                                      "--workers", "--check-config", "backup"};
	struct run r;

	run(&r, "--help");
	cr_assert_eq(r.status, 0);
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		cr_assert_not_null(strstr(r.output, options[i]), "missing %s", options[i]);
}

Test(cli, unknown_option_and_missing_value_exit_2)
{
	struct run r;

	run(&r, "--frobnicate");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.output, "--frobnicate"));
	run(&r, "--listen");
	cr_assert_eq(r.status, 2);
	run(&r, "--workers many --check-config");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.output, "--workers"));
}

Test(cli, bad_configuration_stops_start_up_naming_the_key)
{
	struct run r;
	char args[256];
	char *path = write_temp("{\"listen\": \"127.0.0.1:0\", \"maxBodySise\": 10}");

	snprintf(args, sizeof(args), "--config %s --data /tmp/never-created-%d", path,
	         (int)getpid());
	run(&r, args);
	unlink(path);
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.output, "maxBodySise"), "%s", r.output);
	snprintf(args, sizeof(args), "/tmp/never-created-%d", (int)getpid());
	cr_assert_neq(access(args, F_OK), 0, "a failed start must not create the data dir");
}

Test(cli, check_config_accepts_the_shipped_configuration)
{
	struct run r;

	run(&r, "--config " SENSED_SOURCE_DIR "/etc/sensed.json --check-config");
	cr_assert_eq(r.status, 0, "%s", r.output);
	cr_assert_not_null(strstr(r.output, "application"), "%s", r.output);
}

Test(cli, check_config_reports_a_bad_file_and_exits_non_zero)
{
	struct run r;
	char args[256];
	char *path = write_temp("{\"workers\": true}");

	snprintf(args, sizeof(args), "--config %s --check-config", path);
	run(&r, args);
	unlink(path);
	cr_assert_neq(r.status, 0);
	cr_assert_not_null(strstr(r.output, "workers: expected an integer"), "%s", r.output);
}

Test(cli, backup_copies_a_live_store)
{
	struct server *s = server_start(NULL);
	struct server_options restored = {0};
	struct server *copy;
	char out[64], args[512];
	struct run r;
	char *token;

	/* Something written after start-up: a login stamps lastLogin. */
	cr_assert_not_null(admin_token(s));
	strcpy(out, "/tmp/sensed-backup-XXXXXX");
	cr_assert_not_null(mkdtemp(out));
	snprintf(args, sizeof(args), "backup --data %s %s/copy", server_data_dir(s), out);
	run(&r, args);
	cr_assert_eq(r.status, 0, "%s", r.output);
	cr_assert_eq(server_stop(s), 0);

	/* The copy is a working store: the same admin logs in on it. */
	snprintf(args, sizeof(args), "%s/copy", out);
	restored.data_dir = args;
	copy = server_start(&restored);
	token = login(copy, "admin@sensed.test", "Admin-Passw0rd!");
	cr_assert_not_null(token);
	free(token);
	cr_assert_eq(server_stop(copy), 0);
	snprintf(args, sizeof(args), "rm -rf %s", out);
	cr_assert_eq(system(args), 0);
}

Test(cli, backup_without_arguments_explains_itself)
{
	struct run r;

	run(&r, "backup");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.output, "--data"), "%s", r.output);
}
