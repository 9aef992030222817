/*
 * Per-thread seccomp filters (libseccomp). Each kind of thread gets its
 * own allowlist, installed by the thread itself once everything it needs
 * is open and just before guest code first runs:
 *
 *   api    the HTTP server (api/server.c): its sockets, epoll, handing
 *          requests to the event loop; installed when it starts
 *   vmm    the event loop (vmm/vmm.c): devices, io_uring, timers, vsock
 *          sockets, API requests on a running VM; installed at the end of
 *          a successful start, before the vCPUs are let go
 *   vcpu   KVM_RUN on its own vCPU fd and what an exit handler needs
 *          (no sockets, epoll or timers: devices hand host work to the
 *          event loop); vCPU 0 runs on the main thread, which also ends
 *          the process
 *
 * Every rule carries a one-line reason (vmm/seccomp.c). A syscall outside
 * the list kills the process (SIGSYS; the kernel logs it). The debug
 * (sanitizer) build traps instead, prints the thread kind and the
 * syscall number on stderr, then dies of SIGSYS as well.
 */
#ifndef WISP_SECCOMP_POLICY_H
#define WISP_SECCOMP_POLICY_H

#include <stdbool.h>
#include <stddef.h>

enum seccomp_kind { SECCOMP_API, SECCOMP_VMM, SECCOMP_VCPU };

/*
 * --seccomp-filter FILE: a filter file in seccompiler's JSON source
 * format (vmm/seccomp_user.c) with the three thread categories "vmm",
 * "api" and "vcpu", each compiled now; each thread then installs its
 * category's filter instead of wisp's own. 0, or -1 with "FILE: where:
 * what" in @err. seccomp_load_json: the same from a parsed document, the
 * message without the file; seccomp_user_clear: back to wisp's own.
 */
int seccomp_load_file(const char *path, char *err, size_t errlen);
struct json_t;
int seccomp_load_json(struct json_t *root, char *err, size_t errlen);
void seccomp_user_clear(void);

/* --no-seccomp: nothing is installed; logs a loud warning. */
void seccomp_disable(void);
bool seccomp_enabled(void);

/* The descriptors a filter pins ioctls to (-1: none). */
struct seccomp_fds {
	int vm_fd;          /* KVM_IRQ_LINE: legacy devices raise interrupts */
	int vcpu_fd;        /* SECCOMP_VCPU: the vCPU this thread runs */
	bool exit_path;     /* this thread also ends the process (vCPU 0) */
	const int *tap_fds; /* SECCOMP_VMM: TUNSETOFFLOAD on these only */
	unsigned ntap;
	/* SECCOMP_VMM: a snapshot reads KVM's state of the parked vCPUs */
	int kvm_fd;
	const int *vcpu_fds;
	unsigned nvcpu;
};

/*
 * Install the filter of @kind on the calling thread. Returns 0 (also
 * when disabled), or -1 with the reason logged.
 */
int seccomp_install(enum seccomp_kind kind, const struct seccomp_fds *fds);

/*
 * The same in two steps, so a thread can build its filter (the slow
 * part: a few hundred microseconds in libseccomp) while it waits to run,
 * and install it the moment it may: seccomp_compile() on any thread,
 * seccomp_apply() on the one to be filtered (it frees the program, also
 * on failure). Disabled: an empty program that applies as a no-op.
 */
struct seccomp_prog {
	enum seccomp_kind kind;
	unsigned len; /* instructions */
	void *insns;  /* struct sock_filter[len] */
};
int seccomp_compile(enum seccomp_kind kind, const struct seccomp_fds *fds,
                    struct seccomp_prog *out);
int seccomp_apply(struct seccomp_prog *p);
void seccomp_prog_free(struct seccomp_prog *p);

/*
 * The allowlists as docs/security.md shows them (a unit test holds its
 * tables to these): rule @i of @list, one of "common", "api", "vmm" and
 * "exit_path" (vCPU 0's extra); false past the end or for another name.
 * The rules on the process's own descriptors (ioctls, tgkill) are not
 * in a list: they are made per thread from its descriptors.
 */
struct seccomp_rule_info {
	const char *call; /* the system call's name */
	const char *args; /* its argument checks as vmm/seccomp.c writes
	                     them, or "" */
	const char *why;
};
bool seccomp_rule_info(const char *list, unsigned i,
                       struct seccomp_rule_info *out);

/*
 * Test builds only (-DWISP_TEST_HOOKS): with WISP_SECCOMP_TEST=KIND[:CALL]
 * (api; vmm, vmm:inet; vcpu, vcpu:exec-map) in the environment, that
 * thread kind makes one forbidden system call right after its filter is
 * installed, so a test can see the process die of SIGSYS. Read once.
 */
void seccomp_test_hook_init(void);

#endif
