/*
 * The API server: HTTP/1.1 over a Unix socket, served on its own thread
 * with its own epoll. Requests are handed one at a time, in arrival order
 * per connection, to a handler; the handler's answer goes back on the same
 * connection. Slow, silent, greedy or vanishing clients cost the server
 * memory bounded per connection and never block it or another client.
 */
#ifndef WISP_SERVER_H
#define WISP_SERVER_H

#include "evloop.h"
#include "http.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_MAX_CONNS 1000

/* What a handler answers: @status and an optional malloc'd JSON @body. */
struct api_response {
	int status;
	char *body; /* NULL for none; the server frees it */
};

/*
 * Called on the server thread for every complete request. Must fill @resp.
 * May block (it waits for the VMM); while it runs no other request is read.
 */
typedef void (*api_handler_fn)(void *opaque, const struct http_request *req,
                               struct api_response *resp);

struct api_conn; /* private to server.c */

struct api_server {
	int listen_fd;
	int stop_fd; /* eventfd: api_server_stop() */
	char path[108];
	size_t max_body;
	api_handler_fn handler;
	void *opaque;
	struct evloop loop;
	struct ev_handler h_listen, h_stop;
	struct api_conn *conns; /* list of open connections */
	unsigned nconns;
	pthread_t thread;
	bool running; /* api_server_start() made a thread to join */
	/* Touched only by the serving thread. */
	bool stopping; /* the stop eventfd fired: leave the loop */
	/* Out of fds: the listening socket is unwatched until then (µs). */
	uint64_t accept_resume_us; /* 0: watched */
};

/*
 * Bind and listen on @path. A @path that exists is refused when something
 * accepts connections on it ("in use") or when it is not a socket, and
 * removed when stale (connect() is refused); a path too long for sun_path
 * or any other error: -1 with a message in @err, and nothing to destroy.
 * @max_body 0 means HTTP_BODY_MAX_DEFAULT.
 */
int api_server_init(struct api_server *s, const char *path, size_t max_body,
                    api_handler_fn handler, void *opaque, char *err,
                    size_t errlen);
/* Serve on a new thread named "wisp-api". */
int api_server_start(struct api_server *s);
/* Stop the thread, close every connection and the socket, unlink @path. */
void api_server_destroy(struct api_server *s);

/* Serve until stopped, on the calling thread (tests, fuzzing). */
void api_server_serve(struct api_server *s);
/*
 * Make the serving thread return from api_server_serve() soon. Safe from
 * any thread and from a signal handler; a stop sent before serving starts
 * is kept until then. Open connections stay open until destroy.
 */
void api_server_stop(struct api_server *s);

#endif
