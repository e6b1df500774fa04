# /etc/cron.d/kiro-fcgi: keep kiro-fcgi's Kiro accounts fresh and checked.
# "kiroctl refresh" (every 5 minutes) refreshes the tokens expiring within
# 15 minutes and the social accounts idle for idleRefreshHours; "kiroctl
# health-check" (every 10 minutes) probes each account in service and takes
# out of service those out of quota or suspended.  Both run as www-data, the
# owner of /var/lib/kiro-fcgi, with /etc/kiro-fcgi/config.json.  What they
# print on stderr (failures, accounts that need attention) is appended to
# /var/log/kiro-fcgi/kiroctl.log and mailed by cron.  See kiroctl(1).
SHELL=/bin/sh
PATH=/usr/bin:/bin
*/5 * * * *   www-data  [ -x /usr/bin/kiroctl ] && { kiroctl refresh 2>&1 >/dev/null | tee -a /var/log/kiro-fcgi/kiroctl.log; }
*/10 * * * *  www-data  [ -x /usr/bin/kiroctl ] && { kiroctl health-check 2>&1 >/dev/null | tee -a /var/log/kiro-fcgi/kiroctl.log; }
