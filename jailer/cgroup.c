/*
 * The jail's cgroup: <hierarchy>/<parent>/<id>, on cgroup v1 (one
 * hierarchy per mounted controller set, e.g. /sys/fs/cgroup/memory) or on
 * the v2 unified hierarchy. Hierarchies are found in /proc/self/mountinfo
 * as Firecracker finds them in /proc/mounts; the cgroup we started in
 * (/proc/self/cgroup) is where a failed jail goes back to.
 */
#include "jailer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Is @word one of the comma- or space-separated words of @list? */
static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ", \n");

		if (len == n && !strncmp(p, word, n))
			return true;
		p += len;
		p += strspn(p, ", \n");
	}
	return false;
}

/* mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo. */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] &&
		    s[3]) {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
			              (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = 0;
}

/*
 * Find the mount of cgroup version @v holding @controller (v2: the one
 * cgroup2 mount, @controller ignored). Fills @point and @root (the
 * mount's root inside the hierarchy). Returns 0, or -1 when none.
 */
static int find_mount(int v, const char *controller, char *point, char *root)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int ret = -1;

	if (!f)
		return -1;
	while (ret < 0 && fgets(line, sizeof(line), f)) {
		char r[PATH_MAX], p[PATH_MAX], fstype[32], opts[1024];
		char *dash = strstr(line, " - ");

		if (!dash ||
		    sscanf(line, "%*s %*s %*s %4095s %4095s", r, p) != 2 ||
		    sscanf(dash, " - %31s %*s %1023s", fstype, opts) != 2)
			continue;
		if (v == 2 ? strcmp(fstype, "cgroup2")
		           : strcmp(fstype, "cgroup") ||
		                     !has_word(opts, controller))
			continue;
		unescape(r);
		unescape(p);
		snprintf(point, PATH_MAX, "%s", p);
		snprintf(root, PATH_MAX, "%s", r);
		ret = 0;
	}
	fclose(f);
	return ret;
}

static int read_line(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	err = n < 0 ? -errno : (size_t)n == strlen(s) ? 0 : -EIO;
	close(fd);
	return err;
}

/*
 * Our cgroup in the hierarchy (a /proc/self/cgroup line: "0::PATH" on v2,
 * "N:CONTROLLERS:PATH" on v1), relative to the mount's @root.
 */
static void find_origin(struct jail_hier *h, int v, const char *controller,
                        const char *root)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[PATH_MAX + 256];
	size_t rlen = strlen(root);

	snprintf(h->origin, sizeof(h->origin), "/");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *ctrls = strchr(line, ':'), *p;

		if (!ctrls || !(p = strchr(++ctrls, ':')))
			continue;
		ctrls[-1] = 0;
		*p++ = 0;
		p[strcspn(p, "\n")] = 0;
		if (v == 2 ? strcmp(line, "0") || *ctrls
		           : !has_word(ctrls, controller))
			continue;
		if (strcmp(root, "/") && !strncmp(p, root, rlen))
			p += rlen;
		snprintf(h->origin, sizeof(h->origin), "%s", *p ? p : "/");
		break;
	}
	fclose(f);
}

/* Is @controller on the unified hierarchy? @point gets its mount. */
static bool on_v2(const char *controller, char *point)
{
	char root[PATH_MAX], p[PATH_MAX + 32], avail[512];

	if (find_mount(2, NULL, point, root) < 0)
		return false;
	snprintf(p, sizeof(p), "%s/cgroup.controllers", point);
	return read_line(p, avail, sizeof(avail)) == 0 &&
	       has_word(avail, controller);
}

static int add_hier(struct jail *j, int v, struct jail_cgroup_arg *c)
{
	struct jail_cgroups *cg = &j->cg;
	char point[PATH_MAX], root[PATH_MAX], avail[512] = "";
	unsigned i;

	if (find_mount(v, c->controller, point, root) < 0) {
		if (v == 2)
			jail_err(0,
			         "--cgroup-version 2: no cgroup2 file system "
			         "is mounted");
		else if (on_v2(c->controller, point))
			jail_err(0,
			         "--cgroup '%s': no cgroup v1 hierarchy has "
			         "'%s' (is it on cgroup v2 at %s? then use "
			         "--cgroup-version 2)",
			         c->arg, c->controller, point);
		else
			jail_err(0,
			         "--cgroup '%s': no cgroup v1 hierarchy has "
			         "the controller '%s'",
			         c->arg, c->controller);
		return -1;
	}
	if (v == 2) {
		char p[PATH_MAX + 32];

		snprintf(p, sizeof(p), "%s/cgroup.controllers", point);
		read_line(p, avail, sizeof(avail));
		if (!has_word(avail, c->controller)) {
			jail_err(0,
			         "--cgroup '%s': controller '%s' is not on the "
			         "cgroup v2 hierarchy %s (it has: %s)",
			         c->arg, c->controller, point,
			         *avail ? avail : "none");
			return -1;
		}
	}
	for (i = 0; i < cg->nh && strcmp(cg->h[i].mount, point); i++)
		;
	if (i == cg->nh) {
		if (cg->nh == JAIL_MAX_HIER) {
			jail_err(0, "--cgroup '%s': too many hierarchies",
			         c->arg);
			return -1;
		}
		cg->nh++;
		cg->h[i] = (struct jail_hier){ .made_from = -1 };
		snprintf(cg->h[i].mount, sizeof(cg->h[i].mount), "%s", point);
		find_origin(&cg->h[i], v, c->controller, root);
	}
	struct jail_hier *h = &cg->h[i];
	if (!has_word(h->ctrls, c->controller) &&
	    strlen(h->ctrls) + strlen(c->controller) + 2 < sizeof(h->ctrls))
		snprintf(h->ctrls + strlen(h->ctrls),
		         sizeof(h->ctrls) - strlen(h->ctrls), "%s%s",
		         *h->ctrls ? "," : "", c->controller);
	h->cpuset |= v == 1 && !strcmp(c->controller, "cpuset");
	c->hier = i;
	return 0;
}

/* Every requested controller is on the unified hierarchy. */
static bool all_on_v2(const struct jail *j)
{
	char point[PATH_MAX];

	for (unsigned i = 0; i < j->a.n_cg; i++)
		if (!on_v2(j->a.cg[i].controller, point))
			return false;
	return true;
}

int jail_cgroup_plan(struct jail *j)
{
	struct jail_cgroups *cg = &j->cg;
	char leaf[PATH_MAX];

	*cg = (struct jail_cgroups){ 0 };
	if (j->a.n_cg == 0)
		return 0; /* as Firecracker: no --cgroup, no cgroup */
	cg->version = j->a.cgroup_version ? j->a.cgroup_version
	              : all_on_v2(j)      ? 2
	                                  : 1;
	for (unsigned i = 0; i < j->a.n_cg; i++)
		if (add_hier(j, cg->version, &j->a.cg[i]) < 0)
			return -1;
	for (unsigned i = 0; i < cg->nh; i++) {
		if (snprintf(leaf, sizeof(leaf), "%s/%s/%s", cg->h[i].mount,
		             j->a.parent_cgroup,
		             j->a.id) >= (int)sizeof(leaf) - 64) {
			jail_err(0,
			         "--parent-cgroup '%s': the path is too long",
			         j->a.parent_cgroup);
			return -1;
		}
		if (access(leaf, F_OK) == 0) {
			jail_err(
			        0,
			        "--id '%s': cgroup %s already exists: a jail "
			        "with this id is running or was not cleaned up",
			        j->a.id, leaf);
			return -1;
		}
	}
	return 0;
}

/* v1 cpuset: a new cgroup's empty cpus and mems would refuse every task. */
static int cpuset_inherit(const char *dir)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char p[PATH_MAX + 32], up[PATH_MAX + 32], v[4096];
	int err;

	for (unsigned i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		if (read_line(p, v, sizeof(v)) == 0 && *v)
			continue;
		snprintf(up, sizeof(up), "%s", dir);
		*strrchr(up, '/') = 0;
		snprintf(up + strlen(up), sizeof(up) - strlen(up), "/%s",
		         files[i]);
		err = read_line(up, v, sizeof(v));
		if (!err)
			err = write_str(p, v);
		if (err) {
			jail_err(-err, "copying %s into %s", up, p);
			return -1;
		}
	}
	return 0;
}

/* v2: a child gets a controller's files only if its parent enables it. */
static int enable_ctrls(const struct jail_hier *h, const char *dir)
{
	char p[PATH_MAX + 32], have[512] = "", plus[40];
	const char *c = h->ctrls;
	int err;

	snprintf(p, sizeof(p), "%s/cgroup.subtree_control", dir);
	read_line(p, have, sizeof(have));
	while (*c) {
		size_t n = strcspn(c, ",");

		snprintf(plus, sizeof(plus), "+%.*s", (int)n, c);
		if (!has_word(have, plus + 1) && (err = write_str(p, plus))) {
			jail_err(-err, "enabling %s in %s", plus, p);
			return -1;
		}
		c += n + (c[n] == ',');
	}
	return 0;
}

static int build_hier(struct jail *j, struct jail_hier *h)
{
	const char *comp = j->a.parent_cgroup;
	char path[PATH_MAX];
	int i = 0;

	snprintf(path, sizeof(path), "%s", h->mount);
	for (;; i++) {
		size_t n = strcspn(comp, "/");

		if (j->cg.version == 2 && enable_ctrls(h, path) < 0)
			return -1;
		if (!n)
			break;
		snprintf(path + strlen(path), sizeof(path) - strlen(path),
		         "/%.*s", (int)n, comp);
		comp += n + (comp[n] == '/');
		if (mkdir(path, 0755) == 0) {
			if (h->made_from < 0)
				h->made_from = i;
		} else if (errno != EEXIST) {
			jail_err(errno, "creating cgroup %s", path);
			return -1;
		}
		if (h->cpuset && cpuset_inherit(path) < 0)
			return -1;
	}
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s",
	         j->a.id);
	if (mkdir(path, 0755) < 0) {
		jail_err(errno, "creating cgroup %s", path);
		return -1;
	}
	h->made_leaf = true;
	if (h->cpuset && cpuset_inherit(path) < 0)
		return -1;
	return 0;
}

/*
 * Where "0" (the writing task) joins. Moving a whole thread group
 * (cgroup.procs) takes the kernel's global cgroup_threadgroup_rwsem for
 * writing: an RCU grace period, 8-14 ms here. The jailer has one thread,
 * so on v1 moving that thread through "tasks" moves the process, without
 * the lock. v2 moves threads alone only in threaded cgroups.
 */
static const char *join_file(const struct jail *j)
{
	return j->cg.version == 1 ? "tasks" : "cgroup.procs";
}

int jail_cgroup_apply(struct jail *j)
{
	struct jail_cgroups *cg = &j->cg;
	char p[PATH_MAX + 256];
	int err;

	for (unsigned i = 0; i < cg->nh; i++)
		if (build_hier(j, &cg->h[i]) < 0)
			return -1;
	for (unsigned i = 0; i < j->a.n_cg; i++) {
		const struct jail_cgroup_arg *c = &j->a.cg[i];

		snprintf(p, sizeof(p), "%s/%s/%s/%s", cg->h[c->hier].mount,
		         j->a.parent_cgroup, j->a.id, c->file);
		if ((err = write_str(p, c->value))) {
			jail_err(-err, "--cgroup '%s': writing '%s' to %s",
			         c->arg, c->value, p);
			return -1;
		}
	}
	for (unsigned i = 0; i < cg->nh; i++) {
		snprintf(p, sizeof(p), "%s/%s/%s/%s", cg->h[i].mount,
		         j->a.parent_cgroup, j->a.id, join_file(j));
		if ((err = write_str(p, "0"))) {
			jail_err(-err, "joining cgroup %s", p);
			return -1;
		}
		cg->h[i].joined = true;
	}
	return 0;
}

static void undo_hier(const struct jail *j, struct jail_hier *h)
{
	char p[PATH_MAX * 2 + 32];
	int err;

	if (h->joined) {
		snprintf(p, sizeof(p), "%s%s/%s", h->mount,
		         strcmp(h->origin, "/") ? h->origin : "", join_file(j));
		if ((err = write_str(p, "0")))
			jail_err(-err, "undo: moving back to %s", p);
		h->joined = false;
	}
	snprintf(p, sizeof(p), "%s/%s/%s", h->mount, j->a.parent_cgroup,
	         j->a.id);
	if (h->made_leaf && rmdir(p) < 0)
		jail_err(errno, "undo: removing cgroup %s", p);
	h->made_leaf = false;
	/* Parents this run made, deepest first; one another jail uses stays. */
	if (h->made_from >= 0) {
		int ncomp = 1;

		for (const char *c = j->a.parent_cgroup; *c; c++)
			ncomp += *c == '/';
		snprintf(p, sizeof(p), "%s/%s", h->mount, j->a.parent_cgroup);
		for (int i = ncomp - 1; i >= h->made_from; i--) {
			if (rmdir(p) < 0) {
				if (errno != ENOTEMPTY && errno != EBUSY)
					jail_err(errno,
					         "undo: removing cgroup %s", p);
				break;
			}
			*strrchr(p, '/') = 0;
		}
		h->made_from = -1;
	}
}

void jail_cgroup_undo(struct jail *j)
{
	for (unsigned i = j->cg.nh; i-- > 0;)
		undo_hier(j, &j->cg.h[i]);
}
