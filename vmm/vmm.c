/*
 * The VM's lifecycle: start (check the configuration, load the kernel,
 * build the VM and its devices, run the vCPUs), pause, resume and the end.
 * See vmm.h for which thread does what.
 */
#include "vmm.h"
#include "log.h"
#include "metrics.h"
#include "seccomp_policy.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define KERNEL_MAX_BYTES (512 * MIB)

/*
 * Virtio devices sit in MMIO slots after the boot timer (slot 0), in the
 * order drives, network interfaces, vsock; device n (from 0) at slot n + 1
 * on IRQ 5 + n. The order is fixed by the configuration alone, so the
 * command line can announce the devices before they exist.
 */
#define VDEV_BASE(n)   (BOOT_TIMER_ADDR + VIRTIO_MMIO_SLOT * ((n) + 1))
#define VDEV_IRQ(n)    (VMM_FIRST_VIRTIO_IRQ + (n))
#define DRIVE_SLOT(i)  (i)
#define NET_SLOT(m, i) ((m)->cfg.ndrives + (i))
#define VSOCK_SLOT(m)  ((m)->cfg.ndrives + (m)->cfg.nnets)

static unsigned vdev_count(const struct config *c)
{
	return c->ndrives + c->nnets + (c->vsock.present ? 1 : 0);
}

const char *vmm_state_name(enum vmm_state s)
{
	switch (s) {
	case VMM_RUNNING:
		return "Running";
	case VMM_PAUSED:
		return "Paused";
	default:
		return "Not started";
	}
}

void vmm_init(struct vmm *m)
{
	/*
	 * No memset: @m is zeroed static storage of 8 MiB (mostly virtio
	 * request slots); clearing it again would fault in every page, 8 MiB
	 * of RSS and milliseconds before the guest starts.
	 */
	config_init(&m->cfg);
	snprintf(m->id, sizeof(m->id), "anonymous-instance");
	m->uring.efd = -1;
	for (unsigned i = 0; i < CONFIG_MAX_DRIVES; i++)
		m->blk[i].fd = m->blk[i].timer.fd = -1;
	for (unsigned i = 0; i < CONFIG_MAX_NETS; i++)
		m->net[i].tap_fd = m->net[i].rx_timer.fd =
		        m->net[i].tx_timer.fd = -1;
	m->serial.rx_space_fd = -1;
	m->serial_fd = m->signal_fd = m->call_fd = m->uffd_fd = -1;
	m->loop.epfd = -1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	pthread_mutex_init(&m->call_lock, NULL);
	m->main_thread = pthread_self();
}

/*
 * Put the root drive first (it becomes /dev/vda) and write the command
 * line words that announce the drives, and root= unless the user gave one.
 */
static int drives_cmdline(struct vmm *m, char *out, size_t len, char *err,
                          size_t errlen)
{
	struct config *c = &m->cfg;
	const char *user = c->cmdline ? c->cmdline : CONFIG_DEFAULT_CMDLINE;
	size_t off = 0;

	out[0] = '\0';
	for (unsigned i = 1; i < c->ndrives; i++) {
		if (c->drives[i].root) {
			struct drive_config t = c->drives[0];

			c->drives[0] = c->drives[i];
			c->drives[i] = t;
		}
	}
	for (unsigned i = 0; i < c->ndrives; i++) {
		const struct drive_config *d = &c->drives[i];

		if (!d->read_only && access(d->path, W_OK) < 0) {
			snprintf(err, errlen,
			         "drive '%s': path '%s': %s (make it "
			         "read-only?)",
			         d->id, d->path, strerror(errno));
			return -1;
		}
	}
	for (unsigned n = 0; n < vdev_count(c); n++)
		off += (size_t)snprintf(
		        out + off, len - off,
		        "%svirtio_mmio.device=4K@0x%llx:%u", off ? " " : "",
		        (unsigned long long)VDEV_BASE(n), VDEV_IRQ(n));
	if (c->ndrives && c->drives[0].root && !strstr(user, "root=")) {
		const struct drive_config *d = &c->drives[0];

		if (d->partuuid[0])
			snprintf(out + off, len - off, " root=PARTUUID=%s %s",
			         d->partuuid, d->read_only ? "ro" : "rw");
		else
			snprintf(out + off, len - off, " root=/dev/vda %s",
			         d->read_only ? "ro" : "rw");
	}
	return 0;
}

/*
 * Everything that can be checked before touching KVM: the configuration,
 * the kernel image, the initrd's size and the command line.
 */
static int prepare_boot(struct vmm *m, char *err, size_t errlen)
{
	const struct config *c = &m->cfg;
	char extra[X86_CMDLINE_MAX], why[512];
	uint64_t mem = c->mem_mib * MIB;
	uint64_t low = MIN(mem, VM_MMIO_HOLE_START), kernel_end = 0;
	struct stat st;
	int ret;

	if (config_validate(c, err, errlen) < 0)
		return -1;
	free(m->kernel_buf);
	m->kernel_buf = NULL;
	ret = util_read_file(c->kernel, KERNEL_MAX_BYTES, &m->kernel_buf,
	                     &m->kernel_len);
	if (ret < 0) {
		snprintf(err, errlen, "kernel '%s': %s", c->kernel,
		         ret == -EFBIG ? "larger than 512 MiB"
		                       : strerror(-ret));
		return -1;
	}
	if (kernel_parse(m->kernel_buf, m->kernel_len, low, &m->img, why,
	                 sizeof(why)) < 0) {
		snprintf(err, errlen, "kernel '%s': %s", c->kernel, why);
		return -1;
	}
	for (unsigned i = 0; i < m->img.nseg; i++)
		kernel_end = MAX(kernel_end,
		                 m->img.seg[i].gpa + m->img.seg[i].memsz);

	m->initrd_size = 0;
	if (c->initrd[0]) {
		uint64_t max = m->img.initrd_addr_max ? m->img.initrd_addr_max
		                                      : UINT32_MAX;

		if (stat(c->initrd, &st) < 0 || !S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "initrd '%s': %s", c->initrd,
			         errno ? strerror(errno) : "not a file");
			return -1;
		}
		m->initrd_size = (uint64_t)st.st_size;
		if (!m->initrd_size ||
		    x86_initrd_place(low, m->initrd_size,
		                     ALIGN_UP(kernel_end, 4096), max,
		                     &m->initrd_gpa) < 0) {
			snprintf(
			        err, errlen,
			        "initrd '%s' (%llu bytes) does not fit in "
			        "guest "
			        "RAM above the kernel: give the VM more memory",
			        c->initrd, (unsigned long long)m->initrd_size);
			return -1;
		}
	}

	if (drives_cmdline(m, extra, sizeof(extra), err, errlen) < 0)
		return -1;
	/*
	 * Our i8042 has a keyboard and nothing else: tell Linux's driver so
	 * and it probes with a few port accesses instead of timing out on a
	 * mouse, a multiplexer and keyboard commands (seconds on kvm-pvm).
	 */
	if (!strstr(c->cmdline ? c->cmdline : CONFIG_DEFAULT_CMDLINE, "i8042."))
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
		         "%s%s", extra[0] ? " " : "", I8042_CMDLINE);
	if (vm_host_is_pvm())
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
		         "%s%s", extra[0] ? " " : "", x86_pvm_cmdline());
	if (cmdline_build(m->cmdline,
	                  c->cmdline ? c->cmdline : CONFIG_DEFAULT_CMDLINE,
	                  extra, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	return 0;
}

void vmm_guest_mac(const struct vmm *m, const struct net_config *c,
                   uint8_t mac[6])
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	if (c->has_mac) {
		memcpy(mac, c->mac, 6);
		return;
	}
	for (const char *p = m->id; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	h = (h ^ '/') * 0x100000001b3ULL;
	for (const char *p = c->id; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	/* Locally administered, unicast. */
	mac[0] = 0x06;
	for (int i = 1; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
}

static int load_initrd(struct vmm *m)
{
	uint8_t *dst = vm_gpa(&m->vm, m->initrd_gpa, m->initrd_size);
	uint64_t done = 0;
	int fd;

	if (!m->initrd_size)
		return 0;
	fd = open(m->cfg.initrd, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !dst) {
		log_err("initrd '%s': %s", m->cfg.initrd, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (done < m->initrd_size) {
		ssize_t n = read(fd, dst + done, m->initrd_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_err("initrd '%s': %s", m->cfg.initrd,
			        n ? strerror(errno) : "file shrank");
			close(fd);
			return -1;
		}
		done += (uint64_t)n;
	}
	close(fd);
	return 0;
}

static int open_serial_out(struct vmm *m)
{
	if (!m->cfg.serial_out[0]) {
		m->serial_fd = STDOUT_FILENO;
		return 0;
	}
	m->serial_fd = open(m->cfg.serial_out,
	                    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (m->serial_fd < 0) {
		log_err("serial output '%s': %s", m->cfg.serial_out,
		        strerror(errno));
		return -1;
	}
	return 0;
}

int vmm_build_machine(struct vmm *m, const struct vm_mem *mem, char *err,
                      size_t errlen)
{
	struct vm *vm = &m->vm;

	snprintf(err, errlen, "cannot create the VM (the log says why)");
	if (vm_create(vm, m->cfg.mem_mib, m->cfg.vcpus, mem) < 0)
		return -1;
	if (x86_cpuid_init(vm) < 0)
		return -1;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vcpu_create(vm, i) < 0)
			return -1;
	if (open_serial_out(m) < 0 ||
	    serial_init(&m->serial, vm, m->serial_fd) < 0 ||
	    i8042_init(&m->i8042, vm) < 0 ||
	    boot_timer_init(&m->boot_timer, vm) < 0) {
		log_err("cannot set up the legacy devices");
		return -1;
	}
	if ((m->cfg.ndrives || m->cfg.nnets) &&
	    uring_init(&m->uring, 2 * VQ_MAX_SIZE) < 0) {
		snprintf(err, errlen,
		         "io_uring: cannot set up (is io_uring disabled?)");
		return -1;
	}
	for (unsigned i = 0; i < m->cfg.ndrives; i++) {
		const struct drive_config *d = &m->cfg.drives[i];
		struct blk_options o = {
			.path = d->path,
			.read_only = d->read_only,
			.direct = d->direct,
			.no_flush = d->no_flush,
			.id = d->id,
			.rl = &d->rl,
			.loop = &m->loop,
		};

		if (blk_init(&m->blk[i], vm, &m->uring, &o,
		             VDEV_BASE(DRIVE_SLOT(i)), VDEV_IRQ(DRIVE_SLOT(i)),
		             err, errlen) < 0)
			return -1;
		m->vdev[m->nvdev++] = &m->blk[i].t;
	}
	for (unsigned i = 0; i < m->cfg.nnets; i++) {
		const struct net_config *c = &m->cfg.nets[i];
		struct net_options o = {
			.id = c->id,
			.tap = c->host_dev_name,
			.rx = &c->rx,
			.tx = &c->tx,
		};

		vmm_guest_mac(m, c, o.mac);
		if (net_init(&m->net[i], vm, &m->uring, &m->loop, &o,
		             VDEV_BASE(NET_SLOT(m, i)),
		             VDEV_IRQ(NET_SLOT(m, i)), err, errlen) < 0)
			return -1;
		m->vdev[m->nvdev++] = &m->net[i].t;
	}
	if (m->cfg.vsock.present) {
		if (vsock_init(&m->vsock, vm, &m->loop, m->cfg.vsock.guest_cid,
		               m->cfg.vsock.uds_path, VDEV_BASE(VSOCK_SLOT(m)),
		               VDEV_IRQ(VSOCK_SLOT(m)), err, errlen) < 0)
			return -1;
		m->vdev[m->nvdev++] = &m->vsock.t;
	}
	/* Every drive and tap is in the ring's table: lock it down. */
	if (m->uring.ready && uring_lock(&m->uring) < 0) {
		snprintf(err, errlen, "io_uring: cannot restrict the ring");
		return -1;
	}
	return 0;
}

static int build_vm(struct vmm *m, char *err, size_t errlen)
{
	struct vm *vm = &m->vm;
	struct boot_setup bs = {
		.img = &m->img,
		.kernel_buf = m->kernel_buf,
		.cmdline = m->cmdline,
		.initrd_gpa = m->initrd_gpa,
		.initrd_size = m->initrd_size,
	};

	if (vmm_build_machine(
	            m,
	            &(struct vm_mem){ .huge = m->cfg.huge_pages ==
	                                      HUGE_PAGES_2M,
	                              .dirty_log = m->cfg.track_dirty_pages,
	                              .file_fd = -1 },
	            err, errlen) < 0)
		return -1;
	if (kernel_load(vm, m->kernel_buf, &m->img) < 0 || load_initrd(m) < 0)
		return -1;
	if (x86_boot_setup(vm, &bs) < 0) {
		log_err("cannot write the boot structures into guest RAM");
		return -1;
	}
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (x86_vcpu_setup(&vm->vcpus[i], m->img.kind, m->img.entry) <
		    0)
			return -1;
	free(m->kernel_buf);
	m->kernel_buf = NULL;
	log_debug("kernel %s (%s entry 0x%llx), %u vCPUs, %llu MiB, cmdline "
	          "'%s'",
	          m->cfg.kernel,
	          m->img.kind == KERNEL_ELF_PVH   ? "PVH"
	          : m->img.kind == KERNEL_BZIMAGE ? "bzImage 64-bit"
	                                          : "ELF 64-bit",
	          (unsigned long long)m->img.entry, vm->nvcpus,
	          (unsigned long long)m->cfg.mem_mib, m->cmdline);
	return 0;
}

void vmm_teardown(struct vmm *m)
{
	for (unsigned n = 0; n < m->nvdev; n++) {
		for (unsigned q = 0; q < VIRTIO_MMIO_MAX_QUEUE; q++) {
			struct vq_watch *w = &m->vq_watch[n][q];

			if (w->h.cb)
				evloop_del(&m->loop, &w->h);
			w->h.cb = NULL;
		}
	}
	m->nvdev = 0;
	for (unsigned i = 0; i < m->cfg.ndrives; i++)
		blk_destroy(&m->blk[i]);
	for (unsigned i = 0; i < m->cfg.nnets; i++)
		net_destroy(&m->net[i]);
	vsock_destroy(&m->vsock);
	if (m->h_uring.cb)
		evloop_del(&m->loop, &m->h_uring);
	m->h_uring.cb = NULL;
	uring_destroy(&m->uring);
	m->uring.efd = -1;
	if (m->h_rx_space.cb)
		evloop_del(&m->loop, &m->h_rx_space);
	m->h_rx_space.cb = NULL;
	serial_destroy(&m->serial);
	m->serial.rx_space_fd = -1;
	if (m->serial_fd > STDERR_FILENO)
		close(m->serial_fd);
	m->serial_fd = -1;
	vm_destroy(&m->vm);
	free(m->kernel_buf);
	m->kernel_buf = NULL;
}

static void on_vq_notify(struct ev_handler *h, uint32_t events)
{
	struct vq_watch *w = (struct vq_watch *)h;
	struct vmm *m = h->opaque;
	uint64_t n;

	if (read(h->fd, &n, sizeof(n)) == sizeof(n))
		virtio_mmio_notify(w->t, w->q);
	/* Send what the queue drain asked for, run what completes at once. */
	uring_run(&m->uring);
}

static void on_uring(struct ev_handler *h, uint32_t events)
{
	uring_run(h->opaque);
}

static void watch_stdin(struct vmm *m, bool on)
{
	if (on == m->stdin_watched || m->stdin_eof)
		return;
	if (on ? evloop_add(&m->loop, &m->h_stdin, EPOLLIN) == 0
	       : evloop_del(&m->loop, &m->h_stdin) == 0)
		m->stdin_watched = on;
}

static void on_stdin(struct ev_handler *h, uint32_t events)
{
	struct vmm *m = h->opaque;
	uint8_t buf[SERIAL_RX_SIZE];
	unsigned room = serial_rx_room(&m->serial);
	ssize_t n;

	if (!room) {
		watch_stdin(m, false); /* resumed by on_rx_space */
		return;
	}
	n = read(h->fd, buf, room);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		watch_stdin(m, false);
		m->stdin_eof = true;
		return;
	}
	serial_rx_push(&m->serial, buf, (unsigned)n);
}

static void on_rx_space(struct ev_handler *h, uint32_t events)
{
	struct vmm *m = h->opaque;
	uint64_t n;

	if (read(h->fd, &n, sizeof(n)) == sizeof(n))
		watch_stdin(m, true);
}

/* Guest line editing and echo, not the host's; Ctrl-C still stops wisp. */
static void tty_setup(struct vmm *m)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &m->saved_tio))
		return;
	m->tio_saved = true;
	t = m->saved_tio;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	t.c_iflag &= ~(tcflag_t)(ICRNL);
	tcsetattr(STDIN_FILENO, TCSANOW, &t);
}

static void tty_restore(struct vmm *m)
{
	if (m->tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &m->saved_tio);
	m->tio_saved = false;
}

int vmm_attach_devices(struct vmm *m)
{
	m->h_rx_space =
	        (struct ev_handler){ m->serial.rx_space_fd, on_rx_space, m };
	if (evloop_add(&m->loop, &m->h_rx_space, EPOLLIN) < 0 ||
	    serial_attach(&m->serial, &m->loop) < 0)
		return -1;
	for (unsigned n = 0; n < m->nvdev; n++) {
		struct virtio_mmio *t = m->vdev[n];

		for (unsigned q = 0; q < t->ops->nqueues; q++) {
			struct vq_watch *w = &m->vq_watch[n][q];

			*w = (struct vq_watch){
				.h = { t->notify_fd[q], on_vq_notify, m },
				.t = t,
				.q = q,
			};
			if (evloop_add(&m->loop, &w->h, EPOLLIN) < 0)
				return -1;
		}
	}
	if (m->uring.ready) {
		m->h_uring = (struct ev_handler){ m->uring.efd, on_uring,
			                          &m->uring };
		if (evloop_add(&m->loop, &m->h_uring, EPOLLIN) < 0)
			return -1;
	}
	return 0;
}

int vmm_start(struct vmm *m, char *err, size_t errlen, bool *usage)
{
	struct vm *vm = &m->vm;

	*usage = true;
	if (vmm_state(m) != VMM_NOT_STARTED) {
		snprintf(err, errlen, "the microVM is already running");
		return -1;
	}
	vm->instance_start_us = util_now_us();
	if (prepare_boot(m, err, errlen) < 0)
		return -1;
	*usage = false;
	if (build_vm(m, err, errlen) < 0 || vmm_attach_devices(m) < 0) {
		vmm_teardown(m);
		return -1;
	}
	vmm_go(m, false);
	return 0;
}

void vmm_go(struct vmm *m, bool paused)
{
	struct vm *vm = &m->vm;
	int taps[CONFIG_MAX_NETS], vcpus[CONFIG_MAX_VCPUS];

	if (m->cfg.serial_in) {
		m->h_stdin = (struct ev_handler){ STDIN_FILENO, on_stdin, m };
		tty_setup(m);
		/* Regular files and /dev/null cannot be polled: no input. */
		watch_stdin(m, true);
	}
	/* A paused start: every vCPU parks before its first KVM_RUN. */
	if (paused)
		atomic_store(&vm->pause_req, true);
	atomic_store(&m->state, paused ? VMM_PAUSED : VMM_RUNNING);
	/* The vCPU threads wait at vcpu_release() for the filter below. */
	for (unsigned i = 1; i < vm->nvcpus; i++) {
		if (vcpu_start(&vm->vcpus[i]) < 0) {
			vm_request_exit(vm, WISP_EXIT_ERROR);
			break;
		}
	}
	/*
	 * Everything this thread opens for the VM is open: from here on it
	 * serves the devices and the API under its own filter, installed
	 * before any guest code runs.
	 */
	for (unsigned i = 0; i < m->cfg.nnets; i++)
		taps[i] = m->net[i].tap_fd;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpus[i] = vm->vcpus[i].fd;
	/* vCPU 0 builds its filter on the main thread meanwhile. */
	pthread_mutex_lock(&m->lock);
	m->vcpu0_prep = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	if (seccomp_install(SECCOMP_VMM,
	                    &(struct seccomp_fds){ .vm_fd = vm->vm_fd,
	                                           .vcpu_fd = -1,
	                                           .tap_fds = taps,
	                                           .ntap = m->cfg.nnets,
	                                           .kvm_fd = vm->kvm_fd,
	                                           .vcpu_fds = vcpus,
	                                           .nvcpu = vm->nvcpus }) < 0) {
		log_err("cannot install the event loop's seccomp filter");
		_exit(WISP_EXIT_ERROR);
	}
	vcpu_release(vm);
	pthread_mutex_lock(&m->lock);
	m->vcpu0_go = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

int vmm_pause(struct vmm *m)
{
	if (vmm_state(m) == VMM_RUNNING) {
		vcpu_pause_all(&m->vm, m->main_thread);
		atomic_store(&m->state, VMM_PAUSED);
		log_info("vCPUs paused");
	}
	return 0;
}

int vmm_resume(struct vmm *m)
{
	if (vmm_state(m) == VMM_PAUSED) {
		atomic_store(&m->state, VMM_RUNNING);
		vcpu_resume_all(&m->vm);
		log_info("vCPUs resumed");
	}
	return 0;
}

int vmm_ctrl_alt_del(struct vmm *m)
{
	return i8042_ctrl_alt_del(&m->i8042);
}

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
	 * Tap reads still posted on the ring would keep each tap attached
	 * after the process is gone, until the kernel's deferred ring
	 * teardown gets to them: a VM started on the same tap right after
	 * this one would find it busy. Cancel them now.
	 */
	for (unsigned i = 0; i < m->cfg.nnets; i++)
		if (m->net[i].tap_fd >= 0)
			net_quiesce(&m->net[i]);
	/* The same holds for the ring's table of registered files. */
	uring_files_release(&m->uring);
	/* What the guest printed last (a reboot message) reaches its reader. */
	serial_flush_exit(&m->serial);
	metrics_flush(m); /* the last line, on this thread's filter */
	pthread_mutex_lock(&m->lock);
	m->exiting = true;
	pthread_cond_broadcast(&m->cond);
	if (m->vcpu0_go)
		vcpu_kick(&m->vm.vcpus[0], m->main_thread);
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
		/* vCPU 0's filter, with the way out of the process. */
		rc = seccomp_compile(
		        SECCOMP_VCPU,
		        &(struct seccomp_fds){ .vm_fd = vm->vm_fd,
		                               .vcpu_fd = vm->vcpus[0].fd,
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
			log_err("cannot install vCPU 0's seccomp filter");
			_exit(WISP_EXIT_ERROR);
		}
		vcpu_run(&vm->vcpus[0]);
		vcpu_stop_all(vm);
	} else {
		seccomp_prog_free(&filter);
	}
	/* The guest has ended: the loop stops (if it has not already). */
	vm_request_exit(vm, WISP_EXIT_OK);
	if (m->loop_started)
		pthread_join(m->loop_thread, NULL);
	m->loop_started = false;
	tty_restore(m);
	return atomic_load(&vm->exit_code);
}

void vmm_fini(struct vmm *m)
{
	vmm_teardown(m);
	evloop_destroy(&m->loop);
	if (m->signal_fd >= 0)
		close(m->signal_fd);
	if (m->call_fd >= 0)
		close(m->call_fd);
	m->signal_fd = m->call_fd = -1;
	vm_fini(&m->vm);
	config_free(&m->cfg);
}
