#ifndef CORE_BYTES_H
#define CORE_BYTES_H
/* core/bytes.h: reading untrusted bytes and writing wire integers.
 *
 * Untrusted input is read only through struct core_cursor: every
 * core_cursor_* getter either consumes exactly what it asked for or fails
 * without moving, so a parser that checks each return cannot read past the
 * end (the shape of BoringSSL's CBS). Getters point into the input; nothing
 * is copied or allocated. The put/get helpers write and read fixed-size
 * integers in network (big-endian) or little-endian order at p, which the
 * caller has checked to be long enough. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct core_cursor {
	const uint8_t *p;
	size_t len;
	size_t off;
};

static inline void core_cursor_init(struct core_cursor *c, const uint8_t *p, size_t len)
{
	c->p = p;
	c->len = len;
	c->off = 0;
}

static inline size_t core_cursor_left(const struct core_cursor *c)
{
	return c->len - c->off;
}

static inline uint16_t core_get_be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t core_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint32_t core_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t core_get_le64(const uint8_t *p)
{
	return (uint64_t)core_get_le32(p) | (uint64_t)core_get_le32(p + 4) << 32;
}

static inline void core_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void core_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void core_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void core_put_le64(uint8_t *p, uint64_t v)
{
	core_put_le32(p, (uint32_t)v);
	core_put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline bool core_cursor_u8(struct core_cursor *c, uint8_t *out)
{
	if (core_cursor_left(c) < 1)
		return false;
	*out = c->p[c->off];
	c->off += 1;
	return true;
}

static inline bool core_cursor_be16(struct core_cursor *c, uint16_t *out)
{
	if (core_cursor_left(c) < 2)
		return false;
	*out = core_get_be16(c->p + c->off);
	c->off += 2;
	return true;
}

static inline bool core_cursor_be32(struct core_cursor *c, uint32_t *out)
{
	if (core_cursor_left(c) < 4)
		return false;
	*out = core_get_be32(c->p + c->off);
	c->off += 4;
	return true;
}

/* core_cursor_bytes points *out at the next n bytes (in the input). */
static inline bool core_cursor_bytes(struct core_cursor *c, const uint8_t **out, size_t n)
{
	if (core_cursor_left(c) < n)
		return false;
	*out = c->p + c->off;
	c->off += n;
	return true;
}

#endif
