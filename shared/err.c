/* err.c: names and descriptions of the shared error vocabulary. */
#include "autoconfig.h"

#include "err.h"

static const char *const err_names[KF_ERR__MAX] = {
	"ok",
	"invalid_request",
	"authentication",
	"permission",
	"not_found",
	"too_large",
	"rate_limited",
	"overloaded",
	"upstream",
	"timeout",
	"context_too_long",
	"quota_exhausted",
	"account_suspended",
	"no_account",
	"login_required",
	"store",
	"config",
	"client_gone",
	"internal",
};

static const char *const err_text[KF_ERR__MAX] = {
	"success",
	"invalid request",
	"authentication failed",
	"permission denied",
	"not found",
	"request too large",
	"rate limited",
	"upstream overloaded",
	"upstream error",
	"upstream timed out",
	"context window is full",
	"quota exhausted",
	"account suspended",
	"no usable Kiro account",
	"account needs a new login",
	"state store error",
	"configuration error",
	"client went away",
	"internal error",
};

const char *
kf_err_name(enum kf_err er)
{
	if ((unsigned)er >= KF_ERR__MAX)
		return "internal";
	return err_names[er];
}

const char *
kf_strerror(enum kf_err er)
{
	if ((unsigned)er >= KF_ERR__MAX)
		return "internal error";
	return err_text[er];
}
