/* test-accounts.c: importing, listing and seeding accounts in the store. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "accounts.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "cred.h"
#include "json.h"
#include "store.h"
#include "testutil.h"
#include "xmalloc.h"

#define LONG_TAIL "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static char		*dir;
static struct store	*st;

static void
setup(void)
{
	char	*why = NULL;

	dir = tu_tmpdir();
	ck_assert_msg(store_open(&st, dir, &why) == KF_OK, "%s", why);
}

static void
teardown(void)
{
	store_close(st);
	tu_rmrf(dir);
	free(dir);
}

static void
make(struct cred *c, const char *rt_prefix, long priority)
{
	cred_init(c);
	c->refresh_token = xasprintf("%s" LONG_TAIL, rt_prefix);
	c->priority = priority;
}

START_TEST(accounts_import_assigns_ids_and_lists_by_priority)
{
	struct cred		 in[3];
	struct import_result	 res[3];
	struct account		*list = NULL;
	size_t			 n = 0;

	make(&in[0], "aorA", 5);
	make(&in[1], "aorB", 1);
	make(&in[2], "aorC", 5);
	ck_assert_int_eq(accounts_import(st, in, 3, res, NULL), KF_OK);
	ck_assert_int_eq(res[0].id, 1);
	ck_assert_int_eq(res[1].id, 2);
	ck_assert_int_eq(res[2].id, 3);
	ck_assert_int_eq(res[0].duplicate, 0);
	ck_assert_int_eq(accounts_list(st, &list, &n, NULL), KF_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(list[0].cred.id, 2);	/* priority 1 first */
	ck_assert_int_eq(list[1].cred.id, 1);	/* then by id */
	ck_assert_int_eq(list[2].cred.id, 3);
	ck_assert_str_eq(list[0].cred.refresh_token, in[1].refresh_token);
	accounts_free(list, n);
	cred_free(&in[0]);
	cred_free(&in[1]);
	cred_free(&in[2]);
}
END_TEST

START_TEST(accounts_duplicates_are_detected_and_unchanged)
{
	struct cred		 in[2], again;
	struct import_result	 res[2];
	struct account		 a;

	make(&in[0], "aorA", 0);
	make(&in[1], "aorB", 0);
	ck_assert_int_eq(accounts_import(st, in, 2, res, NULL), KF_OK);
	make(&again, "aorB", 9);
	ck_assert_int_eq(accounts_import(st, &again, 1, res, NULL), KF_OK);
	ck_assert_int_eq(res[0].duplicate, 1);
	ck_assert_int_eq(res[0].id, 2);
	ck_assert_int_eq(accounts_get(st, 2, &a, NULL), KF_OK);
	ck_assert_int_eq(a.cred.priority, 0);	/* not overwritten */
	account_free(&a);
	cred_free(&in[0]);
	cred_free(&in[1]);
	cred_free(&again);
}
END_TEST

START_TEST(accounts_old_tokens_still_identify_the_account)
{
	struct store_txn	*txn;
	struct cred		 c;
	struct import_result	 res;
	struct account		 a;

	make(&c, "aorOLD", 0);
	ck_assert_int_eq(accounts_import(st, &c, 1, &res, NULL), KF_OK);
	/* The token rotates (as a refresh does)... */
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(accounts_txn_load(txn, res.id, &a, NULL), KF_OK);
	free(a.cred.refresh_token);
	a.cred.refresh_token = xstrdup("aorNEW" LONG_TAIL);
	ck_assert_int_eq(accounts_txn_save_cred(txn, &a.cred, NULL), KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	account_free(&a);
	/* ...and re-importing the old file does not add a dead copy. */
	ck_assert_int_eq(accounts_import(st, &c, 1, &res, NULL), KF_OK);
	ck_assert_int_eq(res.duplicate, 1);
	ck_assert_int_eq(res.id, 1);
	cred_free(&c);
}
END_TEST

START_TEST(accounts_disabled_import_starts_disabled)
{
	struct cred		 c;
	struct import_result	 res;
	struct account		 a;

	make(&c, "aorA", 0);
	c.disabled = 1;
	ck_assert_int_eq(accounts_import(st, &c, 1, &res, NULL), KF_OK);
	ck_assert_int_eq(accounts_get(st, res.id, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.disabled, ACCOUNT_MANUAL);
	ck_assert_int_eq(account_usable(&a, 0), 0);
	ck_assert_str_eq(account_state_word(&a, 0), "disabled");
	account_free(&a);
	cred_free(&c);
}
END_TEST

START_TEST(accounts_unknown_id_is_not_found)
{
	struct account	a;
	char		*why = NULL;

	ck_assert_int_eq(accounts_get(st, 42, &a, &why), KF_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(why, "42"));
	free(why);
}
END_TEST

START_TEST(accounts_state_round_trips)
{
	struct account_state	s, back;
	json_object		*o;

	memset(&s, 0, sizeof(s));
	s.disabled = ACCOUNT_QUOTA_EXCEEDED;
	s.disabled_detail = xstrdup("MONTHLY_REQUEST_COUNT");
	s.disabled_at = 100;
	s.disabled_until = 200;
	s.failures = 2;
	s.refresh_failures = 1;
	s.cooldown_until = 300;
	s.success_count = 9;
	s.request_count = 11;
	s.last_used = 400;
	s.last_error = xstrdup("boom");
	s.subscription = xstrdup("KIRO FREE");
	o = account_state_to_json(&s);
	ck_assert_int_eq(account_state_from_json(o, &back, NULL), KF_OK);
	ck_assert_int_eq(back.disabled, ACCOUNT_QUOTA_EXCEEDED);
	ck_assert_str_eq(back.disabled_detail, "MONTHLY_REQUEST_COUNT");
	ck_assert_int_eq(back.disabled_until, 200);
	ck_assert_int_eq(back.failures, 2);
	ck_assert_int_eq(back.cooldown_until, 300);
	ck_assert_int_eq(back.success_count, 9);
	ck_assert_str_eq(back.last_error, "boom");
	ck_assert_str_eq(back.subscription, "KIRO FREE");
	json_object_put(o);
	account_state_free(&s);
	account_state_free(&back);
}
END_TEST

/* Loads reuse a parse only for the very same bytes of both records. */
START_TEST(accounts_load_follows_every_record_change)
{
	struct cred		 in;
	struct import_result	 res;
	struct account		 a, b;
	struct account_state	 st8;
	struct store_txn	*txn;
	struct buf		 saved = BUF_INIT;
	char			*why = NULL;

	make(&in, "aorL", 0);
	ck_assert_int_eq(accounts_import(st, &in, 1, &res, NULL), KF_OK);
	ck_assert_int_eq(accounts_get(st, res.id, &a, NULL), KF_OK);
	ck_assert_int_eq(accounts_get(st, res.id, &b, NULL), KF_OK);
	ck_assert_str_eq(a.cred.refresh_token, b.cred.refresh_token);
	ck_assert_ptr_ne(a.cred.refresh_token, b.cred.refresh_token);
	ck_assert_int_eq(b.cred.id, res.id);
	account_free(&b);

	/* A rotated token. */
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(store_get(txn, "cred/1", &saved), KF_OK);
	free(a.cred.refresh_token);
	a.cred.refresh_token = xstrdup("aorRotated" LONG_TAIL);
	ck_assert_int_eq(accounts_txn_save_cred(txn, &a.cred, NULL), KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	ck_assert_int_eq(accounts_get(st, res.id, &b, NULL), KF_OK);
	ck_assert_str_eq(b.cred.refresh_token, "aorRotated" LONG_TAIL);
	account_free(&b);

	/* State written, then gone. */
	memset(&st8, 0, sizeof(st8));
	st8.failures = 3;
	st8.last_error = xstrdup("boom");
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(accounts_txn_save_state(txn, res.id, &st8, NULL),
	    KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	ck_assert_int_eq(accounts_get(st, res.id, &b, NULL), KF_OK);
	ck_assert_int_eq(b.state.failures, 3);
	ck_assert_str_eq(b.state.last_error, "boom");
	account_free(&b);
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(store_del(txn, "cred-state/1"), KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	ck_assert_int_eq(accounts_get(st, res.id, &b, NULL), KF_OK);
	ck_assert_int_eq(b.state.failures, 0);
	ck_assert_ptr_null(b.state.last_error);
	account_free(&b);

	/* A corrupt record is an error even after good parses... */
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(store_put(txn, "cred/1", "{\"refreshToken\":", 16),
	    KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	ck_assert_int_eq(accounts_get(st, res.id, &b, &why), KF_ESTORE);
	ck_assert_ptr_nonnull(strstr(why, "corrupt"));
	free(why);
	/* ... and the first bytes again give the first account. */
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(store_put(txn, "cred/1", saved.ptr, saved.len), KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	ck_assert_int_eq(accounts_get(st, res.id, &b, NULL), KF_OK);
	ck_assert_str_eq(b.cred.refresh_token, in.refresh_token);
	account_free(&b);

	account_state_free(&st8);
	account_free(&a);
	buf_free(&saved);
	cred_free(&in);
}
END_TEST

START_TEST(accounts_disabled_until_passes)
{
	struct account	a;

	memset(&a, 0, sizeof(a));
	a.state.disabled = ACCOUNT_QUOTA_EXCEEDED;
	a.state.disabled_until = 1000;
	ck_assert_int_eq(account_usable(&a, 999), 0);
	ck_assert_int_eq(account_usable(&a, 1000), 1);
	a.state.disabled = ACCOUNT_OK;
	a.state.cooldown_until = 50;
	ck_assert_int_eq(account_usable(&a, 49), 0);
	ck_assert_str_eq(account_state_word(&a, 49), "cooldown");
	ck_assert_int_eq(account_usable(&a, 50), 1);
}
END_TEST

START_TEST(accounts_seed_imports_file_once_and_env_idempotently)
{
	struct config	*cfg = NULL;
	struct account	*list = NULL;
	size_t		 n = 0;
	char		*path, *json;

	ck_assert_int_ne(asprintf(&path, "%s/creds.json", dir), -1);
	tu_write_file(path, "[{\"refreshToken\":\"aorFILE1" LONG_TAIL "\"},"
	    "{\"refreshToken\":\"aorFILE2" LONG_TAIL "\",\"priority\":2}]");
	json = xasprintf("{\"credentialsFile\":\"%s\"}", path);
	setenv("REFRESH_TOKEN", "aorENV" LONG_TAIL, 1);
	ck_assert_int_eq(config_parse(json, strlen(json), NULL, &cfg, NULL,
	    NULL), KF_OK);
	unsetenv("REFRESH_TOKEN");
	ck_assert_int_eq(accounts_seed(st, cfg, NULL), KF_OK);
	ck_assert_int_eq(accounts_seed(st, cfg, NULL), KF_OK);
	ck_assert_int_eq(accounts_list(st, &list, &n, NULL), KF_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(list[0].cred.source, "file");
	ck_assert_str_eq(list[0].cred.source_path, path);
	accounts_free(list, n);
	/* Only on first start: a new entry in the file is not picked up. */
	tu_write_file(path, "[{\"refreshToken\":\"aorFILE3" LONG_TAIL "\"}]");
	ck_assert_int_eq(accounts_seed(st, cfg, NULL), KF_OK);
	ck_assert_int_eq(accounts_list(st, &list, &n, NULL), KF_OK);
	ck_assert_uint_eq(n, 3);
	accounts_free(list, n);
	config_free(cfg);
	free(json);
	free(path);
}
END_TEST

START_TEST(accounts_seed_reports_a_bad_file)
{
	struct config	*cfg = NULL;
	char		*path, *json, *why = NULL;

	ck_assert_int_ne(asprintf(&path, "%s/creds.json", dir), -1);
	tu_write_file(path, "{\"refreshToken\":\"aorAAAAA...x\"}");
	json = xasprintf("{\"credentialsFile\":\"%s\"}", path);
	ck_assert_int_eq(config_parse(json, strlen(json), NULL, &cfg, NULL,
	    NULL), KF_OK);
	ck_assert_int_ne(accounts_seed(st, cfg, &why), KF_OK);
	ck_assert_ptr_nonnull(strstr(why, "truncated"));
	ck_assert_ptr_nonnull(strstr(why, path));
	free(why);
	config_free(cfg);
	free(json);
	free(path);
}
END_TEST

/* Every record under prefix, as "key=value" lines sorted, for comparisons. */
static int
dump_one(void *arg, const char *key, const char *val, size_t len)
{
	struct buf	*b = arg;

	buf_puts(b, key);
	buf_putc(b, '=');
	buf_append(b, val, len);
	buf_putc(b, '\n');
	return 0;
}

static char *
dump(void)
{
	struct store_txn	*txn = NULL;
	struct buf		 b = BUF_INIT;

	ck_assert_int_eq(store_begin(st, STORE_READ, &txn, NULL), KF_OK);
	ck_assert_int_eq(store_each(txn, "", dump_one, &b), KF_OK);
	store_end(txn, NULL);
	buf_cstr(&b);
	return buf_detach(&b);
}

static int
has_key(const char *key)
{
	struct store_txn	*txn = NULL;
	struct buf		 raw = BUF_INIT;
	int			 found;

	ck_assert_int_eq(store_begin(st, STORE_READ, &txn, NULL), KF_OK);
	found = store_get(txn, key, &raw) == KF_OK;
	store_end(txn, NULL);
	buf_free(&raw);
	return found;
}

/* The entry of id in idx, or NULL. */
static const struct account_entry *
entry_of(const struct account_index *idx, long id)
{
	size_t	i;

	for (i = 0; i < idx->n; i++)
		if (idx->e[i].id == id)
			return &idx->e[i];
	return NULL;
}

START_TEST(accounts_saves_keep_the_index_and_history)
{
	struct cred			 in[3];
	struct import_result		 res[3];
	struct account_index		 idx;
	struct account			 a;
	struct store_txn		*txn = NULL;
	const struct account_entry	*e;
	json_object			*h = NULL;
	const char			*v;

	make(&in[0], "aixA", 0);
	make(&in[1], "aixB", 0);
	make(&in[2], "aixC", 0);
	ck_assert_int_eq(accounts_import(st, in, 2, res, NULL), KF_OK);
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(accounts_txn_index_load(txn, &idx), KF_ENOTFOUND);
	ck_assert_int_eq(accounts_txn_index_build(txn, &idx, NULL), KF_OK);
	ck_assert_uint_eq(idx.n, 2);
	accounts_index_free(&idx);

	/* A state save and a priority change update the index in place. */
	ck_assert_int_eq(accounts_txn_load(txn, 2, &a, NULL), KF_OK);
	a.cred.priority = 7;
	a.state.disabled = ACCOUNT_MANUAL;
	ck_assert_int_eq(accounts_txn_save_cred(txn, &a.cred, NULL), KF_OK);
	ck_assert_int_eq(accounts_txn_save_state_noted(txn, 2, &a.state,
	    "by hand", 0, NULL), KF_OK);
	/* Unchanged: no entry; forced (an operator's action): one. */
	ck_assert_int_eq(accounts_txn_save_state_noted(txn, 2, &a.state,
	    "again", 0, NULL), KF_OK);
	ck_assert_int_eq(accounts_txn_save_state_noted(txn, 2, &a.state,
	    "forced", 1, NULL), KF_OK);
	account_free(&a);
	ck_assert_int_eq(accounts_txn_load(txn, 1, &a, NULL), KF_OK);
	a.state.disabled = ACCOUNT_TOO_MANY_FAILURES;
	a.state.failures = 3;
	ck_assert_int_eq(accounts_txn_save_state(txn, 1, &a.state, NULL),
	    KF_OK);
	account_free(&a);
	ck_assert_int_eq(accounts_txn_index_load(txn, &idx), KF_OK);
	ck_assert_ptr_nonnull(e = entry_of(&idx, 2));
	ck_assert_int_eq(e->priority, 7);
	ck_assert_int_eq(e->reason, ACCOUNT_MANUAL);
	ck_assert(!account_entry_usable(e, clock_now()));
	ck_assert_ptr_nonnull(e = entry_of(&idx, 1));
	ck_assert(!account_entry_usable(e, clock_now()));

	/* Only TooManyFailures comes back, and idx says so. */
	ck_assert_int_eq(accounts_txn_reenable_failed(txn, &idx, "together",
	    NULL), KF_OK);
	ck_assert_ptr_nonnull(e = entry_of(&idx, 1));
	ck_assert(account_entry_usable(e, clock_now()));
	ck_assert_ptr_nonnull(e = entry_of(&idx, 2));
	ck_assert(!account_entry_usable(e, clock_now()));
	accounts_index_free(&idx);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);

	ck_assert_int_eq(accounts_history(st, 2, &h, NULL), KF_OK);
	ck_assert_uint_eq(json_object_array_length(h), 2);
	ck_assert_int_eq(json_get_str(json_object_array_get_idx(h, 0), "to",
	    &v), 1);
	ck_assert_str_eq(v, "Manual");
	ck_assert_int_eq(json_get_str(json_object_array_get_idx(h, 0),
	    "reason", &v), 1);
	ck_assert_str_eq(v, "by hand");
	ck_assert_int_eq(json_get_str(json_object_array_get_idx(h, 1),
	    "reason", &v), 1);
	ck_assert_str_eq(v, "forced");
	json_object_put(h);
	ck_assert_int_eq(accounts_history(st, 1, &h, NULL), KF_OK);
	ck_assert_uint_eq(json_object_array_length(h), 2);
	ck_assert_int_eq(json_get_str(json_object_array_get_idx(h, 1),
	    "reason", &v), 1);
	ck_assert_str_eq(v, "together");
	json_object_put(h);

	/* A new id changes meta/cred-ids: the index is stale. */
	ck_assert_int_eq(accounts_import(st, &in[2], 1, res, NULL), KF_OK);
	ck_assert_int_eq(store_begin(st, STORE_READ, &txn, NULL), KF_OK);
	ck_assert_int_eq(accounts_txn_index_load(txn, &idx), KF_ENOTFOUND);
	ck_assert_uint_eq(idx.n, 0);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	ck_assert_int_eq(accounts_history(st, 9, &h, NULL), KF_ENOTFOUND);
	cred_free(&in[0]);
	cred_free(&in[1]);
	cred_free(&in[2]);
}
END_TEST

/* Runs change in a forked process with its own store handle. */
static void
in_other_process(void (*change)(struct store *))
{
	struct store	*mine;
	pid_t		 pid;
	int		 status;

	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		if (store_open(&mine, dir, NULL) != KF_OK)
			_exit(100);
		change(mine);
		store_close(mine);
		store_close(st);
		free(dir);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void
disable_two(struct store *mine)
{
	struct store_txn	*txn;
	struct account		 a;

	ck_assert_int_eq(store_begin(mine, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(accounts_txn_load(txn, 2, &a, NULL), KF_OK);
	a.state.disabled = ACCOUNT_MANUAL;
	ck_assert_int_eq(accounts_txn_save_state(txn, 2, &a.state, NULL),
	    KF_OK);
	account_free(&a);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
}

/* The id list in another order: same length, other bytes, index kept. */
static void
reorder_ids(struct store *mine)
{
	struct store_txn	*txn;

	ck_assert_int_eq(store_begin(mine, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(store_put(txn, "meta/cred-ids", "[2,1]", 5), KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
}

static enum kf_err
index_load(struct account_index *idx)
{
	struct store_txn	*txn;
	enum kf_err		 er;

	ck_assert_int_eq(store_begin(st, STORE_READ, &txn, NULL), KF_OK);
	er = accounts_txn_index_load(txn, idx);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);
	return er;
}

/*
 * Each thread keeps its last index load (accounts.c): what it gives must
 * be what loading gives, and another process's change to either record
 * must be seen by the next load.
 */
START_TEST(accounts_kept_index_follows_other_processes)
{
	struct cred			 in[2];
	struct import_result		 res[2];
	struct account_index		 idx, again;
	struct store_txn		*txn;
	const struct account_entry	*e;

	make(&in[0], "akiA", 3);
	make(&in[1], "akiB", 5);
	ck_assert_int_eq(accounts_import(st, in, 2, res, NULL), KF_OK);
	cred_free(&in[0]);
	cred_free(&in[1]);
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(accounts_txn_index_build(txn, &idx, NULL), KF_OK);
	accounts_index_free(&idx);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);

	ck_assert_int_eq(index_load(&idx), KF_OK);
	ck_assert_int_eq(index_load(&again), KF_OK);
	ck_assert_uint_eq(idx.n, 2);
	ck_assert_uint_eq(again.n, 2);
	ck_assert_int_eq(memcmp(idx.e, again.e, 2 * sizeof(*idx.e)), 0);
	ck_assert_ptr_nonnull(e = entry_of(&again, 2));
	ck_assert_int_eq(e->priority, 5);
	ck_assert(account_entry_usable(e, clock_now()));
	accounts_index_free(&idx);
	accounts_index_free(&again);

	in_other_process(disable_two);
	ck_assert_int_eq(index_load(&idx), KF_OK);
	ck_assert_ptr_nonnull(e = entry_of(&idx, 2));
	ck_assert_int_eq(e->reason, ACCOUNT_MANUAL);
	ck_assert(!account_entry_usable(e, clock_now()));
	accounts_index_free(&idx);

	in_other_process(reorder_ids);
	ck_assert_int_eq(index_load(&idx), KF_ENOTFOUND);
	ck_assert_uint_eq(idx.n, 0);
}
END_TEST

START_TEST(accounts_remove_drops_every_trace)
{
	struct cred		 in[2];
	struct import_result	 res[2];
	struct account		*list = NULL, a;
	struct store_txn	*txn = NULL;
	size_t			 n = 0;
	char			*why = NULL, *before, *after, hash[65], key[128];

	make(&in[0], "aorKEEP", 0);
	make(&in[1], "aorGONE", 0);
	ck_assert_int_eq(accounts_import(st, in, 2, res, NULL), KF_OK);
	/* State and a usage record too. */
	memset(&a.state, 0, sizeof(a.state));
	a.state.failures = 2;
	ck_assert_int_eq(store_begin(st, STORE_WRITE, &txn, NULL), KF_OK);
	ck_assert_int_eq(accounts_txn_save_state(txn, 2, &a.state, NULL),
	    KF_OK);
	ck_assert_int_eq(store_put(txn, "usage/2", "{}", 2), KF_OK);
	/* Other modules' records of the id (store.h's list). */
	ck_assert_int_eq(store_put(txn, "catalogue/2", "{}", 2), KF_OK);
	ck_assert_int_eq(store_put(txn, "catalogue-claim/2", "{}", 2), KF_OK);
	ck_assert_int_eq(store_put(txn, "cred-log/2", "[]", 2), KF_OK);
	ck_assert_int_eq(store_put(txn, "cred-log/1", "[]", 2), KF_OK);
	ck_assert_int_eq(store_end(txn, NULL), KF_OK);

	ck_assert_msg(accounts_remove(st, 2, &why) == KF_OK, "%s", why);
	ck_assert_int_eq(accounts_list(st, &list, &n, NULL), KF_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(list[0].cred.id, 1);
	accounts_free(list, n);
	cred_identity_hash(&in[1], hash);
	snprintf(key, sizeof(key), "credhash/%s", hash);
	ck_assert(!has_key(key));
	ck_assert(!has_key("cred/2"));
	ck_assert(!has_key("cred-state/2"));
	ck_assert(!has_key("usage/2"));
	ck_assert(!has_key("catalogue/2"));
	ck_assert(!has_key("catalogue-claim/2"));
	ck_assert(!has_key("cred-log/2"));
	ck_assert(has_key("cred-log/1"));
	cred_identity_hash(&in[0], hash);
	snprintf(key, sizeof(key), "credhash/%s", hash);
	ck_assert(has_key(key));

	/* Unknown (and already removed) ids: not found, nothing changes. */
	before = dump();
	ck_assert_int_eq(accounts_remove(st, 2, &why), KF_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(why, "no account with id 2"));
	ck_assert_int_eq(accounts_remove(st, 99, NULL), KF_ENOTFOUND);
	after = dump();
	ck_assert_str_eq(before, after);
	free(before);
	free(after);

	/* Its token is new again: importing it adds a new account. */
	ck_assert_int_eq(accounts_import(st, &in[1], 1, res, NULL), KF_OK);
	ck_assert_int_eq(res[0].duplicate, 0);
	ck_assert_int_eq(res[0].id, 3);
	free(why);
	cred_free(&in[0]);
	cred_free(&in[1]);
}
END_TEST

START_TEST(accounts_remove_disabled_keeps_accounts_in_service)
{
	struct cred		 in[2];
	struct import_result	 res[2];
	struct account		*list = NULL;
	size_t			 n = 0;
	char			*why = NULL, *before, *after;

	make(&in[0], "aorON", 0);
	make(&in[1], "aorOFF", 0);
	in[1].disabled = 1;
	ck_assert_int_eq(accounts_import(st, in, 2, res, NULL), KF_OK);
	before = dump();
	ck_assert_int_eq(accounts_remove_disabled(st, res[0].id, &why),
	    KF_EPERM);
	ck_assert_ptr_nonnull(strstr(why, "disable it first"));
	after = dump();
	ck_assert_str_eq(before, after);
	ck_assert_int_eq(accounts_remove_disabled(st, 99, NULL),
	    KF_ENOTFOUND);
	ck_assert_int_eq(accounts_remove_disabled(st, res[1].id, NULL), KF_OK);
	ck_assert_int_eq(accounts_list(st, &list, &n, NULL), KF_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(list[0].cred.id, res[0].id);
	accounts_free(list, n);
	free(before);
	free(after);
	free(why);
	cred_free(&in[0]);
	cred_free(&in[1]);
}
END_TEST

START_TEST(accounts_route_and_profile_are_remembered)
{
	struct cred		 in[2];
	struct import_result	 res[2];
	struct account		 a;
	char			*why = NULL;

	make(&in[0], "aorR1", 0);
	make(&in[1], "aorR2", 0);
	in[1].auth_method = CRED_AUTH_IDC;
	in[1].client_id = xstrdup("c");
	in[1].client_secret = xstrdup("s");
	ck_assert_int_eq(accounts_import(st, in, 2, res, NULL), KF_OK);
	ck_assert_int_eq(accounts_get(st, 1, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.route_known, 0);
	account_free(&a);
	ck_assert_int_eq(accounts_set_route(st, 1, API_HOST_RUNTIME,
	    API_STYLE_TARGET, 1000, NULL), KF_OK);
	ck_assert_int_eq(accounts_set_profile(st, 1, "arn:p", NULL), KF_OK);
	ck_assert_int_eq(accounts_get(st, 1, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.route_known, 1);
	ck_assert_int_eq(a.state.route_host, API_HOST_RUNTIME);
	ck_assert_int_eq(a.state.route_style, API_STYLE_TARGET);
	ck_assert_int_eq(a.state.route_at, 1000);
	ck_assert_str_eq(a.cred.profile_arn, "arn:p");
	account_free(&a);
	ck_assert_int_eq(accounts_forget_route(st, 1, NULL), KF_OK);
	ck_assert_int_eq(accounts_get(st, 1, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.route_known, 0);
	account_free(&a);
	/* An idc account keeps no profile, whatever is passed. */
	ck_assert_int_eq(accounts_set_profile(st, 2, "arn:p", NULL), KF_OK);
	ck_assert_int_eq(accounts_get(st, 2, &a, NULL), KF_OK);
	ck_assert_ptr_null(a.cred.profile_arn);
	account_free(&a);
	ck_assert_int_eq(accounts_set_route(st, 9, API_HOST_LEGACY,
	    API_STYLE_PATH, 1, &why), KF_ENOTFOUND);
	free(why);
	cred_free(&in[0]);
	cred_free(&in[1]);
}
END_TEST

/* Requests in flight that all switched: the first records, once. */
START_TEST(accounts_switch_route_is_recorded_once)
{
	struct cred		 in;
	struct import_result	 res;
	struct account		 a;
	int			 recorded = -1;

	make(&in, "aorS1", 0);
	ck_assert_int_eq(accounts_import(st, &in, 1, &res, NULL), KF_OK);
	ck_assert_int_eq(accounts_switch_route(st, 1, API_HOST_RUNTIME,
	    API_STYLE_TARGET, 1000, &recorded, NULL), KF_OK);
	ck_assert_int_eq(recorded, 1);
	ck_assert_int_eq(accounts_switch_route(st, 1, API_HOST_RUNTIME,
	    API_STYLE_TARGET, 2000, &recorded, NULL), KF_OK);
	ck_assert_int_eq(recorded, 0);
	ck_assert_int_eq(accounts_get(st, 1, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.route_known, 1);
	ck_assert_int_eq(a.state.route_style, API_STYLE_TARGET);
	ck_assert_int_eq(a.state.route_at, 1000);
	account_free(&a);
	/* Another route is a new switch. */
	ck_assert_int_eq(accounts_switch_route(st, 1, API_HOST_LEGACY,
	    API_STYLE_PATH, 3000, &recorded, NULL), KF_OK);
	ck_assert_int_eq(recorded, 1);
	ck_assert_int_eq(accounts_get(st, 1, &a, NULL), KF_OK);
	ck_assert_int_eq(a.state.route_host, API_HOST_LEGACY);
	ck_assert_int_eq(a.state.route_at, 3000);
	account_free(&a);
	cred_free(&in);
}
END_TEST

START_TEST(accounts_priority_reorders)
{
	struct cred		 in[2];
	struct import_result	 res[2];
	struct account		*list = NULL;
	size_t			 n = 0;
	char			*why = NULL, *before, *after;

	make(&in[0], "aorP1", 0);
	make(&in[1], "aorP2", 0);
	ck_assert_int_eq(accounts_import(st, in, 2, res, NULL), KF_OK);
	ck_assert_int_eq(accounts_set_priority(st, 1, 7, NULL), KF_OK);
	ck_assert_int_eq(accounts_list(st, &list, &n, NULL), KF_OK);
	ck_assert_int_eq(list[0].cred.id, 2);
	ck_assert_int_eq(list[1].cred.id, 1);
	ck_assert_int_eq(list[1].cred.priority, 7);
	ck_assert_str_eq(list[1].cred.refresh_token, in[0].refresh_token);
	accounts_free(list, n);
	before = dump();
	ck_assert_int_eq(accounts_set_priority(st, 1, -1, &why), KF_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "priority"));
	ck_assert_int_eq(accounts_set_priority(st, 9, 1, &why), KF_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(why, "9"));
	after = dump();
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	free(why);
	cred_free(&in[0]);
	cred_free(&in[1]);
}
END_TEST

START_TEST(accounts_export_masks_unless_asked)
{
	struct cred		 in, *back = NULL;
	struct import_result	 res;
	json_object		*arr = NULL, *e;
	const char		*s, *text;
	size_t			 n = 0;
	int			 b;

	make(&in, "aorEXPORT", 3);
	in.auth_method = CRED_AUTH_IDC;
	in.client_id = xstrdup("client-export");
	in.client_secret = xstrdup("secret-export-0123456789");
	in.access_token = xstrdup("aoaACCESS-export-0123456789");
	in.email = xstrdup("e@example.com");
	in.disabled = 1;
	ck_assert_int_eq(accounts_import(st, &in, 1, &res, NULL), KF_OK);

	ck_assert_int_eq(accounts_export(st, 0, &arr, NULL), KF_OK);
	ck_assert_uint_eq(json_object_array_length(arr), 1);
	text = json_object_to_json_string(arr);
	ck_assert_ptr_null(strstr(text, in.refresh_token));
	ck_assert_ptr_null(strstr(text, "secret-export"));
	ck_assert_ptr_null(strstr(text, "ACCESS-export"));
	e = json_object_array_get_idx(arr, 0);
	ck_assert_int_eq(json_get_str(e, "refreshToken", &s), 1);
	ck_assert_ptr_nonnull(strstr(s, "..."));
	ck_assert_int_eq(json_get_str(e, "clientId", &s), 1);
	ck_assert_str_eq(s, "client-export");
	ck_assert_int_eq(json_get_bool(e, "disabled", &b), 1);
	ck_assert_int_eq(b, 1);
	/* A masked export cannot be imported by mistake. */
	ck_assert_int_eq(cred_parse_import(text, strlen(text), &back, &n,
	    NULL), KF_EINVAL);
	json_object_put(arr);

	ck_assert_int_eq(accounts_export(st, 1, &arr, NULL), KF_OK);
	text = json_object_to_json_string(arr);
	ck_assert_int_eq(cred_parse_import(text, strlen(text), &back, &n,
	    NULL), KF_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(back[0].refresh_token, in.refresh_token);
	ck_assert_str_eq(back[0].client_secret, in.client_secret);
	ck_assert_int_eq(back[0].priority, 3);
	ck_assert_int_eq(back[0].auth_method, CRED_AUTH_IDC);
	ck_assert_int_eq(back[0].disabled, 1);
	/* Round trip: the same account again. */
	ck_assert_int_eq(accounts_import(st, back, 1, &res, NULL), KF_OK);
	ck_assert_int_eq(res.duplicate, 1);
	cred_free_array(back, n);
	json_object_put(arr);
	cred_free(&in);
}
END_TEST

START_TEST(accounts_ide_sync_is_a_flag_that_round_trips)
{
	struct cred		 in;
	struct import_result	 res;
	struct account		 a;

	make(&in, "aorIDE", 0);
	ck_assert_int_eq(accounts_import(st, &in, 1, &res, NULL), KF_OK);
	ck_assert_int_eq(accounts_get(st, 1, &a, NULL), KF_OK);
	ck_assert_int_eq(a.cred.ide_sync, 0);
	account_free(&a);
	ck_assert_int_eq(accounts_set_ide_sync(st, 1, "/x/kiro-auth-token.json",
	    NULL), KF_OK);
	ck_assert_int_eq(accounts_get(st, 1, &a, NULL), KF_OK);
	ck_assert_int_eq(a.cred.ide_sync, 1);
	ck_assert_str_eq(a.cred.source, "ide");
	ck_assert_str_eq(a.cred.source_path, "/x/kiro-auth-token.json");
	account_free(&a);
	ck_assert_int_eq(accounts_set_ide_sync(st, 1, NULL, NULL), KF_OK);
	ck_assert_int_eq(accounts_get(st, 1, &a, NULL), KF_OK);
	ck_assert_int_eq(a.cred.ide_sync, 0);
	account_free(&a);
	ck_assert_int_eq(accounts_set_ide_sync(st, 5, NULL, NULL),
	    KF_ENOTFOUND);
	cred_free(&in);
}
END_TEST

START_TEST(accounts_seed_env_region_expiry_and_checks)
{
	struct config	*cfg = NULL;
	struct account	*list = NULL;
	size_t		 n = 0;
	char		*why = NULL;

	setenv("KIRO_REFRESH_TOKEN", "aorKIROENV" LONG_TAIL, 1);
	setenv("KIRO_ACCESS_TOKEN", "aoaKIROENV", 1);
	setenv("REGION", "eu-central-1", 1);
	setenv("EXPIRES_AT", "2030-01-02T03:04:05Z", 1);
	setenv("CLIENT_ID", "cid", 1);
	setenv("CLIENT_SECRET", "csecret", 1);
	ck_assert_int_eq(config_parse("{}", 2, NULL, &cfg, NULL, NULL), KF_OK);
	ck_assert_msg(accounts_seed(st, cfg, &why) == KF_OK, "%s", why);
	ck_assert_int_eq(accounts_seed(st, cfg, &why), KF_OK);
	config_free(cfg);
	ck_assert_int_eq(accounts_list(st, &list, &n, NULL), KF_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(list[0].cred.region, "eu-central-1");
	ck_assert_str_eq(list[0].cred.access_token, "aoaKIROENV");
	ck_assert_int_eq(list[0].cred.auth_method, CRED_AUTH_IDC);
	ck_assert_int_eq(list[0].cred.expires_at, 1893553445);
	ck_assert_str_eq(list[0].cred.source, "env");
	accounts_free(list, n);

	/* A bad EXPIRES_AT or AUTH_METHOD is named; nothing is added. */
	setenv("REFRESH_TOKEN", "aorOTHER" LONG_TAIL, 1);
	setenv("EXPIRES_AT", "tomorrow", 1);
	ck_assert_int_eq(config_parse("{}", 2, NULL, &cfg, NULL, NULL), KF_OK);
	ck_assert_int_eq(accounts_seed(st, cfg, &why), KF_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "EXPIRES_AT"));
	config_free(cfg);
	setenv("EXPIRES_AT", "2030-01-02T03:04:05Z", 1);
	setenv("AUTH_METHOD", "password", 1);
	ck_assert_int_eq(config_parse("{}", 2, NULL, &cfg, NULL, NULL), KF_OK);
	ck_assert_int_eq(accounts_seed(st, cfg, &why), KF_EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "AUTH_METHOD"));
	config_free(cfg);
	ck_assert_int_eq(accounts_list(st, &list, &n, NULL), KF_OK);
	ck_assert_uint_eq(n, 1);
	accounts_free(list, n);
	free(why);
	unsetenv("KIRO_REFRESH_TOKEN");
	unsetenv("KIRO_ACCESS_TOKEN");
	unsetenv("REFRESH_TOKEN");
	unsetenv("REGION");
	unsetenv("EXPIRES_AT");
	unsetenv("CLIENT_ID");
	unsetenv("CLIENT_SECRET");
	unsetenv("AUTH_METHOD");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("accounts");
	TCase	*tc = tcase_create("accounts");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, accounts_import_assigns_ids_and_lists_by_priority);
	tcase_add_test(tc, accounts_duplicates_are_detected_and_unchanged);
	tcase_add_test(tc, accounts_old_tokens_still_identify_the_account);
	tcase_add_test(tc, accounts_disabled_import_starts_disabled);
	tcase_add_test(tc, accounts_unknown_id_is_not_found);
	tcase_add_test(tc, accounts_state_round_trips);
	tcase_add_test(tc, accounts_load_follows_every_record_change);
	tcase_add_test(tc, accounts_disabled_until_passes);
	tcase_add_test(tc, accounts_seed_imports_file_once_and_env_idempotently);
	tcase_add_test(tc, accounts_seed_reports_a_bad_file);
	tcase_add_test(tc, accounts_saves_keep_the_index_and_history);
	tcase_add_test(tc, accounts_kept_index_follows_other_processes);
	tcase_add_test(tc, accounts_remove_drops_every_trace);
	tcase_add_test(tc, accounts_remove_disabled_keeps_accounts_in_service);
	tcase_add_test(tc, accounts_route_and_profile_are_remembered);
	tcase_add_test(tc, accounts_switch_route_is_recorded_once);
	tcase_add_test(tc, accounts_priority_reorders);
	tcase_add_test(tc, accounts_export_masks_unless_asked);
	tcase_add_test(tc, accounts_ide_sync_is_a_flag_that_round_trips);
	tcase_add_test(tc, accounts_seed_env_region_expiry_and_checks);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
