/*
 * PUT /cpu-config: Firecracker's x86_64 custom CPU template as its
 * deserializer reads it (numbers as 0x/0b strings, tri-state bitmaps,
 * registers, kvm_capabilities), every refusal naming the field, and the
 * CPUID modifiers applied to a table.
 */
#include "unit.h"
#include "fcjson.h"
#include "x86/x86.h"

#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct config cfg;
static char err[1024];

static int put(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);
	int r;

	ck_assert_msg(v != NULL, "bad test JSON %s: %s", text, e.text);
	r = fc_cpu_config(&cfg, v, err, sizeof(err));
	json_decref(v);
	return r;
}

#define REFUSED(text, msg)                                                     \
	do {                                                                   \
		ck_assert_int_eq(put(text), -1);                               \
		ck_assert_msg(strstr(err, (msg)), "'%s' lacks '%s'", err,      \
		              (msg));                                          \
	} while (0)

/* One cpuid_modifiers entry with one register modifier. */
#define LEAF(leaf, reg, bitmap)                                                \
	"{\"cpuid_modifiers\": [{\"leaf\": " leaf ", \"subleaf\": \"0x0\", "   \
	"\"flags\": 0, \"modifiers\": [{\"register\": " reg                    \
	", \"bitmap\": " bitmap "}]}]}"
#define X31 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define X62 X31 X31
#define MSR(addr, bitmap)                                                      \
	"{\"msr_modifiers\": [{\"addr\": " addr ", \"bitmap\": " bitmap "}]}"

START_TEST(template_parses)
{
	const struct cpu_template *t = &cfg.cpu;

	config_init(&cfg);
	ck_assert_int_eq(
	        put("{\"kvm_capabilities\": [\"171\", \"!172\"], "
	            "\"cpuid_modifiers\": [{\"leaf\": \"0x80000002\", "
	            "\"subleaf\": \"0b0\", \"flags\": 1, \"modifiers\": ["
	            "{\"register\": \"eax\", \"bitmap\": "
	            "\"0b0111_0000_0110_0101_0110_1110_0110_1111\"}, "
	            "{\"register\": \"edx\", \"bitmap\": \"1x0\"}]}, "
	            "{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0, "
	            "\"modifiers\": []}], "
	            "\"msr_modifiers\": [{\"addr\": \"0x10A\", \"bitmap\": "
	            "\"0b1" X62 "0\"}]}"),
	        0);
	ck_assert(t->set);
	ck_assert_uint_eq(t->ncaps, 2);
	ck_assert_uint_eq(t->caps[0].cap, 171);
	ck_assert(!t->caps[0].remove);
	ck_assert(t->caps[1].remove);
	ck_assert_uint_eq(t->nleaves, 2);
	ck_assert_uint_eq(t->leaves[0].leaf, 0x80000002);
	ck_assert_uint_eq(t->leaves[0].flags, 1);
	ck_assert_uint_eq(t->leaves[0].n, 2);
	ck_assert_uint_eq(t->leaves[1].n, 0);
	ck_assert_uint_eq(t->regmods[0].reg, CPU_EAX);
	ck_assert_uint_eq(t->regmods[0].filter, 0xffffffff);
	ck_assert_uint_eq(t->regmods[0].value, 0x70656e6f);
	/* Shorter than the register: the bits above are left as they are. */
	ck_assert_uint_eq(t->regmods[1].reg, CPU_EDX);
	ck_assert_uint_eq(t->regmods[1].filter, 0x5);
	ck_assert_uint_eq(t->regmods[1].value, 0x4);
	ck_assert_uint_eq(t->nmsrs, 1);
	ck_assert_uint_eq(t->msrs[0].addr, 0x10a);
	ck_assert_uint_eq(t->msrs[0].filter, 0x8000000000000001ULL);
	ck_assert_uint_eq(t->msrs[0].value, 0x8000000000000000ULL);

	/* machine-config's cpu_template "None": a PUT keeps the template,
	 * a PATCH drops it (Firecracker's update rules). */
	{
		json_t *put =
		        json_pack("{s:i, s:i, s:s}", "vcpu_count", 1,
		                  "mem_size_mib", 64, "cpu_template", "None");
		json_t *patch = json_pack("{s:s}", "cpu_template", "None");

		ck_assert_int_eq(
		        fc_machine_config(&cfg, put, false, err, sizeof(err)),
		        0);
		ck_assert(t->set);
		ck_assert_uint_eq(t->nleaves, 2);
		ck_assert_int_eq(
		        fc_machine_config(&cfg, patch, true, err, sizeof(err)),
		        0);
		ck_assert(!t->set);
		ck_assert_uint_eq(t->nleaves, 0);
		json_decref(put);
		json_decref(patch);
	}

	/* {} is an empty template, set all the same. */
	ck_assert_int_eq(put("{}"), 0);
	ck_assert(t->set);
	ck_assert_uint_eq(t->nleaves + t->nmsrs + t->ncaps, 0);
}
END_TEST

START_TEST(template_refusals)
{
	config_init(&cfg);
	ck_assert_int_eq(put(LEAF("\"0x7\"", "\"ebx\"", "\"0b1\"")), 0);

	REFUSED(LEAF("7", "\"eax\"", "\"0b1\""),
	        "cpu-config: cpuid_modifiers[0]: 'leaf' must be a string");
	REFUSED(LEAF("\"7\"", "\"eax\"", "\"0b1\""),
	        "leaf '7': prefix the number with 0x (hex) or 0b (binary)");
	REFUSED(LEAF("\"0x\"", "\"eax\"", "\"0b1\""),
	        "leaf '0x' has no digits");
	REFUSED(LEAF("\"0x1g\"", "\"eax\"", "\"0b1\""),
	        "leaf '0x1g' is not a number");
	REFUSED(LEAF("\"0b2\"", "\"eax\"", "\"0b1\""),
	        "leaf '0b2' is not a number");
	REFUSED(LEAF("\"0x100000000\"", "\"eax\"", "\"0b1\""),
	        "leaf '0x100000000' does not fit in 32 bits");
	REFUSED(LEAF("\"0x1\"", "\"rax\"", "\"0b1\""),
	        "cpuid_modifiers[0].modifiers[0]: register 'rax' is not eax, "
	        "ebx, ecx or edx");
	REFUSED(LEAF("\"0x1\"", "\"EAX\"", "\"0b1\""), "register 'EAX'");
	REFUSED(LEAF("\"0x1\"", "\"eax\"", "\"0b012\""),
	        "bitmap '0b012': '2' is not 0, 1 or x");
	REFUSED(LEAF("\"0x1\"", "\"eax\"", "\"0b1" X31 "_1\""),
	        "has more than 32 bits");
	/* 32 with separators is not too long. */
	ck_assert_int_eq(put(LEAF("\"0x7\"", "\"ebx\"", "\"0b1_" X31 "\"")), 0);
	REFUSED(LEAF("\"0x1\"", "\"eax\"", "1"), "'bitmap' must be a string");
	REFUSED(MSR("\"0x10a\"", "\"0b11" X62 "1\""),
	        "cpu-config: msr_modifiers[0]: bitmap '0b11x");
	ck_assert_msg(strstr(err, "has more than 64 bits"), "%s", err);
	REFUSED(MSR("\"0x10a\"", "\"0bX\""), "'X' is not 0, 1 or x");
	REFUSED(MSR("266", "\"0b1\""), "'addr' must be a string");
	REFUSED("{\"msr_modifiers\": [{\"addr\": \"0x10a\"}]}",
	        "msr_modifiers[0]: missing field 'bitmap'");
	REFUSED("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": "
	        "\"0x0\", \"modifiers\": []}]}",
	        "missing field 'flags'");
	REFUSED("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": "
	        "\"0x0\", \"flags\": \"1\", \"modifiers\": []}]}",
	        "'flags' must be a non-negative integer");
	REFUSED("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": "
	        "\"0x0\", \"flags\": 4294967296, \"modifiers\": []}]}",
	        "flags 4294967296 is over 32 bits");
	REFUSED("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": "
	        "\"0x0\", \"flags\": 0, \"modifiers\": [], \"x\": 1}]}",
	        "cpuid_modifiers[0]: unknown field 'x'");
	/* aarch64's fields are unknown on x86_64, as in Firecracker. */
	REFUSED("{\"vcpu_features\": []}", "unknown field 'vcpu_features'");
	REFUSED("{\"reg_modifiers\": []}", "unknown field 'reg_modifiers'");
	REFUSED("{\"cpuid_modifiers\": {}}",
	        "'cpuid_modifiers' must be an array");
	REFUSED("{\"kvm_capabilities\": [171]}",
	        "kvm_capabilities[0]: must be a string");
	REFUSED("{\"kvm_capabilities\": [\"!\"]}",
	        "'!' is not a capability number");
	REFUSED("{\"kvm_capabilities\": [\"0x10\"]}", "'0x10' is not");
	REFUSED("{\"kvm_capabilities\": [\"4294967296\"]}", "'4294967296'");
	/* One MSR modifier over the limit. */
	{
		static char big[CONFIG_CPU_MAX_MSRS * 40 + 64];
		size_t n = (size_t)snprintf(big, sizeof(big),
		                            "{\"msr_modifiers\": [");

		for (int i = 0; i <= CONFIG_CPU_MAX_MSRS; i++)
			n += (size_t)snprintf(
			        big + n, sizeof(big) - n,
			        "%s{\"addr\": \"0x%x\", \"bitmap\": "
			        "\"1\"}",
			        i ? ", " : "", i);
		snprintf(big + n, sizeof(big) - n, "]}");
		REFUSED(big, "msr_modifiers[128]: more than 128 MSR modifiers");
	}
	/* Nothing refused changed the template. */
	ck_assert_uint_eq(cfg.cpu.nleaves, 1);
	ck_assert_uint_eq(cfg.cpu.leaves[0].leaf, 7);
	ck_assert_uint_eq(cfg.cpu.regmods[0].reg, CPU_EBX);
}
END_TEST

START_TEST(template_applies_to_cpuid)
{
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[3];
	} tab = {
		.c.nent = 3,
		.e = { { .function = 0x1,
		         .eax = 0x000806c1,
		         .ecx = 0x80000000,
		         .edx = 0xffffffff },
		       { .function = 0x7, .index = 0, .flags = 1, .ebx = 0xff },
		       { .function = 0x7,
		         .index = 1,
		         .flags = 1,
		         .ebx = 0xff } },
	};

	config_init(&cfg);
	ck_assert_int_eq(
	        put("{\"cpuid_modifiers\": [{\"leaf\": \"0x7\", \"subleaf\": "
	            "\"0x1\", \"flags\": 0, \"modifiers\": [{\"register\": "
	            "\"ebx\", \"bitmap\": \"0b1x0x\"}, {\"register\": \"ebx\", "
	            "\"bitmap\": \"0b0xxxxxxx\"}]}, {\"leaf\": \"0x1\", "
	            "\"subleaf\": \"0x0\", \"flags\": 0, \"modifiers\": "
	            "[{\"register\": \"edx\", \"bitmap\": "
	            "\"00000000000000000000000000000000\"}, {\"register\": "
	            "\"ecx\", \"bitmap\": \"0b1\"}]}]}"),
	        0);
	ck_assert_int_eq(x86_cpuid_template(&tab.c, &cfg.cpu, err, sizeof(err)),
	                 0);
	/* In order: 1x0x on 0xff clears bit 1 (0xfd), then bit 7: 0x7d. */
	ck_assert_uint_eq(tab.e[2].ebx, 0x7d);
	ck_assert_uint_eq(tab.e[2].flags, 0);  /* the template's flags */
	ck_assert_uint_eq(tab.e[1].ebx, 0xff); /* subleaf 0: untouched */
	ck_assert_uint_eq(tab.e[1].flags, 1);
	ck_assert_uint_eq(tab.e[0].edx, 0);
	ck_assert_uint_eq(tab.e[0].ecx, 0x80000001);
	ck_assert_uint_eq(tab.e[0].eax, 0x000806c1);

	/* A leaf the table lacks is refused, naming it. */
	ck_assert_int_eq(put(LEAF("\"0x8000001f\"", "\"eax\"", "\"0b1\"")), 0);
	ck_assert_int_eq(x86_cpuid_template(&tab.c, &cfg.cpu, err, sizeof(err)),
	                 -1);
	ck_assert_msg(strstr(err, "CPUID leaf 0x8000001f subleaf 0x0 is not "
	                          "supported"),
	              "%s", err);
}
END_TEST

Suite *cputmpl_suite(void)
{
	Suite *s = suite_create("cputmpl");
	TCase *tc = tcase_create("template");

	tcase_add_test(tc, template_parses);
	tcase_add_test(tc, template_refusals);
	tcase_add_test(tc, template_applies_to_cpuid);
	suite_add_tcase(s, tc);
	return s;
}
