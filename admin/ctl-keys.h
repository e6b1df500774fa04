/* ctl-keys.h: kiroctl keys: named client keys, their limits and usage. */
#ifndef CTL_KEYS_H
#define CTL_KEYS_H

#include "kiroctl.h"

/*
 * keys add NAME [--models GLOB,...] [--rpm N] [--monthly-requests N]
 * [--monthly-tokens N] [--expires YYYY-MM-DD]: prints the key, once.
 */
int	keys_add_verb(struct ctl *, int, char **);
/* keys list [--json]: limits and this month's usage, never a key */
int	keys_list_verb(struct ctl *, int, char **);
/* keys enable|disable|remove NAME */
int	keys_enable_verb(struct ctl *, int, char **);
int	keys_disable_verb(struct ctl *, int, char **);
int	keys_remove_verb(struct ctl *, int, char **);
/* keys rotate NAME: a new key, printed once; the old one stops working */
int	keys_rotate_verb(struct ctl *, int, char **);

#endif
