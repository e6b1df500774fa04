/* ctl-login.c: kiroctl login: Builder ID device code, Google/GitHub PKCE, remote. */
#include "autoconfig.h"

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accounts.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "cred.h"
#include "ctl-login.h"
#include "http.h"
#include "kiroctl.h"
#include "login.h"
#include "store.h"
#include "xmalloc.h"

#define DEFAULT_TIMEOUT		300	/* seconds to wait for the person */
#define REMOTE_PORT		19876	/* fixed, so ssh -L can be set up first */
#define CALLBACK_PATH		"/oauth/callback"
#define MAX_REQUEST		8192	/* the browser's callback request */
#define MAX_PASTE		16384	/* one pasted redirect URL */
#define REQUEST_WAIT_SECONDS	5	/* for a connected browser's request */

/* Test hook: milliseconds per "second" of the server's poll interval. */
#define SECOND_MS_ENV		"KIROCTL_LOGIN_SECOND_MS"

static volatile sig_atomic_t	interrupted;

struct login_opts {
	const char	*provider;	/* "builder-id", "google", "github" */
	const char	*region;
	const char	*redirect_uri;	/* given: paste mode with this one */
	char		 listen_addr[INET_ADDRSTRLEN];	/* "": 127.0.0.1 */
	long		 port;		/* -1: kernel's choice (or remote's) */
	long		 timeout;	/* seconds */
	int		 no_listener;
	int		 open_browser;
	int		 remote;
};

/* The wait indicator: a spinner on a terminal, dots otherwise. */
struct waiter {
	int		tty;
	time_t		started;
	unsigned	ticks;
	const char	*what;
};

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void
catch_signals(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: poll() must return to see the flag. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	login_set_cancel(&interrupted);
}

static void
usage_login(void)
{
	fprintf(stderr,
	    "usage: kiroctl login builder-id [--region R] [--timeout S]\n"
	    "       kiroctl login google|github [--port N] [--no-listener] "
	    "[--open]\n"
	    "                     [--redirect-uri URI] [--region R] "
	    "[--timeout S]\n"
	    "       kiroctl login remote [--provider builder-id|google|github]"
	    "\n"
	    "                     [--listen ADDR:PORT] [--no-listener] "
	    "[--region R] [--timeout S]\n");
	exit(2);
}

static long
parse_number(const char *s, long min, long max, const char *opt)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		die("%s: \"%s\" is not a number from %ld to %ld", opt, s, min,
		    max);
	return (long)v;
}

/* "ADDR:PORT" or ":PORT" or "PORT" into o. */
static void
parse_listen(const char *s, struct login_opts *o)
{
	const char	*colon = strrchr(s, ':');
	struct in_addr	 in;

	if (colon == NULL) {
		o->port = parse_number(s, 0, 65535, "--listen");
		return;
	}
	o->port = parse_number(colon + 1, 0, 65535, "--listen");
	if (colon == s)
		return;
	if ((size_t)(colon - s) >= sizeof(o->listen_addr))
		die("--listen: \"%s\" is not an IPv4 address and port", s);
	memcpy(o->listen_addr, s, (size_t)(colon - s));
	o->listen_addr[colon - s] = '\0';
	if (inet_pton(AF_INET, o->listen_addr, &in) != 1)
		die("--listen: \"%s\" is not an IPv4 address",
		    o->listen_addr);
}

static void
parse_opts(int argc, char **argv, struct login_opts *o)
{
	char	*why = NULL;
	int	 i;

	for (i = 0; i < argc; i++) {
		const char	*a = argv[i];
		const char	*v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--no-listener") == 0 ||
		    strcmp(a, "--paste") == 0)
			o->no_listener = 1;
		else if (strcmp(a, "--open") == 0)
			o->open_browser = 1;
		else if (v == NULL)
			usage_login();
		else if (strcmp(a, "--region") == 0 && *v != '\0') {
			if (config_region_check("--region", v, &why) != KF_OK)
				die("%s", why);
			o->region = v;
			i++;
		}
		else if (strcmp(a, "--timeout") == 0)
			o->timeout = parse_number(v, 1, 86400, a), i++;
		else if (strcmp(a, "--port") == 0)
			o->port = parse_number(v, 0, 65535, a), i++;
		else if (strcmp(a, "--listen") == 0)
			parse_listen(v, o), i++;
		else if (strcmp(a, "--redirect-uri") == 0) {
			if (strstr(v, "://") == NULL ||
			    v[strcspn(v, " \t\r\n?#")] != '\0')
				die("--redirect-uri: \"%s\" is not a URI "
				    "without query", v);
			o->redirect_uri = v;
			o->no_listener = 1;
			i++;
		}
		else if (strcmp(a, "--provider") == 0 && o->remote)
			o->provider = v, i++;
		else
			usage_login();
	}
}

static long
second_ms(void)
{
	const char	*s = getenv(SECOND_MS_ENV);

	if (s == NULL || *s == '\0')
		return 1000;
	return parse_number(s, 1, 1000, SECOND_MS_ENV);
}

static void
waiter_start(struct waiter *w, const char *what)
{
	w->tty = isatty(STDERR_FILENO);
	w->started = clock_now();
	w->ticks = 0;
	w->what = what;
}

/* Called about ten times a second on a tty, once per poll otherwise. */
static void
waiter_tick(struct waiter *w)
{
	static const char	spin[] = "|/-\\";

	if (w->tty) {
		fprintf(stderr, "\r%c %s (%lld s, Ctrl-C to give up) ",
		    spin[w->ticks++ % 4], w->what,
		    (long long)(clock_now() - w->started));
	} else
		fputc('.', stderr);
	fflush(stderr);
}

static void
waiter_end(struct waiter *w)
{
	if (w->tty)
		fputs("\r\033[K", stderr);
	else
		fputc('\n', stderr);
	fflush(stderr);
}

static void
check_interrupted(struct waiter *w)
{
	if (!interrupted)
		return;
	if (w != NULL)
		waiter_end(w);
	fprintf(stderr, "kiroctl: interrupted: no account was added\n");
	exit(130);
}

/* Sleeps ms, ticking the spinner; returns early on a signal. */
static void
nap(struct waiter *w, long ms)
{
	long	slice;

	while (ms > 0 && !interrupted) {
		slice = ms < 100 ? ms : 100;
		(void)poll(NULL, 0, (int)slice);
		ms -= slice;
		if (w->tty)
			waiter_tick(w);
	}
}

/* Imports the new credential and says which account it is. */
static int
store_login(struct ctl *ctl, struct cred *c, const char *how)
{
	struct import_result	 res;
	char			*why = NULL;

	if (cred_validate(c, &why) != KF_OK)
		die("the login answer is not usable: %s", why);
	if (accounts_import(ctl->store, c, 1, &res, &why) != KF_OK)
		die("%s", why);
	if (res.duplicate)
		printf("logged in with %s: already account %ld (unchanged)\n",
		    how, res.id);
	else {
		printf("logged in with %s: added as account %ld\n", how,
		    res.id);
		ctl_resolve_profile(ctl, res.id);
	}
	return 0;
}

static int
device_login(struct ctl *ctl, const struct login_opts *o)
{
	struct login_device	 d;
	struct waiter		 w;
	struct http		*h;
	struct cred		 c;
	enum login_step		 step;
	char			*why = NULL, *uri_complete, *user_code, *uri;
	time_t			 deadline;
	long			 unit = second_ms(), left;
	int			 rc;

	h = http_new();
	if (login_device_start(h, ctl->cfg, o->region, &d, &why) != KF_OK) {
		check_interrupted(NULL);
		die("%s", why);
	}
	/* The service's words go to the terminal: no control characters. */
	uri_complete = term_clean(d.verification_uri_complete);
	user_code = term_clean(d.user_code);
	uri = term_clean(d.verification_uri);
	fprintf(stderr, "To log in with AWS Builder ID, open this URL in a "
	    "browser%s:\n\n  %s\n\nand check that it shows the code %s\n"
	    "(or open %s and enter the code).\n\n",
	    o->remote ? " on any machine" : "", uri_complete, user_code, uri);
	free(uri_complete);
	free(user_code);
	free(uri);
	deadline = clock_now() + o->timeout;
	if (d.expires_at < deadline)
		deadline = d.expires_at;
	waiter_start(&w, "waiting for the approval in the browser");
	for (;;) {
		left = (long)(deadline - clock_now()) * 1000;
		nap(&w, d.interval * unit < left ? d.interval * unit :
		    left > 0 ? left : 0);
		check_interrupted(&w);
		if (!w.tty)
			waiter_tick(&w);
		if (clock_now() >= deadline && deadline < d.expires_at) {
			waiter_end(&w);
			die("timed out after %ld s waiting for the approval "
			    "(--timeout)", o->timeout);
		}
		if (login_device_poll(h, ctl->cfg, &d, &step, &c, &why) !=
		    KF_OK) {
			check_interrupted(&w);
			waiter_end(&w);
			die("%s", why);
		}
		check_interrupted(&w);
		if (step == LOGIN_DONE)
			break;
	}
	waiter_end(&w);
	login_device_free(&d);
	http_free(h);
	rc = store_login(ctl, &c, "AWS Builder ID");
	cred_free(&c);
	return rc;
}

/* Opens the URL in a browser here, without waiting for it. */
static void
open_browser(const char *url)
{
	pid_t	pid;
	int	fd;

	if ((pid = fork()) == -1) {
		fprintf(stderr, "kiroctl: cannot start xdg-open: %s\n",
		    strerror(errno));
		return;
	}
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execlp("xdg-open", "xdg-open", url, (char *)NULL);
		_exit(127);
	}
}

static int
listen_on(const char *addr, long port, long *bound)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		die("listener: bad address %s", addr);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("listener: socket: %s", strerror(errno));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("cannot listen on %s:%ld for the browser's callback: %s "
		    "(choose another with --port / --listen, or use "
		    "--no-listener)", addr, port, strerror(errno));
	if (listen(fd, 8) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		die("listener: %s", strerror(errno));
	*bound = ntohs(sin.sin_port);
	return fd;
}

static void
html_escaped(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '<')
			buf_puts(b, "&lt;");
		else if (*s == '>')
			buf_puts(b, "&gt;");
		else if (*s == '&')
			buf_puts(b, "&amp;");
		else if (*s == '"')
			buf_puts(b, "&quot;");
		else
			buf_putc(b, *s);
	}
}

static void
answer_browser(int fd, int status, const char *message)
{
	struct buf	page = BUF_INIT, out = BUF_INIT;
	size_t		off = 0;
	ssize_t		n;

	buf_puts(&page, "<!doctype html>\n<meta charset=\"utf-8\">\n"
	    "<title>kiroctl login</title>\n<p>");
	html_escaped(&page, message);
	buf_puts(&page, "</p>\n");
	buf_printf(&out, "HTTP/1.1 %d %s\r\nContent-Type: text/html; "
	    "charset=utf-8\r\nContent-Length: %zu\r\nCache-Control: no-store"
	    "\r\nConnection: close\r\n\r\n", status, status == 200 ? "OK" :
	    status == 404 ? "Not Found" : "Bad Request", page.len);
	buf_append(&out, page.ptr, page.len);
	while (off < out.len) {
		n = write(fd, out.ptr + off, out.len - off);
		if (n == -1 && errno == EINTR && !interrupted)
			continue;
		if (n <= 0)
			break;		/* the browser went away: nothing to do */
		off += (size_t)n;
	}
	buf_free(&page);
	buf_free(&out);
}

/*
 * Reads one request from a connected browser.  Returns its target
 * ("/oauth/callback?code=..") in *target (caller frees), or 0 when it is
 * not a GET we can read (already answered).
 */
static int
read_request(int fd, char **target)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	struct buf	 req = BUF_INIT;
	char		 chunk[1024], *sp, *sp2;
	ssize_t		 n;
	int64_t		 deadline, left;
	int		 ok = 0;

	/*
	 * One deadline for the whole request, not per read: a peer sending
	 * a byte now and then must not hold the only listener.
	 */
	deadline = clock_mono_ms() + REQUEST_WAIT_SECONDS * second_ms();
	*target = NULL;
	while (memmem(req.ptr != NULL ? req.ptr : "", req.len, "\r\n\r\n",
	    4) == NULL && req.len < MAX_REQUEST) {
		if ((left = deadline - clock_mono_ms()) <= 0 ||
		    poll(&pfd, 1, (int)left) <= 0)
			goto out;
		if ((n = read(fd, chunk, sizeof(chunk))) <= 0)
			goto out;
		buf_append(&req, chunk, (size_t)n);
	}
	buf_puts(&req, "");
	if (strncmp(req.ptr, "GET ", 4) != 0 ||
	    (sp = strchr(req.ptr + 4, ' ')) == NULL ||
	    (sp2 = strchr(req.ptr, '\r')) == NULL || sp > sp2) {
		answer_browser(fd, 400, "kiroctl expected a GET request.");
		goto out;
	}
	*target = xstrndup(req.ptr + 4, (size_t)(sp - (req.ptr + 4)));
	ok = 1;
out:
	explicit_bzero(req.ptr, req.len);
	buf_free(&req);
	return ok;
}

/*
 * Serves one connection on the listener.  Returns 1 with *code when the
 * callback carried this login's code, 0 for a request to ignore (favicon,
 * nothing read in time, another state: answered 400); dies only when the
 * service refused this login (an error with its state).
 */
static int
serve_callback(int lfd, const char *state, char **code)
{
	struct buf	 msg = BUF_INIT;
	char		*target = NULL, *why = NULL;
	size_t		 plen = strlen(CALLBACK_PATH);
	int		 fd, got = 0;
	enum kf_err	 er;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return 0;
	if (!read_request(fd, &target))
		goto out;
	if (strncmp(target, CALLBACK_PATH, plen) != 0 ||
	    (target[plen] != '?' && target[plen] != '\0')) {
		answer_browser(fd, 404, "Not the kiroctl login callback.");
		goto out;
	}
	if ((er = login_parse_redirect(target, state, code, &why)) !=
	    KF_OK) {
		/*
		 * Only a refusal carrying this login's state ends it: any
		 * local process can connect here, and must not abort it.
		 */
		if (er != KF_ELOGIN) {
			buf_printf(&msg, "Not this login's callback: %s.", why);
			answer_browser(fd, 400, msg.ptr);
			goto out;
		}
		buf_printf(&msg, "The login failed: %s.", why);
		answer_browser(fd, 400, msg.ptr);
		close(fd);
		die("%s", why);
	}
	answer_browser(fd, 200, "Signed in: kiroctl has the login. You can "
	    "close this tab.");
	got = 1;
out:
	buf_free(&msg);
	free(why);
	if (target != NULL)
		explicit_bzero(target, strlen(target));
	free(target);
	close(fd);
	return got;
}

/* A pasted line, collected from stdin with read() (poll-friendly). */
struct paste {
	struct buf	text;
	int		eof;
};

/*
 * Reads what stdin has; returns 1 with a complete non-blank line in
 * *line (caller frees), else 0.
 */
static int
paste_read(struct paste *p, char **line)
{
	char	chunk[1024], *nl, *s;
	ssize_t	n;

	*line = NULL;
	n = read(STDIN_FILENO, chunk, sizeof(chunk));
	if (n == -1 && errno == EINTR)
		return 0;
	if (n <= 0)
		p->eof = 1;
	else if (buf_append_capped(&p->text, chunk, (size_t)n, MAX_PASTE) ==
	    -1)
		die("the pasted text is longer than %d bytes", MAX_PASTE);
	for (;;) {
		buf_puts(&p->text, "");
		nl = memchr(p->text.ptr, '\n', p->text.len);
		if (nl == NULL && !(p->eof && p->text.len > 0))
			return 0;
		s = xstrndup(p->text.ptr, nl != NULL ?
		    (size_t)(nl - p->text.ptr) : p->text.len);
		buf_consume(&p->text, nl != NULL ?
		    (size_t)(nl - p->text.ptr) + 1 : p->text.len);
		if (s[strspn(s, " \t\r")] != '\0') {
			*line = s;
			return 1;
		}
		free(s);
	}
}

static int
social_login(struct ctl *ctl, const struct login_opts *o,
    enum login_idp idp)
{
	struct login_pkce	 pkce;
	struct pollfd		 pfd[2];
	struct paste		 paste = { BUF_INIT, 0 };
	struct waiter		 w;
	struct http		*h;
	struct cred		 c;
	const char		*addr, *host;
	char			*url, *redirect, *code = NULL, *line, *why = NULL;
	long			 port = o->port;
	time_t			 deadline;
	int			 lfd = -1, nfds, rc, left;

	addr = o->listen_addr[0] != '\0' ? o->listen_addr : "127.0.0.1";
	if (port == -1)
		port = o->remote || o->no_listener ? REMOTE_PORT : 0;
	if (!o->no_listener)
		lfd = listen_on(addr, port, &port);
	/* A wildcard listener is reached as localhost (ssh -L). */
	host = strcmp(addr, "0.0.0.0") == 0 ? "127.0.0.1" : addr;
	if (o->redirect_uri != NULL)
		redirect = xstrdup(o->redirect_uri);
	else
		redirect = xasprintf("http://%s:%ld" CALLBACK_PATH, host, port);
	login_pkce_new(&pkce);
	url = login_social_url(ctl->cfg, o->region, idp, redirect, &pkce);
	fprintf(stderr, "To log in with %s, open this URL in a browser%s:\n"
	    "\n  %s\n\n", login_idp_name(idp),
	    o->remote ? " on any machine" : "", url);
	if (lfd != -1)
		fprintf(stderr, "kiroctl is waiting for the browser at %s.\n"
		    "If that browser runs on another machine, either forward "
		    "the port first\n(ssh -L %ld:127.0.0.1:%ld THIS-HOST) or, "
		    "after signing in, copy the\naddress the browser could not "
		    "open (%s?code=...)\nand paste it here, then press Enter.\n"
		    "\n", redirect, port, port, redirect);
	else
		fprintf(stderr, "After signing in, the browser goes to %s?"
		    "code=...\nwhich will not load: copy that whole address "
		    "from the address bar,\npaste it here and press Enter.\n\n",
		    redirect);
	if (o->open_browser)
		open_browser(url);
	deadline = clock_now() + o->timeout;
	waiter_start(&w, "waiting for the browser");
	while (code == NULL) {
		check_interrupted(&w);
		if (clock_now() >= deadline) {
			waiter_end(&w);
			die("timed out after %ld s waiting for the browser "
			    "(--timeout)", o->timeout);
		}
		nfds = 0;
		if (lfd != -1) {
			pfd[nfds].fd = lfd;
			pfd[nfds++].events = POLLIN;
		}
		if (!paste.eof) {
			pfd[nfds].fd = STDIN_FILENO;
			pfd[nfds++].events = POLLIN;
		}
		if (nfds == 0) {
			waiter_end(&w);
			die("standard input ended without a redirect URL");
		}
		left = (int)(deadline - clock_now()) * 1000;
		rc = poll(pfd, (nfds_t)nfds, left < 1000 ? left : 1000);
		if (w.tty || rc == 0)
			waiter_tick(&w);
		if (rc <= 0)
			continue;
		for (nfds--; nfds >= 0 && code == NULL; nfds--) {
			if (pfd[nfds].revents == 0)
				continue;
			if (pfd[nfds].fd == lfd) {
				if (serve_callback(lfd, pkce.state, &code))
					break;
				continue;
			}
			if (!paste_read(&paste, &line))
				continue;
			if (login_parse_redirect(line, pkce.state, &code,
			    &why) != KF_OK) {
				waiter_end(&w);
				die("%s", why);
			}
			free(line);
		}
	}
	waiter_end(&w);
	if (lfd != -1)
		close(lfd);
	buf_free(&paste.text);
	h = http_new();
	if (login_social_exchange(h, ctl->cfg, o->region, code,
	    pkce.verifier, redirect, &c, &why) != KF_OK) {
		check_interrupted(NULL);
		die("%s", why);
	}
	explicit_bzero(code, strlen(code));
	explicit_bzero(&pkce, sizeof(pkce));
	free(code);
	free(url);
	free(redirect);
	http_free(h);
	rc = store_login(ctl, &c, login_idp_name(idp));
	cred_free(&c);
	(void)waitpid(-1, NULL, WNOHANG);
	return rc;
}

int
login_verb(struct ctl *ctl, int argc, char **argv)
{
	struct login_opts	o;
	enum login_idp		idp;

	memset(&o, 0, sizeof(o));
	o.port = -1;
	o.timeout = DEFAULT_TIMEOUT;
	if (argc < 2)
		usage_login();
	if (strcmp(argv[1], "remote") == 0) {
		o.remote = 1;
		o.provider = "builder-id";
	} else
		o.provider = argv[1];
	parse_opts(argc - 2, argv + 2, &o);
	catch_signals();
	if (strcmp(o.provider, "builder-id") == 0) {
		if (o.no_listener || o.open_browser || o.port != -1)
			die("--port, --listen, --no-listener, --redirect-uri and "
			    "--open are for google and github logins");
		return device_login(ctl, &o);
	}
	if (login_idp_parse(o.provider, &idp) == -1) {
		if (o.remote)
			die("--provider: \"%s\" is not builder-id, google or "
			    "github", o.provider);
		usage_login();
	}
	return social_login(ctl, &o, idp);
}
