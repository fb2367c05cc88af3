# Heroku runs this file (bash) at each dyno's start, before the Procfile's command, and for
# `heroku run` too; nothing else reads it.
#
# Heroku Redis serves TLS (rediss://) with a self-signed certificate, so certificate checking
# must be turned off for it, and its REDIS_URL cannot be edited (Heroku sets it, and replaces
# it when the credentials rotate). So stoplive is given that URL with `ssl_cert_reqs=none`
# added, here, at every start: nothing to edit, and nothing goes stale. A STOPLIVE_REDIS_URL
# you set yourself wins, as does a REDIS_URL that is not rediss://.
if [ -z "${STOPLIVE_REDIS_URL:-}" ]; then
  case "${REDIS_URL:-}" in
    rediss://*\?*) export STOPLIVE_REDIS_URL="${REDIS_URL}&ssl_cert_reqs=none" ;;
    rediss://*) export STOPLIVE_REDIS_URL="${REDIS_URL}?ssl_cert_reqs=none" ;;
  esac
fi
