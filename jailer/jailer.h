/*
 * wisp-jailer: start one wisp process in a jail, as Firecracker's jailer
 * starts Firecracker (docs/security.md). As root it builds
 * <base>/<exec name>/<id>/root with the wisp binary and the device nodes
 * wisp needs in it, sets rlimits, creates and joins the jail's cgroup,
 * pivots into the jail in a mount namespace of its own, joins the
 * network namespace, optionally forks into a new pid namespace and/or a
 * daemon, drops to uid:gid with no capabilities and execs wisp.
 *
 * The jail's tree is reached only through directory fds, each opened
 * O_PATH|O_NOFOLLOW and checked with fstat before it is used (walk.c):
 * no path below the base directory is looked up twice, so a component
 * swapped for a symlink between a check and a use is never followed.
 *
 * Two phases, two exit statuses. Checking (jail_parse_args, jail_check,
 * jail_cgroup_plan) reads the host and creates nothing: any refusal is one
 * line naming the flag and the value, and exit status 2. Building (every
 * step after) records what it created in struct jail; a step that fails
 * prints one line naming the step and the errno text, jail_undo() removes
 * what was created, and the status is 1. Once wisp is exec'd the jail and
 * its cgroup belong to the caller, as with Firecracker.
 */
#ifndef WISP_JAILER_H
#define WISP_JAILER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#define JAIL_DEFAULT_BASE   "/srv/jailer"
#define JAIL_DEFAULT_PARENT "wisp"
#define JAIL_DEFAULT_NOFILE 2048 /* Firecracker's default */
#define JAIL_MAX_CGROUPS    16   /* --cgroup arguments */
#define JAIL_MAX_HIER       8    /* distinct v1 hierarchies */
#define JAIL_ID_MAX         64

enum jail_exit {
	JAIL_EXIT_FAILED = 1, /* a step failed; what it created was removed */
	JAIL_EXIT_USAGE = 2,  /* refused before anything was created */
};

/* One --cgroup FILE=VALUE. */
struct jail_cgroup_arg {
	const char *arg;     /* as given, for messages */
	char file[128];      /* "memory.limit_in_bytes" */
	const char *value;   /* points into arg */
	char controller[32]; /* "memory": the file name up to its first '.' */
	unsigned hier;       /* index into jail_cgroups.h[], set by the plan */
};

/* What the command line asked for, checked for syntax only. */
struct jail_args {
	const char *id;
	const char *exec_file; /* as given */
	uid_t uid;
	gid_t gid;
	const char *base; /* --chroot-base-dir, as given */
	const char *netns;
	const char *parent_cgroup;
	int cgroup_version; /* 0: detect, 1 or 2 */
	struct jail_cgroup_arg cg[JAIL_MAX_CGROUPS];
	unsigned n_cg;
	bool fsize_set, nofile_set;
	rlim_t fsize, nofile;
	bool daemonize;
	bool new_pid_ns;
	bool version;    /* --version: main prints it */
	char **vmm_argv; /* wisp's arguments, after "--" */
	int vmm_argc;
};

/* One cgroup hierarchy the jail joins, and how far building got in it. */
struct jail_hier {
	char mount[PATH_MAX];  /* where it is mounted */
	char origin[PATH_MAX]; /* our cgroup in it at start, below mount */
	char ctrls[128];       /* requested controllers on it, "a,b" */
	bool cpuset;           /* v1 cpuset: empty cpus/mems are inherited */
	int made_from; /* first parent component this run created, or -1 */
	bool made_leaf;
	bool joined;
};

struct jail_cgroups {
	int version; /* 1 or 2; 0 when no --cgroup was given */
	struct jail_hier h[JAIL_MAX_HIER];
	unsigned nh;
};

/* A host device node the jail gets a copy of. */
struct jail_dev {
	const char *path; /* host path, the same inside the jail */
	bool required;
	bool present; /* the host has it (set by jail_check) */
	dev_t rdev;
};

#define JAIL_NDEVS 4

/*
 * One entry this run created in the jail's tree, removed by
 * jail_dir_undo() through the directory fd it was created in: never by a
 * path looked up again.
 */
struct jail_made {
	int dfd;          /* the directory it is in (kept open) */
	int fd;           /* a directory's own fd, closed with it; else -1 */
	const char *name; /* its name in @dfd */
	const char *path; /* for messages: absolute, or below the root */
	bool in_root;     /* @path is below <root> */
	bool dir;
	bool shared; /* <base>/<exec name>: other jails may be in it */
};

/* exec dir, id, root, binary, run, dev, dev/net, 4 nodes, sys x3, pid */
#define JAIL_MAX_MADE 16

/* The jail being built: checked host facts and everything created. */
struct jail {
	struct jail_args a;
	uint64_t start_us;        /* CLOCK_MONOTONIC at the jailer's start */
	uint64_t start_cpu_us;    /* its CPU time then */
	uint64_t parent_cpu_us;   /* CPU time the jailer's processes used */
	char exec_path[PATH_MAX]; /* realpath of --exec-file */
	const char *exec_name;    /* its last component */
	int exec_fd;              /* O_PATH of the checked exec file */
	char base[PATH_MAX];      /* --chroot-base-dir, resolved */
	int base_fd;              /* O_PATH of the checked base directory */
	char exec_dir[PATH_MAX];  /* <base>/<exec name> */
	char id_dir[PATH_MAX];    /* <base>/<exec name>/<id> */
	char root[PATH_MAX];      /* <id_dir>/root */
	struct jail_cgroups cg;
	struct jail_dev dev[JAIL_NDEVS];
	bool host_pvm; /* /sys/module/kvm_pvm exists (docs/security.md) */

	/* Building, in order; jail_undo() reverses whatever is set. */
	int exec_dir_fd, id_fd, root_fd;
	struct jail_made made[JAIL_MAX_MADE];
	unsigned n_made;
	bool root_chowned; /* a root the caller made: owner and mode to put back
	                    */
	struct stat root_was;
	char pidfile[NAME_MAX + 8]; /* <exec name>.pid */
	int host_mnt_fd; /* the host's mount namespace, to undo from */
	bool unshared;
	int netns_fd;
	int null_fd; /* the host's /dev/null, for --daemonize */
};

/* args.c ------------------------------------------------------------------ */

/*
 * Parse the command line into @a. Returns 0; 1 for --help (printed) or
 * --version (@a->version; exit 0 either way); -1 after printing one line
 * naming the flag and the value (exit 2).
 */
int jail_parse_args(struct jail_args *a, int argc, char **argv);

/* The usage text, on @fd. */
void jail_usage(int fd);

/*
 * Check the host for @j->a: the exec file (a static x86-64 ELF), the base
 * directory (on a file system that allows device nodes and exec), that no
 * jail with this id exists, the device nodes, the network namespace and
 * the cgroup plan. Fills the checked fields of @j, keeping the exec file
 * and the base directory open (exec_fd, base_fd) so that building uses
 * what was checked; creates nothing. Returns 0, or -1 after printing one
 * line (exit 2).
 */
int jail_check(struct jail *j);

/* cgroup.c ---------------------------------------------------------------- */

/*
 * Decide the cgroup version (--cgroup-version, else v2 when every
 * requested controller is on the unified hierarchy) and find the
 * hierarchy of each --cgroup; refuse a controller no hierarchy has and a
 * jail cgroup that already exists. Reads /proc/self/mountinfo and
 * /proc/self/cgroup; creates nothing. Returns 0 or -1 (printed).
 */
int jail_cgroup_plan(struct jail *j);

/*
 * Create <hierarchy>/<parent>/<id> in each planned hierarchy (v2: enable
 * the controllers in every cgroup.subtree_control on the way; v1 cpuset:
 * fill empty cpus/mems from the parent), write each --cgroup value and
 * move this process in. Returns 0 or -1 (printed); progress is recorded.
 */
int jail_cgroup_apply(struct jail *j);

/*
 * Move this process back to the cgroups it started in and remove the
 * cgroup directories this run created (a shared parent another jail uses
 * stays). Safe at any point of jail_cgroup_apply().
 */
void jail_cgroup_undo(struct jail *j);

/* walk.c ------------------------------------------------------------------ */

/* "/proc/self/fd/N": @fd as a path that names exactly its file. */
#define JAIL_FD_PATH 32
char *jail_fd_path(char buf[JAIL_FD_PATH], int fd);

/*
 * Resolve --chroot-base-dir into @j->base as realpath(3) would, but one
 * component at a time from "/", each opened O_PATH|O_NOFOLLOW and checked
 * with fstat: every directory on the way must be root's and writable by
 * nobody else (sticky, as /tmp, will do), and a symlink is followed only
 * when it is root's. Returns an O_PATH fd of the base, or -1 after
 * printing one line.
 */
int jail_walk_base(struct jail *j);

enum {
	JAIL_DIR_ROOTS = 1, /* root's, and writable by nobody else */
	JAIL_DIR_MAKE = 2,  /* mkdirat it when missing */
	JAIL_DIR_NEW = 4,   /* mkdirat it; one already there is refused */
};

/*
 * The directory @name in @dfd (@path names it in messages): made first
 * with @mode when @how asks (*@made: this call made it, chmod'ed to
 * @mode whatever the umask), then opened O_PATH|O_NOFOLLOW and refused,
 * from fstat of that fd, when it is a symlink, not a directory, or with
 * JAIL_DIR_ROOTS not root's or writable by others without the sticky bit.
 * Returns an O_RDONLY directory fd of the very inode checked (reopened
 * through ".", no name looked up again); -1 after printing one line; -2,
 * not printed, when it does not exist and @how does not make it.
 */
int jail_dir_at(const struct jail *j, int dfd, const char *name,
                const char *path, unsigned how, mode_t mode, bool *made);

/* chroot.c ---------------------------------------------------------------- */

/*
 * Create <base>/<exec name>/<id>/root (keeping a root the caller made and
 * filled) below base_fd, one checked directory fd at a time; hard-link the
 * exec file in through exec_fd (a copy when the link crosses file systems
 * or the file is not root's alone); create run/; make /dev/kvm,
 * /dev/net/tun, /dev/urandom and /dev/userfaultfd (those the host has) as
 * copies of the host's nodes, owned by uid:gid mode 0600, and on a
 * kvm-pvm host the empty directory sys/module/kvm_pvm that wisp looks
 * for. The root is root's, mode 0700, while this runs, and uid:gid's
 * once it is done. Every entry made is recorded. Returns 0 or -1.
 */
int jail_dir_build(struct jail *j);

/*
 * Record @name in @dfd as made by this run (@fd: a directory's own fd,
 * -1 for a file). Returns 0, or -1 (printed) when the record is full.
 */
int jail_made_add(struct jail *j, int dfd, int fd, const char *name,
                  const char *path, bool dir);

/*
 * Unshare the mount namespace, make every mount private, bind-mount the
 * jail root on itself (through root_fd, nosuid), pivot_root into it and
 * detach the old root. Returns 0 or -1; the host's namespace is kept for
 * jail_undo().
 */
int jail_enter(struct jail *j);

/*
 * Remove what this run created under the base directory, newest first,
 * each through the directory fd it was made in, and put back the owner
 * and mode of a root the caller made; the caller's files stay.
 */
void jail_dir_undo(struct jail *j);

/* privs.c ----------------------------------------------------------------- */

/* Make sure fds 0-2 are open (on /dev/null), so no later open lands there. */
void jail_std_fds(void);

/* Close every fd above 2. Returns 0 or -1. */
int jail_close_fds(void);

/* setrlimit() RLIMIT_FSIZE and RLIMIT_NOFILE, soft and hard. 0 or -1. */
int jail_set_rlimits(const struct jail *j);

/* setns() into --netns (its fd is opened before jail_enter). 0 or -1. */
int jail_join_netns(struct jail *j);

/*
 * Drop to uid:gid: no supplementary groups, the bounding, ambient and
 * inheritable capability sets empty, no_new_privs, real and effective
 * ids uid:gid. The saved uid stays 0 and the permitted set full until
 * exec, which replaces both (saved uid := uid, permitted := empty): only
 * a failed exec can come back with jail_regain_root() to clean up.
 * Returns 0 or -1.
 */
int jail_drop_privileges(const struct jail *j);

/* After a failed exec: become root again. 0 or -1. */
int jail_regain_root(void);

/* main.c ------------------------------------------------------------------ */

/*
 * Undo every step recorded in @j, newest first: back to the host's mount
 * namespace, out of the cgroups, the jail directory. Reports what it
 * could not remove.
 */
void jail_undo(struct jail *j);

/* Where messages go: stderr, or the pipe to the parent after a fork. */
extern int jail_report_fd;

/*
 * One line "wisp-jailer: MESSAGE[: strerror(err)]" on jail_report_fd,
 * written at once (a pipe keeps it whole). @err 0: no errno text.
 */
void jail_err(int err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#endif
