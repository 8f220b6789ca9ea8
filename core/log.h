#ifndef CORE_LOG_H
#define CORE_LOG_H
/* core/log.h: one-line log records to stderr.
 *
 * Plain text "2026-11-25T07:55:33.123Z INFO message" by default, or one JSON
 * object per line after core_log_set_json(true). Thread-safe: each record is
 * one write(2). Records above the current level are dropped cheaply. */
#include <stdatomic.h>
#include <stdbool.h>

enum core_log_level { CORE_LOG_ERR = 0, CORE_LOG_WARN, CORE_LOG_INFO, CORE_LOG_DEBUG };

void core_log_set_level(enum core_log_level level);
void core_log_set_json(bool json);
bool core_log_enabled(enum core_log_level level);

/* core_log formats and writes one record. Never fails visibly. */
void core_log(enum core_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A rate limit for one kind of record: at most `burst` records per second;
 * the rest are counted, and the next record that goes out says how many
 * were left out. Zero-initialise it, set burst (0 means 10); safe to share
 * between threads (a few records over the limit may slip through when
 * threads race at a second's edge). For records a stranger can cause. */
struct core_log_limit {
	unsigned burst;
	_Atomic unsigned long long second;   /* CLOCK_MONOTONIC second of the window */
	_Atomic unsigned used, dropped;
};

/* core_log_limited is core_log through limit l. */
void core_log_limited(struct core_log_limit *l, enum core_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
