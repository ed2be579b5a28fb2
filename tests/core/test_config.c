#include "config.h"
#include "sensed/plugin.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[] = "/tmp/sensed-config-XXXXXX";
static struct config cfg;
static char err[1024];

static int load(const char *text)
{
	int fd;

	strcpy(path, "/tmp/sensed-config-XXXXXX");
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	err[0] = '\0';
	return config_load_file(&cfg, path, err, sizeof(err));
}

static void setup(void)
{
	cr_assert_eq(config_defaults(&cfg), 0);
}

static void teardown(void)
{
	config_free(&cfg);
	unlink(path);
}

TestSuite(config, .init = setup, .fini = teardown);

Test(config, defaults_are_safe)
{
	cr_assert_str_eq(cfg.listen_host, "127.0.0.1");
	cr_assert_eq(cfg.listen_port, 8081);
	cr_assert(cfg.max_body_size > 0 && cfg.max_header_size > 0 && cfg.request_timeout > 0);
	cr_assert(cfg.durable);
	cr_assert(!cfg.password_hash_fast);
	cr_assert_null(cfg.plugins_enabled);
}

Test(config, reads_every_documented_key_of_the_shipped_file)
{
	cr_assert_eq(config_load_file(&cfg, SENSED_SOURCE_DIR "/etc/sensed.json", err, sizeof(err)),
	             0, "%s", err);
	cr_assert_eq(cfg.listen_port, 8081);
	cr_assert_str_eq(cfg.data_dir, "./data");
}

Test(config, values_override_defaults)
{
	cr_assert_eq(load("{\"listen\": \"0.0.0.0:9000\", \"workers\": 3, \"maxBodySize\": 2048,"
	                  " \"accessLog\": false, \"cors\": {\"allowedOrigins\": [\"https://a.b\"]},"
	                  " \"plugins\": {\"enabled\": [\"application\"], \"config\": {\"x\": {}}},"
	                  " \"pluginDirs\": [\"/p1\", \"/p2\"]}"),
	             0, "%s", err);
	cr_assert_str_eq(cfg.listen_host, "0.0.0.0");
	cr_assert_eq(cfg.listen_port, 9000);
	cr_assert_eq(cfg.workers, 3);
	cr_assert_eq(cfg.max_body_size, 2048);
	cr_assert_eq(cfg.access_log, 0);
	cr_assert_str_eq(json_string_value(json_array_get(cfg.cors_origins, 0)), "https://a.b");
	cr_assert_str_eq(json_string_value(json_array_get(cfg.plugins_enabled, 0)), "application");
	cr_assert_not_null(json_object_get(cfg.plugins_config, "x"));
	cr_assert_eq(cfg.plugin_dir_count, 2);
	cr_assert(cfg.plugin_dirs_set);
	cr_assert_str_eq(cfg.plugin_dirs[1], "/p2");
}

struct bad_case {
	const char *text;
	const char *must_name;
};

Test(config, bad_files_stop_with_a_message_naming_the_key)
{
	static const struct bad_case cases[] = {
	    {"{\"lisen\": \"x:1\"}", "\"lisen\""},
	    {"{\"workers\": \"2\"}", "workers: expected an integer"},
	    {"{\"workers\": -1}", "workers: -1 is out of range"},
	    {"{\"durable\": 1}", "durable: expected true or false"},
	    {"{\"listen\": \"8081\"}", "listen: expected HOST:PORT"},
	    {"{\"listen\": \"h:99999\"}", "listen: bad port"},
	    {"{\"cors\": {\"origins\": []}}", "cors.origins: unknown key"},
	    {"{\"cors\": {\"allowedOrigins\": [1]}}", "cors.allowedOrigins[0]"},
	    {"{\"plugins\": {\"enable\": []}}", "plugins.enable: unknown key"},
	    {"{\"plugins\": {\"enabled\": [3]}}", "plugins.enabled[0]"},
	    {"{\"plugins\": {\"config\": {\"a\": 1}}}", "plugins.config.a"},
	    {"{\"logLevel\": \"loud\"}", "logLevel"},
	    {"{\"maxHeaderSize\": 10}", "maxHeaderSize"},
	    {"[1]", "expected a JSON object"},
	    {"{\"workers\": 1, \"workers\": 2}", "duplicate"},
	    {"{not json", "sensed-config-"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		config_free(&cfg);
		config_defaults(&cfg);
		cr_assert_eq(load(cases[i].text), SENSED_EINVAL, "accepted: %s", cases[i].text);
		cr_assert_not_null(strstr(err, cases[i].must_name), "case %s: message \"%s\"",
		                   cases[i].text, err);
		unlink(path);
	}
}

Test(config, missing_file_is_reported)
{
	cr_assert_eq(config_load_file(&cfg, "/nonexistent/sensed.json", err, sizeof(err)),
	             SENSED_EINVAL);
	cr_assert_not_null(strstr(err, "/nonexistent/sensed.json"));
}
