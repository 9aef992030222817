/*
 * The VMM: one microVM's lifecycle. A VM is configured (from the INI file,
 * flags, a Firecracker JSON file or the API), started once, paused and
 * resumed any number of times, and ends when the guest resets or powers
 * off or the host stops it; then the process exits.
 *
 * The files: vmm.c the lifecycle, vmm_loop.c the threads, vdev.c the
 * virtio devices, console.c the serial console.
 *
 * Threads: vCPU 0 runs on the main thread (a new thread would first have
 * to be scheduled, milliseconds on an idle cloud CPU), the event loop on
 * "wisp-evloop" (devices, signals, API requests), the API server on
 * "wisp-api", further vCPUs on their own threads. Everything that changes
 * the configuration or the VM's state runs on the event loop thread, so
 * none of it needs a lock; other threads read the state through
 * vmm_state().
 */
#ifndef WISP_VMM_H
#define WISP_VMM_H

#include "config.h"
#include "devices.h"
#include "evloop.h"
#include "uring.h"
#include "vdev.h"
#include "vm.h"
#include "x86/x86.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <termios.h>

#define WISP_VERSION "1.0.0"

enum vmm_state {
	VMM_NOT_STARTED,
	VMM_RUNNING,
	VMM_PAUSED,
};

struct vmm {
	struct config cfg;
	char id[65]; /* --id; Firecracker's default "anonymous-instance" */
	_Atomic enum vmm_state state;

	struct vm vm;
	struct mmds *mmds; /* the metadata store (mmds.h) */
	struct serial serial;
	struct i8042 i8042;
	struct boot_timer boot_timer;
	struct uring uring; /* the devices' I/O */
	struct ev_handler h_uring;
	/* Every virtio device of the VM, in slot order, and its queues. */
	struct vdev vdev[VMM_MAX_VIRTIO];
	unsigned nvdev;
	struct vq_watch vq_watch[VMM_MAX_VIRTIO][VIRTIO_MMIO_MAX_QUEUE];

	struct evloop loop;
	struct ev_handler h_exit, h_signal, h_call;
	pthread_t loop_thread;
	bool loop_started;
	volatile bool stop; /* set and read on the event loop thread */
	int signal_fd;

	/*
	 * The main thread waits here until InstanceStart or an exit: it
	 * builds its filter once the machine is built (vcpu0_prep), and at
	 * vcpu0_go (the vCPU threads are let go) waits for vCPU 0's thread
	 * to end, which ends the VM.
	 */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool vcpu0_prep, vcpu0_go;
	bool exiting;

	/* vmm_call(): one function at a time run on the loop for a caller. */
	pthread_mutex_t call_lock; /* serialises callers */
	int call_fd;               /* eventfd */
	void (*call_fn)(struct vmm *m, void *arg);
	void *call_arg;
	bool call_done;

	/* The console (console.c): the UART's output, host input. */
	int serial_fd;
	struct ev_handler h_stdin, h_rx_space;
	bool stdin_watched, stdin_eof;
	struct termios saved_tio;
	bool tio_saved;

	int uffd_fd; /* a snapshot restored through a page-fault handler */

	uint8_t *kernel_buf;
	size_t kernel_len;
	struct kernel_image img;
	char cmdline[X86_CMDLINE_MAX];
	uint64_t initrd_gpa, initrd_size;
};

/* Defaults everywhere; nothing opened yet. @m must be zeroed already. */
void vmm_init(struct vmm *m);

/*
 * Create the event loop and its thread: signals, exit requests and
 * vmm_call()s are served from here on. Blocks SIGINT, SIGTERM and SIGHUP
 * in the calling thread first (the loop takes them through a signalfd),
 * so call it before creating any other thread. Returns 0 or -1 (logged).
 */
int vmm_loop_start(struct vmm *m);

/*
 * Check the configuration, read and check the kernel, build the VM and its
 * devices and start its vCPUs (vCPU 0 through the main thread waiting in
 * vmm_main()). Must run on the event loop thread, or before
 * vmm_loop_start(). On error: -1, @err says why, the VM is torn down and
 * the state is still VMM_NOT_STARTED (a fixed configuration may be
 * started again). @usage is set when the fault is the configuration's.
 */
int vmm_start(struct vmm *m, char *err, size_t errlen, bool *usage);

/*
 * The pieces vmm_start() and a snapshot restore share (vmm/snapshot.c).
 * Event loop thread. vmm_build_machine: the VM, its vCPUs and every
 * configured device, guest RAM backed as @mem says (no kernel loaded),
 * the CPUID from @cpu's template (NULL: none; a restore's comes from the
 * snapshot).
 * vmm_teardown undoes it, also half done. vmm_attach_devices: serve the
 * devices from the event loop. vmm_go: start the vCPUs (@paused: each
 * parks before its first instruction) under their filters, this thread
 * under its own.
 */
int vmm_build_machine(struct vmm *m, const struct vm_mem *mem,
                      const struct cpu_template *cpu, char *err, size_t errlen);
void vmm_teardown(struct vmm *m);
int vmm_attach_devices(struct vmm *m);
void vmm_go(struct vmm *m, bool paused);

/*
 * Stop every vCPU at a safe point (out of KVM_RUN, waiting) and return
 * once all have stopped; resume lets them run on. Event loop thread only.
 */
int vmm_pause(struct vmm *m);
int vmm_resume(struct vmm *m);

/* Send Ctrl-Alt-Del to the guest through the i8042 keyboard. */
int vmm_ctrl_alt_del(struct vmm *m);

static inline enum vmm_state vmm_state(struct vmm *m)
{
	return atomic_load(&m->state);
}

const char *vmm_state_name(enum vmm_state s);

/*
 * The main thread: wait for the VM to start (or the process to be asked
 * to stop), run vCPU 0 until the VM ends, then tear everything down.
 * Returns the process exit status.
 */
int vmm_main(struct vmm *m);

/* Tear down what is left after vmm_main() (or a failed setup). */
void vmm_fini(struct vmm *m);

/*
 * Run @fn(@m, @arg) on the event loop thread and wait for it to return;
 * from any other thread (the API server's). Returns -1 without running it
 * when the VMM is shutting down.
 */
int vmm_call(struct vmm *m, void (*fn)(struct vmm *m, void *arg), void *arg);

#endif
