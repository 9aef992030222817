/*
 * --seccomp-filter: seccompiler's JSON source into libseccomp's rules
 * (vmm/seccomp_user.c). Each piece as it translates (actions, argument
 * conditions), every refusal with the field it names, and a compiled
 * filter doing what its file says in a child process.
 */
#include "unit.h"
#include "seccomp_int.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char err[1024];

static json_t *j(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &e);

	ck_assert_msg(v != NULL, "bad test JSON %s: %s", text, e.text);
	return v;
}

static int action(const char *text, uint32_t *out)
{
	json_t *v = j(text);
	int r = seccomp_json_action(v, "vmm.default_action", out, err,
	                            sizeof(err));

	json_decref(v);
	return r;
}

static int cond(const char *text, struct scmp_arg_cmp *out)
{
	json_t *v = j(text);
	int r = seccomp_json_cond(v, "vmm.filter[0].args[0]", out, err,
	                          sizeof(err));

	json_decref(v);
	return r;
}

static int filter(const char *text, struct seccomp_prog *out)
{
	json_t *v = j(text);
	int r = seccomp_json_filter(v, SECCOMP_VMM, out, err, sizeof(err));

	json_decref(v);
	return r;
}

static int load(const char *text)
{
	json_t *v = j(text);
	int r = seccomp_load_json(v, err, sizeof(err));

	json_decref(v);
	return r;
}

#define HAS(msg)                                                               \
	ck_assert_msg(strstr(err, (msg)), "'%s' lacks '%s'", err, (msg))

START_TEST(actions)
{
	uint32_t a;

	ck_assert_int_eq(action("\"allow\"", &a), 0);
	ck_assert_uint_eq(a, SCMP_ACT_ALLOW);
	ck_assert_int_eq(action("\"kill_process\"", &a), 0);
	ck_assert_uint_eq(a, SCMP_ACT_KILL_PROCESS);
	ck_assert_int_eq(action("\"kill_thread\"", &a), 0);
	ck_assert_uint_eq(a, SCMP_ACT_KILL_THREAD);
	ck_assert_int_eq(action("\"log\"", &a), 0);
	ck_assert_uint_eq(a, SCMP_ACT_LOG);
	ck_assert_int_eq(action("\"trap\"", &a), 0);
	ck_assert_uint_eq(a, SCMP_ACT_TRAP);
	ck_assert_int_eq(action("{\"errno\": 38}", &a), 0);
	ck_assert_uint_eq(a, SCMP_ACT_ERRNO(38));
	ck_assert_int_eq(action("{\"trace\": 7}", &a), 0);
	ck_assert_uint_eq(a, SCMP_ACT_TRACE(7));
	for (const char *const *bad =
	             (const char *const[]){
	                     "\"kill\"", "\"Allow\"", "{}", "{\"errno\": -1}",
	                     "{\"errno\": 65536}", "{\"errno\": \"1\"}",
	                     "{\"errno\": 1, \"trace\": 1}", "7", NULL };
	     *bad; bad++) {
		ck_assert_msg(action(*bad, &a) == -1, "%s accepted", *bad);
		HAS("vmm.default_action: not an action (allow, kill_process");
	}
}
END_TEST

START_TEST(conditions)
{
	struct scmp_arg_cmp c;

	/* A dword eq compares the low 32 bits, as seccompiler makes it. */
	ck_assert_int_eq(cond("{\"index\": 1, \"type\": \"dword\", \"op\": "
	                      "\"eq\", \"val\": 21505}",
	                      &c),
	                 0);
	ck_assert_uint_eq(c.arg, 1);
	ck_assert_int_eq(c.op, SCMP_CMP_MASKED_EQ);
	ck_assert_uint_eq(c.datum_a, 0xffffffff);
	ck_assert_uint_eq(c.datum_b, 21505);
	ck_assert_int_eq(cond("{\"index\": 0, \"type\": \"qword\", \"op\": "
	                      "\"eq\", \"val\": 4294967296, \"comment\": "
	                      "\"x\"}",
	                      &c),
	                 0);
	ck_assert_int_eq(c.op, SCMP_CMP_EQ);
	ck_assert_uint_eq(c.datum_a, 4294967296ULL);
	ck_assert_int_eq(cond("{\"index\": 2, \"type\": \"dword\", \"op\": "
	                      "{\"masked_eq\": 4}, \"val\": 0}",
	                      &c),
	                 0);
	ck_assert_int_eq(c.op, SCMP_CMP_MASKED_EQ);
	ck_assert_uint_eq(c.datum_a, 4);
	ck_assert_uint_eq(c.datum_b, 0);
	{
		static const char *const names[] = { "ne", "lt", "le", "gt",
			                             "ge" };
		static const enum scmp_compare ops[] = {
			SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_GT,
			SCMP_CMP_GE
		};
		char text[128];

		for (int i = 0; i < 5; i++) {
			snprintf(text, sizeof(text),
			         "{\"index\": 5, \"type\": \"dword\", \"op\": "
			         "\"%s\", \"val\": 9}",
			         names[i]);
			ck_assert_int_eq(cond(text, &c), 0);
			ck_assert_int_eq(c.op, ops[i]);
			ck_assert_uint_eq(c.datum_a, 9);
		}
	}
	ck_assert_int_eq(cond("{\"index\": 6, \"type\": \"dword\", \"op\": "
	                      "\"eq\", \"val\": 0}",
	                      &c),
	                 -1);
	HAS("vmm.filter[0].args[0]: index 6: a system call has arguments 0 "
	    "to 5");
	ck_assert_int_eq(cond("{\"index\": 0, \"type\": \"word\", \"op\": "
	                      "\"eq\", \"val\": 0}",
	                      &c),
	                 -1);
	HAS("type 'word' is not dword or qword");
	ck_assert_int_eq(cond("{\"index\": 0, \"type\": \"dword\", \"op\": "
	                      "\"masked\", \"val\": 0}",
	                      &c),
	                 -1);
	HAS("op masked is not eq, ne, lt, le, gt, ge or {\"masked_eq\": MASK}");
	ck_assert_int_eq(cond("{\"index\": 0, \"type\": \"dword\", \"op\": "
	                      "{\"masked_eq\": -4}, \"val\": 0}",
	                      &c),
	                 -1);
	HAS("masked_eq's mask must be a non-negative integer");
	ck_assert_int_eq(cond("{\"index\": 0, \"type\": \"dword\", \"op\": 1, "
	                      "\"val\": 0}",
	                      &c),
	                 -1);
	HAS("op (not a string) is not");
	ck_assert_int_eq(cond("{\"index\": 0, \"type\": \"dword\", \"op\": "
	                      "\"eq\"}",
	                      &c),
	                 -1);
	HAS("vmm.filter[0].args[0]: missing field 'val'");
	ck_assert_int_eq(cond("{\"index\": 0, \"type\": \"dword\", \"op\": "
	                      "\"eq\", \"val\": -1}",
	                      &c),
	                 -1);
	HAS("'val' must be a non-negative integer");
	ck_assert_int_eq(cond("{\"index\": 0, \"type\": \"dword\", \"op\": "
	                      "\"eq\", \"val\": 0, \"arg\": 1}",
	                      &c),
	                 -1);
	HAS("unknown field 'arg'");
}
END_TEST

#define FILTER(rules)                                                          \
	"{\"default_action\": \"allow\", \"filter_action\": \"trap\", "        \
	"\"filter\": [" rules "]}"

/* A file's three categories, and an api filter with a bad call. */
#define VMM     "\"vmm\": " FILTER("")
#define API     "\"api\": " FILTER("")
#define VCPU    "\"vcpu\": " FILTER("")
#define API_BAD "\"api\": " FILTER("{\"syscall\": \"x\"}")

START_TEST(filters_and_files)
{
	struct seccomp_prog p;

	ck_assert_int_eq(filter(FILTER("{\"syscall\": \"read\", \"comment\": "
	                               "\"\"}"),
	                        &p),
	                 0);
	ck_assert_uint_gt(p.len, 0);
	seccomp_prog_free(&p);
	ck_assert_int_eq(filter(FILTER("{\"syscall\": \"readx\"}"), &p), -1);
	HAS("vmm.filter[0]: syscall 'readx' is not a system call");
	ck_assert_int_eq(filter(FILTER("{\"syscall\": \"read\"}, {\"sycall\": "
	                               "\"read\"}"),
	                        &p),
	                 -1);
	HAS("vmm.filter[1]: unknown field 'sycall'");
	ck_assert_int_eq(filter(FILTER("{\"syscall\": \"read\", \"args\": "
	                               "{}}"),
	                        &p),
	                 -1);
	HAS("vmm.filter[0]: 'args' must be an array");
	ck_assert_int_eq(filter("{\"default_action\": \"allow\", "
	                        "\"filter_action\": \"nope\", \"filter\": []}",
	                        &p),
	                 -1);
	HAS("vmm.filter_action: not an action");
	ck_assert_int_eq(filter("{\"default_action\": \"allow\", "
	                        "\"filter\": []}",
	                        &p),
	                 -1);
	HAS("vmm: missing field 'filter_action'");
	ck_assert_int_eq(filter("{\"default_action\": \"allow\", "
	                        "\"filter_action\": \"trap\"}",
	                        &p),
	                 -1);
	HAS("vmm: missing field 'filter'");
	ck_assert_int_eq(filter("[]", &p), -1);
	HAS("vmm: must be an object");

	ck_assert_int_eq(load("{" VMM ", " API ", " VCPU "}"), 0);
	seccomp_user_clear();
	ck_assert_int_eq(load("{" VMM ", " API "}"), -1);
	HAS("missing thread category 'vcpu'");
	ck_assert_int_eq(load("{" VMM ", " API ", " VCPU ", \"main\": {}}"),
	                 -1);
	HAS("unknown thread category 'main' (vmm, api and vcpu only)");
	ck_assert_int_eq(load("{" VMM ", " API_BAD ", " VCPU "}"), -1);
	HAS("api.filter[0]: syscall 'x'");
	ck_assert_int_eq(load("[]"), -1);
	HAS("must hold a JSON object");
}
END_TEST

/* The filter of @text installed in a child, which reports what it saw. */
START_TEST(compiled_filter_bites)
{
	struct seccomp_prog p;
	int status;
	pid_t pid;

	ck_assert_int_eq(
	        filter("{\"default_action\": \"allow\", \"filter_action\": "
	               "{\"errno\": 99}, \"filter\": [{\"syscall\": "
	               "\"getppid\"}, {\"syscall\": \"dup\", \"args\": "
	               "[{\"index\": 0, \"type\": \"dword\", \"op\": \"eq\", "
	               "\"val\": 12345}]}, {\"syscall\": \"dup2\", \"args\": "
	               "[{\"index\": 0, \"type\": \"qword\", \"op\": \"gt\", "
	               "\"val\": 1000}, {\"index\": 1, \"type\": \"qword\", "
	               "\"op\": {\"masked_eq\": 1}, \"val\": 1}]}]}",
	               &p),
	        0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sock_fprog prog = { .len = (unsigned short)p.len,
			                   .filter = p.insns };
		int bad = 0;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
			_exit(100);
		if (syscall(SYS_getppid) != -1 || errno != 99)
			bad |= 1; /* matched: the action */
		if (syscall(SYS_getpid) <= 0)
			bad |= 2; /* not listed: the default */
		if (syscall(SYS_dup, 12345) != -1 || errno != 99)
			bad |= 4; /* its args hold */
		if (syscall(SYS_dup, 12346) != -1 || errno != EBADF)
			bad |= 8; /* they do not: the default (EBADF) */
		if (syscall(SYS_dup2, 2000, 3) != -1 || errno != 99)
			bad |= 16; /* both hold */
		if (syscall(SYS_dup2, 2000, 4) != -1 || errno != EBADF)
			bad |= 32; /* one does not */
		_exit(bad);
	}
	seccomp_prog_free(&p);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "the child saw %d", WEXITSTATUS(status));
}
END_TEST

Suite *seccomp_json_suite(void)
{
	Suite *s = suite_create("seccomp_json");
	TCase *tc = tcase_create("file");

	tcase_add_test(tc, actions);
	tcase_add_test(tc, conditions);
	tcase_add_test(tc, filters_and_files);
	tcase_add_test(tc, compiled_filter_bites);
	suite_add_tcase(s, tc);
	return s;
}
