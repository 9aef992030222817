/*
 * vCPU threads: each runs KVM_RUN in a loop and dispatches PIO and MMIO
 * exits to the buses. Stopping is a flag plus a signal: the signal makes
 * KVM_RUN return EINTR, and kvm_run->immediate_exit covers the window
 * where the signal lands just before KVM_RUN is entered.
 */
#include "vm.h"
#include "log.h"
#include "metrics.h"
#include "seccomp_policy.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define VCPU_KICK_SIGNAL SIGUSR1

static void kick_handler(int sig)
{
	(void)sig; /* only there to interrupt KVM_RUN */
}

void vcpu_signals_init(void)
{
	struct sigaction sa = { .sa_handler = kick_handler };

	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: KVM_RUN must return EINTR. */
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
}

int vcpu_create(struct vm *vm, unsigned id)
{
	struct vcpu *v = &vm->vcpus[id];

	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (v->fd < 0) {
		log_err("KVM_CREATE_VCPU %u: %s", id, strerror(errno));
		return -1;
	}
	v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	              v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		log_err("vcpu %u: mmap kvm_run: %s", id, strerror(errno));
		return -1;
	}
	return 0;
}

static void dump_regs(struct vcpu *v)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return;
	log_err("vcpu %u: rip=0x%llx rsp=0x%llx rflags=0x%llx cs=0x%x "
	        "cr0=0x%llx cr3=0x%llx cr4=0x%llx efer=0x%llx",
	        v->id, r.rip, r.rsp, r.rflags, s.cs.selector, s.cr0, s.cr3,
	        s.cr4, s.efer);
}

/*
 * One line for a KVM internal error: the reason, the guest RIP and, for an
 * emulation failure, the instruction bytes KVM could not emulate (on
 * kvm-pvm, those its emulator lacks); the raw data words otherwise.
 */
static void report_internal_error(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct kvm_regs r = { 0 };
	char extra[3 * 16 + 32] = "";
	size_t off = 0;
	uint32_t nd = MIN(run->internal.ndata, 16u);
	bool emul = run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION;

	ioctl(v->fd, KVM_GET_REGS, &r);
	if (emul && nd >= 1 &&
	    (run->emulation_failure.flags &
	     KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		unsigned n = MIN(run->emulation_failure.insn_size, 15u);

		off = (size_t)snprintf(extra, sizeof(extra),
		                       ", instruction bytes");
		for (unsigned i = 0; i < n; i++)
			off += (size_t)snprintf(
			        extra + off, sizeof(extra) - off, " %02x",
			        run->emulation_failure.insn_bytes[i]);
	} else {
		for (uint32_t i = 0; i < nd && off < sizeof(extra) - 20; i++)
			off += (size_t)snprintf(
			        extra + off, sizeof(extra) - off, "%s%llx",
			        i ? " " : ", data ",
			        (unsigned long long)run->internal.data[i]);
	}
	log_err("vcpu %u: KVM internal error, suberror %u%s at rip=0x%llx%s",
	        v->id, run->internal.suberror,
	        emul ? " (emulation failure)" : "", r.rip, extra);
	dump_regs(v);
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool wr = run->io.direction == KVM_EXIT_IO_OUT;

	/* KVM fills data_offset and count; they lie inside the run page. */
	for (uint32_t i = 0; i < run->io.count; i++) {
		bus_access(&v->vm->pio, run->io.port, data, run->io.size, wr);
		data += run->io.size;
	}
}

/* Returns false when the VM must stop. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct vm *vm = v->vm;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		if (run->io.direction == KVM_EXIT_IO_OUT)
			METRIC_INC(vcpu, exit_io_out);
		else
			METRIC_INC(vcpu, exit_io_in);
		handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		if (run->mmio.is_write)
			METRIC_INC(vcpu, exit_mmio_write);
		else
			METRIC_INC(vcpu, exit_mmio_read);
		bus_access(&vm->mmio, run->mmio.phys_addr, run->mmio.data,
		           MIN(run->mmio.len, 8u), run->mmio.is_write);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_SHUTDOWN:
		log_err("vcpu %u: guest triple fault (shutdown)", v->id);
		dump_regs(v);
		vm_request_exit(vm, WISP_EXIT_GUEST_CRASH);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
		case KVM_SYSTEM_EVENT_RESET:
			log_info("vcpu %u: guest %s", v->id,
			         run->system_event.type ==
			                         KVM_SYSTEM_EVENT_RESET
			                 ? "reset"
			                 : "shutdown");
			vm_request_exit(vm, WISP_EXIT_OK);
			return false;
		default:
			log_err("vcpu %u: guest crash (system event %u)", v->id,
			        run->system_event.type);
			vm_request_exit(vm, WISP_EXIT_GUEST_CRASH);
			return false;
		}
	case KVM_EXIT_INTERNAL_ERROR:
		report_internal_error(v);
		vm_request_exit(vm, WISP_EXIT_KVM_ERROR);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		log_err("vcpu %u: KVM entry failed, hardware reason 0x%llx",
		        v->id,
		        (unsigned long long)
		                run->fail_entry.hardware_entry_failure_reason);
		dump_regs(v);
		vm_request_exit(vm, WISP_EXIT_KVM_ERROR);
		return false;
	default:
		log_err("vcpu %u: unexpected KVM exit reason %u", v->id,
		        run->exit_reason);
		dump_regs(v);
		vm_request_exit(vm, WISP_EXIT_KVM_ERROR);
		return false;
	}
}

static bool must_stop(struct vm *vm)
{
	return atomic_load(&vm->stopping) || atomic_load(&vm->exit_set);
}

/* Wait out a pause; the pauser counts us through @nparked. */
static void park(struct vm *vm)
{
	pthread_mutex_lock(&vm->park_lock);
	vm->nparked++;
	pthread_cond_broadcast(&vm->park_cond);
	while (atomic_load(&vm->pause_req) && !must_stop(vm))
		pthread_cond_wait(&vm->park_cond, &vm->park_lock);
	vm->nparked--;
	pthread_mutex_unlock(&vm->park_lock);
}

void vcpu_run(struct vcpu *v)
{
	struct vm *vm = v->vm;

	pthread_mutex_lock(&vm->park_lock);
	vm->nlive++;
	pthread_mutex_unlock(&vm->park_lock);
	/* Once an exit is requested the guest must not run on. */
	while (!must_stop(vm)) {
		if (atomic_load(&vm->pause_req)) {
			park(vm);
			continue;
		}
		if (!v->entered) {
			v->entered = true;
			if (vm->restore_t0_us)
				log_info(
				        "vcpu %u: runs the restored guest %llu "
				        "us after the snapshot load began",
				        v->id,
				        (unsigned long long)(util_now_us() -
				                             vm->restore_t0_us));
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				continue;
			}
			log_err("vcpu %u: KVM_RUN: %s", v->id, strerror(errno));
			METRIC_INC(vcpu, failures);
			vm_request_exit(vm, WISP_EXIT_KVM_ERROR);
			break;
		}
		if (!v->first_exit_us) {
			v->first_exit_us = util_now_us();
			log_debug("vcpu %u: first exit after %llu us", v->id,
			          (unsigned long long)(v->first_exit_us -
			                               log_start_us()));
		}
		if (!handle_exit(v))
			break;
	}
	pthread_mutex_lock(&vm->park_lock);
	vm->nlive--;
	pthread_cond_broadcast(&vm->park_cond);
	pthread_mutex_unlock(&vm->park_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char name[16];

	struct seccomp_prog filter;
	int rc;

	snprintf(name, sizeof(name), VCPU_THREAD_NAME, v->id);
	pthread_setname_np(pthread_self(), name);
	/* Built while the event loop builds its own; in place at the go. */
	rc = seccomp_compile(SECCOMP_VCPU,
	                     &(struct seccomp_fds){ .vm_fd = v->vm->vm_fd,
	                                            .vcpu_fd = v->fd },
	                     &filter);
	pthread_mutex_lock(&v->vm->park_lock);
	while (!v->vm->go && !must_stop(v->vm))
		pthread_cond_wait(&v->vm->park_cond, &v->vm->park_lock);
	pthread_mutex_unlock(&v->vm->park_lock);
	if (rc < 0 || seccomp_apply(&filter) < 0) {
		log_err("vcpu %u: cannot install its seccomp filter", v->id);
		_exit(WISP_EXIT_ERROR);
	}
	vcpu_run(v);
	return NULL;
}

void vcpu_release(struct vm *vm)
{
	pthread_mutex_lock(&vm->park_lock);
	vm->go = true;
	pthread_cond_broadcast(&vm->park_cond);
	pthread_mutex_unlock(&vm->park_lock);
}

int vcpu_start(struct vcpu *v)
{
	sigset_t all, old;
	int err;

	/*
	 * The thread starts with every signal blocked but the kick: process
	 * signals (SIGTERM, SIGINT) belong to the event loop's signalfd.
	 */
	sigfillset(&all);
	sigdelset(&all, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&v->thread, NULL, vcpu_thread, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		log_err("vcpu %u: pthread_create: %s", v->id, strerror(err));
		return -1;
	}
	v->thread_started = true;
	return 0;
}

void vcpu_kick(struct vcpu *v, pthread_t thread)
{
	v->run->immediate_exit = 1;
	pthread_kill(thread, VCPU_KICK_SIGNAL);
}

void vcpu_stop_all(struct vm *vm)
{
	atomic_store(&vm->stopping, true);
	/* Threads still waiting for vcpu_release() see it too. */
	pthread_mutex_lock(&vm->park_lock);
	pthread_cond_broadcast(&vm->park_cond);
	pthread_mutex_unlock(&vm->park_lock);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].thread_started)
			vcpu_kick(&vm->vcpus[i], vm->vcpus[i].thread);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->thread_started)
			continue;
		pthread_join(v->thread, NULL);
		v->thread_started = false;
	}
}

void vcpu_pause_all(struct vm *vm)
{
	atomic_store(&vm->pause_req, true);
	/* immediate_exit covers a vCPU about to enter KVM_RUN. */
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].thread_started)
			vcpu_kick(&vm->vcpus[i], vm->vcpus[i].thread);
	pthread_mutex_lock(&vm->park_lock);
	while (vm->nparked < vm->nlive && !must_stop(vm))
		pthread_cond_wait(&vm->park_cond, &vm->park_lock);
	pthread_mutex_unlock(&vm->park_lock);
}

void vcpu_resume_all(struct vm *vm)
{
	pthread_mutex_lock(&vm->park_lock);
	atomic_store(&vm->pause_req, false);
	pthread_cond_broadcast(&vm->park_cond);
	pthread_mutex_unlock(&vm->park_lock);
}
