/* See vcpu_thread.h. */
#include "vcpu_thread.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <ucontext.h>

const int vcpu_thread_socket_calls[] = {
	SCMP_SYS(close),    SCMP_SYS(epoll_ctl), SCMP_SYS(timerfd_settime),
	SCMP_SYS(shutdown), SCMP_SYS(sendmsg),   SCMP_SYS(sendto),
	SCMP_SYS(recvfrom), SCMP_SYS(readv),     SCMP_SYS(writev),
	SCMP_SYS(socket),   SCMP_SYS(connect),   SCMP_SYS(accept4),
	SCMP_SYS(poll),
};
const unsigned vcpu_thread_nsocket_calls =
        sizeof(vcpu_thread_socket_calls) / sizeof(vcpu_thread_socket_calls[0]);

static atomic_uint trapped;
static atomic_int first_nr;

static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	int none = -1;

	atomic_fetch_add(&trapped, 1);
	atomic_compare_exchange_strong(&first_nr, &none, si->si_syscall);
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
}

struct job {
	void (*fn)(void *);
	void *arg;
	const int *deny;
	unsigned ndeny;
	int fd;
};

static void *run(void *p)
{
	struct job *j = p;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	sigset_t sys;

	ck_assert_ptr_nonnull(ctx);
	for (unsigned i = 0; i < j->ndeny; i++)
		ck_assert_int_eq(
		        seccomp_rule_add(ctx, SCMP_ACT_TRAP, j->deny[i], 0), 0);
	if (j->fd >= 0)
		ck_assert_int_eq(seccomp_rule_add(ctx, SCMP_ACT_TRAP,
		                                  SCMP_SYS(write), 1,
		                                  SCMP_A0(SCMP_CMP_EQ,
		                                          (scmp_datum_t)j->fd)),
		                 0);
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	/* Only this thread: libseccomp does not sync filters by default. */
	ck_assert_int_eq(seccomp_load(ctx), 0);
	seccomp_release(ctx);
	j->fn(j->arg);
	return NULL;
}

unsigned vcpu_thread_run(void (*fn)(void *), void *arg, const int *deny,
                         unsigned ndeny, int fd, int *first)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys,
		                .sa_flags = SA_SIGINFO },
	                 old;
	struct job j = { fn, arg, deny, ndeny, fd };
	pthread_t t;

	atomic_store(&trapped, 0);
	atomic_store(&first_nr, -1);
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGSYS, &sa, &old), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, run, &j), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	sigaction(SIGSYS, &old, NULL);
	if (first)
		*first = atomic_load(&first_nr);
	return atomic_load(&trapped);
}
