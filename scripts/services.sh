#!/usr/bin/env bash
# Makes sure the local PostgreSQL (and Redis) the test suite uses are running, starting
# them if they are down. Exits non-zero when one cannot be reached: tests never skip them.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432

pg_up() { pg_isready -h "$PG_HOST" -p "$PG_PORT" -q 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! pg_up; then
  echo "services: PostgreSQL is down; starting it" >&2
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for version in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
pg_up || { echo "services: PostgreSQL at $PG_HOST:$PG_PORT is unreachable" >&2; exit 1; }

# The cluster tests (tests/cluster.rs) need redis-server: the shared one, and private ones
# they stop and restart.
if ! command -v redis-server >/dev/null 2>&1; then
  echo "services: installing redis-server" >&2
  (apt-get update -qq && apt-get install -y -qq redis-server >/dev/null) || true
fi
if command -v redis-server >/dev/null 2>&1 && ! redis_up; then
  echo "services: Redis is down; starting it" >&2
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 10); do redis_up && break; sleep 1; done
fi
redis_up || { echo "services: Redis at 127.0.0.1:6379 is unreachable" >&2; exit 1; }
echo "services: PostgreSQL and Redis ready"
