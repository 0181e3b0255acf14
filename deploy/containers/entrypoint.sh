#!/bin/sh
# The container's command: which service, which role. Everything else comes from the environment
# (<SVC>_DATABASE_URL, <SVC>_AMQP_URLS as a comma-separated list of broker addresses, AUTH_*, KEYRING_FILE, ...).
set -eu
role="${1:-web}"
service="${2:-intake}"
case "$service" in intake|consent|registry|notify) ;; *) echo "unknown service: $service" >&2; exit 64 ;; esac
case "$role" in
  web)            exec python -m gunicorn --bind "0.0.0.0:${PORT:-8000}" --workers "${WEB_WORKERS:-2}" \
                       --graceful-timeout 10 --timeout 60 --access-logfile - "services.$service.wsgi:app" ;;
  relay)          exec python -m flask --app "services.$service.wsgi" outbox relay ;;
  consume)        exec python -m flask --app "services.$service.wsgi" bus consume ;;
  notify-worker)  exec python -m flask --app services.notify.wsgi notify run ;;
  # The registry's pattern follower (services/registry/pattern_follower.py); the service argument must be registry.
  patterns)       [ "$service" = registry ] || { echo "patterns: the registry's only" >&2; exit 64; }
                  exec python -m flask --app services.registry.wsgi registry patterns --follow ;;
  migrate)        exec python -m flask --app "services.$service.wsgi" db upgrade ;;
  load-directory) exec python -m flask --app "services.$service.wsgi" directory load ;;
  proxy-errors)   exec python -m shared.web.proxy /var/lib/hybrid/proxy-errors ;;
  # The Kubernetes ingress's default backend for its own 413/502/504 (the service argument is not used).
  proxy-errors-backend) exec python -m gunicorn --bind "0.0.0.0:${PORT:-8000}" --workers 2 --access-logfile - \
                       "shared.web.proxy:error_backend()" ;;
  *) echo "unknown role: $role (web|relay|consume|notify-worker|patterns|migrate|load-directory|proxy-errors|proxy-errors-backend)" >&2
     exit 64 ;;
esac
