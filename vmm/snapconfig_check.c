/*
 * snapcfg_check(): a restored configuration obeys the rules a fresh one
 * does: the machine's here, each device type's by its conf->check (its
 * *_conf.c, shared with the INI file), so a state file cannot give wisp
 * a machine no request could have asked for.
 */
#include "util.h"
#include "snapconfig.h"
#include "vdev.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int check_machine(const struct config *c, char *err, size_t errlen)
{
	if (c->vcpus < 1 || c->vcpus > CONFIG_MAX_VCPUS)
		return util_err(err, errlen, "vcpu_count %u is not in 1..%d",
		                c->vcpus, CONFIG_MAX_VCPUS);
	if (c->mem_mib < CONFIG_MIN_MEM_MIB || c->mem_mib > CONFIG_MAX_MEM_MIB)
		return util_err(err, errlen,
		                "mem_size_mib %llu is not in %llu..%llu",
		                (unsigned long long)c->mem_mib,
		                CONFIG_MIN_MEM_MIB, CONFIG_MAX_MEM_MIB);
	if (c->smt && c->vcpus > 1 && c->vcpus % 2)
		return util_err(err, errlen,
		                "vcpu_count %u with smt: 1 or an even number",
		                c->vcpus);
	if (c->huge_pages != HUGE_PAGES_NONE &&
	    c->huge_pages != HUGE_PAGES_2M && c->huge_pages != HUGE_PAGES_THP)
		return util_err(err, errlen,
		                "huge_pages %d is not None, 2M or Transparent",
		                (int)c->huge_pages);
	if (c->huge_pages == HUGE_PAGES_2M && c->mem_mib % 2)
		return util_err(
		        err, errlen,
		        "mem_size_mib %llu is not a multiple of the 2 MiB "
		        "huge page",
		        (unsigned long long)c->mem_mib);
	return 0;
}

int snapcfg_check(const struct config *c, char *err, size_t errlen)
{
	if (check_machine(c, err, errlen) < 0)
		return -1;
	for (const struct vdev_type *const *ty = vdev_types; *ty; ty++) {
		const struct vdev_type *t = *ty;
		unsigned n = t->count(c);

		if (n > t->conf->max)
			return util_err(err, errlen,
			                "%u %s devices, at most %u", n, t->name,
			                t->conf->max);
		for (unsigned i = 0; i < n; i++)
			if (t->conf->check(c, i, err, errlen) < 0)
				return -1;
	}
	return 0;
}
