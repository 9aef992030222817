/*
 * The metrics in Prometheus' text exposition format (version 0.0.4), for
 * node_exporter's textfile collector: the file is written whole next to
 * its name and renamed over it, so a scrape never sees half of it. The
 * same counters as the JSON lines, as totals since wisp started (the JSON
 * lines carry Firecracker's changes since the last line); each device's
 * counters once, labelled with its type's group and its id.
 */
#include "metrics.h"
#include "log.h"
#include "util.h"
#include "vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char prom_path[CONFIG_PATH_MAX];

int metrics_prom_set_path(const char *path, char *err, size_t errlen)
{
	if (!*path || strlen(path) + 5 >= sizeof(prom_path))
		return util_err(err, errlen, "'%s': empty or too long", path);
	snprintf(prom_path, sizeof(prom_path), "%s", path);
	return 0;
}

const char *metrics_prom_path(void)
{
	return prom_path;
}

/* A growing text buffer; a failed allocation makes the whole write fail. */
struct text {
	char *p;
	size_t len, cap;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static void add(struct text *t,
                                                      const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		if (t->failed)
			return;
		va_start(ap, fmt);
		n = vsnprintf(t->p ? t->p + t->len : NULL,
		              t->p ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if (t->p && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 16384;
		while (cap - t->len <= (size_t)n)
			cap *= 2;
		char *q = realloc(t->p, cap);
		if (!q) {
			t->failed = true;
			return;
		}
		t->p = q;
		t->cap = cap;
	}
}

/* A metric's HELP and TYPE lines. */
static void head(struct text *t, const char *name, const char *type,
                 const char *help)
{
	add(t, "# HELP wisp_%s %s\n# TYPE wisp_%s %s\n", name, help, name,
	    type);
}

static void counter(struct text *t, const char *group, const char *name,
                    uint64_t v)
{
	char full[128], help[160];

	snprintf(full, sizeof(full), "%s_%s_total", group, name);
	snprintf(help, sizeof(help),
	         "Firecracker's %s.%s, counted since wisp started", group,
	         name);
	head(t, full, "counter", help);
	add(t, "wisp_%s %llu\n", full, (unsigned long long)v);
}

static void gauge(struct text *t, const char *name, const char *help,
                  uint64_t v)
{
	head(t, name, "gauge", help);
	add(t, "wisp_%s %llu\n", name, (unsigned long long)v);
}

/* Each device type's counters, one series per device. */
static void devices(struct text *t, struct vmm *m)
{
	for (const struct vdev_type *const *ty = vdev_types; *ty; ty++) {
		const struct vdev_type *ty1 = *ty;

		for (unsigned k = 0; k <= ty1->nstats; k++) {
			const char *name = k < ty1->nstats
			                           ? ty1->stat_names[k]
			                           : "queue_writes_ignored";
			char full[128], help[192];

			snprintf(full, sizeof(full), "%s_%s_total", ty1->group,
			         name);
			snprintf(
			        help, sizeof(help),
			        "Firecracker's %s.%s per device, counted since "
			        "wisp started",
			        ty1->group, name);
			head(t, full, "counter", help);
			for (unsigned n = 0; n < m->nvdev; n++) {
				const struct vdev *d = &m->vdev[n];
				uint64_t now[VDEV_MAX_STATS], *prev;

				if (d->type != ty1)
					continue;
				if (k < ty1->nstats)
					ty1->stats(d->t, now, &prev);
				else
					now[k] = __atomic_load_n(
					        &d->t->queue_writes_ignored,
					        __ATOMIC_RELAXED);
				add(t, "wisp_%s{id=\"%s\"} %llu\n", full,
				    ty1->id(&m->cfg, d->index),
				    (unsigned long long)now[k]);
			}
		}
	}
}

/* The file's text, malloc'd; NULL when out of memory. */
static char *render(struct vmm *m, size_t *len)
{
	struct text t = { 0 };

	gauge(&t, "api_server_process_startup_time_us",
	      "microseconds from exec to the API socket or the guest's start",
	      atomic_load(&metrics.startup_time_us));
	gauge(&t, "api_server_process_startup_time_cpu_us",
	      "the same in process CPU time, from the jailer's exec",
	      atomic_load(&metrics.startup_cpu_time_us));
#define PROM_COUNTER(grp, name)                                                \
	counter(&t, #grp, #name,                                               \
	        atomic_load_explicit(&metrics.grp##_##name,                    \
	                             memory_order_relaxed));
	METRICS_COUNTERS(PROM_COUNTER)
#undef PROM_COUNTER
	gauge(&t, "latencies_us_pause_vm", "the last pause, microseconds",
	      atomic_load(&metrics.pause_vm_us));
	gauge(&t, "latencies_us_resume_vm", "the last resume, microseconds",
	      atomic_load(&metrics.resume_vm_us));
	gauge(&t, "latencies_us_full_create_snapshot",
	      "the last full snapshot, microseconds",
	      atomic_load(&metrics.full_create_snapshot_us));
	gauge(&t, "latencies_us_diff_create_snapshot",
	      "the last diff snapshot, microseconds",
	      atomic_load(&metrics.diff_create_snapshot_us));
	gauge(&t, "latencies_us_load_snapshot",
	      "the last snapshot load, microseconds",
	      atomic_load(&metrics.load_snapshot_us));
	devices(&t, m);
	if (t.failed) {
		free(t.p);
		return NULL;
	}
	*len = t.len;
	return t.p;
}

int metrics_prom_write(struct vmm *m)
{
	char tmp[CONFIG_PATH_MAX + 8];
	size_t len = 0;
	char *text;
	int fd, ret = -1;

	if (!prom_path[0])
		return 0;
	text = render(m, &len);
	if (!text) {
		log_warn("metrics '%s': out of memory", prom_path);
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", prom_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	          0644);
	if (fd >= 0 && write(fd, text, len) == (ssize_t)len && close(fd) == 0) {
		fd = -1;
		/* renameat: the call the event loop's filter allows. */
		ret = renameat(AT_FDCWD, tmp, AT_FDCWD, prom_path);
	}
	if (ret < 0) {
		log_warn("metrics '%s': %s", prom_path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	free(text);
	return ret;
}
