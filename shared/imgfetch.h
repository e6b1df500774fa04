/* imgfetch.h: fetch an image a client named by URL, for the front ends that accept URLs. */
#ifndef IMGFETCH_H
#define IMGFETCH_H

#include "err.h"

struct http;

/* Limits on what the gateway will fetch on a client's behalf. */
#define IMGFETCH_MAX_BYTES	(20L * 1024 * 1024)
#define IMGFETCH_TIMEOUT_MS	15000L

/*
 * Turns an image URL into a media type and base64 payload for a
 * CONV_BLOCK_IMAGE.  "data:<type>;base64,<data>" URLs are decoded locally
 * (base64url accepted, re-encoded as standard base64); http(s) URLs are
 * fetched through the thread's http handle with IMGFETCH_TIMEOUT_MS and
 * IMGFETCH_MAX_BYTES, following at most 3 redirects, and the media type
 * comes from the bytes themselves (PNG, JPEG, GIF, WebP) rather than the
 * server's Content-Type.  Any other scheme, a failed fetch, a non-2xx
 * answer, an oversized or non-image body is KF_EINVAL with a cause fit
 * for the client (it names the URL's host, never its query string).
 * On success *media_type and *b64 are the caller's to free.
 */
enum kf_err	imgfetch(struct http *, const char *url, char **media_type,
		    char **b64, char **cause);

#endif
