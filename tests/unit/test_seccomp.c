/*
 * docs/security.md lists every seccomp allowlist row for row: hold it to
 * vmm/seccomp.c's tables, so neither changes without the other. Runs from
 * the top of the tree, as `make test-unit` does.
 */
#include "unit.h"
#include "seccomp_policy.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOC "docs/security.md"

static const char *const lists[] = { "common", "api", "vmm", "exit_path" };

/* The line after the one at @p (or NULL), and its length. */
static const char *next_line(const char *p)
{
	const char *nl = strchr(p, '\n');

	return nl ? nl + 1 : NULL;
}

static size_t line_len(const char *p)
{
	const char *nl = strchr(p, '\n');

	return nl ? (size_t)(nl - p) : strlen(p);
}

static bool line_is(const char *p, const char *want)
{
	return line_len(p) == strlen(want) && !strncmp(p, want, strlen(want));
}

START_TEST(doc_tables_match_the_filters)
{
	uint8_t *buf;
	size_t len;
	char *doc;

	ck_assert_msg(util_read_file(DOC, 1 << 20, &buf, &len) == 0,
	              "cannot read %s (run from the top of the tree)", DOC);
	doc = realloc(buf, len + 2);
	ck_assert_ptr_nonnull(doc);
	memmove(doc + 1, doc, len);
	doc[0] = '\n'; /* every line starts after a newline */
	doc[len + 1] = '\0';
	for (unsigned l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
		struct seccomp_rule_info r;
		char head[64], row[512];
		const char *p;
		unsigned i = 0;

		snprintf(head, sizeof(head), "\n`%s`, ", lists[l]);
		p = strstr(doc, head);
		ck_assert_msg(p, "%s has no table for the %s list", DOC,
		              lists[l]);
		while (p && strncmp(p, "| call |", 8))
			p = next_line(p);
		ck_assert_msg(p, "the %s list: no table follows", lists[l]);
		ck_assert(line_is(p, "| call | only if | why |"));
		p = next_line(p);
		ck_assert(p && line_is(p, "|---|---|---|"));
		for (p = next_line(p); seccomp_rule_info(lists[l], i, &r);
		     i++, p = next_line(p)) {
			snprintf(row, sizeof(row), "| `%s` | %s%s%s| %s |",
			         r.call, r.args[0] ? "`" : "", r.args,
			         r.args[0] ? "` " : "", r.why);
			ck_assert_msg(
			        p && line_is(p, row),
			        "%s, list %s, row %u: want\n%s\ngot\n%.*s", DOC,
			        lists[l], i + 1, row, p ? (int)line_len(p) : 0,
			        p ? p : "");
		}
		ck_assert_msg(i > 0, "the %s list is empty", lists[l]);
		ck_assert_msg(!p || *p != '|',
		              "%s, list %s: a row the filter does not have: "
		              "%.*s",
		              DOC, lists[l], (int)line_len(p), p);
	}
	free(doc);
}
END_TEST

Suite *seccomp_suite(void)
{
	Suite *s = suite_create("seccomp");
	TCase *tc = tcase_create("doc");

	tcase_add_test(tc, doc_tables_match_the_filters);
	suite_add_tcase(s, tc);
	return s;
}
