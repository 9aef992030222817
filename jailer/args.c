/*
 * The jailer's command line: Firecracker's flag names, exact (no
 * abbreviations), "--flag VALUE" or "--flag=VALUE", then "--" and wisp's
 * own arguments. Syntax and ranges only; jail_check() looks at the host.
 */
#include "jailer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ID_CHARS                                                               \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"

enum flag_key {
	F_ID,
	F_EXEC_FILE,
	F_UID,
	F_GID,
	F_BASE,
	F_NETNS,
	F_CGROUP,
	F_CGROUP_VERSION,
	F_PARENT_CGROUP,
	F_RLIMIT,
	F_DAEMONIZE,
	F_NEW_PID_NS,
	F_HELP,
	F_VERSION,
	F_COUNT,
};

static const struct flag {
	const char *name;
	bool value;
	bool repeat;
} flags[F_COUNT] = {
	[F_ID] = { "--id", true, false },
	[F_EXEC_FILE] = { "--exec-file", true, false },
	[F_UID] = { "--uid", true, false },
	[F_GID] = { "--gid", true, false },
	[F_BASE] = { "--chroot-base-dir", true, false },
	[F_NETNS] = { "--netns", true, false },
	[F_CGROUP] = { "--cgroup", true, true },
	[F_CGROUP_VERSION] = { "--cgroup-version", true, false },
	[F_PARENT_CGROUP] = { "--parent-cgroup", true, false },
	[F_RLIMIT] = { "--resource-limit", true, true },
	[F_DAEMONIZE] = { "--daemonize", false, false },
	[F_NEW_PID_NS] = { "--new-pid-ns", false, false },
	[F_HELP] = { "--help", false, false },
	[F_VERSION] = { "--version", false, false },
};

void jail_usage(int fd)
{
	dprintf(fd,
	        "usage: wisp-jailer --id ID --exec-file WISP --uid UID --gid "
	        "GID [options]\n"
	        "                   [-- wisp's arguments]\n"
	        "\n"
	        "  --id ID                 1-%d letters, digits or '-'\n"
	        "  --exec-file FILE        the wisp binary (static)\n"
	        "  --uid UID, --gid GID    who wisp runs as (0: it stays "
	        "root)\n"
	        "  --chroot-base-dir DIR   jails go in "
	        "DIR/<exec name>/<id>/root (%s)\n"
	        "  --netns PATH            join this network namespace\n"
	        "  --cgroup FILE=VALUE     write VALUE to the jail cgroup's "
	        "FILE (repeatable)\n"
	        "  --cgroup-version 1|2    default: 2 when every controller "
	        "is on cgroup v2\n"
	        "  --parent-cgroup PATH    the jail cgroup is PATH/<id> (%s)\n"
	        "  --resource-limit fsize=N|no-file=N   setrlimit "
	        "(repeatable; no-file %d)\n"
	        "  --daemonize             return at once; wisp in a new "
	        "session, stdio on\n"
	        "                          /dev/null\n"
	        "  --new-pid-ns            wisp is pid 1 of a new pid "
	        "namespace\n"
	        "  --help, --version\n"
	        "\n"
	        "Paths after -- are inside the jail: the host's "
	        "<root>/vmlinux is /vmlinux.\n"
	        "Exit status: 2 refused (nothing created), 1 a step failed "
	        "(undone), else wisp's.\n",
	        JAIL_ID_MAX, JAIL_DEFAULT_BASE, JAIL_DEFAULT_PARENT,
	        JAIL_DEFAULT_NOFILE);
}

/* A decimal number that fills @s, at most @max. */
static bool parse_dec(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

static int parse_id(struct jail_args *a, const char *v)
{
	size_t n = strlen(v);

	if (n < 1 || n > JAIL_ID_MAX || strspn(v, ID_CHARS) != n) {
		jail_err(0, "--id '%s': 1-%d letters, digits or '-'", v,
		         JAIL_ID_MAX);
		return -1;
	}
	a->id = v;
	return 0;
}

/*
 * uid and gid: (uid_t)-1 means "unchanged" to the kernel. 0 is taken, as
 * Firecracker's jailer takes it (Kata passes its own ids, root's when it
 * runs as root); main() warns that wisp then keeps root in the jail.
 */
static int parse_ugid(const char *flag, const char *v, uint32_t *out)
{
	uint64_t n;

	if (!parse_dec(v, UINT32_MAX - 1, &n)) {
		jail_err(0, "%s '%s' is not a number in 0..%u", flag, v,
		         UINT32_MAX - 1);
		return -1;
	}
	*out = (uint32_t)n;
	return 0;
}

/*
 * FILE=VALUE: FILE is CONTROLLER.NAME in letters, digits, '_', '-', '.',
 * never a path, never the cgroup core's own files (cgroup.procs ...):
 * those are the jailer's to write.
 */
static int parse_cgroup(struct jail_args *a, const char *v)
{
	struct jail_cgroup_arg *c = &a->cg[a->n_cg];
	const char *eq = strchr(v, '=');
	size_t flen, clen;

	if (a->n_cg == JAIL_MAX_CGROUPS) {
		jail_err(0, "--cgroup '%s': at most %d --cgroup flags", v,
		         JAIL_MAX_CGROUPS);
		return -1;
	}
	if (!eq) {
		jail_err(0, "--cgroup '%s' is not FILE=VALUE", v);
		return -1;
	}
	flen = (size_t)(eq - v);
	if (memchr(v, '/', flen)) {
		jail_err(0, "--cgroup '%s': the file name must not contain '/'",
		         v);
		return -1;
	}
	if (strstr(v, "..") && strstr(v, "..") < eq) {
		jail_err(0,
		         "--cgroup '%s': the file name must not contain '..'",
		         v);
		return -1;
	}
	clen = strcspn(v, ".=");
	if (flen == 0 || flen >= sizeof(c->file) ||
	    strspn(v, ID_CHARS "_.") < flen || clen == 0 || clen == flen ||
	    clen >= sizeof(c->controller) || v[flen - 1] == '.') {
		jail_err(0,
		         "--cgroup '%s': the file name is not CONTROLLER.NAME "
		         "(letters, digits, '_', '-', '.')",
		         v);
		return -1;
	}
	if (clen == 6 && !strncmp(v, "cgroup", 6)) {
		jail_err(0,
		         "--cgroup '%s': the cgroup.* files are the jailer's "
		         "own",
		         v);
		return -1;
	}
	if (!eq[1] || strchr(eq + 1, '\n')) {
		jail_err(0,
		         "--cgroup '%s': the value is empty or has a newline",
		         v);
		return -1;
	}
	c->arg = v;
	memcpy(c->file, v, flen);
	c->file[flen] = 0;
	memcpy(c->controller, v, clen);
	c->controller[clen] = 0;
	c->value = eq + 1;
	a->n_cg++;
	return 0;
}

/* A relative path of plain names: never absolute, never "." or "..". */
static int parse_parent(struct jail_args *a, const char *v)
{
	const char *p = v;

	if (!*v || *v == '/' || strlen(v) > 255)
		goto bad;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.') ||
		    strspn(p, ID_CHARS "_.") < n)
			goto bad;
		p += n;
		if (*p == '/' && !*++p)
			goto bad;
	}
	a->parent_cgroup = v;
	return 0;
bad:
	jail_err(0,
	         "--parent-cgroup '%s' is not a relative path of names "
	         "(letters, digits, '_', '-', '.'; no '.' or '..')",
	         v);
	return -1;
}

static int parse_rlimit(struct jail_args *a, const char *v)
{
	const char *eq = strchr(v, '=');
	uint64_t n;

	if (!eq) {
		jail_err(0, "--resource-limit '%s' is not RESOURCE=N", v);
		return -1;
	}
	if (!parse_dec(eq + 1, UINT64_MAX - 1, &n)) {
		jail_err(0, "--resource-limit '%s': '%s' is not a number", v,
		         eq + 1);
		return -1;
	}
	if ((size_t)(eq - v) == 5 && !strncmp(v, "fsize", 5)) {
		a->fsize_set = true;
		a->fsize = (rlim_t)n;
	} else if ((size_t)(eq - v) == 7 && !strncmp(v, "no-file", 7)) {
		a->nofile_set = true;
		a->nofile = (rlim_t)n;
	} else {
		jail_err(0,
		         "--resource-limit '%s': the resource is not fsize or "
		         "no-file",
		         v);
		return -1;
	}
	return 0;
}

static int set_value(struct jail_args *a, enum flag_key k, const char *v)
{
	switch (k) {
	case F_ID:
		return parse_id(a, v);
	case F_EXEC_FILE:
	case F_BASE:
	case F_NETNS:
		if (!*v) {
			jail_err(0, "%s '': an empty path", flags[k].name);
			return -1;
		}
		*(k == F_EXEC_FILE ? &a->exec_file
		  : k == F_BASE    ? &a->base
		                   : &a->netns) = v;
		return 0;
	case F_UID:
		return parse_ugid("--uid", v, &a->uid);
	case F_GID:
		return parse_ugid("--gid", v, &a->gid);
	case F_CGROUP:
		return parse_cgroup(a, v);
	case F_CGROUP_VERSION:
		if (strcmp(v, "1") && strcmp(v, "2")) {
			jail_err(0, "--cgroup-version '%s' is not 1 or 2", v);
			return -1;
		}
		a->cgroup_version = v[0] - '0';
		return 0;
	case F_PARENT_CGROUP:
		return parse_parent(a, v);
	case F_RLIMIT:
		return parse_rlimit(a, v);
	default:
		return -1; /* flags without a value never get here */
	}
}

static int find_flag(const char *arg, size_t len)
{
	for (int k = 0; k < F_COUNT; k++)
		if (strlen(flags[k].name) == len &&
		    !strncmp(flags[k].name, arg, len))
			return k;
	return -1;
}

int jail_parse_args(struct jail_args *a, int argc, char **argv)
{
	bool seen[F_COUNT] = { false };
	int i;

	*a = (struct jail_args){ .base = JAIL_DEFAULT_BASE,
		                 .parent_cgroup = JAIL_DEFAULT_PARENT };
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *v = NULL, *eq;
		int k;

		if (!strcmp(arg, "--")) {
			i++;
			break;
		}
		if (strncmp(arg, "--", 2)) {
			jail_err(0,
			         "unexpected argument '%s' (wisp's arguments "
			         "go after --)",
			         arg);
			return -1;
		}
		eq = strchr(arg, '=');
		k = find_flag(arg, eq ? (size_t)(eq - arg) : strlen(arg));
		if (k < 0) {
			jail_err(0, "unknown flag '%s' (see --help)", arg);
			return -1;
		}
		if (seen[k] && !flags[k].repeat) {
			jail_err(0, "%s given twice", flags[k].name);
			return -1;
		}
		seen[k] = true;
		if (!flags[k].value) {
			if (eq) {
				jail_err(0, "%s takes no value ('%s')",
				         flags[k].name, arg);
				return -1;
			}
			if (k == F_HELP) {
				jail_usage(1);
				return 1;
			}
			if (k == F_VERSION) {
				a->version = true;
				return 1;
			}
			*(k == F_DAEMONIZE ? &a->daemonize : &a->new_pid_ns) =
			        true;
			continue;
		}
		if (eq)
			v = eq + 1;
		else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2))
			v = argv[++i];
		if (!v) {
			jail_err(0, "%s needs a value", flags[k].name);
			return -1;
		}
		if (set_value(a, (enum flag_key)k, v) < 0)
			return -1;
	}
	a->vmm_argv = &argv[i];
	a->vmm_argc = argc - i;
	for (int k = F_ID; k <= F_GID; k++) {
		if (!seen[k]) {
			jail_err(0, "%s is required (see --help)",
			         flags[k].name);
			return -1;
		}
	}
	return 0;
}
