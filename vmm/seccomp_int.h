/*
 * Between vmm/seccomp.c (wisp's own filters) and vmm/seccomp_user.c
 * (--seccomp-filter's), and for the unit tests.
 */
#ifndef WISP_SECCOMP_INT_H
#define WISP_SECCOMP_INT_H

#include "seccomp_policy.h"

#include <jansson.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <stdint.h>

/* The thread kinds' names: "api", "vmm", "vcpu" (a filter file's keys). */
extern const char *const seccomp_kind_names[3];

/* One per argument: a rule's conditions must all hold. */
#define SECCOMP_JSON_MAX_ARGS 6

/* The BPF libseccomp makes of @ctx into @out (its kind already set). */
int seccomp_export(scmp_filter_ctx ctx, struct seccomp_prog *out);

/*
 * The pieces of a filter file (seccomp_user.c), each 0, or -1 with
 * "@where: ..." in @err: an action; one of a rule's args; the filter of
 * one thread category compiled into @out.
 */
int seccomp_json_action(json_t *v, const char *where, uint32_t *out, char *err,
                        size_t errlen);
int seccomp_json_cond(json_t *o, const char *where, struct scmp_arg_cmp *out,
                      char *err, size_t errlen);
int seccomp_json_filter(json_t *o, enum seccomp_kind kind,
                        struct seccomp_prog *out, char *err, size_t errlen);

/* The loaded file's program for @kind, copied into @out: 1; no file
 * loaded: 0; -1 out of memory (logged). */
int seccomp_user_prog(enum seccomp_kind kind, struct seccomp_prog *out);

#endif
