/* confman.h: kiro-fcgi.conf(5), written from the parser's key table. */
#ifndef CONFMAN_H
#define CONFMAN_H

#include "buf.h"

/*
 * Appends the whole mdoc page to out (the caller's; nothing else is
 * allocated).  The text depends only on shared/config.c's tables, never on
 * the build or the environment, so the committed page can be compared.
 */
void	confman_write(struct buf *out);

#endif
