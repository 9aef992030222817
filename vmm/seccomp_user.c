/*
 * --seccomp-filter FILE: a filter file in seccompiler's JSON source
 * format (the input of Firecracker's seccompiler-bin, not its bincode
 * output; docs/security.md says why), compiled with libseccomp when wisp
 * starts. Each thread kind then installs the file's filter instead of
 * wisp's own.
 *
 *   { "vmm":  { "default_action": ACTION, "filter_action": ACTION,
 *               "filter": [ { "syscall": "read",
 *                             "args": [ { "index": 0, "type": "dword",
 *                                         "op": "eq", "val": 3 } ] } ] },
 *     "api":  { ... }, "vcpu": { ... } }
 *
 * ACTION is "allow", "kill_process", "kill_thread", "log", "trap",
 * {"errno": N} or {"trace": N}; op is "eq", "ne", "lt", "le", "gt", "ge"
 * or {"masked_eq": MASK}. A rule's conditions must all hold (a rule
 * without args matches the call whatever its arguments); a call any rule
 * matches gets filter_action, the rest default_action. A dword "eq"
 * compares the low 32 bits only, as seccompiler does. "comment" is
 * allowed everywhere and ignored; any other unknown field is refused
 * (seccompiler ignores it, so a misspelt "args" would allow the call
 * with any arguments).
 */
#include "seccomp_int.h"
#include "jbody.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILTER_FILE_MAX (1 * MIB)

/* The compiled programs, once a file is loaded. */
static struct seccomp_prog user[3];
static bool user_set;

/* @o is an object of the fields @f (jb_check). */
static int fields(json_t *o, const char *where, const struct jb_field *f,
                  size_t n, char *err, size_t errlen)
{
	if (!json_is_object(o))
		return util_err(err, errlen, "%s: must be an object", where);
	return jb_check(o, where, f, n, err, errlen);
}

/* An object of exactly one key, @key, whose value is returned (or NULL). */
static json_t *only_key(json_t *v, const char *key)
{
	return json_is_object(v) && json_object_size(v) == 1
	               ? json_object_get(v, key)
	               : NULL;
}

int seccomp_json_action(json_t *v, const char *where, uint32_t *out, char *err,
                        size_t errlen)
{
	static const struct {
		const char *name;
		uint32_t act;
	} plain[] = {
		{ "allow", SCMP_ACT_ALLOW },
		{ "kill_process", SCMP_ACT_KILL_PROCESS },
		{ "kill_thread", SCMP_ACT_KILL_THREAD },
		{ "log", SCMP_ACT_LOG },
		{ "trap", SCMP_ACT_TRAP },
	};
	const char *s = json_string_value(v);
	json_t *n;

	for (size_t i = 0; s && i < ARRAY_SIZE(plain); i++)
		if (!strcmp(s, plain[i].name)) {
			*out = plain[i].act;
			return 0;
		}
	if (((n = only_key(v, "errno")) || (n = only_key(v, "trace"))) &&
	    json_is_integer(n) && json_integer_value(n) >= 0 &&
	    json_integer_value(n) <= 0xffff) {
		uint16_t d = (uint16_t)json_integer_value(n);

		*out = only_key(v, "errno") ? SCMP_ACT_ERRNO(d)
		                            : SCMP_ACT_TRACE(d);
		return 0;
	}
	return util_err(err, errlen,
	                "%s: not an action (allow, kill_process, kill_thread, "
	                "log, trap, {\"errno\": 0-65535} or {\"trace\": "
	                "0-65535})",
	                where);
}

int seccomp_json_cond(json_t *o, const char *where, struct scmp_arg_cmp *out,
                      char *err, size_t errlen)
{
	static const struct jb_field f[] = {
		{ "index", JB_UINT, true },   { "type", JB_STR, true },
		{ "op", JB_ANY, true },       { "val", JB_UINT, true },
		{ "comment", JB_STR, false },
	};
	static const struct {
		const char *name;
		enum scmp_compare op;
	} ops[] = {
		{ "eq", SCMP_CMP_EQ }, { "ne", SCMP_CMP_NE },
		{ "lt", SCMP_CMP_LT }, { "le", SCMP_CMP_LE },
		{ "gt", SCMP_CMP_GT }, { "ge", SCMP_CMP_GE },
	};
	json_t *op, *mask;
	const char *type, *name;
	uint64_t index, val;
	bool dword;
	size_t i;

	if (fields(o, where, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	op = json_object_get(o, "op");
	mask = only_key(op, "masked_eq");
	index = jb_u64(o, "index", 0);
	val = jb_u64(o, "val", 0);
	type = jb_str(o, "type");
	if (index > 5)
		return util_err(err, errlen,
		                "%s: index %llu: a system call has arguments "
		                "0 to 5",
		                where, (unsigned long long)index);
	if (strcmp(type, "dword") && strcmp(type, "qword"))
		return util_err(err, errlen,
		                "%s: type '%s' is not dword or qword", where,
		                type);
	dword = !strcmp(type, "dword");
	if (mask) {
		if (!json_is_integer(mask) || json_integer_value(mask) < 0)
			return util_err(err, errlen,
			                "%s: masked_eq's mask must be a "
			                "non-negative integer",
			                where);
		*out = (struct scmp_arg_cmp){
			.arg = (unsigned)index,
			.op = SCMP_CMP_MASKED_EQ,
			.datum_a = (uint64_t)json_integer_value(mask),
			.datum_b = val
		};
		return 0;
	}
	name = json_string_value(op);
	for (i = 0; name && i < ARRAY_SIZE(ops) && strcmp(name, ops[i].name);
	     i++)
		;
	if (!name || i == ARRAY_SIZE(ops))
		return util_err(err, errlen,
		                "%s: op %s is not eq, ne, lt, le, gt, ge or "
		                "{\"masked_eq\": MASK}",
		                where, name ? name : "(not a string)");
	if (dword && ops[i].op == SCMP_CMP_EQ)
		*out = (struct scmp_arg_cmp){ .arg = (unsigned)index,
			                      .op = SCMP_CMP_MASKED_EQ,
			                      .datum_a = 0xffffffffULL,
			                      .datum_b = val };
	else
		*out = (struct scmp_arg_cmp){ .arg = (unsigned)index,
			                      .op = ops[i].op,
			                      .datum_a = val };
	return 0;
}

/* One rule into @ctx with @act. */
static int rule(scmp_filter_ctx ctx, uint32_t act, json_t *o, const char *where,
                char *err, size_t errlen)
{
	static const struct jb_field f[] = {
		{ "syscall", JB_STR, true },
		{ "args", JB_ARRAY, false },
		{ "comment", JB_STR, false },
	};
	struct scmp_arg_cmp c[SECCOMP_JSON_MAX_ARGS];
	const char *name;
	char w[160];
	json_t *args, *e;
	size_t i;
	int nr, rc;

	if (fields(o, where, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	name = jb_str(o, "syscall");
	nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return util_err(err, errlen,
		                "%s: syscall '%s' is not a system call of "
		                "this architecture",
		                where, name);
	args = jb_get(o, "args");
	if (json_array_size(args) > SECCOMP_JSON_MAX_ARGS)
		return util_err(err, errlen, "%s: more than %d args", where,
		                SECCOMP_JSON_MAX_ARGS);
	json_array_foreach(args, i, e)
	{
		snprintf(w, sizeof(w), "%s.args[%zu]", where, i);
		if (seccomp_json_cond(e, w, &c[i], err, errlen) < 0)
			return -1;
	}
	rc = seccomp_rule_add_array(ctx, act, nr,
	                            (unsigned)json_array_size(args), c);
	if (rc < 0)
		return util_err(err, errlen,
		                "%s: libseccomp refuses the rule for '%s': %s",
		                where, name, strerror(-rc));
	return 0;
}

int seccomp_json_filter(json_t *o, enum seccomp_kind kind,
                        struct seccomp_prog *out, char *err, size_t errlen)
{
	static const struct jb_field f[] = {
		{ "default_action", JB_ANY, true },
		{ "filter_action", JB_ANY, true },
		{ "filter", JB_ARRAY, true },
		{ "comment", JB_STR, false },
	};
	const char *w = seccomp_kind_names[kind];
	uint32_t deflt, act;
	scmp_filter_ctx ctx;
	char where[96];
	json_t *e;
	size_t i;
	int rc;

	*out = (struct seccomp_prog){ .kind = kind };
	if (fields(o, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	snprintf(where, sizeof(where), "%s.default_action", w);
	if (seccomp_json_action(json_object_get(o, "default_action"), where,
	                        &deflt, err, errlen) < 0)
		return -1;
	snprintf(where, sizeof(where), "%s.filter_action", w);
	if (seccomp_json_action(json_object_get(o, "filter_action"), where,
	                        &act, err, errlen) < 0)
		return -1;
	if (!(ctx = seccomp_init(deflt)))
		return util_err(err, errlen,
		                "%s: libseccomp cannot make a filter", w);
	rc = 0;
	json_array_foreach(json_object_get(o, "filter"), i, e)
	{
		snprintf(where, sizeof(where), "%s.filter[%zu]", w, i);
		if ((rc = rule(ctx, act, e, where, err, errlen)) < 0)
			break;
	}
	if (!rc && seccomp_export(ctx, out) < 0)
		rc = util_err(err, errlen, "%s: libseccomp cannot build it", w);
	seccomp_release(ctx);
	return rc;
}

void seccomp_user_clear(void)
{
	for (size_t k = 0; k < ARRAY_SIZE(user); k++)
		seccomp_prog_free(&user[k]);
	user_set = false;
}

int seccomp_load_json(json_t *root, char *err, size_t errlen)
{
	struct seccomp_prog p[ARRAY_SIZE(seccomp_kind_names)] = { 0 };
	const char *key;
	json_t *v;
	size_t k;

	if (!json_is_object(root))
		return util_err(err, errlen,
		                "the file must hold a JSON object (vmm, api, "
		                "vcpu)");
	json_object_foreach(root, key, v)
	{
		for (k = 0; k < ARRAY_SIZE(seccomp_kind_names) &&
		            strcmp(key, seccomp_kind_names[k]);
		     k++)
			;
		if (k == ARRAY_SIZE(seccomp_kind_names))
			return util_err(
			        err, errlen,
			        "unknown thread category '%s' (vmm, api "
			        "and vcpu only)",
			        key);
	}
	for (k = 0; k < ARRAY_SIZE(seccomp_kind_names); k++) {
		if (!(v = json_object_get(root, seccomp_kind_names[k]))) {
			util_err(err, errlen, "missing thread category '%s'",
			         seccomp_kind_names[k]);
			break;
		}
		if (seccomp_json_filter(v, (enum seccomp_kind)k, &p[k], err,
		                        errlen) < 0)
			break;
	}
	if (k < ARRAY_SIZE(seccomp_kind_names)) {
		for (size_t j = 0; j < ARRAY_SIZE(p); j++)
			seccomp_prog_free(&p[j]);
		return -1;
	}
	seccomp_user_clear();
	memcpy(user, p, sizeof(user));
	user_set = true;
	return 0;
}

int seccomp_load_file(const char *path, char *err, size_t errlen)
{
	char msg[512];
	json_t *root;
	int rc;

	if (!(root = jb_read_file(path, FILTER_FILE_MAX, err, errlen)))
		return -1;
	rc = seccomp_load_json(root, msg, sizeof(msg));
	json_decref(root);
	if (rc < 0)
		return util_err(err, errlen, "%s: %s", path, msg);
	log_info("seccomp: the filters of %s replace wisp's own", path);
	return 0;
}

int seccomp_user_prog(enum seccomp_kind kind, struct seccomp_prog *out)
{
	const struct seccomp_prog *p = &user[kind];
	size_t size = p->len * sizeof(struct sock_filter);

	if (!user_set)
		return 0;
	*out = (struct seccomp_prog){ .kind = kind };
	if (!(out->insns = malloc(size))) {
		log_err("seccomp: out of memory");
		return -1;
	}
	memcpy(out->insns, p->insns, size);
	out->len = p->len;
	return 1;
}
