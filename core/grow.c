/* core/grow.c: see grow.h. */
#include "core/grow.h"

#include <errno.h>
#include <stdlib.h>

int core_grow(uint8_t **buf, size_t *cap, size_t need, size_t first, size_t max)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : first;
	if (!c)
		c = need;
	while (c < need && c < max && c <= SIZE_MAX / 2)
		c *= 2;
	if (c > max)
		c = max;
	if (c < need)
		c = need;
	uint8_t *p = realloc(*buf, c);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = c;
	return 0;
}
