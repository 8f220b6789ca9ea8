#ifndef BENCH_JSON_H
#define BENCH_JSON_H
/* bench/json.h: numbers in the bench's JSON reports (json-c). */
#include <json-c/json.h>

/* bench_jnum returns v as a JSON number printed with prec decimals (so a
 * report reads 12.35, not 12.3456789012), or NULL -- JSON null -- when v is
 * not finite (a figure that could not be measured). The caller owns it. */
struct json_object *bench_jnum(double v, int prec);

#endif
