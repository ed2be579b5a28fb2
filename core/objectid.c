/* ObjectIds (wire.md section 4) and wire dates.  Any thread. */
#include "store.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* The 5 random bytes and the counter's start are drawn once per process.  Criterion and
 * `sensed backup` fork: the pid tells a child to draw its own, so parent and child never
 * hand out the same ids. */
static pthread_mutex_t process_random_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t process_random_pid;
static unsigned char process_random[5];
static atomic_uint_fast32_t id_counter;

static void process_random_ensure(void)
{
	pid_t pid = getpid();

	pthread_mutex_lock(&process_random_lock);
	if (process_random_pid != pid) {
		unsigned char start[3];

		if (sodium_init() < 0) {
			/* randombytes_buf still works without sodium_init (it falls back to
			 * the system source), so ids stay usable. */
		}
		randombytes_buf(process_random, sizeof(process_random));
		randombytes_buf(start, sizeof(start));
		atomic_store(&id_counter, (uint_fast32_t)start[0] << 16 |
		                              (uint_fast32_t)start[1] << 8 | start[2]);
		process_random_pid = pid;
	}
	pthread_mutex_unlock(&process_random_lock);
}

void object_id_new(char out[25])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[12];
	uint32_t seconds = (uint32_t)time(NULL);
	uint_fast32_t count;

	process_random_ensure();
	count = atomic_fetch_add(&id_counter, 1) & 0xffffff;
	raw[0] = (unsigned char)(seconds >> 24);
	raw[1] = (unsigned char)(seconds >> 16);
	raw[2] = (unsigned char)(seconds >> 8);
	raw[3] = (unsigned char)seconds;
	memcpy(raw + 4, process_random, sizeof(process_random));
	raw[9] = (unsigned char)(count >> 16);
	raw[10] = (unsigned char)(count >> 8);
	raw[11] = (unsigned char)count;
	for (int i = 0; i < 12; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 0xf];
	}
	out[24] = '\0';
}

int object_id_valid(const char *s)
{
	if (s == NULL)
		return 0;
	for (int i = 0; i < 24; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	return s[24] == '\0';
}

int64_t time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* `ms_since_epoch` < 0 means now (the host's format_date contract).  Years past 9999 are
 * clamped so the result always has the fixed 24-character shape. */
void date_format(int64_t ms_since_epoch, char out[25])
{
	static const int64_t max_ms = 253402300799999; /* 9999-12-31T23:59:59.999Z */
	int64_t ms = ms_since_epoch < 0 ? time_now_ms() : ms_since_epoch;
	time_t seconds;
	struct tm tm;

	if (ms > max_ms)
		ms = max_ms;
	seconds = (time_t)(ms / 1000);
	gmtime_r(&seconds, &tm);
	/* The modulos only tell the compiler the widths (the values are already in range). */
	snprintf(out, 25, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
	         (unsigned)(tm.tm_year + 1900) % 10000, (unsigned)(tm.tm_mon + 1) % 100,
	         (unsigned)tm.tm_mday % 100, (unsigned)tm.tm_hour % 100, (unsigned)tm.tm_min % 100,
	         (unsigned)tm.tm_sec % 100, (unsigned)(ms % 1000));
}
