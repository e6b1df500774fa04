/* ctl-pool.h: kiroctl verbs that change an account's pool state. */
#ifndef CTL_POOL_H
#define CTL_POOL_H

#include "kiroctl.h"

/* accounts enable ID */
int	accounts_enable_verb(struct ctl *, int, char **);
/* accounts disable ID [REASON] */
int	accounts_disable_verb(struct ctl *, int, char **);
/* accounts reset ID: failures, cooldown and any disabled state */
int	accounts_reset_verb(struct ctl *, int, char **);
/* accounts history ID [--json]: the account's recorded state changes */
int	accounts_history_verb(struct ctl *, int, char **);

#endif
