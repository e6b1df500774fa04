/* relay-responder.c: the trivial FastCGI relay that `make bench` measures kiro-fcgi against. */

/*
 * The least a gateway in front of an HTTP upstream can do: every request's
 * body is POSTed to <upstream>/generateAssistantResponse with libcurl and
 * the answer's bytes are copied to the client as they come, each piece
 * flushed (a streaming proxy, as nginx with proxy_buffering off).  Nothing
 * is parsed, converted, logged or stored.  Each thread has one libcurl easy
 * handle, set up once and reused for all its requests, so the connection
 * to the upstream is kept alive; only the body changes per request.
 *
 * Usage: relay-responder -u upstream-url [-t threads] [-H header-file]
 * (RELAY_UPSTREAM in the environment stands for -u).  lighttpd or any
 * FastCGI server starts it with the listening socket on descriptor 0.
 * The answer's status is the upstream's; 502 when the upstream cannot be
 * reached.  Request bodies over 16 MB get a 413.
 *
 * -H sends the file's request headers ("Name: value", one a line, at most
 * 64 and 64 KB; blank lines skipped) with every upstream call instead of
 * the three short default ones, passed as kiro-fcgi passes its own
 * (shared/http.c): a list of nodes this program owns, ended by "Expect:".
 * `make bench` gives it the header block kiro-fcgi sends to Kiro, so that
 * libcurl's per-byte header formatting, which the gateway cannot avoid,
 * is measured rather than claimed (tests/bench/README.md, issue 13).
 * Bad input in the file: a message naming the line, and exit 2.
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <fcgiapp.h>

#define MAX_BODY	(16L * 1024 * 1024)
#define MAX_THREADS	64
#define MAX_HDR_FILE	(64 * 1024)
#define MAX_HEADERS	64

struct relay_call {
	FCGX_Request	*req;
	CURL		*curl;
	int		 started;	/* the status line went out */
	int		 gone;		/* the client went away */
};

static char			 url[4096];
/* -H: the file's text (lines cut in place) and the list over it. */
static char			*header_text;
static struct curl_slist	*header_nodes;

/*
 * The other threads sit in accept() and would not see a flag: nothing is
 * stored or half written here, so leaving at once is the clean way out.
 */
static void
on_sigterm(int sig)
{
	(void)sig;
	_exit(0);
}

static void
usage(void)
{
	fprintf(stderr, "usage: relay-responder -u upstream-url "
	    "[-t threads] [-H header-file]\n");
	exit(2);
}

static void
bad_header_file(const char *path, long line, const char *why)
{
	if (line > 0)
		fprintf(stderr, "relay-responder: %s, line %ld: %s\n", path,
		    line, why);
	else
		fprintf(stderr, "relay-responder: %s: %s\n", path, why);
	exit(2);
}

/* A header name: RFC 9110 token characters. */
static int
is_token_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Checks one header line; NULL when good, else what is wrong. */
static const char *
header_line_error(const char *line)
{
	const unsigned char	*p = (const unsigned char *)line;
	size_t			 name_len;

	while (*p != '\0' && *p != ':' && is_token_char(*p))
		p++;
	name_len = (size_t)(p - (const unsigned char *)line);
	if (*p != ':' || name_len == 0)
		return "not a \"Name: value\" header";
	/* libcurl frames the body itself; a second length would break it. */
	if ((name_len == 14 && strncasecmp(line, "Content-Length", 14) ==
	    0) || (name_len == 17 && strncasecmp(line, "Transfer-Encoding",
	    17) == 0))
		return "Content-Length and Transfer-Encoding are libcurl's";
	for (p++; *p != '\0'; p++)
		if ((*p < ' ' && *p != '\t') || *p == 0x7f)
			return "control character in the value";
	return NULL;
}

/*
 * Reads -H's file into header_text and header_nodes: one node per line
 * and "Expect:" last, as shared/http.c builds kiro-fcgi's list (libcurl
 * only reads it).  Exits 2 on anything it would not send as it is.
 */
static void
load_headers(const char *path)
{
	FILE		*f;
	char		*line, *next, *end;
	const char	*why;
	size_t		 len, n = 0;
	long		 lineno = 0;

	if ((f = fopen(path, "r")) == NULL)
		bad_header_file(path, 0, strerror(errno));
	if ((header_text = malloc(MAX_HDR_FILE + 1)) == NULL ||
	    (header_nodes = calloc(MAX_HEADERS + 1,
	    sizeof(*header_nodes))) == NULL) {
		fprintf(stderr, "relay-responder: out of memory\n");
		exit(1);
	}
	len = fread(header_text, 1, MAX_HDR_FILE + 1, f);
	if (ferror(f))
		bad_header_file(path, 0, "read error");
	fclose(f);
	if (len > MAX_HDR_FILE)
		bad_header_file(path, 0, "more than 64 KB");
	if (memchr(header_text, '\0', len) != NULL)
		bad_header_file(path, 0, "a NUL byte");
	header_text[len] = '\0';
	for (line = header_text; line < header_text + len; line = next) {
		lineno++;
		if ((end = strchr(line, '\n')) != NULL) {
			*end = '\0';
			next = end + 1;
		} else
			next = end = header_text + len;
		if (end > line && end[-1] == '\r')
			*--end = '\0';
		if (end == line)
			continue;
		if ((why = header_line_error(line)) != NULL)
			bad_header_file(path, lineno, why);
		if (n == MAX_HEADERS)
			bad_header_file(path, lineno, "more than 64 headers");
		header_nodes[n].data = line;
		header_nodes[n].next = &header_nodes[n + 1];
		n++;
	}
	if (n == 0)
		bad_header_file(path, 0, "no headers");
	/* No "Expect: 100-continue" round trip on larger bodies. */
	header_nodes[n].data = (char *)"Expect:";
	header_nodes[n].next = NULL;
}

/* The status line and headers, before the first byte of the answer. */
static void
start_answer(struct relay_call *call)
{
	long	code = 0;

	if (call->started)
		return;
	call->started = 1;
	(void)curl_easy_getinfo(call->curl, CURLINFO_RESPONSE_CODE, &code);
	FCGX_FPrintF(call->req->out, "Status: %ld\r\nContent-Type: "
	    "application/vnd.amazon.eventstream\r\n\r\n", code > 0 ? code :
	    502);
}

/* libcurl's write callback: copies the piece and flushes it. */
static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct relay_call	*call = arg;
	size_t			 len = size * n;

	start_answer(call);
	if (len > 0 && (FCGX_PutStr(p, (int)len, call->req->out) < 0 ||
	    FCGX_FFlush(call->req->out) < 0)) {
		call->gone = 1;
		return 0;		/* stops the transfer */
	}
	return len;
}

/* The request body into *body (malloc'd, caller frees); -1 when too big. */
static long
read_body(FCGX_Request *req, char **body)
{
	const char	*cl = FCGX_GetParam("CONTENT_LENGTH", req->envp);
	char		*end;
	long		 want = 0, got = 0;
	int		 n;

	*body = NULL;
	if (cl != NULL && *cl != '\0') {
		errno = 0;
		want = strtol(cl, &end, 10);
		if (errno != 0 || *end != '\0' || want < 0 || want > MAX_BODY)
			return -1;
	}
	*body = malloc((size_t)want + 1);
	if (*body == NULL)
		return -1;
	while (got < want && (n = FCGX_GetStr(*body + got, (int)(want - got),
	    req->in)) > 0)
		got += n;
	return got;
}

static void
relay_one(FCGX_Request *req, CURL *curl)
{
	struct relay_call	 call = { req, curl, 0, 0 };
	char			*body;
	long			 len;
	CURLcode		 rc;

	if ((len = read_body(req, &body)) < 0) {
		free(body);
		FCGX_FPrintF(req->out, "Status: 413\r\nContent-Type: "
		    "text/plain\r\n\r\nrequest body too large\n");
		return;
	}
	(void)curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	(void)curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, len);
	(void)curl_easy_setopt(curl, CURLOPT_WRITEDATA, &call);
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK && !call.gone) {
		if (!call.started)
			FCGX_FPrintF(req->out, "Status: 502\r\nContent-Type: "
			    "text/plain\r\n\r\n%s\n", curl_easy_strerror(rc));
		else
			fprintf(stderr, "relay-responder[%ld] upstream: %s\n",
			    (long)getpid(), curl_easy_strerror(rc));
	} else if (!call.started)
		start_answer(&call);
	free(body);
}

/* One accept loop with its own request and libcurl handle. */
static void *
serve(void *arg)
{
	FCGX_Request		 req;
	CURL			*curl;
	struct curl_slist	*headers = NULL;

	(void)arg;
	if ((curl = curl_easy_init()) == NULL) {
		fprintf(stderr, "relay-responder[%ld] curl_easy_init failed\n",
		    (long)getpid());
		exit(1);
	}
	if (header_nodes == NULL) {
		headers = curl_slist_append(headers,
		    "Content-Type: application/json");
		headers = curl_slist_append(headers,
		    "Authorization: Bearer relay-responder");
		/* No "Expect: 100-continue" round trip on larger bodies. */
		headers = curl_slist_append(headers, "Expect:");
		if (headers == NULL) {
			fprintf(stderr, "relay-responder: out of memory\n");
			exit(1);
		}
	}
	(void)curl_easy_setopt(curl, CURLOPT_URL, url);
	(void)curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_nodes != NULL ?
	    header_nodes : headers);
	(void)curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	(void)curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
	(void)curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);

	FCGX_InitRequest(&req, 0, 0);
	while (FCGX_Accept_r(&req) >= 0) {
		relay_one(&req, curl);
		FCGX_Finish_r(&req);
	}
	FCGX_Free(&req, 1);
	curl_easy_cleanup(curl);
	curl_slist_free_all(headers);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct sigaction	 sa;
	pthread_t		 tids[MAX_THREADS];
	const char		*up = getenv("RELAY_UPSTREAM");
	const char		*header_file = NULL;
	char			*end;
	long			 threads = 1, i;
	int			 ch, n;

	while ((ch = getopt(argc, argv, "H:t:u:")) != -1) {
		switch (ch) {
		case 'H':
			header_file = optarg;
			break;
		case 't':
			errno = 0;
			threads = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || threads < 1 ||
			    threads > MAX_THREADS)
				usage();
			break;
		case 'u':
			up = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || up == NULL || *up == '\0')
		usage();
	n = snprintf(url, sizeof(url), "%s/generateAssistantResponse", up);
	if (n < 0 || (size_t)n >= sizeof(url))
		usage();
	if (header_file != NULL)
		load_headers(header_file);

	setvbuf(stderr, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigterm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    FCGX_Init() != 0) {
		fprintf(stderr, "relay-responder[%ld] init failed\n",
		    (long)getpid());
		return 1;
	}
	for (i = 1; i < threads; i++)
		if (pthread_create(&tids[i], NULL, serve, NULL) != 0) {
			fprintf(stderr, "relay-responder: pthread_create "
			    "failed\n");
			return 1;
		}
	serve(NULL);
	for (i = 1; i < threads; i++)
		pthread_join(tids[i], NULL);
	curl_global_cleanup();
	free(header_nodes);
	free(header_text);
	return 0;
}
