/* websearch.h: a web search through Kiro's /mcp endpoint (doc/protocol.md §10). */
#ifndef WEBSEARCH_H
#define WEBSEARCH_H

#include <stddef.h>

#include "config.h"
#include "err.h"

struct conv;
struct conv_web_search;
struct cred;
struct http;

/*
 * Caps on what an /mcp answer may make us hold: the answer's bytes, the
 * results kept (Anthropic's own tool returns about 10), and each field,
 * cut at a UTF-8 boundary.
 */
#define WEBSEARCH_MAX_ANSWER_BYTES	(1024 * 1024)
#define WEBSEARCH_MAX_RESULTS		10
#define WEBSEARCH_MAX_TITLE		300
#define WEBSEARCH_MAX_URL		2048
#define WEBSEARCH_MAX_SNIPPET		2000
#define WEBSEARCH_MAX_QUERY		1000
#define WEBSEARCH_TIMEOUT_MS		30000

/* The tool the model is offered for the client's search tool. */
#define WEBSEARCH_TOOL			"web_search"

struct websearch_result {
	char	*title;
	char	*url;
	char	*snippet;	/* may be NULL */
	char	*page_age;	/* "March 5, 2026", or NULL */
};

/* One search and what it found.  All strings are owned. */
struct websearch {
	char			*query;
	struct websearch_result	*results;
	size_t			 n_results;
	/*
	 * NULL, or why there are no results, as an Anthropic
	 * web_search_tool_result_error code: "max_uses_exceeded" (the
	 * request's max_uses was spent; no call was made).  A failed call
	 * is no error: it finds nothing.
	 */
	const char		*error;
};

/*
 * The length of s (len bytes) cut to at most max bytes, never inside a
 * UTF-8 sequence: what the caps on queries, titles and snippets use.
 */
size_t		 websearch_utf8_cut(const char *s, size_t len,
		    size_t max);

/* Frees what ws owns; ws is then empty.  NULL is fine. */
void		 websearch_free(struct websearch *ws);

/*
 * The JSON-RPC tools/call body for query, with a fresh id of the form
 * web_search_tooluse_<22 alnum>_<unix ms>_<8 lowercase alnum>.  Caller
 * frees.
 */
char		*websearch_rpc_body(const char *query);

/*
 * Reads an /mcp answer (len bytes, not NUL-terminated) into ws->results:
 * KF_OK with at most WEBSEARCH_MAX_RESULTS results (those without a url
 * are skipped, fields are capped), or KF_EUPSTREAM with a cause when it
 * is no answer (not JSON, a JSON-RPC error, isError, an inner text that is
 * not a result list).  ws->results is left empty on error.
 */
enum kf_err	 websearch_parse(const char *body, size_t len,
		    struct websearch *ws, char **cause);

/*
 * 1 when url's host is domain or a subdomain of it ("docs.example.com"
 * matches "example.com", ".example.com" and "*.example.com").  A domain given with a scheme or a path
 * ("https://example.com/blog") is compared by its host.
 */
int		 websearch_domain_match(const char *url, const char *domain);

/*
 * Drops the results the request's allowed_domains / blocked_domains rule
 * out: with an allowed list, only results under one of its domains stay;
 * a blocked domain always goes.
 */
void		 websearch_filter(struct websearch *ws,
		    const struct conv_web_search *opts);

/*
 * Runs query through POST <host's base>/mcp for cred (§2.2 headers: the
 * account's profile in x-amzn-kiro-profile-arn, never for IdC;
 * tokentype: API_KEY for API keys) into ws (ws->query is set).  On any
 * failure ws has no results and the error is returned with a cause for
 * the log; callers answer "no results" (§10).  *refused (may be NULL) is
 * set to 1 when Kiro refused the token (401, 403 bearer-invalid), which
 * a refresh may cure.
 */
enum kf_err	 websearch_run(struct http *, const struct config *,
		    const struct cred *, enum api_host, const char *query,
		    struct websearch *ws, int *refused, char **cause);

/*
 * Offers the model a WEBSEARCH_TOOL (a query string) when conv's client
 * offered its search tool among others (not when it is the only one, nor
 * with tool_choice none), once: a conv that has the tool is left alone.
 */
void		 websearch_offer(struct conv *);

/*
 * The query of a call of WEBSEARCH_TOOL from its input JSON (len bytes),
 * capped at WEBSEARCH_MAX_QUERY bytes on a character boundary; "" when it
 * names none.  Caller frees.
 */
char		*websearch_call_query(const char *input, size_t len);

/*
 * The query of an Anthropic web-search-only request (§10): the first
 * user message's first text, without Claude Code's "Perform a web search
 * for the query: " prefix, trimmed and cut at WEBSEARCH_MAX_QUERY bytes.
 * NULL when empty.  Caller frees.
 */
char		*websearch_query(const struct conv *);

/*
 * The markdown summary of §10 the client reads after the results:
 * "Here are the search results for "q":" and a numbered list of titles,
 * snippets (200 characters) and sources, or "No results found.".  Caller
 * frees.
 */
char		*websearch_summary(const struct websearch *);

/*
 * What the model reads as the search tool's result: the query, then each
 * result's title, URL and snippet (or no results, or the error).  Caller
 * frees.
 */
char		*websearch_result_text(const struct websearch *);

#endif
