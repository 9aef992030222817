#include "log.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static uint64_t start_us;
static enum log_level cur_level = LOG_INFO;

static const char *const level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARN] = "warn",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

void log_init(uint64_t start, enum log_level level)
{
	start_us = start;
	cur_level = level;
}

uint64_t log_start_us(void)
{
	return start_us;
}

void log_set_level(enum log_level level)
{
	cur_level = level;
}

enum log_level log_get_level(void)
{
	return cur_level;
}

int log_parse_level(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
		if (!strcasecmp(s, level_names[i]))
			return (int)i;
	if (!strcasecmp(s, "warning"))
		return LOG_WARN;
	return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	uint64_t t = util_now_us() - start_us;
	int n;
	va_list ap;

	if (level > cur_level)
		return;
	n = snprintf(line, sizeof(line), "[%6llu.%06llu] wisp %s: ",
	             (unsigned long long)(t / 1000000),
	             (unsigned long long)(t % 1000000), level_names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line so lines from several threads never interleave. */
	n = (int)strnlen(line, sizeof(line) - 2);
	line[n++] = '\n';
	util_write_all(2, line, (size_t)n);
}

int log_ratelimit_ok(struct log_ratelimit *rl)
{
	uint64_t now = util_now_us();
	uint64_t refill = (now - rl->last_us) / 1000000;

	if (refill) {
		rl->tokens =
		        (unsigned)MIN((uint64_t)rl->burst, rl->tokens + refill);
		rl->last_us = now;
		if (rl->suppressed && rl->tokens) {
			log_msg(LOG_WARN, "%u similar messages suppressed",
			        rl->suppressed);
			rl->suppressed = 0;
		}
	}
	if (!rl->tokens) {
		rl->suppressed++;
		return 0;
	}
	rl->tokens--;
	return 1;
}
