/*
 * wisp: boot one microVM from a config file (or flags) and run it until
 * the guest resets or powers off, or the host stops it.
 */
#include "config.h"
#include "devices.h"
#include "evloop.h"
#include "log.h"
#include "util.h"
#include "vm.h"
#include "x86/x86.h"
#include "blk.h"
#include "uring.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define WISP_VERSION     "0.1.0"
#define KERNEL_MAX_BYTES (512 * MIB)

struct wisp {
	struct config cfg;
	struct vm vm;
	struct serial serial;
	struct i8042 i8042;
	struct boot_timer boot_timer;
	struct uring uring;
	struct blk blk[CONFIG_MAX_DRIVES];
	struct ev_handler h_blk[CONFIG_MAX_DRIVES], h_uring;
	struct evloop loop;
	struct ev_handler h_exit, h_signal, h_stdin, h_rx_space;
	bool stdin_watched, stdin_eof;
	volatile bool stop; /* set and read on the event loop thread */
	pthread_t main_thread;
	int serial_fd;
	struct termios saved_tio;
	bool tio_saved;
	uint8_t *kernel_buf;
	size_t kernel_len;
	struct kernel_image img;
	char cmdline[X86_CMDLINE_MAX];
	uint64_t initrd_gpa, initrd_size;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: wisp --config FILE [options]\n"
	        "       wisp --kernel FILE [--initrd FILE] [--cmdline STR] "
	        "[options]\n"
	        "\n"
	        "  --config FILE        VM configuration (INI, see README)\n"
	        "  --kernel FILE        kernel (ELF vmlinux, PVH ELF or "
	        "bzImage)\n"
	        "  --initrd FILE        initial ramdisk\n"
	        "  --cmdline STR        kernel command line\n"
	        "  --vcpus N            vCPUs, 1-%d (default 1)\n"
	        "  --mem-mib N          guest RAM in MiB (default 128)\n"
	        "  --start-time-us N    CLOCK_MONOTONIC µs of the caller's "
	        "exec,\n"
	        "                       for boot-time figures\n"
	        "  --level LEVEL        log level: error, warn, info, debug\n"
	        "  --version, --help\n"
	        "\n"
	        "Flags given after --config override its values.\n"
	        "Exit status: 0 guest reset or poweroff, 1 VMM error, 2 bad "
	        "usage or config,\n"
	        "3 guest panic or triple fault, 4 KVM error.\n",
	        CONFIG_MAX_VCPUS);
}

enum {
	OPT_CONFIG = 256,
	OPT_KERNEL,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_VCPUS,
	OPT_MEM,
	OPT_START_TIME,
	OPT_LEVEL,
	OPT_VERSION,
	OPT_HELP,
};

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "vcpus", required_argument, NULL, OPT_VCPUS },
	{ "mem-mib", required_argument, NULL, OPT_MEM },
	{ "start-time-us", required_argument, NULL, OPT_START_TIME },
	{ "level", required_argument, NULL, OPT_LEVEL },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ 0 },
};

static int set_cli_path(char *dst, const char *flag, const char *v)
{
	if (strlen(v) >= CONFIG_PATH_MAX || !*v) {
		fprintf(stderr, "wisp: %s: bad path\n", flag);
		return -1;
	}
	if (access(v, R_OK) < 0) {
		fprintf(stderr, "wisp: %s '%s': %s\n", flag, v,
		        strerror(errno));
		return -1;
	}
	strcpy(dst, v);
	return 0;
}

/* Two passes: --config first, so the other flags override the file. */
static int parse_args(struct wisp *w, int argc, char **argv)
{
	char err[CONFIG_PATH_MAX + 512];
	uint64_t v;
	int opt, lvl;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (opt == OPT_CONFIG &&
		    config_load_ini(&w->cfg, optarg, err, sizeof(err)) < 0) {
			fprintf(stderr, "wisp: %s\n", err);
			return -1;
		}
	}
	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_CONFIG:
			break;
		case OPT_KERNEL:
			if (set_cli_path(w->cfg.kernel, "--kernel", optarg))
				return -1;
			break;
		case OPT_INITRD:
			if (set_cli_path(w->cfg.initrd, "--initrd", optarg))
				return -1;
			break;
		case OPT_CMDLINE:
			free(w->cfg.cmdline);
			w->cfg.cmdline = strdup(optarg);
			break;
		case OPT_VCPUS:
			if (!util_parse_u64(optarg, &v) || v < 1 ||
			    v > CONFIG_MAX_VCPUS) {
				fprintf(stderr,
				        "wisp: --vcpus '%s' is not in 1..%d\n",
				        optarg, CONFIG_MAX_VCPUS);
				return -1;
			}
			w->cfg.vcpus = (unsigned)v;
			break;
		case OPT_MEM:
			if (!util_parse_u64(optarg, &v) ||
			    v < CONFIG_MIN_MEM_MIB || v > CONFIG_MAX_MEM_MIB) {
				fprintf(stderr,
				        "wisp: --mem-mib '%s' is not in "
				        "%llu..%llu\n",
				        optarg, CONFIG_MIN_MEM_MIB,
				        CONFIG_MAX_MEM_MIB);
				return -1;
			}
			w->cfg.mem_mib = v;
			break;
		case OPT_START_TIME:
			if (!util_parse_u64(optarg, &v) || v > util_now_us()) {
				fprintf(stderr,
				        "wisp: --start-time-us '%s' is not a "
				        "past CLOCK_MONOTONIC time\n",
				        optarg);
				return -1;
			}
			log_init(v, log_get_level());
			break;
		case OPT_LEVEL:
			lvl = log_parse_level(optarg);
			if (lvl < 0) {
				fprintf(stderr,
				        "wisp: --level '%s' is not "
				        "error, warn, info or debug\n",
				        optarg);
				return -1;
			}
			log_set_level((enum log_level)lvl);
			break;
		case OPT_VERSION:
			printf("wisp %s\n", WISP_VERSION);
			exit(0);
		case OPT_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "wisp: unexpected argument '%s'\n",
		        argv[optind]);
		return -1;
	}
	if (config_validate(&w->cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "wisp: %s\n", err);
		return -1;
	}
	return 0;
}

/* Drive i sits in MMIO slot i + 1 (slot 0 is the boot timer), IRQ 5 + i. */
#define DRIVE_BASE(i) (BOOT_TIMER_ADDR + VIRTIO_MMIO_SLOT * ((i) + 1))
#define DRIVE_IRQ(i)  (5u + (i))

/*
 * Put the root drive first (it becomes /dev/vda) and write the command
 * line words that announce the drives, and root= unless the user gave one.
 * On error, @out holds the message.
 */
static int drives_cmdline(struct wisp *w, char *out, size_t len)
{
	struct config *c = &w->cfg;
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
			snprintf(out, len,
			         "[drive.%s] path '%s': %s (set "
			         "read_only = yes?)",
			         d->id, d->path, strerror(errno));
			return -1;
		}
		off += (size_t)snprintf(
		        out + off, len - off,
		        "%svirtio_mmio.device=4K@0x%llx:%u", off ? " " : "",
		        (unsigned long long)DRIVE_BASE(i), DRIVE_IRQ(i));
	}
	if (c->ndrives && c->drives[0].root && !strstr(user, "root="))
		snprintf(out + off, len - off, " root=/dev/vda %s",
		         c->drives[0].read_only ? "ro" : "rw");
	return 0;
}

/*
 * Everything that can be checked before touching KVM: the kernel image,
 * the initrd's size and the command line. Errors here exit with
 * WISP_EXIT_USAGE and nothing started.
 */
static int prepare_boot(struct wisp *w)
{
	const struct config *c = &w->cfg;
	char extra[X86_CMDLINE_MAX];
	uint64_t mem = c->mem_mib * MIB;
	uint64_t low = MIN(mem, VM_MMIO_HOLE_START), kernel_end = 0;
	char err[512];
	struct stat st;
	int ret;

	ret = util_read_file(c->kernel, KERNEL_MAX_BYTES, &w->kernel_buf,
	                     &w->kernel_len);
	if (ret < 0) {
		fprintf(stderr, "wisp: kernel '%s': %s\n", c->kernel,
		        ret == -EFBIG ? "larger than 512 MiB" : strerror(-ret));
		return -1;
	}
	if (kernel_parse(w->kernel_buf, w->kernel_len, low, &w->img, err,
	                 sizeof(err)) < 0) {
		fprintf(stderr, "wisp: kernel '%s': %s\n", c->kernel, err);
		return -1;
	}
	for (unsigned i = 0; i < w->img.nseg; i++)
		kernel_end = MAX(kernel_end,
		                 w->img.seg[i].gpa + w->img.seg[i].memsz);

	if (c->initrd[0]) {
		uint64_t max = w->img.initrd_addr_max ? w->img.initrd_addr_max
		                                      : UINT32_MAX;

		if (stat(c->initrd, &st) < 0 || !S_ISREG(st.st_mode)) {
			fprintf(stderr, "wisp: initrd '%s': %s\n", c->initrd,
			        errno ? strerror(errno) : "not a file");
			return -1;
		}
		w->initrd_size = (uint64_t)st.st_size;
		if (!w->initrd_size ||
		    x86_initrd_place(low, w->initrd_size,
		                     ALIGN_UP(kernel_end, 4096), max,
		                     &w->initrd_gpa) < 0) {
			fprintf(stderr,
			        "wisp: initrd '%s' (%llu bytes) does not fit "
			        "in guest RAM above the kernel: give the VM "
			        "more memory\n",
			        c->initrd, (unsigned long long)w->initrd_size);
			return -1;
		}
	}

	if (drives_cmdline(w, extra, sizeof(extra)) < 0) {
		fprintf(stderr, "wisp: %s\n", extra);
		return -1;
	}
	if (vm_host_is_pvm())
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
		         "%s%s", extra[0] ? " " : "", x86_pvm_cmdline());
	if (cmdline_build(w->cmdline,
	                  c->cmdline ? c->cmdline : CONFIG_DEFAULT_CMDLINE,
	                  extra, err, sizeof(err)) < 0) {
		fprintf(stderr, "wisp: %s\n", err);
		return -1;
	}
	return 0;
}

static int load_initrd(struct wisp *w)
{
	uint8_t *dst = vm_gpa(&w->vm, w->initrd_gpa, w->initrd_size);
	uint64_t done = 0;
	int fd;

	if (!w->initrd_size)
		return 0;
	fd = open(w->cfg.initrd, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !dst) {
		log_err("initrd '%s': %s", w->cfg.initrd, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (done < w->initrd_size) {
		ssize_t n = read(fd, dst + done, w->initrd_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_err("initrd '%s': %s", w->cfg.initrd,
			        n ? strerror(errno) : "file shrank");
			close(fd);
			return -1;
		}
		done += (uint64_t)n;
	}
	close(fd);
	return 0;
}

static int open_serial_out(struct wisp *w)
{
	if (!w->cfg.serial_out[0]) {
		w->serial_fd = STDOUT_FILENO;
		return 0;
	}
	w->serial_fd = open(w->cfg.serial_out,
	                    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->serial_fd < 0) {
		log_err("serial output '%s': %s", w->cfg.serial_out,
		        strerror(errno));
		return -1;
	}
	return 0;
}

static int build_vm(struct wisp *w)
{
	struct vm *vm = &w->vm;
	struct boot_setup bs = {
		.img = &w->img,
		.kernel_buf = w->kernel_buf,
		.cmdline = w->cmdline,
		.initrd_gpa = w->initrd_gpa,
		.initrd_size = w->initrd_size,
	};

	if (vm_create(vm, w->cfg.mem_mib, w->cfg.vcpus) < 0)
		return -1;
	if (x86_cpuid_init(vm) < 0)
		return -1;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vcpu_create(vm, i) < 0)
			return -1;
	if (open_serial_out(w) < 0 ||
	    serial_init(&w->serial, vm, w->serial_fd) < 0 ||
	    i8042_init(&w->i8042, vm) < 0 ||
	    boot_timer_init(&w->boot_timer, vm) < 0) {
		log_err("cannot set up the legacy devices");
		return -1;
	}
	if (w->cfg.ndrives && uring_init(&w->uring, 2 * VQ_MAX_SIZE) < 0) {
		log_err("io_uring: cannot set up (is io_uring disabled?)");
		return -1;
	}
	for (unsigned i = 0; i < w->cfg.ndrives; i++) {
		const struct drive_config *d = &w->cfg.drives[i];
		struct blk_options o = {
			.path = d->path,
			.read_only = d->read_only,
			.direct = d->direct,
			.id = d->id,
		};
		char err[CONFIG_PATH_MAX + 64];

		if (blk_init(&w->blk[i], vm, &w->uring, &o, DRIVE_BASE(i),
		             DRIVE_IRQ(i), err, sizeof(err)) < 0) {
			log_err("%s", err);
			return -1;
		}
	}
	if (kernel_load(vm, w->kernel_buf, &w->img) < 0 || load_initrd(w) < 0)
		return -1;
	if (x86_boot_setup(vm, &bs) < 0) {
		log_err("cannot write the boot structures into guest RAM");
		return -1;
	}
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (x86_vcpu_setup(&vm->vcpus[i], w->img.kind, w->img.entry) <
		    0)
			return -1;
	free(w->kernel_buf);
	w->kernel_buf = NULL;
	log_debug("kernel %s (%s entry 0x%llx), %u vCPUs, %llu MiB, cmdline "
	          "'%s'",
	          w->cfg.kernel,
	          w->img.kind == KERNEL_ELF_PVH   ? "PVH"
	          : w->img.kind == KERNEL_BZIMAGE ? "bzImage 64-bit"
	                                          : "ELF 64-bit",
	          (unsigned long long)w->img.entry, vm->nvcpus,
	          (unsigned long long)w->cfg.mem_mib, w->cmdline);
	return 0;
}

static void on_exit_request(struct ev_handler *h, uint32_t events)
{
	struct wisp *w = h->opaque;
	uint64_t n;

	if (read(h->fd, &n, sizeof(n)) == sizeof(n))
		w->stop = true;
}

static void on_blk_notify(struct ev_handler *h, uint32_t events)
{
	struct blk *b = h->opaque;
	uint64_t n;

	if (read(h->fd, &n, sizeof(n)) == sizeof(n))
		virtio_mmio_notify(&b->t, 0);
}

static void on_uring(struct ev_handler *h, uint32_t events)
{
	uring_reap(h->opaque);
}

static void on_signal(struct ev_handler *h, uint32_t events)
{
	struct wisp *w = h->opaque;
	struct signalfd_siginfo si;

	if (read(h->fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info("stopping the VM on signal %s", strsignal((int)si.ssi_signo));
	vm_request_exit(&w->vm, WISP_EXIT_OK);
}

static void watch_stdin(struct wisp *w, bool on)
{
	if (on == w->stdin_watched || w->stdin_eof)
		return;
	if (on ? evloop_add(&w->loop, &w->h_stdin, EPOLLIN) == 0
	       : evloop_del(&w->loop, &w->h_stdin) == 0)
		w->stdin_watched = on;
}

static void on_stdin(struct ev_handler *h, uint32_t events)
{
	struct wisp *w = h->opaque;
	uint8_t buf[SERIAL_RX_SIZE];
	unsigned room = serial_rx_room(&w->serial);
	ssize_t n;

	if (!room) {
		watch_stdin(w, false); /* resumed by on_rx_space */
		return;
	}
	n = read(h->fd, buf, room);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		watch_stdin(w, false);
		w->stdin_eof = true;
		return;
	}
	serial_rx_push(&w->serial, buf, (unsigned)n);
}

static void on_rx_space(struct ev_handler *h, uint32_t events)
{
	struct wisp *w = h->opaque;
	uint64_t n;

	if (read(h->fd, &n, sizeof(n)) == sizeof(n))
		watch_stdin(w, true);
}

/* Guest line editing and echo, not the host's; Ctrl-C still stops wisp. */
static void tty_setup(struct wisp *w)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &w->saved_tio))
		return;
	w->tio_saved = true;
	t = w->saved_tio;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	t.c_iflag &= ~(tcflag_t)(ICRNL);
	tcsetattr(STDIN_FILENO, TCSANOW, &t);
}

static void tty_restore(struct wisp *w)
{
	if (w->tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &w->saved_tio);
}

/*
 * The event loop thread: runs until the VM is asked to stop, then kicks
 * vCPU 0 (on the main thread) out of KVM_RUN.
 */
static void *evloop_thread(void *arg)
{
	struct wisp *w = arg;

	pthread_setname_np(pthread_self(), "wisp-evloop");
	while (!w->stop) {
		if (evloop_run_once(&w->loop, -1) < 0) {
			log_err("epoll_wait: %s", strerror(errno));
			vm_request_exit(&w->vm, WISP_EXIT_ERROR);
			break;
		}
	}
	vcpu_kick(&w->vm.vcpus[0], w->main_thread);
	return NULL;
}

static int run(struct wisp *w)
{
	struct vm *vm = &w->vm;
	pthread_t evt;
	sigset_t sigs;
	int sfd, err;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0 || evloop_init(&w->loop) < 0) {
		log_err("event loop: %s", strerror(errno));
		return WISP_EXIT_ERROR;
	}
	w->h_exit = (struct ev_handler){ vm->exit_fd, on_exit_request, w };
	w->h_signal = (struct ev_handler){ sfd, on_signal, w };
	w->h_stdin = (struct ev_handler){ STDIN_FILENO, on_stdin, w };
	w->h_rx_space =
	        (struct ev_handler){ w->serial.rx_space_fd, on_rx_space, w };
	if (evloop_add(&w->loop, &w->h_exit, EPOLLIN) < 0 ||
	    evloop_add(&w->loop, &w->h_signal, EPOLLIN) < 0 ||
	    evloop_add(&w->loop, &w->h_rx_space, EPOLLIN) < 0) {
		log_err("event loop: %s", strerror(errno));
		return WISP_EXIT_ERROR;
	}
	for (unsigned i = 0; i < w->cfg.ndrives; i++) {
		w->h_blk[i] = (struct ev_handler){ w->blk[i].t.notify_fd[0],
			                           on_blk_notify, &w->blk[i] };
		if (evloop_add(&w->loop, &w->h_blk[i], EPOLLIN) < 0)
			return WISP_EXIT_ERROR;
	}
	if (w->cfg.ndrives) {
		w->h_uring = (struct ev_handler){ w->uring.efd, on_uring,
			                          &w->uring };
		if (evloop_add(&w->loop, &w->h_uring, EPOLLIN) < 0)
			return WISP_EXIT_ERROR;
	}
	if (w->cfg.serial_in) {
		tty_setup(w);
		/* Regular files and /dev/null cannot be polled: no input. */
		watch_stdin(w, true);
	}

	/*
	 * vCPU 0 runs on this thread: a new thread first has to be scheduled
	 * on another CPU, which costs milliseconds when that CPU is idle in a
	 * cloud VM. The event loop and the other vCPUs get threads.
	 */
	vm->instance_start_us = util_now_us();
	w->main_thread = pthread_self();
	err = pthread_create(&evt, NULL, evloop_thread, w);
	if (err) {
		log_err("event loop thread: %s", strerror(err));
		tty_restore(w);
		return WISP_EXIT_ERROR;
	}
	for (unsigned i = 1; i < vm->nvcpus; i++) {
		if (vcpu_start(&vm->vcpus[i]) < 0) {
			vm_request_exit(vm, WISP_EXIT_ERROR);
			break;
		}
	}
	vcpu_run(&vm->vcpus[0]);
	vcpu_stop_all(vm);
	pthread_join(evt, NULL);
	tty_restore(w);
	evloop_destroy(&w->loop);
	close(sfd);
	return atomic_load(&vm->exit_code);
}

int main(int argc, char **argv)
{
	static struct wisp w;
	int code;

	log_init(util_now_us(), LOG_INFO);
	config_init(&w.cfg);
	w.uring.efd = -1;
	for (unsigned i = 0; i < CONFIG_MAX_DRIVES; i++)
		w.blk[i].fd = -1;
	w.serial_fd = -1;
	if (argc < 2) {
		usage(stderr);
		return WISP_EXIT_USAGE;
	}
	if (parse_args(&w, argc, argv) < 0 || prepare_boot(&w) < 0) {
		config_free(&w.cfg);
		free(w.kernel_buf);
		return WISP_EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	vcpu_signals_init();
	if (build_vm(&w) < 0)
		code = WISP_EXIT_ERROR;
	else
		code = run(&w);
	serial_destroy(&w.serial);
	for (unsigned i = 0; i < w.cfg.ndrives; i++)
		blk_destroy(&w.blk[i]);
	uring_destroy(&w.uring);
	if (w.serial_fd > STDERR_FILENO)
		close(w.serial_fd);
	vm_destroy(&w.vm);
	free(w.kernel_buf);
	config_free(&w.cfg);
	log_debug("exit status %d", code);
	return code;
}
