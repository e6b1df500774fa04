/* imgfetch.h: fetch an image a client named by URL, for the front ends that accept URLs. */
#ifndef IMGFETCH_H
#define IMGFETCH_H

#include "err.h"

struct http;
struct sockaddr;

/*
 * Limits on what the gateway will fetch on a client's behalf: per image,
 * and per request (data: URLs are bounded by the body size instead).
 */
#define IMGFETCH_MAX_BYTES	(20L * 1024 * 1024)
#define IMGFETCH_TIMEOUT_MS	15000L
#define IMGFETCH_MAX_PER_REQUEST	20
#define IMGFETCH_MAX_REQUEST_BYTES	(64L * 1024 * 1024)

/*
 * Turns an image URL into a media type and base64 payload for a
 * CONV_BLOCK_IMAGE.  "data:<type>;base64,<data>" URLs are decoded locally
 * (base64url accepted, re-encoded as standard base64); http(s) URLs are
 * fetched through the thread's http handle with IMGFETCH_TIMEOUT_MS and
 * IMGFETCH_MAX_BYTES, following at most 3 redirects, directly (never
 * through a proxy), and only from addresses imgfetch_addr_allowed accepts
 * (on every hop) unless imgfetch_allow_private is on; the media type comes
 * from the bytes themselves (PNG, JPEG, GIF, WebP) rather than the
 * server's Content-Type.  One request fetches at most
 * IMGFETCH_MAX_PER_REQUEST http(s) URLs and IMGFETCH_MAX_REQUEST_BYTES in
 * all, counted here, so that no front end can forget the caps; the count
 * is the calling thread's, since imgfetch_new_request.  Any other scheme,
 * a URL over those caps, a failed fetch, a refused address, a non-2xx
 * answer, an oversized or non-image body is KF_EINVAL with a cause fit for
 * the client (it names the URL's host, never its query string).
 * On success *media_type and *b64 are the caller's to free.
 */
enum kf_err	imgfetch(struct http *, const char *url, char **media_type,
		    char **b64, char **cause);

/*
 * Starts the calling thread's per-request count afresh: called once per
 * request before its body is parsed (request_read_body), and by tests.
 */
void		imgfetch_new_request(void);

/*
 * Process-wide, set once at start before any fetch (imageFetch.allowPrivate):
 * non-zero lets http(s) image URLs reach every address, private ones too.
 * Off by default.
 */
void		imgfetch_allow_private(int);

/*
 * Whether a fetch may connect to this address by default: only globally
 * routable IPv4 and IPv6 unicast.  Refused in IPv4: 0/8, 10/8, 100.64/10
 * (CGNAT), 127/8, 169.254/16 (link-local, cloud metadata), 172.16/12,
 * 192.0.0/24, 192.0.2/24, 192.88.99/24, 192.168/16, 198.18/15,
 * 198.51.100/24, 203.0.113/24, 224/4 (multicast), 240/4 (reserved and
 * broadcast).  In IPv6 everything outside 2000::/3 (::, ::1, fc00::/7,
 * fe80::/10, fec0::/10, ff00::/8, ...), and 2001:db8::/32, 2001:2::/48,
 * 3fff::/20; the forms that carry an IPv4 address (mapped ::ffff:0:0/96,
 * NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo 2001::/32) are judged by it.
 * Other families are refused.
 */
int		imgfetch_addr_allowed(const struct sockaddr *);

#endif
