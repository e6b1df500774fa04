/* websearch.c: a web search through Kiro's /mcp endpoint (doc/protocol.md §10). */
#include "autoconfig.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include <json-c/json.h>

#include "buf.h"
#include "conv.h"
#include "cred.h"
#include "http.h"
#include "json.h"
#include "rand.h"
#include "upstream.h"
#include "websearch.h"
#include "xmalloc.h"

/* Claude Code's WebSearch sends its query behind this (§10). */
#define QUERY_PREFIX	"Perform a web search for the query: "

/* The summary's snippets, as kiro.rs cuts them. */
#define SUMMARY_SNIPPET	200

void
websearch_free(struct websearch *ws)
{
	size_t	i;

	if (ws == NULL)
		return;
	for (i = 0; i < ws->n_results; i++) {
		free(ws->results[i].title);
		free(ws->results[i].url);
		free(ws->results[i].snippet);
		free(ws->results[i].page_age);
	}
	free(ws->results);
	free(ws->query);
	memset(ws, 0, sizeof(*ws));
}

size_t
websearch_utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	len = max;
	while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
		len--;
	return len;
}

/* A copy of s, capped, with control characters as spaces. */
static char *
field_copy(const char *s, size_t max)
{
	char	*out;
	size_t	 i, len;

	len = websearch_utf8_cut(s, strlen(s), max);
	out = xstrndup(s, len);
	for (i = 0; i < len; i++)
		if ((unsigned char)out[i] < 0x20)
			out[i] = ' ';
	return out;
}

char *
websearch_rpc_body(const char *query)
{
	json_object	*rpc, *params, *args;
	struct timeval	 tv;
	char		 id_a[23], id_b[9], *text;
	size_t		 i;

	rand_alnum(id_a, 22);
	rand_alnum(id_b, 8);
	for (i = 0; i < 8; i++)
		id_b[i] = (char)tolower((unsigned char)id_b[i]);
	gettimeofday(&tv, NULL);
	rpc = json_object_new_object();
	text = xasprintf("web_search_tooluse_%s_%lld_%s", id_a,
	    (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000, id_b);
	json_object_object_add(rpc, "id", json_str(text));
	free(text);
	json_object_object_add(rpc, "jsonrpc", json_str("2.0"));
	json_object_object_add(rpc, "method", json_str("tools/call"));
	params = json_object_new_object();
	json_object_object_add(params, "name", json_str("web_search"));
	args = json_object_new_object();
	json_object_object_add(args, "query", json_str(query));
	json_object_object_add(params, "arguments", args);
	json_object_object_add(rpc, "params", params);
	text = json_to_str(rpc);
	json_object_put(rpc);
	return text;
}

/* publishedDate (unix ms) as Anthropic's page_age: "March 5, 2026". */
static char *
page_age(int64_t ms)
{
	static const char *const months[12] = {
		"January", "February", "March", "April", "May", "June",
		"July", "August", "September", "October", "November",
		"December",
	};
	struct tm	tm;
	time_t		t;

	if (ms <= 0 || ms / 1000 > (int64_t)253402300799LL)
		return NULL;
	t = (time_t)(ms / 1000);
	if (gmtime_r(&t, &tm) == NULL || tm.tm_mon < 0 || tm.tm_mon > 11)
		return NULL;
	return xasprintf("%s %d, %d", months[tm.tm_mon], tm.tm_mday,
	    tm.tm_year + 1900);
}

/* Appends one result object; 0 when it has no usable url. */
static int
add_result(struct websearch *ws, json_object *r)
{
	struct websearch_result	*out;
	const char		*url, *title = NULL, *snippet = NULL;
	int64_t			 published = 0;

	if (json_get_str(r, "url", &url) != 1 || *url == '\0')
		return 0;
	if (json_get_str(r, "title", &title) != 1 || *title == '\0')
		title = url;
	(void)json_get_str(r, "snippet", &snippet);
	ws->results = xreallocarray(ws->results, ws->n_results + 1,
	    sizeof(*ws->results));
	out = &ws->results[ws->n_results++];
	memset(out, 0, sizeof(*out));
	out->title = field_copy(title, WEBSEARCH_MAX_TITLE);
	out->url = field_copy(url, WEBSEARCH_MAX_URL);
	if (snippet != NULL && *snippet != '\0')
		out->snippet = field_copy(snippet, WEBSEARCH_MAX_SNIPPET);
	if (json_get_int(r, "publishedDate", &published) == 1)
		out->page_age = page_age(published);
	return 1;
}

enum kf_err
websearch_parse(const char *body, size_t len, struct websearch *ws,
    char **cause)
{
	json_object	*root = NULL, *inner = NULL, *v, *content, *item;
	json_object	*results;
	const char	*text = NULL, *msg;
	size_t		 i, n;
	int		 is_error = 0;
	enum kf_err	 er = KF_EUPSTREAM;

	if (len > WEBSEARCH_MAX_ANSWER_BYTES) {
		xsetprintf(cause, "web search: answer of %zu bytes is over "
		    "the %d-byte cap", len, WEBSEARCH_MAX_ANSWER_BYTES);
		goto out;
	}
	if (json_parse(body, len, 32, &root, NULL) != KF_OK ||
	    !json_object_is_type(root, json_type_object)) {
		xsetprintf(cause, "web search: the answer is not a JSON "
		    "object");
		goto out;
	}
	if (json_get_obj(root, "error", &v) == 1) {
		if (json_get_str(v, "message", &msg) != 1)
			msg = "no message";
		xsetprintf(cause, "web search: JSON-RPC error: %.200s", msg);
		goto out;
	}
	if (json_get_obj(root, "result", &v) != 1 ||
	    json_get_arr(v, "content", &content) != 1) {
		xsetprintf(cause, "web search: the answer has no "
		    "result.content");
		goto out;
	}
	(void)json_get_bool(v, "isError", &is_error);
	n = json_object_array_length(content);
	for (i = 0; i < n && text == NULL; i++) {
		item = json_object_array_get_idx(content, i);
		if (json_get_str(item, "text", &text) != 1)
			text = NULL;
	}
	if (is_error) {
		xsetprintf(cause, "web search: the tool reported an error: "
		    "%.200s", text != NULL ? text : "");
		goto out;
	}
	if (text == NULL || json_parse(text, strlen(text), 32, &inner,
	    NULL) != KF_OK || json_get_arr(inner, "results", &results) != 1) {
		xsetprintf(cause, "web search: the result is not a result "
		    "list");
		goto out;
	}
	n = json_object_array_length(results);
	for (i = 0; i < n && ws->n_results < WEBSEARCH_MAX_RESULTS; i++) {
		item = json_object_array_get_idx(results, i);
		if (json_object_is_type(item, json_type_object))
			(void)add_result(ws, item);
	}
	er = KF_OK;
out:
	json_object_put(inner);
	json_object_put(root);
	return er;
}

/* The host part of a URL or bare domain: [start, *len). */
static const char *
host_of(const char *s, size_t *len)
{
	const char	*p;

	if ((p = strstr(s, "://")) != NULL)
		s = p + 3;
	if ((p = strchr(s, '@')) != NULL && p < s + strcspn(s, "/?#"))
		s = p + 1;
	*len = strcspn(s, "/?#:");
	return s;
}

int
websearch_domain_match(const char *url, const char *domain)
{
	const char	*host, *want;
	size_t		 hlen, wlen;

	host = host_of(url, &hlen);
	want = host_of(domain, &wlen);
	if (wlen > 1 && want[0] == '*' && want[1] == '.') {
		want++;
		wlen--;
	}
	if (wlen > 0 && want[0] == '.') {
		want++;
		wlen--;
	}
	if (wlen == 0 || hlen < wlen)
		return 0;
	if (strncasecmp(host + hlen - wlen, want, wlen) != 0)
		return 0;
	return hlen == wlen || host[hlen - wlen - 1] == '.';
}

static int
any_match(const char *url, char *const *domains, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (websearch_domain_match(url, domains[i]))
			return 1;
	return 0;
}

void
websearch_filter(struct websearch *ws, const struct conv_web_search *opts)
{
	struct websearch_result	*r;
	size_t			 i, kept = 0;

	for (i = 0; i < ws->n_results; i++) {
		r = &ws->results[i];
		if ((opts->n_allowed > 0 && !any_match(r->url, opts->allowed,
		    opts->n_allowed)) || any_match(r->url, opts->blocked,
		    opts->n_blocked)) {
			free(r->title);
			free(r->url);
			free(r->snippet);
			free(r->page_age);
			continue;
		}
		ws->results[kept++] = *r;
	}
	ws->n_results = kept;
}

enum kf_err
websearch_run(struct http *h, const struct config *cfg,
    const struct cred *c, enum api_host host, const char *query,
    struct websearch *ws, int *refused, char **cause)
{
	struct upstream_api_req	 call;
	struct http_resp	 resp;
	enum upstream_verdict	 verdict = UV_OK;
	char			*url, *body, *profile = NULL;
	enum kf_err		 er;

	websearch_free(ws);
	ws->query = xstrdup(query);
	url = config_url(upstream_base_url(cfg, host), cred_api_region(c, cfg),
	    "/mcp");
	body = websearch_rpc_body(query);
	/* §2.2 and §12: the profile travels in a header, never for IdC. */
	if (c->profile_arn != NULL && c->auth_method != CRED_AUTH_IDC)
		profile = xasprintf("x-amzn-kiro-profile-arn: %s",
		    c->profile_arn);
	memset(&call, 0, sizeof(call));
	call.op = "mcp";
	call.url = url;
	call.body = body;
	call.timeout_ms = WEBSEARCH_TIMEOUT_MS;
	call.max_body = WEBSEARCH_MAX_ANSWER_BYTES + 1;
	call.header = profile;
	call.streaming_sdk = 1;
	memset(&resp, 0, sizeof(resp));
	er = upstream_api(h, cfg, c, &call, &resp, &verdict, cause);
	if (refused != NULL)
		*refused = er == KF_EUPSTREAM && (verdict == UV_BEARER_INVALID ||
		    verdict == UV_UNAUTHORIZED);
	if (er == KF_OK)
		er = websearch_parse(resp.body.ptr, resp.body.len, ws, cause);
	http_resp_free(&resp);
	free(profile);
	free(body);
	free(url);
	return er;
}

void
websearch_offer(struct conv *conv)
{
	struct conv_tool	*t;
	json_object		*schema, *props, *q, *req;
	size_t			 i;

	if (!conv->web_search.enabled || conv->web_search.only ||
	    conv->tool_choice == CONV_TOOL_CHOICE_NONE)
		return;
	for (i = 0; i < conv->n_tools; i++)
		if (strcmp(conv->tools[i].name, WEBSEARCH_TOOL) == 0)
			return;
	schema = json_object_new_object();
	json_object_object_add(schema, "type", json_str("object"));
	props = json_object_new_object();
	q = json_object_new_object();
	json_object_object_add(q, "type", json_str("string"));
	json_object_object_add(q, "description",
	    json_str("What to search the web for"));
	json_object_object_add(props, "query", q);
	json_object_object_add(schema, "properties", props);
	req = json_object_new_array();
	json_object_array_add(req, json_str("query"));
	json_object_object_add(schema, "required", req);
	t = conv_add_tool(conv);
	t->name = xstrdup(WEBSEARCH_TOOL);
	t->description = xstrdup("Search the web for current information. "
	    "Returns result titles, URLs and snippets; cite the URLs you "
	    "use.");
	t->schema = schema;
}

char *
websearch_call_query(const char *input, size_t len)
{
	json_object	*v = NULL;
	const char	*q = "";
	char		*out;

	if (input != NULL && len > 0 && json_parse(input, len, 16, &v,
	    NULL) == KF_OK)
		(void)json_get_str(v, "query", &q);
	out = xstrndup(q, websearch_utf8_cut(q, strlen(q),
	    WEBSEARCH_MAX_QUERY));
	json_object_put(v);
	return out;
}

char *
websearch_query(const struct conv *conv)
{
	const struct conv_msg	*m;
	const char		*text = NULL, *end;
	size_t			 i, j, len;

	for (i = 0; i < conv->n_msgs && text == NULL; i++) {
		m = &conv->msgs[i];
		if (m->role != CONV_ROLE_USER)
			continue;
		for (j = 0; j < m->n_blocks && text == NULL; j++)
			if (m->blocks[j].type == CONV_BLOCK_TEXT &&
			    m->blocks[j].text != NULL)
				text = m->blocks[j].text;
		break;
	}
	if (text == NULL)
		return NULL;
	if (strncmp(text, QUERY_PREFIX, strlen(QUERY_PREFIX)) == 0)
		text += strlen(QUERY_PREFIX);
	while (isspace((unsigned char)*text))
		text++;
	len = strlen(text);
	end = text + len;
	while (end > text && isspace((unsigned char)end[-1]))
		end--;
	len = (size_t)(end - text);
	if (len == 0)
		return NULL;
	return xstrndup(text, websearch_utf8_cut(text, len,
	    WEBSEARCH_MAX_QUERY));
}

char *
websearch_summary(const struct websearch *ws)
{
	struct buf			 t = BUF_INIT;
	const struct websearch_result	*r;
	size_t				 i, n;

	buf_printf(&t, "Here are the search results for \"%s\":\n\n",
	    ws->query != NULL ? ws->query : "");
	if (ws->n_results == 0)
		buf_puts(&t, "No results found.\n\n");
	for (i = 0; i < ws->n_results; i++) {
		r = &ws->results[i];
		buf_printf(&t, "%zu. **%s**\n", i + 1, r->title);
		if (r->snippet != NULL) {
			n = websearch_utf8_cut(r->snippet, strlen(r->snippet),
			    SUMMARY_SNIPPET);
			buf_puts(&t, "   ");
			buf_append(&t, r->snippet, n);
			if (r->snippet[n] != '\0')
				buf_puts(&t, "...");
			buf_putc(&t, '\n');
		}
		buf_printf(&t, "   Source: %s\n\n", r->url);
	}
	buf_puts(&t, "Please note that these are web search results and may "
	    "not be fully accurate or up to date.");
	return buf_detach(&t);
}

char *
websearch_result_text(const struct websearch *ws)
{
	struct buf			 t = BUF_INIT;
	const struct websearch_result	*r;
	size_t				 i;

	buf_printf(&t, "Web search results for \"%s\":\n",
	    ws->query != NULL ? ws->query : "");
	if (ws->error != NULL && strcmp(ws->error, "max_uses_exceeded") == 0)
		buf_puts(&t, "\nError: the web_search tool may not be used "
		    "again in this request (max_uses reached). Answer with "
		    "the results you already have.");
	else if (ws->n_results == 0)
		buf_puts(&t, "\nNo results found.");
	for (i = 0; i < ws->n_results; i++) {
		r = &ws->results[i];
		buf_printf(&t, "\n%zu. %s\n   URL: %s\n", i + 1, r->title,
		    r->url);
		if (r->page_age != NULL)
			buf_printf(&t, "   Published: %s\n", r->page_age);
		if (r->snippet != NULL)
			buf_printf(&t, "   %s\n", r->snippet);
	}
	return buf_detach(&t);
}
