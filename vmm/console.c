/*
 * The console (console.h): the UART's output and stdin's input. Input is
 * read only while the UART has room for it, so a guest that does not read
 * its serial port holds the host's input in the terminal, not in wisp.
 */
#include "console.h"
#include "log.h"
#include "vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static int open_output(struct vmm *m)
{
	if (!m->cfg.serial_out[0]) {
		m->serial_fd = STDOUT_FILENO;
		return 0;
	}
	/*
	 * Non-blocking, so a FIFO opens without a reader (ENXIO for a
	 * write-only open: then read-write, as Firecracker opens it, and
	 * the bytes wait in the pipe for whoever comes).
	 */
	m->serial_fd = open(
	        m->cfg.serial_out,
	        O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_CLOEXEC, 0644);
	if (m->serial_fd < 0 && errno == ENXIO)
		m->serial_fd = open(m->cfg.serial_out,
		                    O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (m->serial_fd < 0) {
		log_err("serial output '%s': %s", m->cfg.serial_out,
		        strerror(errno));
		return -1;
	}
	return 0;
}

int console_open(struct vmm *m)
{
	if (open_output(m) < 0)
		return -1;
	if (serial_init(&m->serial, &m->vm, m->serial_fd) < 0)
		return -1;
	serial_out_limit(&m->serial.out, &m->cfg.serial_rl);
	return 0;
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

void console_tty_restore(struct vmm *m)
{
	if (m->tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &m->saved_tio);
	m->tio_saved = false;
}

int console_attach(struct vmm *m)
{
	m->h_rx_space =
	        (struct ev_handler){ m->serial.rx_space_fd, on_rx_space, m };
	if (evloop_add(&m->loop, &m->h_rx_space, EPOLLIN) < 0)
		return -1;
	/* The console's output ring is written out by the event loop. */
	return serial_attach(&m->serial, &m->loop);
}

void console_input_start(struct vmm *m)
{
	if (!m->cfg.serial_in)
		return;
	m->h_stdin = (struct ev_handler){ STDIN_FILENO, on_stdin, m };
	tty_setup(m);
	/* Regular files and /dev/null cannot be polled: no input. */
	watch_stdin(m, true);
}

void console_close(struct vmm *m)
{
	if (m->h_rx_space.cb)
		evloop_del(&m->loop, &m->h_rx_space);
	m->h_rx_space.cb = NULL;
	serial_destroy(&m->serial);
	m->serial.rx_space_fd = -1;
	if (m->serial_fd > STDERR_FILENO)
		close(m->serial_fd);
	m->serial_fd = -1;
}
