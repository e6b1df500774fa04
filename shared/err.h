/* err.h: the one error vocabulary every module and front end shares. */
#ifndef ERR_H
#define ERR_H

/*
 * Machine decisions only; humans get a separate cause string.  Each front end
 * maps these to its own protocol (status code, error.type / code / status).
 */
enum kf_err {
	KF_OK = 0,
	KF_EINVAL,		/* the client's request is malformed */
	KF_EAUTH,		/* missing or wrong API key */
	KF_EPERM,		/* authenticated, but not allowed */
	KF_ENOTFOUND,		/* no such route, model or record */
	KF_ETOOLARGE,		/* request body over maxRequestBytes */
	KF_ERATE,		/* rate limited (client or upstream) */
	KF_EOVERLOADED,		/* upstream busy or temporarily unavailable */
	KF_EUPSTREAM,		/* upstream failed or answered nonsense */
	KF_ETIMEOUT,		/* upstream too slow */
	KF_ECONTEXT,		/* conversation too long for the model */
	KF_EQUOTA,		/* every usable account is out of quota */
	KF_ESUSPENDED,		/* the account was suspended upstream */
	KF_ENOACCOUNT,		/* no account configured or none usable */
	KF_ELOGIN,		/* the account needs a new login */
	KF_ESTORE,		/* the state file failed */
	KF_ECONFIG,		/* configuration is wrong */
	KF_ECLIENTGONE,		/* the client went away mid-request */
	KF_EINTERNAL,		/* a bug or a system failure */
	KF_ERR__MAX
};

/* The stable lower-case name ("invalid_request", ...), for logs and tests. */
const char	*kf_err_name(enum kf_err);
/* A short human description. */
const char	*kf_strerror(enum kf_err);

#endif
