/*
 * The VMM's event loop: one epoll set on the main thread. Handlers are
 * plain callbacks; nothing here blocks except epoll_wait itself.
 */
#ifndef WISP_EVLOOP_H
#define WISP_EVLOOP_H

#include <stdint.h>

struct ev_handler {
	int fd;
	void (*cb)(struct ev_handler *h, uint32_t events);
	void *opaque;
};

struct evloop {
	int epfd;
};

int evloop_init(struct evloop *l);
void evloop_destroy(struct evloop *l);
/*
 * Watch @h->fd for @events (EPOLLIN ...); @h must outlive the watch.
 * Returns 0 or -errno (-EPERM for files epoll cannot watch).
 */
int evloop_add(struct evloop *l, struct ev_handler *h, uint32_t events);
int evloop_del(struct evloop *l, struct ev_handler *h);
/* Wait up to @timeout_ms (-1: forever) and run the ready handlers. */
int evloop_run_once(struct evloop *l, int timeout_ms);

#endif
