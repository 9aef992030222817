/*
 * One KVM virtual machine: guest RAM, the buses, the vCPUs and the
 * bookkeeping that stops them all when the guest or the host asks.
 */
#ifndef WISP_VM_H
#define WISP_VM_H

#include "bus.h"

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct config;

/*
 * Guest physical memory: RAM from 0 up to the 32-bit MMIO hole, then the
 * rest from 4 GiB. Both slots are backed by one host mapping.
 */
#define VM_MMIO_HOLE_START 0xc0000000ULL
#define VM_MMIO_HOLE_END   0x100000000ULL
/* PROT_NONE guard on each side of guest RAM in the host mapping. */
#define VM_GUARD_SIZE (2ULL << 20)

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	uint64_t first_exit_us; /* when this vCPU first left the guest */
	bool entered;           /* it has called KVM_RUN */
};

struct vm {
	int kvm_fd;
	int vm_fd;
	size_t run_size; /* bytes of the kvm_run mapping */
	uint8_t *mem;    /* host view of all guest RAM */
	uint64_t mem_size;
	/* The reservation around it: guard pages on both sides of mem. */
	uint8_t *mem_map;
	uint64_t mem_map_size;
	uint64_t low_size;      /* RAM below VM_MMIO_HOLE_START */
	bool dirty_log;         /* the slots log written pages */
	uint64_t restore_t0_us; /* when the snapshot load began, or 0 */
	/*
	 * KVM logs what vCPUs write; the VMM's own writes into guest RAM
	 * (device data, used rings) are logged here, a bit per 4 KiB page.
	 */
	_Atomic uint64_t *dirty_vmm;
	struct bus pio;
	struct bus mmio;
	unsigned nvcpus;
	unsigned threads_per_core; /* 2 with SMT (machine-config smt) */
	struct vcpu *vcpus;
	bool pvm;                     /* the host's /dev/kvm is kvm-pvm */
	struct kvm_cpuid2 *cpuid;     /* filtered; per-vCPU fields patched in */
	struct kvm_cpuid2 *cpuid_kvm; /* KVM_GET_SUPPORTED_CPUID, as it came */

	int exit_fd; /* eventfd: a vCPU asks the VMM to stop */
	atomic_bool stopping;
	atomic_int exit_code;
	atomic_bool exit_set;
	uint64_t instance_start_us;

	/*
	 * Pause: vCPUs that see @pause_req park on @park_cond; @nparked of
	 * the @nlive vCPUs in their run loop are parked.
	 */
	pthread_mutex_t park_lock;
	pthread_cond_t park_cond;
	atomic_bool pause_req;
	unsigned nparked, nlive;
	bool go; /* vCPU threads may enter the guest (vcpu_release) */
};

/*
 * Zero @vm and create what outlives a VM: the exit eventfd (an exit may be
 * requested before a VM exists) and the park lock. vm_fini() undoes it.
 */
int vm_init(struct vm *vm);
void vm_fini(struct vm *vm);

/*
 * Open /dev/kvm and create the VM with an in-kernel irqchip and PIT and
 * @mem_mib of RAM (in 2 MiB huge pages when @huge). On failure logs why
 * and returns -1; vm_destroy() is safe either way and leaves @vm ready
 * for another vm_create() (the buses emptied, the exit eventfd kept).
 */
/* How guest RAM is backed. */
struct vm_mem {
	bool huge;      /* 2 MiB hugetlb pages */
	bool thp;       /* transparent huge pages (MADV_HUGEPAGE) */
	bool dirty_log; /* KVM logs written pages (diff snapshots) */
	int file_fd;    /* >= 0: a snapshot's memory file, mapped MAP_PRIVATE
	                 * (pages load on demand, writes stay ours) */
	bool uffd;      /* anonymous, filled by a userfaultfd handler */
};

int vm_create(struct vm *vm, uint64_t mem_mib, unsigned nvcpus,
              const struct vm_mem *mem);

/*
 * The part of vm_create() that needs no configuration, done ahead while
 * the API waits for one: /dev/kvm opened, an empty VM created (no memory
 * slot yet: slots set before the irqchip cost no SRCU grace period).
 * Quiet on failure (the later vm_create() tries again and says why).
 */
int vm_prepare(struct vm *vm);

/*
 * The pages written since the last call (or since the VM was made), one
 * bit per 4 KiB page of the host mapping (slot 1 follows slot 0), into
 * @bitmap of (mem_size / 4096 + 63) / 64 words; clears the log. 0 or -1.
 */
int vm_dirty_log(struct vm *vm, uint64_t *bitmap);

/*
 * The VMM wrote [@p, @p + @len) of guest RAM (a host pointer vm_gpa()
 * gave). Logged only while dirty logging is on; thread-safe. The iovec
 * form marks the first @len bytes of @iov[0..@n).
 */
void vm_mark_dirty(const struct vm *vm, const void *p, size_t len);
void vm_mark_dirty_iov(const struct vm *vm, const struct iovec *iov, unsigned n,
                       size_t len);
void vm_destroy(struct vm *vm);

/*
 * The one gate from guest physical addresses to host memory: a pointer to
 * [@gpa, @gpa + @len) when all of it is guest RAM in one slot, else NULL.
 * Overflow-safe for any @gpa and @len a guest can produce.
 */
void *vm_gpa(const struct vm *vm, uint64_t gpa, uint64_t len);

/* Ask the VMM to stop with @code; the first request wins. Thread-safe. */
void vm_request_exit(struct vm *vm, int code);

/* Raise a pulse on an ISA interrupt line (edge-triggered). */
void vm_irq_pulse(struct vm *vm, unsigned irq);

/* True when this host's /dev/kvm is kvm-pvm. */
bool vm_host_is_pvm(void);

/* vcpu.c */
int vcpu_create(struct vm *vm, unsigned id);
/* Run @vcpu on the calling thread until the VM stops. */
void vcpu_run(struct vcpu *vcpu);

/*
 * A vCPU thread's name, as Firecracker names them ("fc_vcpu 0" ...):
 * Kata finds a VM's vCPU threads by it, among the process's threads but
 * the main one (to pin them and move them into cgroups).
 */
#define VCPU_THREAD_NAME "fc_vcpu %u"
/*
 * Run @vcpu on a new thread. It waits for vcpu_release() (the event
 * loop's filter goes on first), installs its own seccomp filter, runs.
 */
int vcpu_start(struct vcpu *vcpu);
void vcpu_release(struct vm *vm);
/* Make @vcpu, running on @thread, leave KVM_RUN now. */
void vcpu_kick(struct vcpu *vcpu, pthread_t thread);
/* Stop the vCPUs started with vcpu_start() and join their threads. */
void vcpu_stop_all(struct vm *vm);
/*
 * Park every vCPU out of KVM_RUN and return once all are parked (or the
 * VM is stopping); vcpu_resume_all() lets them run on. @thread0 is the
 * thread of vCPU 0, which has no thread of its own.
 */
void vcpu_pause_all(struct vm *vm);
void vcpu_resume_all(struct vm *vm);
/* Install the (empty) kick signal handler; once per process. */
void vcpu_signals_init(void);

#endif
