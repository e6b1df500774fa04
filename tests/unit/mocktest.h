/* mocktest.h: a mock upstream, a store and a config for tests that run the relay. */
#ifndef MOCKTEST_H
#define MOCKTEST_H

/*
 * Shared by the relay and serve tests.  Header-only, every function
 * static, as testutil.h.  mock_setup starts the mock upstream, opens a
 * fresh store in a temporary directory and parses a config pointing every
 * base URL at the mock; mock_teardown undoes it.  add_account registers an
 * account with the mock and imports it into the store (its access token
 * valid until 2100: no refresh).
 */

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "accounts.h"
#include "buf.h"
#include "config.h"
#include "conv.h"
#include "cred.h"
#include "http.h"
#include "pool.h"
#include "store.h"
#include "testutil.h"
#include "xmalloc.h"

/* Refresh tokens must look real: long enough for the mock and the store. */
#define TAIL "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static struct tu_mock	 mock;
static char		*dir;
static struct store	*st;
static struct config	*cfg;
static struct http	*h;

/* Registers an account with the mock and imports it into the store. */
static void __attribute__((unused))
add_account(const char *name, long priority)
{
	struct cred		 c;
	struct import_result	 res;
	struct buf		 out = BUF_INIT;
	char			*body;

	body = xasprintf("{\"refreshToken\":\"aor%s" TAIL "\",\"accessToken\":"
	    "\"aoa%s\",\"authMethod\":\"social\"}", name, name);
	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/accounts", body, &out),
	    200);
	free(body);
	cred_init(&c);
	c.refresh_token = xasprintf("aor%s" TAIL, name);
	c.access_token = xasprintf("aoa%s", name);
	c.expires_at = 4102444800;	/* 2100: no refresh needed */
	c.priority = priority;
	ck_assert_int_eq(accounts_import(st, &c, 1, &res, NULL), KF_OK);
	cred_free(&c);
	buf_free(&out);
}

/* Queues a script (the body of POST /_mock/script) with the mock. */
static void __attribute__((unused))
script(const char *json)
{
	struct buf	out = BUF_INIT;

	ck_assert_int_eq(tu_mock_call(&mock, "/_mock/script", json, &out),
	    200);
	buf_free(&out);
}

static void __attribute__((unused))
mock_setup(void)
{
	char	*json;

	tu_mock_start(&mock);
	dir = tu_tmpdir();
	ck_assert_int_eq(store_open(&st, dir, NULL), KF_OK);
	json = xasprintf("{\"apiBaseUrl\":\"%s\",\"authBaseUrl\":\"%s\","
	    "\"oidcBaseUrl\":\"%s\"}", mock.base, mock.base, mock.base);
	ck_assert_int_eq(config_parse(json, strlen(json), NULL, &cfg, NULL,
	    NULL), KF_OK);
	free(json);
	h = http_new();
}

static void __attribute__((unused))
mock_teardown(void)
{
	/* Tallies are per process: none may reach the next test's store. */
	ck_assert_int_eq(pool_flush(st, NULL), KF_OK);
	http_free(h);
	config_free(cfg);
	store_close(st);
	tu_rmrf(dir);
	free(dir);
	tu_mock_stop(&mock);
}

/* A conversation of one user text message for a Claude model. */
static void __attribute__((unused))
simple_conv(struct conv *c, const char *prompt)
{
	struct conv_block	*b;

	conv_init(c);
	c->model = xstrdup("claude-sonnet-4-5");
	c->kiro_model = "claude-sonnet-4.5";
	b = conv_msg_add_block(conv_add_msg(c, CONV_ROLE_USER),
	    CONV_BLOCK_TEXT);
	b->text = xstrdup(prompt);
}

#endif
