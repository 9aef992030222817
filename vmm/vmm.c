/*
 * The VM's lifecycle: start (check the configuration, load the kernel,
 * build the VM and its devices, run the vCPUs), pause, resume and the end.
 * See vmm.h for which thread does what; the devices are vdev.c's, the
 * console console.c's, the threads vmm_loop.c's.
 */
#include "vmm.h"
#include "console.h"
#include "log.h"
#include "mmds.h"
#include "seccomp_policy.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KERNEL_MAX_BYTES (512 * MIB)

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
	 * No memset: @m is zeroed static storage. The devices' state (their
	 * request slots, megabytes) is calloc'd as each is built, its pages
	 * touched only as they are used.
	 */
	config_init(&m->cfg);
	snprintf(m->id, sizeof(m->id), "anonymous-instance");
	m->uring.efd = -1;
	m->serial.rx_space_fd = -1;
	m->serial_fd = m->signal_fd = m->call_fd = m->uffd_fd = -1;
	m->loop.epfd = -1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	pthread_mutex_init(&m->call_lock, NULL);
	/* Bound to m->id, which --id may still change: tokens read it. */
	m->mmds = mmds_new(m->id);
	if (!m->mmds) {
		log_err("cannot create the metadata store (no memory, or no "
		        "randomness for its token key): %s",
		        strerror(errno));
		exit(WISP_EXIT_ERROR);
	}
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

	if (vdev_cmdline(&m->cfg, extra, sizeof(extra), err, errlen) < 0)
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

int vmm_build_machine(struct vmm *m, const struct vm_mem *mem,
                      const struct cpu_template *cpu, char *err, size_t errlen)
{
	struct vm *vm = &m->vm;

	snprintf(err, errlen, "cannot create the VM (the log says why)");
	if (vm_create(vm, m->cfg.mem_mib, m->cfg.vcpus, mem) < 0)
		return -1;
	vm->threads_per_core = m->cfg.smt && vm->nvcpus > 1 ? 2 : 1;
	if (cpu && x86_template_caps(vm->kvm_fd, cpu, err, errlen) < 0)
		return -1;
	if (x86_cpuid_init(vm, cpu, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vcpu_create(vm, i) < 0)
			return -1;
	if (console_open(m) < 0 || i8042_init(&m->i8042, vm) < 0 ||
	    boot_timer_init(&m->boot_timer, vm) < 0) {
		log_err("cannot set up the legacy devices");
		return -1;
	}
	return vdev_build(m, err, errlen);
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
	            &(struct vm_mem){
	                    .huge = m->cfg.huge_pages == HUGE_PAGES_2M,
	                    .thp = m->cfg.huge_pages == HUGE_PAGES_THP,
	                    .dirty_log = m->cfg.track_dirty_pages,
	                    .file_fd = -1 },
	            m->cfg.cpu.set ? &m->cfg.cpu : NULL, err, errlen) < 0)
		return -1;
	if (kernel_load(vm, m->kernel_buf, &m->img) < 0 || load_initrd(m) < 0)
		return -1;
	if (x86_boot_setup(vm, &bs) < 0) {
		log_err("cannot write the boot structures into guest RAM");
		return -1;
	}
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (x86_vcpu_setup(&vm->vcpus[i],
		                   m->cfg.cpu.set ? &m->cfg.cpu : NULL,
		                   m->img.kind, m->img.entry, err, errlen) < 0)
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
	vdev_teardown(m);
	console_close(m);
	vm_destroy(&m->vm);
	free(m->kernel_buf);
	m->kernel_buf = NULL;
}

int vmm_attach_devices(struct vmm *m)
{
	if (console_attach(m) < 0)
		return -1;
	return vdev_attach(m);
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
	int fds[VMM_MAX_VIRTIO], vcpus[CONFIG_MAX_VCPUS];
	unsigned nfds;

	console_input_start(m);
	/* A paused start: every vCPU parks before its first KVM_RUN. */
	if (paused)
		atomic_store(&vm->pause_req, true);
	atomic_store(&m->state, paused ? VMM_PAUSED : VMM_RUNNING);
	/* The vCPU threads wait at vcpu_release() for the filter below. */
	for (unsigned i = 0; i < vm->nvcpus; i++) {
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
	nfds = vdev_filter_fds(m, fds);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpus[i] = vm->vcpus[i].fd;
	/* The main thread builds its filter meanwhile. */
	pthread_mutex_lock(&m->lock);
	m->vcpu0_prep = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	if (seccomp_install(SECCOMP_VMM,
	                    &(struct seccomp_fds){ .vm_fd = vm->vm_fd,
	                                           .vcpu_fd = -1,
	                                           .tap_fds = fds,
	                                           .ntap = nfds,
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
		vcpu_pause_all(&m->vm);
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
	mmds_free(m->mmds);
	m->mmds = NULL;
}
