/* admin-login.h: the Builder ID device login, started and polled over the admin API. */
#ifndef ADMIN_LOGIN_H
#define ADMIN_LOGIN_H

#include <json-c/json.h>

#include "err.h"

struct config;
struct http;
struct store;

/*
 * The web UI cannot wait in one request for a person to approve a login,
 * so the device flow of kiroctl login builder-id (shared/login.h) is cut
 * in two: a start, and polls, each one admin request.  Between them the
 * login lives in the store (record admin-login/devices), device code and
 * client secret included; no answer ever holds either.  A finished login
 * keeps its outcome ADMIN_LOGIN_KEEP_SECONDS, so a poll repeated after it
 * gets the same answer, then it is forgotten (404).
 */
#define ADMIN_LOGIN_WAITING_MAX	8	/* logins waiting for approval */
#define ADMIN_LOGIN_KEPT_MAX	16	/* waiting and finished, in all */
#define ADMIN_LOGIN_KEEP_SECONDS	600

/*
 * Registers an OIDC client and starts a device authorization.  KF_OK with
 * *answer {"loginId","status":"pending","verificationUri",
 * "verificationUriComplete","userCode","interval","expiresIn","expiresAt"}
 * (caller puts it); KF_EPERM when ADMIN_LOGIN_WAITING_MAX logins are
 * waiting already; KF_EUPSTREAM / KF_ETIMEOUT when the service fails.
 */
enum kf_err	admin_login_start(struct store *, struct http *,
		    const struct config *, json_object **answer, char **cause);

/*
 * Polls login id once, asking the service only when its interval is over.
 * KF_OK with *answer {"loginId","status","interval","expiresAt", and when
 * approved "accountId","duplicate", when denied or expired "message"}
 * (caller puts it), status being "pending", "slow_down", "approved",
 * "denied" or "expired"; an approved login's credential is imported as a
 * new account.  KF_ENOTFOUND for an unknown (or forgotten) id;
 * KF_EUPSTREAM / KF_ETIMEOUT when the service fails (poll again).
 */
enum kf_err	admin_login_poll(struct store *, struct http *,
		    const struct config *, long id, json_object **answer,
		    char **cause);

#endif
