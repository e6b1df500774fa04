/* upstream.h: calls to the Kiro API (generateAssistantResponse, ...). */
#ifndef UPSTREAM_H
#define UPSTREAM_H

#include <stddef.h>

#include "config.h"
#include "err.h"
#include "http.h"

struct cred;

/* What a non-2xx answer (or a failed transfer) means: doc/protocol.md §7.1. */
enum upstream_verdict {
	UV_OK,
	UV_BAD_REQUEST,		/* 400 Improperly formed: never retried */
	UV_CONTEXT_FULL,	/* 400 CONTENT_LENGTH_EXCEEDS_THRESHOLD */
	UV_INPUT_TOO_LONG,	/* 400 "Input is too long" */
	UV_UNAUTHORIZED,	/* 401 */
	UV_BEARER_INVALID,	/* 403 bearer token invalid: refresh once */
	UV_SUSPENDED,		/* 403 TEMPORARILY_SUSPENDED: disable */
	UV_FORBIDDEN,		/* other 403 */
	UV_QUOTA,		/* 402 MONTHLY_REQUEST_COUNT: disable until reset */
	UV_THROTTLED,		/* 408 / 429: retry with backoff */
	UV_SERVER,		/* 5xx: retry with backoff */
	UV_NETWORK,		/* no complete answer: retry with backoff */
	UV_CLIENT_ERROR,	/* other 4xx: return at once */
	UV__MAX
};

const char		*upstream_verdict_name(enum upstream_verdict);
/* Classifies an HTTP status and body (not NUL-terminated). */
enum upstream_verdict	 upstream_classify(long status, const char *body,
			    size_t len);
/*
 * A short, secret-free description of an error body for people: the
 * "message" (and "reason") of a JSON body, else its first 200 bytes with
 * control characters replaced.  Caller frees.
 */
char			*upstream_error_text(const char *body, size_t len);

/*
 * The AWS SDK client a Kiro operation belongs to (doc/protocol.md §2.1,
 * §2.3): generateAssistantResponse is codewhispererstreaming 1.0.34,
 * getUsageLimits codewhispererruntime 1.0.0.
 */
struct upstream_sdk {
	const char	*version;	/* "1.0.34" */
	const char	*api;		/* "codewhispererstreaming" */
	const char	*metrics;	/* the User-Agent's m/ field: "E" */
	int		 max_attempts;	/* amz-sdk-request's max= */
};

/*
 * The header lines of one call that depend on the credential, in this
 * order: x-amz-user-agent, User-Agent, amz-sdk-invocation-id (new per
 * call), amz-sdk-request, Authorization: Bearer (token or API key).
 * They live in one allocation, block.
 */
#define UPSTREAM_AUTH_LINES	5
struct upstream_auth {
	char	*block;
	size_t	 block_len;
	char	*line[UPSTREAM_AUTH_LINES];	/* into block */
};

/*
 * Appends the SDK, invocation and authorization lines for cred to
 * headers[*n...] (and "tokentype: API_KEY" for API-key credentials);
 * headers must have room for 6 more.  The strings live in a until
 * upstream_auth_free, which also wipes the token.
 */
void			 upstream_auth_headers(struct upstream_auth *a,
			    const struct cred *, const struct config *,
			    const struct upstream_sdk *, const char **headers,
			    size_t *n);
void			 upstream_auth_free(struct upstream_auth *);

/* Where and how a generateAssistantResponse call is made (§12). */
struct upstream_route {
	enum api_host	host;
	enum api_style	style;
};

/* The base URL of host: apiBaseUrl or legacyApiBaseUrl.  Borrowed. */
const char		*upstream_base_url(const struct config *,
			    enum api_host);
/*
 * The configured route of cred: its apiHost / apiStyle, else the
 * config's: the runtime host (idcApiHost for Builder ID accounts) and
 * apiStyle.  The legacy host knows only the path style.
 */
void			 upstream_route_configured(const struct cred *,
			    const struct config *, struct upstream_route *);
/*
 * After route was refused, the other route worth one try, per the
 * refusals of doc/protocol.md §12: REQUEST_BODY_INVALID (the other
 * style), "profileArn is required" (the legacy host), no answer or 404
 * from the legacy host (status 0: DNS or connection failure; the runtime
 * host).  1 with *next set; 0 when nothing else can help, including when
 * the other route would be the very same request.
 */
int			 upstream_route_fallback(const struct config *,
			    const struct upstream_route *route, long status,
			    const char *body, size_t len,
			    struct upstream_route *next);

/* One generateAssistantResponse call, streamed to on_data. */
struct upstream_call {
	const struct config	*cfg;
	const struct cred	*cred;	/* token, regions, proxy, machineId */
	struct upstream_route	 route;	/* zero: runtime host, path style */
	const char		*body;
	size_t			 body_len;
	http_data_fn		 on_data;
	http_tick_fn		 on_tick;
	void			*arg;
};

/*
 * POSTs the body per call->route: path style to
 * <base>/generateAssistantResponse with the headers of §2.1; target style
 * to <base>/ with x-amz-target, the kiroruntime user agent, the client
 * attribution and the profile header of §12.  The token comes from
 * cred->access_token, or the API key; an idc credential never sends a
 * profile.
 * Returns what http_do returns; resp holds the status and error body.
 */
enum kf_err		 upstream_generate(struct http *,
			    const struct upstream_call *, struct http_resp *,
			    char **cause);

/*
 * One call of a small runtime-API operation (getUsageLimits,
 * ListAvailableModels, ListAvailableProfiles): body NULL is a GET, else a
 * JSON POST; the runtime SDK's headers for cred; its proxy; at most
 * max_body bytes of answer.  KF_OK when Kiro answered 200 (resp holds
 * the body).  Another status is KF_EUPSTREAM with *verdict set and a
 * cause "<op>: HTTP <status>: <upstream's words>" that never shows the
 * token; a failed transfer is http_do's error.  resp is the caller's
 * (http_resp_free), verdict may be NULL.
 */
struct upstream_api_req {
	const char	*op;		/* "getUsageLimits", for causes */
	const char	*url;
	const char	*body;		/* NULL: GET */
	long		 timeout_ms;
	size_t		 max_body;
	const char	*header;	/* one more header line, or NULL */
	int		 streaming_sdk;	/* §2.2 /mcp: generate's SDK lines */
};
enum kf_err		 upstream_api(struct http *, const struct config *,
			    const struct cred *, const struct upstream_api_req *,
			    struct http_resp *, enum upstream_verdict *verdict,
			    char **cause);

/*
 * ListAvailableProfiles on the runtime host (doc/protocol.md §12): the
 * profileArn of a social account, the first one in the credential's API
 * region if any, else the first one listed; *arn NULL when the list is
 * empty.  Only social accounts have one: for the others KF_OK with *arn
 * NULL, and no call.  Errors: KF_EAUTH (token refused), KF_EUPSTREAM, KF_ETIMEOUT; the
 * cause never shows the token.  *arn is the caller's to free.
 */
enum kf_err		 upstream_list_profiles(struct http *,
			    const struct config *, const struct cred *,
			    char **arn, char **cause);

/*
 * The proxy for a credential: its own proxyUrl ("direct" means none),
 * else the config's, else NULL (libcurl's defaults).  Borrowed.
 */
const char		*upstream_proxy(const struct cred *,
			    const struct config *, const char **username,
			    const char **password);

#endif
