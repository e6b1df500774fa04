/* login.h: new Kiro logins without the IDE (doc/protocol.md §1.1). */
#ifndef LOGIN_H
#define LOGIN_H

#include <signal.h>
#include <time.h>

#include "err.h"

struct config;
struct cred;
struct http;

/*
 * The protocol steps only: no terminal, no sockets, no store.  kiroctl
 * (admin/ctl-login.c) drives them and imports the resulting credential.
 * Every cause is for people and never contains a token, secret or code.
 */

/*
 * A flag, set by a signal handler, that stops a login call in progress
 * within about a second: the call then fails with KF_ECLIENTGONE.  For
 * the command line (one per process); NULL for none.
 */
void		 login_set_cancel(const volatile sig_atomic_t *flag);

#define LOGIN_START_URL		"https://view.awsapps.com/start"
#define LOGIN_SLOW_DOWN_STEP	5	/* seconds added by slow_down */

/* --- Builder ID: the SSO-OIDC device code flow ---------------------------- */

/* One device authorization in progress.  Owns its strings. */
struct login_device {
	char	*region;		/* OIDC region used */
	char	*client_id;
	char	*client_secret;
	char	*device_code;
	char	*user_code;		/* for people: "ABCD-EFGH" */
	char	*verification_uri;
	char	*verification_uri_complete;	/* the code already in it */
	long	 interval;		/* seconds between polls, >= 1 */
	time_t	 expires_at;		/* the device code's end */
};

enum login_step {
	LOGIN_PENDING,		/* not approved yet: poll again */
	LOGIN_SLOW_DOWN,	/* ditto, interval has grown by 5 s */
	LOGIN_DONE,		/* *out holds the new credential */
	LOGIN_STEP__MAX
};

/*
 * Registers a public OIDC client ("Kiro IDE", the codewhisperer scopes)
 * and starts a device authorization for the Builder ID start URL, at
 * oidcBaseUrl in region (NULL: the configured auth region).  *out is the
 * caller's to login_device_free, also after an error.
 */
enum kf_err	 login_device_start(struct http *, const struct config *,
		    const char *region, struct login_device *out,
		    char **cause);
void		 login_device_free(struct login_device *);	/* fields */

/*
 * Polls the token endpoint once.  KF_OK with *step LOGIN_PENDING or
 * LOGIN_SLOW_DOWN (d->interval grown) or LOGIN_DONE (out filled: an idc
 * credential with tokens, client and region, caller's cred_free).  Errors:
 * KF_ELOGIN when the person denied it (access_denied) or the code expired
 * (expired_token, or now past d->expires_at); KF_EUPSTREAM / KF_ETIMEOUT
 * for other failures.  out is untouched unless LOGIN_DONE.
 */
enum kf_err	 login_device_poll(struct http *, const struct config *,
		    struct login_device *d, enum login_step *step,
		    struct cred *out, char **cause);

/* --- Google / GitHub: the social PKCE flow -------------------------------- */

enum login_idp {
	LOGIN_GOOGLE,
	LOGIN_GITHUB,
	LOGIN_IDP__MAX
};

#define LOGIN_B64_32	44	/* base64url of 32 bytes (43) and a NUL */

struct login_pkce {
	char	verifier[LOGIN_B64_32];
	char	challenge[LOGIN_B64_32];
	char	state[LOGIN_B64_32];
};

/* "google" | "github" (any case): 0 and *out, or -1. */
int		 login_idp_parse(const char *, enum login_idp *);
/* The exact idp= word the service expects: "Google", "Github". */
const char	*login_idp_name(enum login_idp);

/* A fresh verifier and state (32 random bytes each) and the challenge. */
void		 login_pkce_new(struct login_pkce *);
/* base64url(SHA-256(verifier)), RFC 7636 S256. */
void		 login_pkce_challenge(const char *verifier,
		    char out[LOGIN_B64_32]);

/*
 * The browser URL: authBaseUrl (region NULL: the configured auth region)
 * + "/login?idp=..&redirect_uri=..&code_challenge=..
 * &code_challenge_method=S256&state=..".  Caller frees.
 */
char		*login_social_url(const struct config *, const char *region,
		    enum login_idp, const char *redirect_uri,
		    const struct login_pkce *);

/*
 * Reads the redirect the browser was sent to: a whole URL, or just its
 * path and query, or the query.  KF_OK with *code (caller frees) when it
 * has a code and its state is the expected one; KF_ELOGIN when the service
 * refused (?error=) with this login's state; KF_EINVAL for a URL without
 * code or state (cut off when pasted?) or with another login's state, an
 * error included: only KF_ELOGIN means this login is over.  The cause
 * says which; it may hold the URL's text (control characters included).
 */
enum kf_err	 login_parse_redirect(const char *url, const char *state,
		    char **code, char **cause);

/*
 * Exchanges the code at authBaseUrl/oauth/token for tokens (camelCase or
 * snake_case answers); out becomes a social credential (caller's
 * cred_free).  KF_ELOGIN when the code is refused, KF_EUPSTREAM /
 * KF_ETIMEOUT otherwise.
 */
enum kf_err	 login_social_exchange(struct http *, const struct config *,
		    const char *region, const char *code, const char *verifier,
		    const char *redirect_uri, struct cred *out, char **cause);

#endif
