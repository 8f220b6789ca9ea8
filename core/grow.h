#ifndef CORE_GROW_H
#define CORE_GROW_H
/* core/grow.h: a heap byte buffer that grows by doubling.
 *
 * One rule for every buffer that is appended to (a client's read buffer, a
 * message being reassembled, an HTTP head, held bytes): capacity doubles
 * from a first size until it holds what is needed, but not past a ceiling,
 * so a buffer capped at the ceiling never overshoots it by a doubling. The
 * caller keeps the length; this only manages (pointer, capacity). */
#include <stddef.h>
#include <stdint.h>

/* core_grow makes *buf hold at least need bytes. When *cap < need it
 * reallocates *buf to the smallest of first, 2*first, 4*first ... (starting
 * from *cap instead when it is non-zero) that holds need, clamped to max,
 * and never below need itself (a need above max is the caller's decision:
 * it gets exactly need). first 0 means exactly need. Returns 0, or -ENOMEM
 * with *buf and *cap untouched (the old buffer stays valid and owned by the
 * caller). Free *buf with free(). */
int core_grow(uint8_t **buf, size_t *cap, size_t need, size_t first, size_t max);

#endif
