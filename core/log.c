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

void core_log(enum core_log_level level, const char *fmt, ...)
{
	char msg[1024], line[2400], ts[40];
	struct timespec now;
	struct tm tm;
	va_list ap;
	int n;

	if (!core_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
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
