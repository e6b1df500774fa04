/* gen-confman.c: writes kiro-fcgi.conf(5) on stdout (make man). */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "confman.h"

int
main(void)
{
	struct buf	page = BUF_INIT;
	int		rc = 0;

	confman_write(&page);
	if (fwrite(page.ptr, 1, page.len, stdout) != page.len ||
	    fflush(stdout) != 0) {
		perror("gen-confman: stdout");
		rc = 1;
	}
	buf_free(&page);
	return rc;
}
