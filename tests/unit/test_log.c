/* Rate-limited log lines (vmm/log.c). */
#include "unit.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *read_log(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Lines below the log level neither spend tokens nor count as held back. */
START_TEST(quiet_levels_cost_nothing)
{
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(2);

	log_set_level(LOG_WARN);
	rl.last_us = util_now_us();
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(log_ratelimit_ok(&rl, LOG_DEBUG), 0);
	ck_assert_uint_eq(rl.tokens, 2);
	ck_assert_uint_eq(rl.suppressed, 0);
	ck_assert_int_eq(log_ratelimit_ok(&rl, LOG_WARN), 1);
	ck_assert_int_eq(log_ratelimit_ok(&rl, LOG_ERROR), 1);
	ck_assert_int_eq(log_ratelimit_ok(&rl, LOG_WARN), 0);
	ck_assert_uint_eq(rl.suppressed, 1);
}
END_TEST

/* The count of held-back lines comes out at their level, not louder. */
START_TEST(suppressed_count_at_its_level)
{
	char path[] = "/tmp/wisp-log-XXXXXX", err[128];
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(1);
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(log_set_path(path, err, sizeof(err)), 0);
	log_set_format(true, false);
	log_set_level(LOG_DEBUG);
	rl.last_us = util_now_us();
	ck_assert_int_eq(log_ratelimit_ok(&rl, LOG_DEBUG), 1);
	ck_assert_int_eq(log_ratelimit_ok(&rl, LOG_DEBUG), 0);
	ck_assert_int_eq(log_ratelimit_ok(&rl, LOG_DEBUG), 0);
	rl.last_us -= 2000000; /* two seconds later */
	ck_assert_int_eq(log_ratelimit_ok(&rl, LOG_DEBUG), 1);
	ck_assert_ptr_nonnull(
	        strstr(read_log(path), "debug: 2 similar messages suppressed"));
	ck_assert_ptr_null(strstr(read_log(path), "warn"));
	unlink(path);
}
END_TEST

/* The logger's module: lines of the files under the prefix only. */
START_TEST(module_filter)
{
	char path[] = "/tmp/wisp-log-XXXXXX", err[128], big[80];
	int fd = mkstemp(path);
	const char *got;

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(log_set_path(path, err, sizeof(err)), 0);
	log_set_level(LOG_INFO);
	ck_assert_int_eq(log_set_module("virtio/"), 0);
	ck_assert_str_eq(log_get_module(), "virtio/");
	log_msg(LOG_INFO, "virtio/net.c", 1, "from net");
	log_msg(LOG_INFO, "vmm/vcpu.c", 2, "from vcpu");
	ck_assert_int_eq(log_set_module(""), 0);
	log_msg(LOG_INFO, "vmm/vcpu.c", 3, "everyone again");
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(log_set_module(big), -1);
	got = read_log(path);
	ck_assert_ptr_nonnull(strstr(got, "from net"));
	ck_assert_ptr_null(strstr(got, "from vcpu"));
	ck_assert_ptr_nonnull(strstr(got, "everyone again"));
	unlink(path);
}
END_TEST

Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("ratelimit");

	tcase_add_test(tc, quiet_levels_cost_nothing);
	tcase_add_test(tc, suppressed_count_at_its_level);
	tcase_add_test(tc, module_filter);
	suite_add_tcase(s, tc);
	return s;
}
