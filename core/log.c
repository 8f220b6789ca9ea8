#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_level = CORE_LOG_INFO;
static atomic_bool log_json = false;

static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void core_log_set_level(enum core_log_level level) { atomic_store(&log_level, (int)level); }
void core_log_set_json(bool json) { atomic_store(&log_json, json); }
bool core_log_enabled(enum core_log_level level) { return (int)level <= atomic_load(&log_level); }

/* JSON-escapes src into dst (always terminated). */
static size_t json_escape(char *dst, size_t cap, const char *src)
{
	size_t o = 0;
	for (; *src && o + 7 < cap; src++) {
		unsigned char c = (unsigned char)*src;
		if (c == '"' || c == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", c);
		} else {
			dst[o++] = (char)c;
		}
	}
	dst[o] = 0;
	return o;
}

static void log_msg(enum core_log_level level, const char *msg);

void core_log(enum core_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!core_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_msg(level, msg);
}

void core_log_limited(struct core_log_limit *l, enum core_log_level level, const char *fmt, ...)
{
	char msg[1024];
	struct timespec mono;
	va_list ap;

	if (!core_log_enabled(level))
		return;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	unsigned long long sec = (unsigned long long)mono.tv_sec;
	unsigned long long was = atomic_load(&l->second);
	if (was != sec && atomic_compare_exchange_strong(&l->second, &was, sec))
		atomic_store(&l->used, 0);
	if (atomic_fetch_add(&l->used, 1) >= (l->burst ? l->burst : 10)) {
		atomic_fetch_add(&l->dropped, 1);
		return;
	}
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof msg - 40) {
		unsigned dropped = atomic_exchange(&l->dropped, 0);
		if (dropped)
			snprintf(msg + n, sizeof msg - (size_t)n, " (%u like it not logged)", dropped);
	}
	log_msg(level, msg);
}

static void log_msg(enum core_log_level level, const char *msg)
{
	char line[2400], ts[40];
	struct timespec now;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = (int)strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof ts - (size_t)n, ".%03ldZ", now.tv_nsec / 1000000);
	if (atomic_load(&log_json)) {
		char esc[2100];
		json_escape(esc, sizeof esc, msg);
		n = snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", ts,
			     names[level], esc);
	} else {
		n = snprintf(line, sizeof line, "%s %s %s\n", ts, names[level], msg);
	}
	if (n > (int)sizeof line)
		n = (int)sizeof line;
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
}
