/* stub-fcgi: a tiny FastCGI responder that lets the integration harness probe a web server. */

/*
 * Routing follows the kiro-fcgi contract: the route is PATH_INFO when it is
 * non-empty, otherwise SCRIPT_NAME, otherwise the path of REQUEST_URI.
 *
 *   .../stream?n=5&ms=200&wait=0
 *                          waits wait ms before the response headers, then
 *                          sends n SSE "tick" events, flushed one by one, ms
 *                          apart, then one "done" event
 *   .../body               reads the whole request body and answers
 *                          {"bytes": N, "crc32": C, "content_length": "..."}
 *   anything else          the FastCGI parameters as a JSON object, plus
 *                          "_route", "_pid", "_argv" and "_env" (the process
 *                          environment variables whose names start with
 *                          KIRO_ or STUB_)
 *
 * Build: cc -O2 -Wall -o stub-fcgi stub-fcgi.c -lfcgi
 */

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

extern char **environ;

static volatile sig_atomic_t	 stopping;

static void
on_sigterm(int sig)
{
	(void)sig;
	stopping = 1;
	FCGX_ShutdownPending();
}

/* Write s as a JSON string literal, escaping quotes and control bytes. */
static void
put_json_string(FCGX_Stream *out, const char *s)
{
	const unsigned char	*p;

	FCGX_PutChar('"', out);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			FCGX_PutChar('\\', out);
			FCGX_PutChar(*p, out);
		} else if (*p < 0x20 || *p == 0x7f)
			FCGX_FPrintF(out, "\\u%04x", *p);
		else
			FCGX_PutChar(*p, out);
	}
	FCGX_PutChar('"', out);
}

/* Write "NAME=VALUE" as a JSON member "NAME": "VALUE". */
static void
put_json_member(FCGX_Stream *out, const char *kv, int *first)
{
	const char	*eq;
	char		*name;

	if ((eq = strchr(kv, '=')) == NULL)
		return;
	if ((name = strndup(kv, (size_t)(eq - kv))) == NULL)
		return;
	FCGX_PutS(*first ? "\n  " : ",\n  ", out);
	*first = 0;
	put_json_string(out, name);
	FCGX_PutS(": ", out);
	put_json_string(out, eq + 1);
	free(name);
}

/* The route the application would dispatch on (see the banner comment). */
static const char *
route_of(FCGX_ParamArray envp, char *buf, size_t bufsz)
{
	const char	*v;
	size_t		 n;

	if ((v = FCGX_GetParam("PATH_INFO", envp)) != NULL && *v != '\0')
		return v;
	if ((v = FCGX_GetParam("SCRIPT_NAME", envp)) != NULL && *v != '\0')
		return v;
	if ((v = FCGX_GetParam("REQUEST_URI", envp)) == NULL)
		return "";
	n = strcspn(v, "?");
	if (n >= bufsz)
		n = bufsz - 1;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return buf;
}

/* True when the route's last path segment equals name. */
static int
route_is(const char *route, const char *name)
{
	const char	*slash;

	slash = strrchr(route, '/');
	return strcmp(slash != NULL ? slash + 1 : route, name) == 0;
}

/* Integer query parameter key, clamped to [lo, hi]; def when absent or bad. */
static long
query_long(const char *query, const char *key, long def, long lo, long hi)
{
	const char	*p;
	char		*end;
	size_t		 klen;
	long		 v;

	if (query == NULL)
		return def;
	klen = strlen(key);
	for (p = query; p != NULL && *p != '\0'; p = strchr(p, '&')) {
		if (*p == '&')
			p++;
		if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
			errno = 0;
			v = strtol(p + klen + 1, &end, 10);
			if (errno != 0 || end == p + klen + 1)
				return def;
			return v < lo ? lo : v > hi ? hi : v;
		}
	}
	return def;
}

static long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
handle_env(FCGX_Request *req, const char *route, char **argv)
{
	char	**e;
	int	  first = 1, i;

	FCGX_PutS("Status: 200 OK\r\nContent-Type: application/json\r\n\r\n{",
	    req->out);
	for (e = req->envp; *e != NULL; e++)
		put_json_member(req->out, *e, &first);
	FCGX_PutS(",\n  \"_route\": ", req->out);
	put_json_string(req->out, route);
	FCGX_FPrintF(req->out, ",\n  \"_pid\": \"%ld\",\n  \"_argv\": [",
	    (long)getpid());
	for (i = 0; argv[i] != NULL; i++) {
		if (i > 0)
			FCGX_PutS(", ", req->out);
		put_json_string(req->out, argv[i]);
	}
	FCGX_PutS("],\n  \"_env\": {", req->out);
	first = 1;
	for (e = environ; *e != NULL; e++)
		if (strncmp(*e, "KIRO_", 5) == 0 || strncmp(*e, "STUB_", 5) == 0)
			put_json_member(req->out, *e, &first);
	FCGX_PutS("}\n}\n", req->out);
}

static void
handle_stream(FCGX_Request *req)
{
	const char	*query;
	long		 n, ms, wait, i;

	query = FCGX_GetParam("QUERY_STRING", req->envp);
	n = query_long(query, "n", 5, 0, 1000);
	ms = query_long(query, "ms", 200, 0, 60000);
	wait = query_long(query, "wait", 0, 0, 600000);
	if (wait > 0)
		usleep((useconds_t)wait * 1000);
	FCGX_PutS("Status: 200 OK\r\n"
	    "Content-Type: text/event-stream\r\n"
	    "Cache-Control: no-cache\r\n"
	    "X-Accel-Buffering: no\r\n\r\n", req->out);
	if (FCGX_FFlush(req->out) < 0)
		return;
	for (i = 0; i < n && !stopping; i++) {
		if (i > 0)
			usleep((useconds_t)ms * 1000);
		FCGX_FPrintF(req->out, "event: tick\ndata: {\"i\": %ld, "
		    "\"pid\": %ld, \"t_ms\": %lld}\n\n", i, (long)getpid(),
		    now_ms());
		/* Server push is the one place FFlush is meant for. */
		if (FCGX_FFlush(req->out) < 0)
			return;
	}
	FCGX_PutS("event: done\ndata: {}\n\n", req->out);
}

/* CRC-32 (IEEE 802.3, as zlib.crc32), table built on first use. */
static uint32_t
crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
	static uint32_t	 table[256];
	static int	 ready;
	uint32_t	 c;
	int		 i, k;

	if (!ready) {
		for (i = 0; i < 256; i++) {
			c = (uint32_t)i;
			for (k = 0; k < 8; k++)
				c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
		ready = 1;
	}
	crc = ~crc;
	while (n-- > 0)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void
handle_body(FCGX_Request *req)
{
	static unsigned char	 buf[65536];
	const char		*cl;
	long long		 total = 0;
	uint32_t		 crc = 0;
	int			 got;

	while ((got = FCGX_GetStr((char *)buf, sizeof(buf), req->in)) > 0) {
		total += got;
		crc = crc32_update(crc, buf, (size_t)got);
	}
	cl = FCGX_GetParam("CONTENT_LENGTH", req->envp);
	FCGX_FPrintF(req->out, "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\n\r\n"
	    "{\"bytes\": %lld, \"crc32\": %lu, \"content_length\": ",
	    total, (unsigned long)crc);
	put_json_string(req->out, cl != NULL ? cl : "");
	FCGX_PutS("}\n", req->out);
}

int
main(int argc, char **argv)
{
	FCGX_Request		 req;
	struct sigaction	 sa;
	char			 buf[4096];
	const char		*route;

	(void)argc;
	setvbuf(stderr, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigterm;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: accept() must return so the loop can end. */
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (FCGX_Init() != 0) {
		fprintf(stderr, "stub-fcgi[%ld] FCGX_Init failed\n",
		    (long)getpid());
		return 1;
	}
	FCGX_InitRequest(&req, 0, 0);
	fprintf(stderr, "stub-fcgi[%ld] ready\n", (long)getpid());
	while (!stopping && FCGX_Accept_r(&req) >= 0) {
		route = route_of(req.envp, buf, sizeof(buf));
		if (route_is(route, "stream"))
			handle_stream(&req);
		else if (route_is(route, "body"))
			handle_body(&req);
		else
			handle_env(&req, route, argv);
		FCGX_Finish_r(&req);
	}
	FCGX_Free(&req, 1);
	fprintf(stderr, "stub-fcgi[%ld] exiting\n", (long)getpid());
	return 0;
}
