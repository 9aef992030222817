#include "log.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static uint64_t start_us;
static enum log_level cur_level = LOG_INFO;
static int log_fd = 2;
static char log_path[4096];
static bool show_level = true, show_origin;
static char module[64];

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
	if (!strcasecmp(s, "trace"))
		return LOG_DEBUG;
	if (!strcasecmp(s, "off"))
		return LOG_OFF;
	return -2;
}

const char *log_level_name(enum log_level level)
{
	return level == LOG_OFF ? "off" : level_names[level];
}

int log_set_path(const char *path, char *err, size_t errlen)
{
	int fd;

	if (strlen(path) >= sizeof(log_path)) {
		snprintf(err, errlen, "path too long");
		return -1;
	}
	fd = util_open_append(path);
	if (fd < 0) {
		snprintf(err, errlen, "'%s': %s", path, strerror(-fd));
		return -1;
	}
	if (log_fd > 2)
		close(log_fd);
	log_fd = fd;
	strcpy(log_path, path);
	return 0;
}

const char *log_get_path(void)
{
	return log_path;
}

void log_set_format(bool level, bool origin)
{
	show_level = level;
	show_origin = origin;
}

int log_set_module(const char *prefix)
{
	if (strlen(prefix) >= sizeof(module))
		return -1;
	snprintf(module, sizeof(module), "%s", prefix);
	return 0;
}

const char *log_get_module(void)
{
	return module;
}

bool log_get_show_level(void)
{
	return show_level;
}

bool log_get_origin(void)
{
	return show_origin;
}

void log_msg(enum log_level level, const char *file, int lineno,
             const char *fmt, ...)
{
	char line[1024];
	uint64_t t = util_now_us() - start_us;
	int n;
	va_list ap;

	if (level > cur_level ||
	    (module[0] && strncmp(file, module, strlen(module))))
		return;
	n = snprintf(line, sizeof(line), "[%6llu.%06llu] wisp%s%s",
	             (unsigned long long)(t / 1000000),
	             (unsigned long long)(t % 1000000), show_level ? " " : "",
	             show_level ? level_names[level] : "");
	if (show_origin)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " %s:%d",
		              file, lineno);
	n += snprintf(line + n, sizeof(line) - (size_t)n, ": ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line so lines from several threads never interleave. */
	n = (int)strnlen(line, sizeof(line) - 2);
	line[n++] = '\n';
	util_write_all(log_fd, line, (size_t)n);
}

int log_ratelimit_ok(struct log_ratelimit *rl, enum log_level level)
{
	uint64_t now, refill;

	/* A line that would not print costs no token and is not counted. */
	if (level > cur_level)
		return 0;
	now = util_now_us();
	refill = (now - rl->last_us) / 1000000;

	if (refill) {
		rl->tokens =
		        (unsigned)MIN((uint64_t)rl->burst, rl->tokens + refill);
		rl->last_us = now;
		if (rl->suppressed && rl->tokens) {
			log_at(level, "%u similar messages suppressed",
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
