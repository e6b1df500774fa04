/* ctl-login.h: kiroctl login builder-id | google | github | remote. */
#ifndef CTL_LOGIN_H
#define CTL_LOGIN_H

struct ctl;

/* argv[0] is "login"; returns the exit status (dies on failure). */
int	login_verb(struct ctl *, int argc, char **argv);

#endif
