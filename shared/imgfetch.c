/* imgfetch.c: an image URL (data: or http(s)) into a media type and base64. */
#include "autoconfig.h"

#include <sys/socket.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "buf.h"
#include "digest.h"
#include "http.h"
#include "imgfetch.h"
#include "xmalloc.h"

/* imageFetch.allowPrivate: set once at start, then only read. */
static int	allow_private;

/*
 * What the thread's current request has fetched.  Each accept thread
 * serves one request at a time, so per thread is per request once
 * imgfetch_new_request has run at its start.
 */
static __thread int	request_fetches;
static __thread size_t	request_bytes;

void
imgfetch_new_request(void)
{
	request_fetches = 0;
	request_bytes = 0;
}

void
imgfetch_allow_private(int on)
{
	allow_private = on != 0;
}

/* An IPv4 address (host order) that is globally routable unicast. */
static int
v4_allowed(uint32_t a)
{
	static const struct {
		uint32_t	net;
		int		bits;
	} refused[] = {
		{ 0x00000000, 8 },	/* "this network" */
		{ 0x0a000000, 8 },	/* RFC 1918 */
		{ 0x64400000, 10 },	/* CGNAT */
		{ 0x7f000000, 8 },	/* loopback */
		{ 0xa9fe0000, 16 },	/* link-local: cloud metadata lives here */
		{ 0xac100000, 12 },	/* RFC 1918 */
		{ 0xc0000000, 24 },	/* IETF protocol assignments */
		{ 0xc0000200, 24 },	/* TEST-NET-1 */
		{ 0xc0586300, 24 },	/* 6to4 relay anycast */
		{ 0xc0a80000, 16 },	/* RFC 1918 */
		{ 0xc6120000, 15 },	/* benchmarking */
		{ 0xc6336400, 24 },	/* TEST-NET-2 */
		{ 0xcb007100, 24 },	/* TEST-NET-3 */
		{ 0xe0000000, 4 },	/* multicast */
		{ 0xf0000000, 4 },	/* reserved, broadcast */
	};
	size_t	i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if ((a & (0xffffffffU << (32 - refused[i].bits))) ==
		    refused[i].net)
			return 0;
	return 1;
}

static uint32_t
v4_at(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int
v6_allowed(const unsigned char *b)
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	static const unsigned char nat64[12] = {
		0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0
	};

	/* The kernel or a NAT64 gateway would connect to the IPv4 inside. */
	if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
		return v4_allowed(v4_at(b + 12));
	/* Global unicast is 2000::/3; the rest is local or reserved. */
	if ((b[0] & 0xe0) != 0x20)
		return 0;
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
		return 0;	/* documentation */
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0x02 &&
	    b[4] == 0 && b[5] == 0)
		return 0;	/* benchmarking */
	if (b[0] == 0x3f && b[1] == 0xff && (b[2] & 0xf0) == 0)
		return 0;	/* documentation (RFC 9637) */
	if (b[0] == 0x20 && b[1] == 0x02)
		return v4_allowed(v4_at(b + 2));	/* 6to4 */
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0)
		/* Teredo: the server, and the client stored inverted. */
		return v4_allowed(v4_at(b + 4)) && v4_allowed(~v4_at(b + 12));
	return 1;
}

int
imgfetch_addr_allowed(const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	if (sa == NULL)
		return 0;
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)(const void *)sa;
		return v4_allowed(ntohl(sin->sin_addr.s_addr));
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		return v6_allowed(sin6->sin6_addr.s6_addr);
	default:
		return 0;
	}
}

/* What Kiro accepts, by the name a data: URL may give. */
static const char *
media_known(const char *type, size_t len)
{
	static const char *const ok[][2] = {
		{ "image/png", "image/png" },
		{ "image/jpeg", "image/jpeg" },
		{ "image/jpg", "image/jpeg" },
		{ "image/gif", "image/gif" },
		{ "image/webp", "image/webp" },
		{ NULL, NULL }
	};
	size_t	i;

	for (i = 0; ok[i][0] != NULL; i++)
		if (strlen(ok[i][0]) == len &&
		    strncasecmp(type, ok[i][0], len) == 0)
			return ok[i][1];
	return NULL;
}

/* The media type from the first bytes, or NULL when it is no image we know. */
static const char *
media_sniff(const unsigned char *p, size_t len)
{
	if (len >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "image/png";
	if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return "image/jpeg";
	if (len >= 6 && (memcmp(p, "GIF87a", 6) == 0 ||
	    memcmp(p, "GIF89a", 6) == 0))
		return "image/gif";
	if (len >= 12 && memcmp(p, "RIFF", 4) == 0 &&
	    memcmp(p + 8, "WEBP", 4) == 0)
		return "image/webp";
	return NULL;
}

static enum kf_err
from_data_url(const char *url, char **media_type, char **b64, char **cause)
{
	const char	*head = url + 5, *comma, *semi, *media;
	size_t		 len;
	long long	 decoded;

	if ((comma = strchr(head, ',')) == NULL)
		goto malformed;
	/* "image/png;base64" possibly with parameters in between. */
	if ((size_t)(comma - head) < 7 ||
	    strncasecmp(comma - 7, ";base64", 7) != 0) {
		xsetprintf(cause, "data: image URLs must be base64 "
		    "(data:image/png;base64,...)");
		return KF_EINVAL;
	}
	semi = memchr(head, ';', (size_t)(comma - head));
	if ((media = media_known(head, (size_t)(semi - head))) == NULL) {
		xsetprintf(cause, "data: URL of type \"%.*s\" is not a "
		    "supported image (use image/jpeg, image/png, image/gif "
		    "or image/webp)", (int)(semi - head > 64 ? 64 :
		    semi - head), head);
		return KF_EINVAL;
	}
	len = strlen(comma + 1);
	if (len == 0 || (decoded = base64_decoded_len(comma + 1, len)) <= 0)
		goto malformed;
	if (decoded > IMGFETCH_MAX_BYTES) {
		xsetprintf(cause, "data: image of %lld bytes is over the %ld "
		    "byte limit", decoded, IMGFETCH_MAX_BYTES);
		return KF_EINVAL;
	}
	*media_type = xstrdup(media);
	*b64 = base64_standard(comma + 1, len);
	return KF_OK;
malformed:
	xsetprintf(cause, "malformed data: URL: expected "
	    "data:<image type>;base64,<data>");
	return KF_EINVAL;
}

/* The URL's host, for messages: never the path or query (tokens live there). */
static char *
url_host(const char *url)
{
	CURLU	*u;
	char	*host = NULL, *out;

	if ((u = curl_url()) == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		curl_url_cleanup(u);
		return NULL;
	}
	out = xstrdup(host);
	curl_free(host);
	curl_url_cleanup(u);
	return out;
}

struct fetch {
	struct buf	body;
	size_t		max;	/* this image's limit, within the request's */
	int		over;
};

static int
on_data(void *arg, const char *data, size_t len)
{
	struct fetch	*f = arg;

	if (buf_append_capped(&f->body, data, len, f->max) != 0) {
		f->over = 1;
		return 1;
	}
	return 0;
}

static enum kf_err
from_http(struct http *h, const char *url, char **media_type, char **b64,
    char **cause)
{
	static const char *const headers[] = {
		"Accept: image/png, image/jpeg, image/gif, image/webp, image/*",
		"User-Agent: kiro-fcgi-imgfetch",
		NULL
	};
	struct http_req		 hr;
	struct http_resp	 resp;
	struct fetch		 f;
	struct buf		 enc = BUF_INIT;
	const char		*media;
	char			*host, *why = NULL;
	enum kf_err		 er;

	if ((host = url_host(url)) == NULL) {
		xsetprintf(cause, "the image URL is malformed");
		return KF_EINVAL;
	}
	memset(&f, 0, sizeof(f));
	/* The request's byte budget bounds this image too. */
	f.max = (size_t)IMGFETCH_MAX_REQUEST_BYTES - request_bytes;
	if (f.max > IMGFETCH_MAX_BYTES)
		f.max = IMGFETCH_MAX_BYTES;
	memset(&hr, 0, sizeof(hr));
	hr.method = "GET";
	hr.url = url;
	hr.headers = headers;
	hr.connect_timeout_ms = IMGFETCH_TIMEOUT_MS;
	hr.timeout_ms = IMGFETCH_TIMEOUT_MS;
	hr.idle_timeout_s = IMGFETCH_TIMEOUT_MS / 1000;
	hr.max_redirects = 3;
	hr.on_data = on_data;
	hr.arg = &f;
	hr.max_body = 4096;
	/* The upstream proxy is for Kiro; images come from the Internet. */
	hr.proxy_url = "direct";
	if (!allow_private)
		hr.allow_addr = imgfetch_addr_allowed;
	er = http_do(h, &hr, &resp, &why);
	request_bytes += f.body.len;
	if (f.over && f.max < (size_t)IMGFETCH_MAX_BYTES)
		request_bytes = (size_t)IMGFETCH_MAX_REQUEST_BYTES;	/* spent */
	if (resp.refused)
		xsetprintf(cause, "the image URL host %s %s a private address; "
		    "the gateway does not fetch those "
		    "(imageFetch.allowPrivate)", host, resp.redirects > 0 ?
		    "redirects to a host that resolves to" : "resolves to");
	else if (f.over && f.max < (size_t)IMGFETCH_MAX_BYTES)
		xsetprintf(cause, "the image at %s is over what is left of "
		    "the %ld MiB this request may fetch in all", host,
		    IMGFETCH_MAX_REQUEST_BYTES / 1024 / 1024);
	else if (f.over)
		xsetprintf(cause, "the image at %s is over the %ld byte limit",
		    host, IMGFETCH_MAX_BYTES);
	else if (er == KF_ETIMEOUT)
		xsetprintf(cause, "fetching the image from %s timed out after "
		    "%ld s", host, IMGFETCH_TIMEOUT_MS / 1000);
	else if (er != KF_OK)
		/* libcurl's words name hosts and ports, not queries. */
		xsetprintf(cause, "the image could not be fetched from %s: %s",
		    host, strchr(resp.error, '?') == NULL ? resp.error :
		    "the transfer failed");
	else if (resp.status < 200 || resp.status > 299)
		xsetprintf(cause, "fetching the image from %s failed: HTTP "
		    "%ld", host, resp.status);
	else if ((media = media_sniff((const unsigned char *)f.body.ptr,
	    f.body.len)) == NULL)
		xsetprintf(cause, "what %s answered is not a PNG, JPEG, GIF "
		    "or WebP image", host);
	else {
		base64_encode(&enc, f.body.ptr, f.body.len);
		*media_type = xstrdup(media);
		*b64 = buf_detach(&enc);
		er = KF_OK;
		goto out;
	}
	er = KF_EINVAL;
out:
	http_resp_free(&resp);
	buf_free(&f.body);
	buf_free(&enc);
	free(host);
	free(why);
	return er;
}

enum kf_err
imgfetch(struct http *h, const char *url, char **media_type, char **b64,
    char **cause)
{
	*media_type = NULL;
	*b64 = NULL;
	if (strncasecmp(url, "data:", 5) == 0)
		return from_data_url(url, media_type, b64, cause);
	if (strncasecmp(url, "http://", 7) == 0 ||
	    strncasecmp(url, "https://", 8) == 0) {
		if (h == NULL) {
			xsetprintf(cause, "image URLs cannot be fetched here; "
			    "send the image as a data: URL");
			return KF_EINVAL;
		}
		if (request_fetches >= IMGFETCH_MAX_PER_REQUEST ||
		    request_bytes >= (size_t)IMGFETCH_MAX_REQUEST_BYTES) {
			xsetprintf(cause, "too many image URLs to fetch in one "
			    "request (at most %d, %ld MiB in all); send the "
			    "others as data: URLs", IMGFETCH_MAX_PER_REQUEST,
			    IMGFETCH_MAX_REQUEST_BYTES / 1024 / 1024);
			return KF_EINVAL;
		}
		request_fetches++;
		return from_http(h, url, media_type, b64, cause);
	}
	xsetprintf(cause, "image URLs must be data: or http(s) URLs");
	return KF_EINVAL;
}
