#include "metrics.h"
#include "log.h"
#include "util.h"
#include "vmm.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define METRICS_PERIOD_S 60

struct metrics metrics;

static int metrics_fd = -1;
static char metrics_path[CONFIG_PATH_MAX];
static bool emit_id;
static json_t *properties;
static struct ev_handler h_timer = { .fd = -1 };

/* The values at the previous line, to report changes. */
#define METRICS_LAST(group, name) uint64_t group##_##name;
static struct {
	METRICS_COUNTERS(METRICS_LAST)
} last;
#undef METRICS_LAST

int metrics_set_path(const char *path, char *err, size_t errlen)
{
	int fd;

	if (metrics_fd >= 0) {
		snprintf(err, errlen,
		         "metrics are already being written to '%s'; they can "
		         "be set once",
		         metrics_path);
		return -1;
	}
	if (strlen(path) >= sizeof(metrics_path)) {
		snprintf(err, errlen, "path too long");
		return -1;
	}
	fd = util_open_append(path);
	if (fd < 0) {
		snprintf(err, errlen, "'%s': %s", path, strerror(-fd));
		return -1;
	}
	metrics_fd = fd;
	strcpy(metrics_path, path);
	return 0;
}

const char *metrics_get_path(void)
{
	return metrics_path;
}

void metrics_set_extras(bool id, json_t *props)
{
	emit_id = id;
	json_decref(properties);
	properties = props ? json_incref(props) : NULL;
}

bool metrics_get_emit_id(void)
{
	return emit_id;
}

json_t *metrics_get_properties(void)
{
	return properties;
}

static json_t *group(json_t *root, const char *name)
{
	json_t *g = json_object_get(root, name);

	if (!g) {
		g = json_object();
		json_object_set_new(root, name, g);
	}
	return g;
}

static void put(json_t *g, const char *name, uint64_t v)
{
	json_object_set_new(g, name, json_integer((json_int_t)v));
}

/* A counter's change since the last line; the last value moves on. */
static uint64_t delta(_Atomic uint64_t *now, uint64_t *prev)
{
	uint64_t v = atomic_load_explicit(now, memory_order_relaxed);
	uint64_t d = v - *prev;

	*prev = v;
	return d;
}

/*
 * A device's counters (@n of them, named by @names) into its own group @g
 * (none when NULL) and summed into @agg, as changes since the last line.
 */
static void add_dev(json_t *agg, json_t *g, const char *const *names, size_t n,
                    const uint64_t *now, uint64_t *prev)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t d = now[i] - prev[i];
		json_t *a = json_object_get(agg, names[i]);

		if (g)
			put(g, names[i], d);
		put(agg, names[i],
		    (a ? (uint64_t)json_integer_value(a) : 0) + d);
		prev[i] = now[i];
	}
}

/* An aggregate group with every counter present, also with no device. */
static json_t *zero_group(json_t *root, const char *name,
                          const char *const *names, size_t n)
{
	json_t *g = group(root, name);

	for (size_t i = 0; i < n; i++)
		put(g, names[i], 0);
	return g;
}

/* What the virtio-mmio transport counts for every device. */
static const char *const transport_names[] = { "queue_writes_ignored" };

/* Each device type's group, and each device's own where it has one. */
static void add_devices(json_t *root, struct vmm *m)
{
	for (const struct vdev_type *const *ty = vdev_types; *ty; ty++) {
		const struct vdev_type *t = *ty;
		json_t *agg =
		        zero_group(root, t->group, t->stat_names, t->nstats);

		zero_group(root, t->group, transport_names, 1);
		for (unsigned n = 0; n < m->nvdev; n++) {
			const struct vdev *d = &m->vdev[n];
			uint64_t now[VDEV_MAX_STATS], *prev;
			char name[CONFIG_ID_MAX + 16];

			if (d->type != t)
				continue;
			t->stats(d->t, now, &prev);
			if (t->dev_prefix)
				snprintf(name, sizeof(name), "%s%s",
				         t->dev_prefix,
				         t->id(&m->cfg, d->index));
			add_dev(agg, t->dev_prefix ? group(root, name) : NULL,
			        t->stat_names, t->nstats, now, prev);
			now[0] = __atomic_load_n(&d->t->queue_writes_ignored,
			                         __ATOMIC_RELAXED);
			add_dev(agg, t->dev_prefix ? group(root, name) : NULL,
			        transport_names, 1, now,
			        &d->t->queue_writes_reported);
		}
	}
}

int metrics_flush(struct vmm *m)
{
	struct timeval tv;
	json_t *root;
	char *line;
	size_t len;
	int ret = metrics_prom_write(m);

	if (metrics_fd < 0)
		return ret;
	gettimeofday(&tv, NULL);
	root = json_object();
	put(root, "utc_timestamp_ms",
	    (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000);
	/* Firecracker's order: the id and the properties next. */
	if (emit_id)
		json_object_set_new(root, "id", json_string(m->id));
	if (properties)
		json_object_set(root, "properties", properties);
	put(group(root, "api_server"), "process_startup_time_us",
	    atomic_load(&metrics.startup_time_us));
	put(group(root, "api_server"), "process_startup_time_cpu_us",
	    atomic_load(&metrics.startup_cpu_time_us));
#define METRICS_PUT(grp, name)                                                 \
	put(group(root, #grp), #name,                                          \
	    delta(&metrics.grp##_##name, &last.grp##_##name));
	METRICS_COUNTERS(METRICS_PUT)
#undef METRICS_PUT
	put(group(root, "latencies_us"), "pause_vm",
	    atomic_load(&metrics.pause_vm_us));
	put(group(root, "latencies_us"), "resume_vm",
	    atomic_load(&metrics.resume_vm_us));
	put(group(root, "latencies_us"), "full_create_snapshot",
	    atomic_load(&metrics.full_create_snapshot_us));
	put(group(root, "latencies_us"), "diff_create_snapshot",
	    atomic_load(&metrics.diff_create_snapshot_us));
	put(group(root, "latencies_us"), "load_snapshot",
	    atomic_load(&metrics.load_snapshot_us));
	add_devices(root, m);
	line = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!line)
		return -1;
	len = strlen(line);
	line[len] = '\n'; /* replaces the NUL; written by length */
	errno = 0;
	if (write(metrics_fd, line, len + 1) != (ssize_t)(len + 1)) {
		log_warn("metrics '%s': %s", metrics_path,
		         errno ? strerror(errno) : "short write");
		ret = -1;
	}
	free(line);
	return ret;
}

static void on_timer(struct ev_handler *h, uint32_t events)
{
	uint64_t n;

	if (read(h->fd, &n, sizeof(n)) == sizeof(n))
		metrics_flush(h->opaque);
}

void metrics_start(struct vmm *m)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = METRICS_PERIOD_S },
		.it_value = { .tv_sec = METRICS_PERIOD_S },
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	if (fd < 0 || timerfd_settime(fd, 0, &its, NULL) < 0) {
		log_warn("metrics timer: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	h_timer = (struct ev_handler){ fd, on_timer, m };
	if (evloop_add(&m->loop, &h_timer, EPOLLIN) < 0) {
		log_warn("metrics timer: cannot watch");
		close(fd);
		h_timer.fd = -1;
	}
}
