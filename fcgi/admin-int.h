/* admin-int.h: what the admin API's files share: the call, errors, answers. */
#ifndef ADMIN_INT_H
#define ADMIN_INT_H

#include <json-c/json.h>

#include "err.h"

struct app;
struct config;
struct request;
struct store;

/* What a handler gets: the request, and what the route matched. */
struct admin_call {
	const struct app	*app;
	struct request		*req;
	struct store		*store;
	const struct config	*cfg;
	long			 id;	/* {id}; 0 when none */
	json_object		*body;	/* the JSON object, or NULL */
};


/* Admin error types and their statuses (doc/protocol.md §9.2, and ours). */
enum admin_err {
	AE_INVALID,		/* 400 */
	AE_AUTH,		/* 401 */
	AE_PERMISSION,		/* 403 */
	AE_NOT_FOUND,		/* 404 */
	AE_METHOD,		/* 405 */
	AE_CONFLICT,		/* 409 */
	AE_TOO_LARGE,		/* 413 */
	AE_INTERNAL,		/* 500 */
	AE_UPSTREAM,		/* 502 */
	AE__MAX
};


/* A new JSON string from a format (one reference). */
json_object	*admin_str_printf(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
/* Answers with o (borrowed) as JSON; extra header lines may be NULL. */
void		 admin_reply(struct request *, int status, json_object *o,
		    const char *extra);
/* Answers {"error":{"type","message"}} with the status of the error. */
void		 admin_error(struct request *, enum admin_err, const char *,
		    ...) __attribute__((format(printf, 3, 4)));
/* The admin error for a failed shared call: KF_EINVAL 400, upstream 502... */
enum admin_err	 admin_err_of(enum kf_err);
/* admin_error with why (may be NULL: the error's description). */
void		 admin_failure(struct request *, enum kf_err,
		    const char *why);
/* {"success":true,"message":...}: kiro.rs's answer to an action. */
void		 admin_success(struct request *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/*
 * The routes (admin.c's table), each answering for itself:
 * admin-accounts.c, credentials and their usage and history ...
 */
void	admin_accounts_list(struct admin_call *);
void	admin_accounts_add(struct admin_call *);
void	admin_accounts_import(struct admin_call *);
void	admin_accounts_delete(struct admin_call *);
void	admin_accounts_disabled(struct admin_call *);
void	admin_accounts_priority(struct admin_call *);
void	admin_accounts_reset(struct admin_call *);
void	admin_accounts_refresh(struct admin_call *);
void	admin_accounts_balance(struct admin_call *);
void	admin_accounts_history(struct admin_call *);
void	admin_accounts_usage(struct admin_call *);
/* ... and admin-settings.c, the settings stored over config.json. */
void	admin_settings_lb_get(struct admin_call *);
void	admin_settings_lb_put(struct admin_call *);
void	admin_settings_lb_del(struct admin_call *);
void	admin_settings_sticky_get(struct admin_call *);
void	admin_settings_sticky_put(struct admin_call *);
void	admin_settings_sticky_del(struct admin_call *);
void	admin_settings_limits_get(struct admin_call *);
void	admin_settings_limits_put(struct admin_call *);
void	admin_settings_limits_del(struct admin_call *);
void	admin_settings_map_get(struct admin_call *);
void	admin_settings_map_put(struct admin_call *);
void	admin_settings_map_del(struct admin_call *);

#endif
