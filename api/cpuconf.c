/*
 * PUT /cpu-config: Firecracker's x86_64 custom CPU template, read into
 * struct cpu_template (vmm/config.h) and applied at InstanceStart by
 * vmm/x86/cputmpl.c. The rules are Firecracker's deserializer's:
 *
 * - leaf, subleaf and addr are strings, "0x" hex or "0b" binary (a JSON
 *   number, or a string without the prefix, is refused);
 * - flags is a JSON number (KVM's kvm_cpuid_entry2 flags);
 * - a bitmap is a string of 0, 1 and x, most significant bit first, with
 *   an optional "0b" in front and '_' anywhere as a separator; it may be
 *   shorter than the register (the bits it does not reach are x) but not
 *   longer;
 * - register is eax, ebx, ecx or edx;
 * - kvm_capabilities are decimal strings, "!N" to remove one.
 *
 * Every modifier's fields are required; the three lists default to empty
 * ({} is an empty template). Unknown fields are refused everywhere
 * (Firecracker ignores them inside modifiers).
 */
#include "fcjson.h"
#include "jbody.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A list at its limit @max: true, with the message. */
static bool full(unsigned n, unsigned max, const char *where, const char *what,
                 char *err, size_t errlen)
{
	if (n < max)
		return false;
	util_err(err, errlen, "%s: more than %u %s", where, max, what);
	return true;
}

/* A "0x..." or "0b..." string of at most @bits bits into @out. */
static int number(const char *where, const char *field, const char *s,
                  unsigned bits, uint64_t *out, char *err, size_t errlen)
{
	unsigned base = 0, shift;
	uint64_t v = 0, max = bits == 64 ? UINT64_MAX : (1ULL << bits) - 1;
	const char *p;

	if (!strncmp(s, "0x", 2))
		base = 16, shift = 4;
	else if (!strncmp(s, "0b", 2))
		base = 2, shift = 1;
	if (!base)
		return util_err(err, errlen,
		                "%s: %s '%s': prefix the number with 0x (hex) "
		                "or 0b (binary)",
		                where, field, s);
	for (p = s + 2; *p; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (*p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			d = base;
		if (d >= base)
			return util_err(err, errlen,
			                "%s: %s '%s' is not a number", where,
			                field, s);
		if (v > (max >> shift))
			return util_err(err, errlen,
			                "%s: %s '%s' does not fit in %u bits",
			                where, field, s, bits);
		v = v << shift | d;
	}
	if (p == s + 2)
		return util_err(err, errlen, "%s: %s '%s' has no digits", where,
		                field, s);
	*out = v;
	return 0;
}

/* A bitmap of @bits bits: its 0s and 1s into @filter, its 1s @value. */
static int bitmap(const char *where, const char *s, unsigned bits,
                  uint64_t *filter, uint64_t *value, char *err, size_t errlen)
{
	const char *digits = strncmp(s, "0b", 2) ? s : s + 2;
	unsigned i = 0;

	*filter = *value = 0;
	for (size_t k = strlen(digits); k-- > 0;) {
		char ch = digits[k];

		if (ch == '_')
			continue;
		if (ch != '0' && ch != '1' && ch != 'x')
			return util_err(
			        err, errlen,
			        "%s: bitmap '%s': '%c' is not 0, 1 or x", where,
			        s, ch);
		if (i == bits)
			return util_err(err, errlen,
			                "%s: bitmap '%s' has more than %u bits",
			                where, s, bits);
		if (ch != 'x')
			*filter |= 1ULL << i;
		if (ch == '1')
			*value |= 1ULL << i;
		i++;
	}
	return 0;
}

static int reg_mod(struct cpu_template *t, json_t *o, const char *where,
                   char *err, size_t errlen)
{
	static const struct jb_field f[] = {
		{ "register", JB_STR, true },
		{ "bitmap", JB_STR, true },
	};
	static const char *const names[] = { "eax", "ebx", "ecx", "edx" };
	struct cpu_reg_mod *r;
	const char *name;
	uint64_t filter, value;
	size_t i;

	if (jb_check(o, where, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	name = jb_str(o, "register");
	for (i = 0; i < ARRAY_SIZE(names) && strcmp(name, names[i]); i++)
		;
	if (i == ARRAY_SIZE(names))
		return util_err(err, errlen,
		                "%s: register '%s' is not eax, ebx, ecx or edx",
		                where, name);
	if (bitmap(where, jb_str(o, "bitmap"), 32, &filter, &value, err,
	           errlen) < 0)
		return -1;
	if (full(t->nregmods, CONFIG_CPU_MAX_REGMODS, where,
	         "register modifiers in all", err, errlen))
		return -1;
	r = &t->regmods[t->nregmods++];
	r->reg = (enum cpu_reg)i;
	r->filter = (uint32_t)filter;
	r->value = (uint32_t)value;
	return 0;
}

static int leaf_mod(struct cpu_template *t, json_t *o, const char *where,
                    char *err, size_t errlen)
{
	static const struct jb_field f[] = {
		{ "leaf", JB_STR, true },
		{ "subleaf", JB_STR, true },
		{ "flags", JB_UINT, true },
		{ "modifiers", JB_ARRAY, true },
	};
	struct cpu_leaf_mod *l;
	uint64_t leaf, subleaf;
	char w[128];
	json_t *e;
	size_t i;

	if (jb_check(o, where, f, ARRAY_SIZE(f), err, errlen) < 0 ||
	    number(where, "leaf", jb_str(o, "leaf"), 32, &leaf, err, errlen) <
	            0 ||
	    number(where, "subleaf", jb_str(o, "subleaf"), 32, &subleaf, err,
	           errlen) < 0)
		return -1;
	if (jb_u64(o, "flags", 0) > UINT32_MAX)
		return util_err(err, errlen,
		                "%s: flags %" PRIu64 " is over 32 bits", where,
		                jb_u64(o, "flags", 0));
	if (full(t->nleaves, CONFIG_CPU_MAX_LEAVES, where, "CPUID modifiers",
	         err, errlen))
		return -1;
	l = &t->leaves[t->nleaves++];
	l->leaf = (uint32_t)leaf;
	l->subleaf = (uint32_t)subleaf;
	l->flags = (uint32_t)jb_u64(o, "flags", 0);
	l->first = t->nregmods;
	json_array_foreach(jb_get(o, "modifiers"), i, e)
	{
		snprintf(w, sizeof(w), "%s.modifiers[%zu]", where, i);
		if (reg_mod(t, e, w, err, errlen) < 0)
			return -1;
	}
	l->n = t->nregmods - l->first;
	return 0;
}

static int msr_mod(struct cpu_template *t, json_t *o, const char *where,
                   char *err, size_t errlen)
{
	static const struct jb_field f[] = {
		{ "addr", JB_STR, true },
		{ "bitmap", JB_STR, true },
	};
	struct cpu_msr_mod m;
	uint64_t addr;

	if (jb_check(o, where, f, ARRAY_SIZE(f), err, errlen) < 0 ||
	    number(where, "addr", jb_str(o, "addr"), 32, &addr, err, errlen) <
	            0 ||
	    bitmap(where, jb_str(o, "bitmap"), 64, &m.filter, &m.value, err,
	           errlen) < 0)
		return -1;
	if (full(t->nmsrs, CONFIG_CPU_MAX_MSRS, where, "MSR modifiers", err,
	         errlen))
		return -1;
	m.addr = (uint32_t)addr;
	t->msrs[t->nmsrs++] = m;
	return 0;
}

/* "N" or "!N", N a decimal number of 32 bits. */
static int kvm_cap(struct cpu_template *t, json_t *v, const char *where,
                   char *err, size_t errlen)
{
	const char *s = json_string_value(v), *p;
	uint64_t n = 0;
	bool ok;

	if (!s)
		return util_err(err, errlen, "%s: must be a string", where);
	p = s + (*s == '!');
	ok = *p != '\0';
	for (const char *q = p; *q && ok; q++)
		ok = *q >= '0' && *q <= '9' &&
		     (n = n * 10 + (uint64_t)(*q - '0')) <= UINT32_MAX;
	if (!ok)
		return util_err(err, errlen,
		                "%s: '%s' is not a capability number (N, or !N "
		                "to remove one)",
		                where, s);
	if (full(t->ncaps, CONFIG_CPU_MAX_CAPS, where, "capabilities", err,
	         errlen))
		return -1;
	t->caps[t->ncaps++] =
	        (struct cpu_kvm_cap){ .cap = (uint32_t)n, .remove = *s == '!' };
	return 0;
}

int fc_cpu_config(struct config *c, json_t *body, char *err, size_t errlen)
{
	static const struct jb_field f[] = {
		{ "kvm_capabilities", JB_ARRAY, false },
		{ "cpuid_modifiers", JB_ARRAY, false },
		{ "msr_modifiers", JB_ARRAY, false },
	};
	static const struct {
		const char *key;
		int (*one)(struct cpu_template *t, json_t *v, const char *where,
		           char *err, size_t errlen);
	} lists[] = {
		{ "kvm_capabilities", kvm_cap },
		{ "cpuid_modifiers", leaf_mod },
		{ "msr_modifiers", msr_mod },
	};
	const char *w = "cpu-config";
	struct cpu_template *t;
	char where[96];
	json_t *e;
	size_t i;

	if (jb_check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	t = calloc(1, sizeof(*t));
	if (!t)
		return util_err(err, errlen, "%s: out of memory", w);
	for (size_t k = 0; k < ARRAY_SIZE(lists); k++)
		json_array_foreach(jb_get(body, lists[k].key), i, e)
		{
			snprintf(where, sizeof(where), "%s: %s[%zu]", w,
			         lists[k].key, i);
			if (lists[k].one(t, e, where, err, errlen) < 0) {
				free(t);
				return -1;
			}
		}
	t->set = true;
	c->cpu = *t;
	free(t);
	return 0;
}
