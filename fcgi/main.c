/* main.c: the persistent FastCGI responder: setup, accept threads, one request. */
#include "autoconfig.h"

#include <errno.h>
#include <limits.h>
#if defined(HAVE_MALLOC_TRIM) || defined(HAVE_MALLOPT)
#include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "accounts.h"
#include "buf.h"
#include "catalogue.h"
#include "clock.h"
#include "config.h"
#include "flows.h"
#include "http.h"
#include "imgfetch.h"
#include "log.h"
#include "metrics.h"
#include "modelmap.h"
#include "models.h"
#include "pool.h"
#include "prom.h"
#include "rand.h"
#include "relay.h"
#include "request.h"
#include "router.h"
#include "store.h"
#include "xmalloc.h"

#define DEFAULT_THREADS	4
#define MAX_THREADS	256
#define TRIM_EVERY_MS	5000
#define MMAP_THRESHOLD	(256 * 1024)
#define TRIM_THRESHOLD	(512 * 1024)
#define ACCESS_LINE_ROOM	256	/* an access line's usual most */

static struct app		 app;
static pthread_mutex_t		 accept_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int		 active_requests;
static volatile sig_atomic_t	 stopping;
static _Atomic int64_t		 last_trim_ms;

/*
 * Debian's libcurl links GnuTLS (through librtmp), whose constructor
 * initialises it as the library loads, before main: its priority file and
 * p11-kit's trust modules, 0.6-1 MB of RSS per process, though the
 * responder only uses OpenSSL.  GNUTLS_NO_IMPLICIT_INIT=1 skips that but
 * must be in the environment at exec time, so the responder sets it and
 * executes itself again: the same pid, arguments and descriptors (fd 0
 * stays the FastCGI socket).  Not when the operator set the variable (to
 * anything: GnuTLS skips only for "1"), nor under valgrind, which would
 * lose the process across the exec.  Returns errno when the exec failed.
 */
static int
reexec_quiet_gnutls(char *argv[])
{
	char		 self[PATH_MAX];
	const char	*preload;
	ssize_t		 n;

	if (getenv("GNUTLS_NO_IMPLICIT_INIT") != NULL)
		return 0;
	if ((preload = getenv("LD_PRELOAD")) != NULL &&
	    strstr(preload, "vgpreload") != NULL)
		return 0;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0 || (size_t)n >= sizeof(self) - 1)
		return 0;	/* no /proc: run as we are */
	self[n] = '\0';
	if (setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 1) == -1)
		return errno;
	(void)execv(self, argv);
	return errno;
}

static void
usage(void)
{
	fprintf(stderr, "usage: kiro-fcgi [-c config.json] [-t threads]\n"
	    "kiro-fcgi is a FastCGI responder: start it from lighttpd "
	    "(mod_fastcgi bin-path),\nApache (mod_fcgid) or spawn-fcgi; "
	    "see kiro-fcgi(8).\n");
	exit(1);
}

static void
on_term(int sig)
{
	stopping = 1;
	FCGX_ShutdownPending();
	/* Idle: nothing to finish.  Busy: the last request exits. */
	if (atomic_load(&active_requests) == 0)
		_exit(0);
}

static int
fcgx_write(void *arg, const char *p, size_t len)
{
	FCGX_Stream	*stream = arg;
	int		 n;

	while (len > 0) {
		n = len > INT_MAX ? INT_MAX : (int)len;
		if (FCGX_PutStr(p, n, stream) != n)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
fcgx_flush(void *arg)
{
	return FCGX_FFlush(arg) == 0 ? 0 : -1;
}

static int
fcgx_read(void *stream, char *buf, int len)
{
	return FCGX_GetStr(buf, len, stream);
}

/*
 * The access line's pieces: buf_add copies into the room the line
 * reserves (ACCESS_LINE_ROOM), where buf_puts made two calls a piece.
 */
static void
put_text(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Appends prefix and v in decimal. */
static void
put_number(struct buf *b, const char *prefix, long long v)
{
	char		 digits[BUF_DECIMAL_LEN];
	const char	*p;
	size_t		 len;

	put_text(b, prefix);
	p = buf_decimal(v, digits, &len);
	buf_add(b, p, len);
}

/*
 * libfcgi ends a connection gracefully: shutdown, a wait of up to 2 s for
 * the web server to close its end, a read, so that nothing it sent is left
 * unread (a close with unread data is a reset, which over TCP can cost the
 * web server the answer).  Once the request is read to its end (the body,
 * then FCGI_STDIN's empty record) and nothing waits on the socket, the web
 * server has nothing more to send: a plain close is as safe, and saves a
 * sleep and two system calls per request.  A body left unread, an abort
 * already sent, or a read error keep the graceful close.
 */
static void
close_plainly_when_read(FCGX_Request *fcgx, const struct request *req)
{
	const char	*cl;
	int		 unread;

	if (!req->body_whole && (cl = request_param(req,
	    "CONTENT_LENGTH")) != NULL && *cl != '\0' && strcmp(cl, "0") != 0)
		return;
	/* The empty record follows the body at once: this does not wait. */
	if (FCGX_GetChar(fcgx->in) != EOF || FCGX_GetError(fcgx->in) != 0)
		return;
	if (ioctl(fcgx->ipcFd, FIONREAD, &unread) == -1 || unread != 0)
		return;
	(void)FCGX_Detach(fcgx);
}

/* Returns the account that answered the request, 0 when none did. */
static long
serve_one(FCGX_Request *fcgx, struct relay_env *relay)
{
	struct request	 req;
	const char	*v;
	char		 method[32];
	size_t		 method_len;

	memset(&req, 0, sizeof(req));
	req.envp = fcgx->envp;
	req.cfg = app.cfg;
	req.relay = relay;
	req.started_ms = clock_mono_ms();
	req.out.write = fcgx_write;
	req.out.flush = fcgx_flush;
	req.out.arg = fcgx->out;
	req.ipc_fd = fcgx->ipcFd;
	flows_begin(&req);
	rand_hex(req.id, 8);
	log_set_request(req.id);
	/* The admin API's modelMap, if it changed: one memory read. */
	modelmap_sync();
	req.method = (v = request_param(&req, "REQUEST_METHOD")) != NULL ?
	    v : "GET";
	req.query = (v = request_param(&req, "QUERY_STRING")) != NULL ? v : "";
	req.path = request_route_path(request_param(&req, "SCRIPT_NAME"),
	    request_param(&req, "PATH_INFO"),
	    request_param(&req, "REQUEST_URI"));

	router_dispatch(&app, &req, fcgx_read, fcgx->in);
	if (!req.out.committed)
		(void)out_response(&req.out, 500, "text/plain", NULL,
		    "no response\n", 12);
	/*
	 * The request log's record first, so that it is written before the
	 * client has the answer (a complete answer leaves with the end of
	 * the request, out.h), then the end of the request, then the rest
	 * of the bookkeeping.  The parameters go with the request: keep the
	 * method (req.path is a copy).
	 */
	flows_end(&req);
	close_plainly_when_read(fcgx, &req);
	/* Cut as snprintf would, without printf. */
	method_len = strnlen(req.method, sizeof(method) - 1);
	memcpy(method, req.method, method_len);
	method[method_len] = '\0';
	req.method = method;
	req.query = "";
	req.envp = NULL;
	req.ipc_fd = -1;
	FCGX_Finish_r(fcgx);

	{
		struct buf	line = BUF_INIT;
		char		credits[32];
		int		n;

		/*
		 * Without printf but for the credits: one line per request,
		 * in one allocation when it is of the usual size.
		 */
		buf_reserve(&line, ACCESS_LINE_ROOM);
		put_text(&line, req.method);
		buf_add(&line, " ", 1);
		put_text(&line, req.path);
		put_number(&line, " ", req.out.status);
		put_number(&line, " ", (long long)req.out.bytes);
		put_number(&line, "B ", clock_mono_ms() - req.started_ms);
		put_text(&line, "ms");
		if (req.account_id > 0)
			put_number(&line, " account=", req.account_id);
		if (req.model != NULL) {
			put_text(&line, " model=");
			put_text(&line, req.model);
		}
		if (req.key.name[0] != '\0') {
			put_text(&line, " key=");
			put_text(&line, req.key.name);
		}
		/* One snprintf, where buf_printf formats twice; it fits. */
		if (req.metered) {
			n = snprintf(credits, sizeof(credits), " credits=%.6g",
			    req.credits);
			if (n > 0 && (size_t)n < sizeof(credits))
				put_text(&line, credits);
		}
		if (req.out.failed)
			put_text(&line, " (client gone)");
		log_info("%s", line.ptr);
		buf_free(&line);
	}
	prom_record(&req, clock_mono_ms());
	log_set_request(NULL);
	free(req.path);
	buf_free(&req.body);
	return req.out.status == 200 && !req.out.failed ? req.account_id : 0;
}

/*
 * Hands the heap a burst of work freed back to the kernel, at most every
 * TRIM_EVERY_MS and off the client's path.  glibc gives each accept thread
 * its own arena and returns an arena's memory only from its top, so the
 * once-a-minute sticky-record prune (thousands of keys at once) left each
 * arena that ran it holding megabytes it never gave back: the responders
 * grew by about 110 bytes per request and kept growing while their live
 * heap stayed under 1 MB (issue 8, item 15; `make soak`, heaptrack).
 * malloc_trim(0) releases the free pages inside every arena; its cost
 * grows with the heap, which is that small.
 */
static void
trim_due(void)
{
#ifdef HAVE_MALLOC_TRIM
	int64_t	now = clock_mono_ms(), last = atomic_load(&last_trim_ms);

	if (now - last < TRIM_EVERY_MS ||
	    !atomic_compare_exchange_strong(&last_trim_ms, &last, now))
		return;		/* not due, or another thread is on it */
	(void)malloc_trim(0);
#endif
}

/*
 * Fixed thresholds, so that glibc's dynamic ones cannot keep a burst: by
 * default, freeing a block that was mmapped (over 128 KB) raises the mmap
 * threshold to its size and the trim threshold to twice that, so the next
 * such block comes from an arena, and an arena's free top is given back
 * only past the new trim threshold (glibc 2.36's malloc_trim leaves the
 * top of a thread's arena alone).  Setting them turns that off: blocks of 256 KB or more
 * are mmapped and unmapped when freed, and an arena keeps at most 512 KB
 * free at its top.
 */
static void
malloc_setup(void)
{
#ifdef HAVE_MALLOPT
	if (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1 ||
	    mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) != 1)
		log_warnx("mallopt failed: freed memory may be kept");
#endif
}

static void *
accept_loop(void *arg)
{
	FCGX_Request		 fcgx;
	struct relay_env	 relay;
	long			 served;
	int			 rc;

	(void)arg;
	memset(&relay, 0, sizeof(relay));
	relay.cfg = app.cfg;
	relay.store = app.store;
	relay.http = http_new();
	if (FCGX_InitRequest(&fcgx, 0, 0) != 0) {
		log_errorx("FCGX_InitRequest failed");
		return NULL;
	}
	for (;;) {
		/* Some platforms need accept() serialised (libfcgi threaded.c). */
		pthread_mutex_lock(&accept_lock);
		rc = FCGX_Accept_r(&fcgx);
		pthread_mutex_unlock(&accept_lock);
		if (rc < 0)
			break;
		atomic_fetch_add(&active_requests, 1);
		/* Ends the request itself; FCGX_Finish_r again is a no-op. */
		served = serve_one(&fcgx, &relay);
		FCGX_Finish_r(&fcgx);
		/* Off the client's path: success tallies, now and then. */
		if (app.store != NULL)
			pool_flush_due(app.store);
		/* And the serving account's model list, once it is stale. */
		if (app.store != NULL && served > 0)
			catalogue_refresh_stale(app.store, relay.http, app.cfg,
			    served);
		trim_due();
		if (atomic_fetch_sub(&active_requests, 1) == 1 && stopping)
			exit(0);
	}
	http_free(relay.http);
	return NULL;
}

static void
setup(const char *config_path)
{
	struct metrics	*metrics = NULL;
	char		*why = NULL;
	enum kf_err	 er;

	if ((er = config_load(config_path, &app.cfg, NULL, &why)) != KF_OK) {
		app.startup_error = xasprintf("kiro-fcgi cannot start: %s",
		    why);
		log_errorx("%s", app.startup_error);
		free(why);
		/* Defaults, so that the routes can at least answer. */
		if (config_parse("{}", 2, NULL, &app.cfg, NULL, NULL) !=
		    KF_OK) {
			/* REGION itself was refused: answer without it. */
			unsetenv("REGION");
			(void)config_parse("{}", 2, NULL, &app.cfg, NULL,
			    NULL);
		}
		return;
	}
	log_set_level(app.cfg->log_level);
	models_use_map(app.cfg->model_map, app.cfg->n_model_map);
	imgfetch_allow_private(app.cfg->image_fetch.allow_private);
	if (app.cfg->image_fetch.allow_private)
		log_info("imageFetch.allowPrivate: image URLs may reach "
		    "private addresses");
	if (app.cfg->path == NULL)
		log_info("no configuration file (%s): using defaults and the "
		    "environment", config_default_path());
	if ((er = store_open(&app.store, app.cfg->state_dir, &why)) != KF_OK) {
		app.startup_error = xasprintf("kiro-fcgi cannot use its state "
		    "directory: %s", why);
		log_errorx("%s", app.startup_error);
		free(why);
		return;
	}
	/*
	 * Counters shared by every process, mapped for the process's life;
	 * without them the gateway serves and keeps none.
	 */
	if (!app.cfg->metrics_enabled)
		log_info("metrics are off: metricsEnabled is false");
	else if (metrics_open(&metrics, store_dir(app.store), &why) == KF_OK)
		metrics_install(metrics);
	else {
		log_warnx("metrics are off: %s", why);
		free(why);
		why = NULL;
	}
	if (accounts_seed(app.store, app.cfg, &why) != KF_OK)
		free(why);	/* logged; other accounts still work */
	/* Model ids and limits from the accounts' cached ListAvailableModels. */
	catalogue_live_install(app.store);
	/* The admin API's modelMap wins over config.json's (modelmap.h). */
	modelmap_install(app.store, app.cfg);
}

int
main(int argc, char *argv[])
{
	struct sigaction	 sa;
	pthread_t		*threads;
	pthread_attr_t		 attr;
	const char		*config_path = NULL, *env;
	char			*end;
	long			 n_threads = DEFAULT_THREADS;
	int			 ch, i, exec_errno;

	exec_errno = reexec_quiet_gnutls(argv);
	umask(077);
	log_init("kiro-fcgi", LOG_LEVEL_INFO);
	if (exec_errno != 0)
		log_warnx("could not run again with GNUTLS_NO_IMPLICIT_INIT=1 "
		    "(GnuTLS stays initialised, ~0.5 MB): %s",
		    strerror(exec_errno));
	malloc_setup();
	if ((env = getenv("KIRO_FCGI_THREADS")) != NULL && *env != '\0') {
		n_threads = strtol(env, &end, 10);
		if (*end != '\0' || n_threads < 1 || n_threads > MAX_THREADS)
			n_threads = DEFAULT_THREADS;
	}
	while ((ch = getopt(argc, argv, "c:t:hV")) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 't':
			n_threads = strtol(optarg, &end, 10);
			if (*end != '\0' || n_threads < 1 ||
			    n_threads > MAX_THREADS)
				usage();
			break;
		case 'V':
			printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	if (FCGX_Init() != 0) {
		log_errorx("FCGX_Init failed");
		return 1;
	}
	if (FCGX_IsCGI())
		usage();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* No SA_RESTART: accept() must wake up to see the shutdown. */
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	http_global_init();
	setup(config_path);
	log_info("ready: %ld threads, state %s", n_threads,
	    app.cfg->state_dir);

	threads = xcalloc((size_t)n_threads, sizeof(*threads));
	pthread_attr_init(&attr);
	/* JSON nesting is deep (JSON_MAX_DEPTH): give recursion room. */
	pthread_attr_setstacksize(&attr, 4 * 1024 * 1024);
	for (i = 0; i < n_threads; i++)
		if (pthread_create(&threads[i], &attr, accept_loop, NULL) !=
		    0) {
			log_error("pthread_create");
			return 1;
		}
	for (i = 0; i < n_threads; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	return 0;
}
