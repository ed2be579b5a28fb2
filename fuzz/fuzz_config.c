/* Fuzz the configuration loader (config_load_file): the input is written to a private
 * temporary file and loaded over the defaults, as main() does. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct config cfg;
	char err[512];
	FILE *f;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/sensed-fuzz-config-%d.json", (int)getpid());
	f = fopen(path, "wb");
	if (!f)
		return 0;
	if (size && fwrite(data, 1, size, f) != size) {
		fclose(f);
		return 0;
	}
	fclose(f);
	if (config_defaults(&cfg) != 0)
		return 0;
	err[0] = '\0';
	(void)config_load_file(&cfg, path, err, sizeof(err));
	if (strlen(err) >= sizeof(err))
		abort();
	config_free(&cfg);
	return 0;
}
