/*
 * The VMM's threads (vmm.h): the event loop thread and what it serves
 * for the VMM itself (exit requests, signals, vmm_call()), and the main
 * thread, which runs vCPU 0 once the VM starts.
 */
#include "console.h"
#include "log.h"
#include "metrics.h"
#include "seccomp_policy.h"
#include "util.h"
#include "vmm.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

static void on_exit_request(struct ev_handler *h, uint32_t events)
{
	struct vmm *m = h->opaque;
	uint64_t n;

	if (read(h->fd, &n, sizeof(n)) == sizeof(n))
		m->stop = true;
}

static void on_signal(struct ev_handler *h, uint32_t events)
{
	struct vmm *m = h->opaque;
	struct signalfd_siginfo si;

	if (read(h->fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info("stopping the VM on signal %s", strsignal((int)si.ssi_signo));
	vm_request_exit(&m->vm, WISP_EXIT_OK);
}

static void on_call(struct ev_handler *h, uint32_t events)
{
	struct vmm *m = h->opaque;
	void (*fn)(struct vmm *, void *);
	uint64_t n;

	if (read(h->fd, &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&m->lock);
	fn = m->call_fn;
	pthread_mutex_unlock(&m->lock);
	if (!fn)
		return;
	fn(m, m->call_arg);
	pthread_mutex_lock(&m->lock);
	m->call_fn = NULL;
	m->call_done = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

int vmm_call(struct vmm *m, void (*fn)(struct vmm *, void *), void *arg)
{
	uint64_t one = 1;
	bool done;

	pthread_mutex_lock(&m->call_lock);
	pthread_mutex_lock(&m->lock);
	if (m->exiting) {
		pthread_mutex_unlock(&m->lock);
		pthread_mutex_unlock(&m->call_lock);
		return -1;
	}
	m->call_fn = fn;
	m->call_arg = arg;
	m->call_done = false;
	pthread_mutex_unlock(&m->lock);
	if (write(m->call_fd, &one, sizeof(one)) < 0)
		log_err("call eventfd: %s", strerror(errno));
	pthread_mutex_lock(&m->lock);
	while (!m->call_done && !m->exiting)
		pthread_cond_wait(&m->cond, &m->lock);
	done = m->call_done;
	m->call_fn = NULL;
	pthread_mutex_unlock(&m->lock);
	pthread_mutex_unlock(&m->call_lock);
	return done ? 0 : -1;
}

/*
 * The event loop thread: runs until the VM is asked to stop, then wakes
 * the main thread (waiting for a start, or running vCPU 0).
 */
static void *loop_thread(void *arg)
{
	struct vmm *m = arg;

	pthread_setname_np(pthread_self(), "wisp-evloop");
	prctl(PR_SET_TIMERSLACK, 1UL);
	/*
	 * While the API thread builds its filter and a client sends the
	 * configuration: the empty VM and KVM's CPUID list (~0.3 ms of a
	 * start or a snapshot load). vmm_call()s wait for this.
	 */
	if (vm_prepare(&m->vm) == 0)
		x86_cpuid_fetch(&m->vm, LOG_DEBUG);
	while (!m->stop) {
		if (evloop_run_once(&m->loop, -1) < 0) {
			log_err("epoll_wait: %s", strerror(errno));
			vm_request_exit(&m->vm, WISP_EXIT_ERROR);
			break;
		}
	}
	/*
	 * No device I/O may outlive the process: a tap read still posted on
	 * the ring would keep the tap busy for the next VM (vdev_net.c).
	 */
	vdev_quiesce(m, true);
	/* The same holds for the ring's table of registered files. */
	uring_files_release(&m->uring);
	/* What the guest printed last (a reboot message) reaches its reader. */
	serial_flush_exit(&m->serial);
	metrics_flush(m); /* the last line, on this thread's filter */
	pthread_mutex_lock(&m->lock);
	m->exiting = true;
	pthread_cond_broadcast(&m->cond);
	if (m->vcpu0_go && m->vm.vcpus[0].thread_started)
		vcpu_kick(&m->vm.vcpus[0], m->vm.vcpus[0].thread);
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int vmm_loop_start(struct vmm *m)
{
	sigset_t sigs;
	int err;

	if (vm_init(&m->vm) < 0)
		return -1;
	/* Every thread created from here on inherits the blocked set. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	m->signal_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	m->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->signal_fd < 0 || m->call_fd < 0 || evloop_init(&m->loop) < 0) {
		log_err("event loop: %s", strerror(errno));
		return -1;
	}
	m->h_exit = (struct ev_handler){ m->vm.exit_fd, on_exit_request, m };
	m->h_signal = (struct ev_handler){ m->signal_fd, on_signal, m };
	m->h_call = (struct ev_handler){ m->call_fd, on_call, m };
	if (evloop_add(&m->loop, &m->h_exit, EPOLLIN) < 0 ||
	    evloop_add(&m->loop, &m->h_signal, EPOLLIN) < 0 ||
	    evloop_add(&m->loop, &m->h_call, EPOLLIN) < 0) {
		log_err("event loop: %s", strerror(errno));
		return -1;
	}
	err = pthread_create(&m->loop_thread, NULL, loop_thread, m);
	if (err) {
		log_err("event loop thread: %s", strerror(err));
		return -1;
	}
	m->loop_started = true;
	return 0;
}

int vmm_main(struct vmm *m)
{
	struct vm *vm = &m->vm;
	struct seccomp_prog filter = { 0 };
	bool go;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	while (!m->vcpu0_prep && !m->exiting)
		pthread_cond_wait(&m->cond, &m->lock);
	if (m->vcpu0_prep) {
		pthread_mutex_unlock(&m->lock);
		/* A vCPU's filter without a vCPU, with the way out of
		 * the process. */
		rc = seccomp_compile(SECCOMP_VCPU,
		                     &(struct seccomp_fds){ .vm_fd = vm->vm_fd,
		                                            .vcpu_fd = -1,
		                                            .exit_path = true },
		                     &filter);
		pthread_mutex_lock(&m->lock);
	}
	while (!m->vcpu0_go && !m->exiting)
		pthread_cond_wait(&m->cond, &m->lock);
	go = m->vcpu0_go;
	pthread_mutex_unlock(&m->lock);
	if (go) {
		if (rc < 0 || seccomp_apply(&filter) < 0) {
			log_err("cannot install the main thread's seccomp "
			        "filter");
			_exit(WISP_EXIT_ERROR);
		}
		/*
		 * vCPU 0 runs on a thread of its own, as every vCPU (Kata
		 * finds vCPU threads by name among the process's threads
		 * other than the main one): the VM ends when it returns.
		 */
		if (vm->vcpus[0].thread_started) {
			pthread_join(vm->vcpus[0].thread, NULL);
			vm->vcpus[0].thread_started = false;
		}
		vcpu_stop_all(vm);
	} else {
		seccomp_prog_free(&filter);
	}
	/* The guest has ended: the loop stops (if it has not already). */
	vm_request_exit(vm, WISP_EXIT_OK);
	if (m->loop_started)
		pthread_join(m->loop_thread, NULL);
	m->loop_started = false;
	console_tty_restore(m);
	return atomic_load(&vm->exit_code);
}
