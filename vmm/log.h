/*
 * Logging to stderr (or a file): one line per event, prefixed with the
 * microseconds since wisp started and the level.
 */
#ifndef WISP_LOG_H
#define WISP_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* LOG_OFF only as a threshold: nothing is printed. */
enum log_level { LOG_OFF = -1, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/*
 * Record the process start time (CLOCK_MONOTONIC µs) that timestamps and
 * the boot timer count from; the parent may pass its exec time with
 * --start-time-us.
 */
void log_init(uint64_t start_us, enum log_level level);
uint64_t log_start_us(void);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/*
 * Parse "error", "warn"/"warning", "info" or "debug", any case, and
 * Firecracker's "trace" (as debug) and "off". Returns -2 when unknown.
 */
int log_parse_level(const char *s);
const char *log_level_name(enum log_level level);

/*
 * Log to @path (a file or FIFO that exists; opened for appending) instead
 * of stderr. Returns 0, or -1 with "'path': reason" in @err.
 */
int log_set_path(const char *path, char *err, size_t errlen);
const char *log_get_path(void); /* "" for stderr */
/*
 * Firecracker's logger module: only lines from source files whose path
 * (as log lines show it with show_log_origin: "virtio/net.c") starts with
 * @prefix are written; "" writes all. -1 when @prefix is too long.
 */
int log_set_module(const char *prefix);
const char *log_get_module(void); /* "" for every file */
/* Whether lines carry the level and the source file:line. */
void log_set_format(bool show_level, bool show_origin);
bool log_get_show_level(void);
bool log_get_origin(void);

void log_msg(enum log_level level, const char *file, int line, const char *fmt,
             ...) __attribute__((format(printf, 4, 5)));

#define log_err(...)   log_msg(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)
/* At a level chosen at run time. */
#define log_at(level, ...) log_msg(level, __FILE__, __LINE__, __VA_ARGS__)

/*
 * A token bucket for messages a guest can provoke at will: at most
 * @burst lines, refilled at one per second. Not thread-safe by design:
 * each device owns its own (a lost update only costs one line).
 */
struct log_ratelimit {
	uint64_t last_us;
	unsigned tokens;
	unsigned burst;
	unsigned suppressed;
};

#define LOG_RATELIMIT_INIT(b)                                                  \
	{                                                                      \
		.tokens = (b), .burst = (b)                                    \
	}

/*
 * True when a line at @level may be printed now. The count of lines held
 * back is reported at the same level once tokens come back.
 */
int log_ratelimit_ok(struct log_ratelimit *rl, enum log_level level);

#define log_limited(rl, level, ...)                                            \
	do {                                                                   \
		if (log_ratelimit_ok(rl, level))                               \
			log_msg(level, __FILE__, __LINE__, __VA_ARGS__);       \
	} while (0)

#endif
