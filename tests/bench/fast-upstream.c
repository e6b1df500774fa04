/* fast-upstream.c: a fast Kiro upstream stub for the benchmarks (HTTP/1.1 keep-alive, loopback only). */

/*
 * The Python mock (tests/mock/) checks every rule of the protocol and is
 * far too slow to stand behind a throughput benchmark; this one does no
 * checking at all.  One thread per connection, blocking I/O, TCP_NODELAY,
 * keep-alive, 127.0.0.1 only.
 *
 *   POST .../generateAssistantResponse
 *       an event stream (doc/protocol.md §4) made with es_encode_event:
 *       N assistantResponseEvent frames, then meteringEvent and
 *       contextUsageEvent.  Without a delay it is one canned response with
 *       Content-Length, built at startup and sent with one write.  The
 *       request body may change that (the prompt text travels through the
 *       gateway into the Kiro body unchanged):
 *         "bench-events=N"    N text frames (1..100000)
 *         "bench-delay-ms=D"  D ms between frames (0..60000); with D > 0
 *                             the answer is chunked, one frame per chunk,
 *                             and each frame's content is "t=<ns> ", the
 *                             CLOCK_MONOTONIC time in ns taken just before
 *                             the frame is written, so a client on this
 *                             machine can compute each event's forwarding
 *                             delay.
 *         "bench-cut=N"       N text frames, then the connection is
 *                             closed in the middle of the answer (a cut
 *                             upstream stream; no final chunk)
 *         "bench-throttle=N"  N text frames, then an exception frame
 *                             ThrottlingException (in-stream throttling,
 *                             doc/protocol.md §5), then the end
 *         "bench-head-us=H"   paced like a real server: H µs before the
 *         "bench-gap-us=G"    headers, G µs between frames (0..60 s
 *                             each); each frame, the closing frames and
 *                             the last chunk are written as chunks of
 *                             their own.  One marker is enough: the other
 *                             takes the server's pace (-w, -g).
 *       With -P every answer is paced (markers may still change it).
 *       With -C file, a request whose body holds "bench-capture-head" has
 *       its head (request line and headers, as received) written to file
 *       (atomically) before it is answered: `make bench` compares the
 *       header block of kiro-fcgi's request with the relay's.
 *   POST .../refreshToken, POST .../token
 *       {"accessToken":..., "refreshToken":..., "expiresIn":3600, ...}
 *   POST .../ListAvailableProfiles
 *       one profile in us-east-1, as Kiro answers a social account: the
 *       gateway stores it once.  Without it (a 404) the gateway asks again
 *       on every request, which cost a quarter of its CPU per request here.
 *   anything else
 *       404
 *
 * Usage: fast-upstream [-P] [-p port] [-f port-file] [-e events]
 *            [-d delay-ms] [-w head-us] [-g gap-us] [-C capture-file]
 * -w and -g set the pace (default 2000 µs before the headers, 1000 µs
 * between frames: a small answer from a real server takes a few ms).
 * With port 0 (the default) the kernel picks the port; it is written to
 * the port file (atomically: a temporary file renamed) once the socket
 * listens, as tests/mock/kiro_mock.py does.  SIGTERM ends it.
 */

#include "autoconfig.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "eventstream.h"

#define MAX_HEAD	(64 * 1024)
#define MAX_BODY	(64L * 1024 * 1024)
#define MAX_EVENTS	100000
#define MAX_DELAY_MS	60000
#define MAX_PACE_US	60000000L
#define CAPTURE_MARKER	"bench-capture-head"

static const char *const	 words[] = {
	"Hello", " from", " the fast", " upstream", " stub", ", which",
	" answers", " at once."
};

static long		 default_events = 4;
static long		 default_delay_ms;
static int		 paced;		/* -P: pace every answer */
static long		 pace_head_us = 2000;
static long		 pace_gap_us = 1000;
static struct buf	 canned;	/* the whole default response */
static struct buf	 tail;		/* metering + context usage frames */
static size_t		 tail_split;	/* where the second one starts */
static const char	*capture_path;	/* -C */
static pthread_mutex_t	 capture_lock = PTHREAD_MUTEX_INITIALIZER;

static void
usage(void)
{
	fprintf(stderr, "usage: fast-upstream [-P] [-p port] [-f port-file] "
	    "[-e events] [-d delay-ms] [-w head-us] [-g gap-us] "
	    "[-C capture-file]\n");
	exit(2);
}

static long
number(const char *s, long lo, long hi)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		usage();
	return v;
}

static int64_t
mono_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Writes everything, or returns -1 (the peer is gone). */
static int
write_all(int fd, const void *p, size_t len)
{
	const char	*c = p;
	ssize_t		 n;

	while (len > 0) {
		n = send(fd, c, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
text_frame(struct buf *out, const char *text)
{
	struct buf	json = BUF_INIT;

	buf_puts(&json, "{\"content\":");
	buf_json_str(&json, text, strlen(text));
	buf_putc(&json, '}');
	es_encode_event(out, "assistantResponseEvent", json.ptr);
	buf_free(&json);
}

/* The default answer, and the frames every answer ends with. */
static void
build_canned(void)
{
	struct buf	body = BUF_INIT;
	long		i;

	es_encode_event(&tail, "meteringEvent",
	    "{\"unit\":\"credit\",\"unitPlural\":\"credits\",\"usage\":0.01}");
	tail_split = tail.len;
	es_encode_event(&tail, "contextUsageEvent",
	    "{\"contextUsagePercentage\":1.5}");
	for (i = 0; i < default_events; i++)
		text_frame(&body, words[i % (long)(sizeof(words) /
		    sizeof(words[0]))]);
	buf_append(&body, tail.ptr, tail.len);
	buf_printf(&canned, "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/vnd.amazon.eventstream\r\n"
	    "x-amzn-RequestId: fast-upstream\r\n"
	    "Content-Length: %zu\r\n\r\n", body.len);
	buf_append(&canned, body.ptr, body.len);
	buf_free(&body);
}

/* The value of "key=<digits>" in the body, or def. */
static long
marker(const char *body, size_t len, const char *key, long def, long lo,
    long hi)
{
	const char	*p;
	size_t		 klen = strlen(key);
	long		 v = 0;
	int		 digits = 0;

	if ((p = memmem(body, len, key, klen)) == NULL)
		return def;
	for (p += klen; p < body + len && *p >= '0' && *p <= '9' &&
	    digits < 9; p++, digits++)
		v = v * 10 + (*p - '0');
	if (digits == 0)
		return def;
	return v < lo ? lo : v > hi ? hi : v;
}

/* The in-stream throttling frame (:message-type exception). */
static void
throttle_frame(struct buf *out)
{
	static const char *const	 names[] = {
		":message-type", ":exception-type", ":content-type"
	};
	static const char *const	 values[] = {
		"exception", "ThrottlingException", "application/json"
	};
	static const char		 payload[] =
	    "{\"message\":\"Rate exceeded (fast-upstream)\"}";

	es_encode(out, names, values, sizeof(names) / sizeof(names[0]),
	    payload, sizeof(payload) - 1);
}

/* One chunk of a chunked answer, in one write. */
static int
put_chunk(int fd, struct buf *scratch, const void *p, size_t len)
{
	buf_reset(scratch);
	buf_printf(scratch, "%zx\r\n", len);
	buf_append(scratch, p, len);
	buf_puts(scratch, "\r\n");
	return write_all(fd, scratch->ptr, scratch->len);
}

static void
sleep_until(int64_t ns)
{
	struct timespec	ts;

	ts.tv_sec = (time_t)(ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR)
		;
}

/*
 * The frames every answer ends with, each its own chunk when paced (a real
 * server flushes every event), then the last chunk.
 */
static int
put_end(int fd, struct buf *scratch, int paced_end)
{
	if (!paced_end)
		return put_chunk(fd, scratch, tail.ptr, tail.len) == -1 ||
		    write_all(fd, "0\r\n\r\n", 5) == -1 ? -1 : 0;
	if (put_chunk(fd, scratch, tail.ptr, tail_split) == -1 ||
	    put_chunk(fd, scratch, tail.ptr + tail_split, tail.len -
	    tail_split) == -1)
		return -1;
	return write_all(fd, "0\r\n\r\n", 5);
}

static int
answer_generate(int fd, const char *body, size_t len)
{
	static const char	 chunked_head[] = "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/vnd.amazon.eventstream\r\n"
	    "x-amzn-RequestId: fast-upstream\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n";
	struct buf	 frame = BUF_INIT, scratch = BUF_INIT;
	char		 text[64];
	long		 events, delay_ms, cut, throttle, head_us, gap_us, i;
	int64_t		 t0, due;
	int		 pace, rc = -1;

	events = marker(body, len, "bench-events=", default_events, 1,
	    MAX_EVENTS);
	delay_ms = marker(body, len, "bench-delay-ms=", default_delay_ms, 0,
	    MAX_DELAY_MS);
	cut = marker(body, len, "bench-cut=", -1, 0, MAX_EVENTS);
	throttle = marker(body, len, "bench-throttle=", -1, 0, MAX_EVENTS);
	head_us = marker(body, len, "bench-head-us=", -1, 0, MAX_PACE_US);
	gap_us = marker(body, len, "bench-gap-us=", -1, 0, MAX_PACE_US);
	pace = paced || head_us >= 0 || gap_us >= 0;
	if (head_us < 0)
		head_us = pace_head_us;
	if (gap_us < 0)
		gap_us = pace_gap_us;
	if (cut >= 0)
		events = cut;
	else if (throttle >= 0)
		events = throttle;
	if (events == default_events && delay_ms == 0 && cut < 0 &&
	    throttle < 0 && !pace)
		return write_all(fd, canned.ptr, canned.len);

	/*
	 * Paced: every wait is to an absolute time from the request's start,
	 * so a 300-frame answer 100 ms apart lasts 30 s and not 30 s plus
	 * the time spent writing.
	 */
	t0 = mono_ns();
	if (pace)
		sleep_until(t0 + (int64_t)head_us * 1000);
	if (write_all(fd, chunked_head, sizeof(chunked_head) - 1) == -1)
		goto out;
	if (!pace)
		t0 = mono_ns();
	for (i = 0; i < events; i++) {
		buf_reset(&frame);
		if (delay_ms > 0) {
			sleep_until(t0 + (int64_t)i * delay_ms * 1000000);
			snprintf(text, sizeof(text), "t=%lld ",
			    (long long)mono_ns());
			text_frame(&frame, text);
		} else {
			if (pace && i > 0) {
				due = t0 + (int64_t)head_us * 1000 +
				    (int64_t)i * gap_us * 1000;
				sleep_until(due);
			}
			text_frame(&frame, words[i % (long)(sizeof(words) /
			    sizeof(words[0]))]);
		}
		if (put_chunk(fd, &scratch, frame.ptr, frame.len) == -1)
			goto out;
	}
	/* -1: the caller closes the connection without the last chunk. */
	if (cut >= 0)
		goto out;
	if (throttle >= 0) {
		buf_reset(&frame);
		throttle_frame(&frame);
		if (put_chunk(fd, &scratch, frame.ptr, frame.len) == -1)
			goto out;
	}
	if (put_end(fd, &scratch, pace) == -1)
		goto out;
	rc = 0;
out:
	buf_free(&frame);
	buf_free(&scratch);
	return rc;
}

static int
answer_token(int fd)
{
	static const char	 body[] =
	    "{\"accessToken\":\"aoa-fast-upstream-access-token\","
	    "\"refreshToken\":\"aor-fast-upstream-refresh-token\","
	    "\"expiresIn\":3600,\"tokenType\":\"Bearer\","
	    "\"profileArn\":\"arn:aws:codewhisperer:us-east-1:000000000000:"
	    "profile/FASTUPSTREAM\"}";
	char			 head[256];
	int			 n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n", sizeof(body) - 1);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	if (write_all(fd, head, (size_t)n) == -1)
		return -1;
	return write_all(fd, body, sizeof(body) - 1);
}

static int
answer_profiles(int fd)
{
	static const char	 body[] =
	    "{\"profiles\":[{\"arn\":\"arn:aws:codewhisperer:us-east-1:"
	    "000000000000:profile/FASTUPSTREAM\",\"profileName\":"
	    "\"KiroProfile-us-east-1\"}],\"nextToken\":null}";
	char			 head[256];
	int			 n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n", sizeof(body) - 1);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	if (write_all(fd, head, (size_t)n) == -1)
		return -1;
	return write_all(fd, body, sizeof(body) - 1);
}

static int
answer_404(int fd)
{
	static const char	 resp[] = "HTTP/1.1 404 Not Found\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 10\r\n\r\n"
	    "not found\n";

	return write_all(fd, resp, sizeof(resp) - 1);
}

/*
 * -C: the request's head into capture_path, through a temporary file
 * renamed, so a reader never sees half of it.  A failure is only reported:
 * the bench then finds no file and says so.
 */
static void
capture_head(const char *head, size_t len)
{
	char	tmp[PATH_MAX];
	FILE	*f;
	int	 n, ok = 0;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", capture_path,
	    (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		fprintf(stderr, "fast-upstream: capture path too long\n");
		return;
	}
	pthread_mutex_lock(&capture_lock);
	if ((f = fopen(tmp, "w")) != NULL) {
		ok = fwrite(head, 1, len, f) == len;
		ok = fclose(f) == 0 && ok && rename(tmp, capture_path) == 0;
	}
	if (!ok)
		fprintf(stderr, "fast-upstream: %s: %s\n", capture_path,
		    strerror(errno));
	pthread_mutex_unlock(&capture_lock);
}

/* Reads more into in; 0 on EOF or error. */
static int
fill(int fd, struct buf *in)
{
	char	chunk[65536];
	ssize_t	n;

	do {
		n = recv(fd, chunk, sizeof(chunk), 0);
	} while (n == -1 && errno == EINTR);
	if (n <= 0)
		return 0;
	buf_append(in, chunk, (size_t)n);
	return 1;
}

/* The header's value (trimmed) when line is "name: value", else NULL. */
static const char *
header_value(const char *line, size_t len, const char *name, size_t *vlen)
{
	size_t		 nlen = strlen(name);
	const char	*v, *end = line + len;

	if (len <= nlen || line[nlen] != ':' ||
	    strncasecmp(line, name, nlen) != 0)
		return NULL;
	for (v = line + nlen + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*vlen = (size_t)(end - v);
	return v;
}

/*
 * Decodes a chunked body that starts at in->ptr + off into body; returns
 * the bytes used, 0 when more input is needed, -1 when malformed.
 */
static long
dechunk(const struct buf *in, size_t off, struct buf *body)
{
	const char	*p = in->ptr + off, *end = in->ptr + in->len, *eol;
	char		*num_end;
	unsigned long	 size;

	buf_reset(body);
	for (;;) {
		if ((eol = memmem(p, (size_t)(end - p), "\r\n", 2)) == NULL)
			return 0;
		errno = 0;
		size = strtoul(p, &num_end, 16);
		if (errno != 0 || num_end == p || size > (unsigned long)MAX_BODY)
			return -1;
		p = eol + 2;
		if (size == 0) {
			/* Trailers end with an empty line. */
			for (;;) {
				if ((eol = memmem(p, (size_t)(end - p), "\r\n",
				    2)) == NULL)
					return 0;
				if (eol == p)
					return (long)(eol + 2 - (in->ptr + off));
				p = eol + 2;
			}
		}
		if ((size_t)(end - p) < size + 2)
			return 0;
		buf_append(body, p, size);
		p += size + 2;
	}
}

static void *
serve_conn(void *arg)
{
	struct buf	 in = BUF_INIT, body = BUF_INIT;
	const char	*head_end, *line, *next, *v;
	const char	*method_end, *target, *target_end;
	size_t		 head_len, vlen, need;
	long		 content_length, used;
	int		 fd = (int)(intptr_t)arg, chunked, close_after, cont;
	int		 rc;

	for (;;) {
		/* The head. */
		while ((head_end = in.len > 0 ? memmem(in.ptr, in.len,
		    "\r\n\r\n", 4) : NULL) == NULL) {
			if (in.len > MAX_HEAD || !fill(fd, &in))
				goto out;
		}
		head_len = (size_t)(head_end - in.ptr) + 4;
		if ((line = memchr(in.ptr, '\r', head_len)) == NULL)
			goto out;
		method_end = memchr(in.ptr, ' ', (size_t)(line - in.ptr));
		if (method_end == NULL)
			goto out;
		target = method_end + 1;
		if ((target_end = memchr(target, ' ', (size_t)(line -
		    target))) == NULL)
			goto out;
		content_length = 0;
		chunked = close_after = cont = 0;
		for (line += 2; line < head_end; line = next + 2) {
			next = memmem(line, (size_t)(head_end + 2 - line),
			    "\r\n", 2);
			if (next == NULL)
				break;
			if ((v = header_value(line, (size_t)(next - line),
			    "content-length", &vlen)) != NULL) {
				content_length = 0;
				for (; vlen > 0 && *v >= '0' && *v <= '9';
				    v++, vlen--)
					if ((content_length = content_length *
					    10 + (*v - '0')) > MAX_BODY)
						goto out;
			} else if ((v = header_value(line, (size_t)(next -
			    line), "transfer-encoding", &vlen)) != NULL)
				chunked = vlen >= 7 && strncasecmp(v +
				    vlen - 7, "chunked", 7) == 0;
			else if ((v = header_value(line, (size_t)(next -
			    line), "connection", &vlen)) != NULL)
				close_after = vlen == 5 &&
				    strncasecmp(v, "close", 5) == 0;
			else if ((v = header_value(line, (size_t)(next -
			    line), "expect", &vlen)) != NULL)
				cont = vlen == 12 &&
				    strncasecmp(v, "100-continue", 12) == 0;
		}
		if (cont && write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n",
		    25) == -1)
			goto out;

		/* The body. */
		if (chunked) {
			while ((used = dechunk(&in, head_len, &body)) == 0)
				if (!fill(fd, &in))
					goto out;
			if (used < 0)
				goto out;
			need = head_len + (size_t)used;
		} else {
			need = head_len + (size_t)content_length;
			while (in.len < need)
				if (!fill(fd, &in))
					goto out;
			buf_reset(&body);
			buf_append(&body, in.ptr + head_len,
			    (size_t)content_length);
		}

		if (capture_path != NULL && body.len > 0 && memmem(body.ptr,
		    body.len, CAPTURE_MARKER, sizeof(CAPTURE_MARKER) - 1) !=
		    NULL)
			capture_head(in.ptr, head_len);

		/* The answer; the target's path decides. */
		{
			size_t		 tlen = (size_t)(target_end - target);
			const char	*q = memchr(target, '?', tlen);
			size_t		 plen = q != NULL ? (size_t)(q - target) :
					    tlen;

#define ENDS_WITH(s) (plen >= sizeof(s) - 1 && memcmp(target + plen - \
    (sizeof(s) - 1), s, sizeof(s) - 1) == 0)
			if (ENDS_WITH("/generateAssistantResponse"))
				rc = answer_generate(fd, buf_cstr(&body),
				    body.len);
			else if (ENDS_WITH("/refreshToken") ||
			    ENDS_WITH("/token"))
				rc = answer_token(fd);
			else if (ENDS_WITH("/ListAvailableProfiles"))
				rc = answer_profiles(fd);
			else
				rc = answer_404(fd);
#undef ENDS_WITH
		}
		if (rc == -1 || close_after)
			goto out;
		buf_consume(&in, need);
	}
out:
	buf_free(&in);
	buf_free(&body);
	close(fd);
	return NULL;
}

static void
write_port_file(const char *path, int port)
{
	char	tmp[PATH_MAX];
	FILE	*f;
	int	 n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		fprintf(stderr, "fast-upstream: port file path too long\n");
		exit(1);
	}
	if ((f = fopen(tmp, "w")) == NULL || fprintf(f, "%d\n", port) < 0 ||
	    fclose(f) != 0 || rename(tmp, path) == -1) {
		fprintf(stderr, "fast-upstream: %s: %s\n", path,
		    strerror(errno));
		exit(1);
	}
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	socklen_t		 slen;
	pthread_attr_t		 attr;
	pthread_t		 tid;
	const char		*port_file = NULL;
	long			 port = 0;
	int			 ch, lfd, fd, one = 1;

	while ((ch = getopt(argc, argv, "C:Pp:f:e:d:w:g:")) != -1) {
		switch (ch) {
		case 'C':
			capture_path = optarg;
			break;
		case 'P':
			paced = 1;
			break;
		case 'w':
			pace_head_us = number(optarg, 0, MAX_PACE_US);
			break;
		case 'g':
			pace_gap_us = number(optarg, 0, MAX_PACE_US);
			break;
		case 'p':
			port = number(optarg, 0, 65535);
			break;
		case 'f':
			port_file = optarg;
			break;
		case 'e':
			default_events = number(optarg, 1, MAX_EVENTS);
			break;
		case 'd':
			default_delay_ms = number(optarg, 0, MAX_DELAY_MS);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	signal(SIGPIPE, SIG_IGN);
	build_canned();

	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ==
	    -1) {
		perror("fast-upstream: socket");
		return 1;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	slen = sizeof(sin);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 1024) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) == -1) {
		perror("fast-upstream: bind/listen");
		return 1;
	}
	if (port_file != NULL)
		write_port_file(port_file, ntohs(sin.sin_port));
	else
		printf("%d\n", ntohs(sin.sin_port));
	fflush(stdout);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				usleep(10000);
				continue;
			}
			perror("fast-upstream: accept");
			return 1;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if (pthread_create(&tid, &attr, serve_conn,
		    (void *)(intptr_t)fd) != 0) {
			perror("fast-upstream: pthread_create");
			close(fd);
		}
	}
}
