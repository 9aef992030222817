/*
 * The allowlists. Solo5's hvt_seccomp is the model: a table a reviewer
 * can read, one reason per system call, arguments pinned where a wrong
 * value would be a way out (ioctl request numbers and descriptors, socket
 * families, executable mappings). Anything not listed ends the process.
 */
#include "seccomp_int.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/io_uring.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

struct rule {
	int nr;
	const char *name, *args; /* as written here, for docs/security.md */
	const char *why;
	unsigned nargs; /* comparisons that must all hold */
	struct scmp_arg_cmp arg[2];
};

#define ALLOW(name, why)                                                       \
	{                                                                      \
		SCMP_SYS(name), #name, "", why, 0,                             \
		{                                                              \
			{                                                      \
				0                                              \
			}                                                      \
		}                                                              \
	}
#define ARG_EQ(i, v)                                                           \
	{                                                                      \
		.arg = (i), .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)(v)    \
	}
#define ARG_CLEAR(i, mask)                                                     \
	{                                                                      \
		.arg = (i), .op = SCMP_CMP_MASKED_EQ,                          \
		.datum_a = (scmp_datum_t)(mask), .datum_b = 0                  \
	}
#define ALLOW_IF(name, why, a)                                                 \
	{                                                                      \
		SCMP_SYS(name), #name, #a, why, 1,                             \
		{                                                              \
			a,                                                     \
			{                                                      \
				0                                              \
			}                                                      \
		}                                                              \
	}
#define ALLOW_IF2(name, why, a, b)                                             \
	{                                                                      \
		SCMP_SYS(name), #name, #a ", " #b, why, 2,                     \
		{                                                              \
			a, b                                                   \
		}                                                              \
	}

/* Every thread. */
static const struct rule common[] = {
	ALLOW(futex, "mutexes and condition variables (pthread)"),
	ALLOW(write, "log lines, eventfd kicks, interrupts; console, metrics"),
	ALLOW(exit, "a thread returns"),
	ALLOW(rt_sigreturn, "return from the vCPU kick (and SIGSYS) handler"),
	ALLOW(rt_sigprocmask, "glibc blocks signals around thread exit"),
	ALLOW(madvise, "glibc frees a finished thread's stack; free()"),
	ALLOW_IF(mmap, "malloc() of large buffers, never executable",
	         ARG_CLEAR(2, PROT_EXEC)),
	ALLOW_IF(mprotect, "malloc() arenas grow, never executable",
	         ARG_CLEAR(2, PROT_EXEC)),
	ALLOW(munmap, "free() of large buffers"),
	ALLOW(brk, "malloc() grows the heap"),
	ALLOW(clock_gettime, "timestamps, when the vDSO falls back"),
	ALLOW(gettimeofday, "metrics timestamps, when the vDSO falls back"),
	ALLOW(getpid, "pthread_kill() names the process"),
	ALLOW(gettid, "pthread internals"),
	ALLOW(sched_yield, "glibc spin loops"),
	ALLOW(getrandom, "jansson seeds its hash tables; virtio-rng's bytes"),
};

#ifdef WISP_DEBUG
/* What the sanitizer runtime of the test build does on its own. */
static const struct rule sanitizer[] = {
	ALLOW(sigaltstack, "ASan frees a thread's signal stack at its exit"),
};
#endif

/* The HTTP server thread. */
static const struct rule api[] = {
	ALLOW(epoll_wait, "the server's event loop"),
	ALLOW(epoll_pwait, "the server's event loop"),
	ALLOW(epoll_ctl, "watch and unwatch client connections"),
	ALLOW(close, "a client connection ends"),
	ALLOW(accept4, "a new API client"),
	ALLOW(recvfrom, "request bytes (recv)"),
	ALLOW(sendto, "answers (send)"),
	ALLOW(read, "the stop eventfd"),
};

/* The event loop thread, once the VM runs. */
static const struct rule vmm[] = {
	ALLOW(epoll_wait, "the event loop; room for the console's last bytes"),
	ALLOW(epoll_pwait, "the event loop"),
	ALLOW(epoll_ctl, "watch vsock sockets, a full console; pause a socket"),
	ALLOW(close, "what a device or a request is done with (vsock sockets)"),
	ALLOW(read,
	      "eventfds, timerfds, the signalfd, stdin for the serial port"),
	ALLOW(readv, "vsock: host bytes straight into guest buffers"),
	ALLOW(writev, "vsock: guest bytes to a host socket"),
	ALLOW(recvfrom, "vsock: the CONNECT line (recv, MSG_PEEK)"),
	ALLOW(sendto, "vsock: the OK line (send)"),
	ALLOW(sendmsg, "vsock: guest bytes to a host socket"),
	ALLOW(io_uring_enter, "submit device I/O and reap its completions"),
	ALLOW(timerfd_settime,
	      "rate limiter, vsock, console and metrics timers"),
	ALLOW(openat, "PATCH /drives: the new image; the Prometheus file"),
	ALLOW(newfstatat, "the size of a new drive image"),
	ALLOW(fstat, "the size of a new drive image"),
	ALLOW(dup3, "swap a drive's image under its descriptor"),
	ALLOW_IF(io_uring_register,
	         "swap a drive's image in the ring's file table (the ring's "
	         "own restrictions allow no other register call)",
	         ARG_EQ(1, IORING_REGISTER_FILES_UPDATE)),
	ALLOW_IF(socket, "vsock: connect to <uds_path>_PORT for the guest",
	         ARG_EQ(0, AF_UNIX)),
	ALLOW(connect, "vsock: the same connection"),
	ALLOW(accept4, "vsock: a host program connects to uds_path"),
	ALLOW(getsockopt, "vsock: the result of a non-blocking connect"),
	ALLOW(shutdown, "vsock: the guest will send no more"),
	ALLOW_IF(poll, "vsock: did the host close, or half close? (no wait)",
	         ARG_EQ(2, 0)),
	ALLOW(fcntl, "descriptor flags; the console's given back at the end"),
	/* PUT /snapshot/create writes two files by rename. */
	ALLOW(pwrite64, "snapshot: the memory and state files"),
	ALLOW(lseek, "snapshot: holes of a memory file (SEEK_DATA)"),
	ALLOW(fsync, "snapshot: the files reach the disk before the rename"),
	ALLOW(fdatasync, "snapshot: the same"),
	ALLOW(ftruncate, "snapshot: a memory file's size, holes included"),
	ALLOW(rename, "snapshot: the new file replaces the old at once"),
	ALLOW(renameat, "snapshot: the same; the Prometheus metrics file"),
	ALLOW(unlink, "snapshot: a failed write removes its temporary file"),
	ALLOW(link, "snapshot: the old memory file kept until the state is in"),
	ALLOW(linkat, "snapshot: the same"),
	ALLOW(fsetxattr, "snapshot: tag the memory file with the snapshot id"),
};

/*
 * A vCPU thread has the common list and the rules on its own descriptors
 * (add_own()): KVM_RUN, and what its exits need. A device a vCPU writes
 * to hands host work to the event loop (an eventfd write): the console's
 * output, a vsock driver reset's closes and unwatches.
 */

/* The main thread (vCPU 0) also ends the process. */
static const struct rule exit_path[] = {
	ALLOW(unlink, "remove the API and vsock sockets at the end"),
	ALLOW_IF2(ioctl, "give the terminal its settings back",
	          ARG_EQ(0, STDIN_FILENO), ARG_EQ(1, TCSETS)),
	ALLOW(exit_group, "the process ends with the VM"),
};

/* The lists by name, for seccomp_rule_info(). */
static const struct {
	const char *name;
	const struct rule *r;
	size_t n;
} lists[] = {
	{ "common", common, ARRAY_SIZE(common) },
	{ "api", api, ARRAY_SIZE(api) },
	{ "vmm", vmm, ARRAY_SIZE(vmm) },
	{ "exit_path", exit_path, ARRAY_SIZE(exit_path) },
};

bool seccomp_rule_info(const char *list, unsigned i,
                       struct seccomp_rule_info *out)
{
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		if (strcmp(lists[l].name, list))
			continue;
		if (i >= lists[l].n)
			return false;
		*out = (struct seccomp_rule_info){ lists[l].r[i].name,
			                           lists[l].r[i].args,
			                           lists[l].r[i].why };
		return true;
	}
	return false;
}

static bool disabled;
#ifdef WISP_TEST_HOOKS
static const char *test_kind; /* WISP_SECCOMP_TEST */
#endif

void seccomp_disable(void)
{
	disabled = true;
	log_warn("*** --no-seccomp: no system call filters; a VM escape "
	         "would meet the full kernel. For debugging only. ***");
}

bool seccomp_enabled(void)
{
	return !disabled;
}

const char *const seccomp_kind_names[3] = {
	[SECCOMP_API] = "api", [SECCOMP_VMM] = "vmm", [SECCOMP_VCPU] = "vcpu"
};

static const char *kind_name(enum seccomp_kind k)
{
	return seccomp_kind_names[k];
}

#ifdef WISP_DEBUG
/*
 * Debug builds trap instead of killing, to say who was caught. Then the
 * handler makes a call that no filter allows: with SIGSYS blocked inside
 * the handler the kernel forces the default action, and the process dies
 * of SIGSYS as it would have in a production build.
 */
static __thread const char *thread_kind;

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char msg[128];
	int n = snprintf(msg, sizeof(msg),
	                 "wisp: seccomp: the %s thread made a forbidden "
	                 "system call %d\n",
	                 thread_kind ? thread_kind : "?", si->si_syscall);

	(void)sig;
	(void)uc;
	if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
		n = 0;
	syscall(SYS_getppid);
	_exit(WISP_EXIT_ERROR); /* not reached */
}
#endif

static int add(scmp_filter_ctx ctx, const struct rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = r[i].nargs
		                 ? seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW,
		                                          r[i].nr, r[i].nargs,
		                                          r[i].arg)
		                 : seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
		                                    r[i].nr, 0);

		if (rc < 0) {
			log_err("seccomp: rule for syscall %d (%s): %s",
			        r[i].nr, r[i].why, strerror(-rc));
			return -1;
		}
	}
	return 0;
}

/* ioctl(@fd, @req) for each of @n requests. */
static int add_ioctls(scmp_filter_ctx ctx, int fd, const unsigned long *req,
                      size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2,
		                     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd),
		                     SCMP_A1(SCMP_CMP_EQ, req[i])) < 0) {
			log_err("seccomp: ioctl 0x%lx rule", req[i]);
			return -1;
		}
	}
	return 0;
}

/*
 * The rules that name this process's own descriptors and pid: a vCPU
 * runs its own guest CPU and reads its registers for a crash report; the
 * legacy devices (serial, i8042) raise ISA interrupts on the VM; the
 * event loop sets tap offloads on the VM's taps; kicks go to our own
 * threads only.
 */
static int add_own(scmp_filter_ctx ctx, enum seccomp_kind kind,
                   const struct seccomp_fds *f)
{
	static const unsigned long vcpu_req[] = { KVM_RUN, KVM_GET_REGS,
		                                  KVM_GET_SREGS };
	static const unsigned long vm_req[] = { KVM_IRQ_LINE };
	static const unsigned long tap_req[] = { TUNSETOFFLOAD };

	if (kind == SECCOMP_VCPU &&
	    add_ioctls(ctx, f->vcpu_fd, vcpu_req, ARRAY_SIZE(vcpu_req)) < 0)
		return -1;
	if (kind != SECCOMP_API && f->vm_fd >= 0 &&
	    add_ioctls(ctx, f->vm_fd, vm_req, ARRAY_SIZE(vm_req)) < 0)
		return -1;
	/* A snapshot reads the parked vCPUs' and the VM's state. */
	if (kind == SECCOMP_VMM) {
		static const unsigned long vcpu_get[] = {
			KVM_GET_REGS,   KVM_GET_SREGS,       KVM_GET_XSAVE,
			KVM_GET_FPU,    KVM_GET_XCRS,        KVM_GET_DEBUGREGS,
			KVM_GET_LAPIC,  KVM_GET_VCPU_EVENTS, KVM_GET_MP_STATE,
			KVM_GET_CPUID2, KVM_GET_TSC_KHZ,     KVM_GET_MSRS,
		};
		static const unsigned long vm_get[] = { KVM_GET_IRQCHIP,
			                                KVM_GET_PIT2,
			                                KVM_GET_CLOCK,
			                                KVM_GET_DIRTY_LOG };
		static const unsigned long kvm_get[] = { KVM_GET_MSR_INDEX_LIST,
			                                 KVM_CHECK_EXTENSION };

		for (unsigned i = 0; i < f->nvcpu; i++)
			if (add_ioctls(ctx, f->vcpu_fds[i], vcpu_get,
			               ARRAY_SIZE(vcpu_get)) < 0)
				return -1;
		if ((f->vm_fd >= 0 && add_ioctls(ctx, f->vm_fd, vm_get,
		                                 ARRAY_SIZE(vm_get)) < 0) ||
		    (f->kvm_fd >= 0 && add_ioctls(ctx, f->kvm_fd, kvm_get,
		                                  ARRAY_SIZE(kvm_get)) < 0))
			return -1;
	}
	/* The event loop sets the offloads the guest's driver accepted. */
	for (unsigned i = 0; kind == SECCOMP_VMM && i < f->ntap; i++)
		if (add_ioctls(ctx, f->tap_fds[i], tap_req,
		               ARRAY_SIZE(tap_req)) < 0)
			return -1;
	if ((kind == SECCOMP_VMM || f->exit_path) &&
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 2,
	                     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()),
	                     SCMP_A2(SCMP_CMP_EQ, SIGUSR1)) < 0) {
		log_err("seccomp: tgkill rule");
		return -1;
	}
	return 0;
}

/*
 * The test hook: WISP_SECCOMP_TEST=KIND[:CALL] makes that thread kind try
 * one call its filter must refuse: api execve; vmm fork, or inet (an
 * AF_INET socket); vcpu open (a file), or exec-map (PROT_EXEC memory).
 */
static void forbidden_call(enum seccomp_kind kind)
{
#ifdef WISP_TEST_HOOKS
	static char *const argv[] = { "/bin/true", NULL };
	const char *name = kind_name(kind), *call;
	size_t n = strlen(name);

	if (!test_kind || strncmp(test_kind, name, n) ||
	    (test_kind[n] && test_kind[n] != ':'))
		return;
	call = test_kind[n] ? test_kind + n + 1 : "";
	log_info("seccomp test: the %s thread tries a forbidden call (%s)",
	         name, *call ? call : "default");
	if (kind == SECCOMP_API)
		execve(argv[0], argv, argv + 1);
	else if (kind == SECCOMP_VMM && !strcmp(call, "inet"))
		socket(AF_INET, SOCK_STREAM, 0);
	else if (kind == SECCOMP_VMM)
		syscall(SYS_fork);
	else if (!strcmp(call, "exec-map"))
		mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else
		open("/etc/hostname", O_RDONLY);
	log_err("seccomp test: the %s thread's forbidden call went through",
	        name);
#else
	(void)kind;
#endif
}

void seccomp_test_hook_init(void)
{
#ifdef WISP_TEST_HOOKS
	test_kind = getenv("WISP_SECCOMP_TEST");
#endif
}

/* The BPF libseccomp makes, read back from the memfd it was written to. */
int seccomp_export(scmp_filter_ctx ctx, struct seccomp_prog *out)
{
	struct stat st;
	int fd, rc = -1;

	fd = memfd_create("wisp-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		log_err("seccomp: memfd_create: %s", strerror(errno));
		return -1;
	}
	rc = seccomp_export_bpf(ctx, fd);
	if (rc < 0) {
		log_err("seccomp: cannot build the %s filter: %s",
		        kind_name(out->kind), strerror(-rc));
		rc = -1;
		goto out;
	}
	rc = -1;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 ||
	    st.st_size % sizeof(struct sock_filter) ||
	    st.st_size > BPF_MAXINSNS * (off_t)sizeof(struct sock_filter)) {
		log_err("seccomp: the %s filter came out malformed",
		        kind_name(out->kind));
		goto out;
	}
	out->insns = malloc((size_t)st.st_size);
	if (!out->insns ||
	    pread(fd, out->insns, (size_t)st.st_size, 0) != st.st_size) {
		log_err("seccomp: cannot read the %s filter back",
		        kind_name(out->kind));
		free(out->insns);
		out->insns = NULL;
		goto out;
	}
	out->len = (unsigned)(st.st_size / sizeof(struct sock_filter));
	rc = 0;
out:
	close(fd);
	return rc;
}

int seccomp_compile(enum seccomp_kind kind, const struct seccomp_fds *fds,
                    struct seccomp_prog *out)
{
#ifdef WISP_DEBUG
	uint32_t deflt = SCMP_ACT_TRAP;
#else
	uint32_t deflt = SCMP_ACT_KILL_PROCESS;
#endif
	scmp_filter_ctx ctx;
	int rc = -1;

	*out = (struct seccomp_prog){ .kind = kind };
	if (disabled)
		return 0;
	/* --seccomp-filter: the file's filter instead of wisp's own. */
	if ((rc = seccomp_user_prog(kind, out)) != 0)
		return rc < 0 ? -1 : 0;
	rc = -1;
	ctx = seccomp_init(deflt);
	if (!ctx) {
		log_err("seccomp: cannot make a filter");
		return -1;
	}
	/* glibc tries clone3 first; this makes it fall back to clone(2). */
	seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (add(ctx, common, ARRAY_SIZE(common)) < 0)
		goto out;
#ifdef WISP_DEBUG
	if (add(ctx, sanitizer, ARRAY_SIZE(sanitizer)) < 0)
		goto out;
#endif
	switch (kind) {
	case SECCOMP_API:
		rc = add(ctx, api, ARRAY_SIZE(api));
		break;
	case SECCOMP_VMM:
		rc = add(ctx, vmm, ARRAY_SIZE(vmm));
		break;
	case SECCOMP_VCPU:
		rc = fds->exit_path ? add(ctx, exit_path, ARRAY_SIZE(exit_path))
		                    : 0;
		break;
	}
	if (rc < 0 || add_own(ctx, kind, fds) < 0 ||
	    seccomp_export(ctx, out) < 0)
		rc = -1;
out:
	seccomp_release(ctx);
	return rc;
}

int seccomp_apply(struct seccomp_prog *p)
{
	struct sock_fprog prog = { .len = (unsigned short)p->len,
		                   .filter = p->insns };
	long rc;
	int e;

	if (disabled)
		return 0;
#ifdef WISP_DEBUG
	{
		struct sigaction sa = { .sa_sigaction = on_sigsys,
			                .sa_flags = SA_SIGINFO };
		sigset_t sys;

		thread_kind = kind_name(p->kind);
		sigemptyset(&sa.sa_mask);
		sigaction(SIGSYS, &sa, NULL);
		/* Threads block most signals; this one must reach us. */
		sigemptyset(&sys);
		sigaddset(&sys, SIGSYS);
		pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	}
#endif
	/* The kernel logs what it kills for, where the host audits. */
	rc = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (!rc) {
		rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		             SECCOMP_FILTER_FLAG_LOG, &prog);
		if (rc < 0 && errno == EINVAL) /* a kernel before 4.14 */
			rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0,
			             &prog);
	}
	e = errno;
	seccomp_prog_free(p);
	if (rc < 0) {
		log_err("seccomp: cannot load the %s filter: %s",
		        kind_name(p->kind), strerror(e));
		return -1;
	}
	log_debug("seccomp: %s filter on", kind_name(p->kind));
	forbidden_call(p->kind);
	return 0;
}

void seccomp_prog_free(struct seccomp_prog *p)
{
	free(p->insns);
	p->insns = NULL;
	p->len = 0;
}

int seccomp_install(enum seccomp_kind kind, const struct seccomp_fds *fds)
{
	struct seccomp_prog p;

	if (seccomp_compile(kind, fds, &p) < 0)
		return -1;
	return seccomp_apply(&p);
}
