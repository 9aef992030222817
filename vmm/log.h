/*
 * Logging to stderr (or a file): one line per event, prefixed with the
 * microseconds since wisp started and the level.
 */
#ifndef WISP_LOG_H
#define WISP_LOG_H

#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/*
 * Record the process start time (CLOCK_MONOTONIC µs) that timestamps and
 * the boot timer count from; the parent may pass its exec time with
 * --start-time-us.
 */
void log_init(uint64_t start_us, enum log_level level);
uint64_t log_start_us(void);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error", "warn", "info" or "debug". Returns -1 when unknown. */
int log_parse_level(const char *s);

void log_msg(enum log_level level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

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

/* True when a line may be printed now. */
int log_ratelimit_ok(struct log_ratelimit *rl);

#define log_limited(rl, level, ...)                                            \
	do {                                                                   \
		if (log_ratelimit_ok(rl))                                      \
			log_msg(level, __VA_ARGS__);                           \
	} while (0)

#endif
