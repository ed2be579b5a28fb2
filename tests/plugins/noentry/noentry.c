/* A shared object without the entry function. */
#include <sensed/plugin.h>

SENSED_EXPORT int not_the_entry(void);
int not_the_entry(void)
{
	return 1;
}
