/* JSON numbers for the bench's reports: see bench/json.h. */
#include "bench/json.h"

#include <math.h>
#include <stdio.h>

struct json_object *bench_jnum(double v, int prec)
{
	char s[64];
	if (!isfinite(v))
		return NULL;
	snprintf(s, sizeof s, "%.*f", prec, v);
	return json_object_new_double_s(v, s);
}
