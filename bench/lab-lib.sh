# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this file
# Shared code for bench/{lab-up,lab-down,socketmap}. Sourced, not executed.
#
# The bench lab: 1,000 MTA-STS domains d0001.bench.test ... d1000.bench.test
#   NSD    127.0.63.1@53   zone bench.test. (unsigned), TTL 3600
#   nginx  127.0.64.1:443  one server block per mta-sts.<domain> host, each
#                          with its own one-name certificate (chosen by SNI),
#                          all issued by the lab's own test CA for one shared key
# Layout of the lab directory (default BUILD/bench-lab, everything lives there):
#   .mxsec-bench-lab  marker (safety for rm)
#   env               KEY=VALUE lines (BENCH_LAB_DIR, BENCH_DNS, BENCH_CA, ...)
#   domains.txt       "DOMAIN TYPE [MATCH]" per domain: the answer a socketmap
#                     server must give (input of socketmap_load --domains)
#   resolv.conf       "nameserver 127.0.63.1" (bind-mounted over /etc/resolv.conf
#                     in a private mount namespace for the reference daemon)
#   ca/               test CA (ca.pem, ca.key), the hosts' shared key (server.key)
#   certs/            mta-sts.<domain>.pem, one certificate per host
#   zone/             bench.test.zone
#   nsd/ nginx/       configs, pid files, state
#   www/<domain>/     document roots (policy at .well-known/mta-sts.txt)
#   logs/             nsd.log, nginx-error.log, openssl.log, ... (no nginx access log)

# The process helpers (lab_pid, lab_stop, lab_alive, lab_wait_pidfile,
# lab_log_tail) come from the test lab, which sets LC_ALL=C too.
# shellcheck source=../tests/lab/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/lab/lib.sh"

BENCH_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_REPO="$(cd "$BENCH_SRC/.." && pwd)"
BENCH_DNS_IP=127.0.63.1
BENCH_DNS_PORT=53
BENCH_HTTPS_IP=127.0.64.1
BENCH_MX_IP=127.0.65.1
BENCH_ZONE=bench.test
BENCH_NDOMAINS=1000

bdie() { echo "bench-lab: error: $*" >&2; exit 1; }
bnote() { echo "bench-lab: $*" >&2; }

# bench_set_dir [DIR]: DIR, else $BENCH_LAB_DIR, else REPO/build/bench-lab.
bench_set_dir() {
  local d="${1:-${BENCH_LAB_DIR:-$BENCH_REPO/build/bench-lab}}"
  case "$d" in *[[:space:]]*) bdie "lab directory must not contain whitespace: '$d'" ;; esac
  BENCH_LAB_DIR="$(realpath -m -- "$d")"
  [ "$BENCH_LAB_DIR" != / ] || bdie "refusing to use / as lab directory"
  BENCH_LOGS="$BENCH_LAB_DIR/logs"
  BENCH_NSD_CONF="$BENCH_LAB_DIR/nsd/nsd.conf"
  BENCH_NSD_PID="$BENCH_LAB_DIR/nsd/nsd.pid"
  BENCH_NGINX_CONF="$BENCH_LAB_DIR/nginx/nginx.conf"
  BENCH_NGINX_PID="$BENCH_LAB_DIR/nginx/nginx.pid"
}

bench_lab_stop_all() {
  lab_stop "bench nginx" "$BENCH_NGINX_PID" "$BENCH_NGINX_CONF"
  lab_stop "bench NSD" "$BENCH_NSD_PID" "$BENCH_NSD_CONF"
}

# bench_in_lab_ns CMD...: run CMD (exec, same pid) in a private mount namespace
# that shares the network but sees the lab's resolv.conf as /etc/resolv.conf
# and the lab CA as the system CA bundle (/etc/ssl/certs/ca-certificates.crt,
# which is also /usr/lib/ssl/cert.pem, OpenSSL's default CA file). The machine's
# files are not touched. Proxy variables are dropped: everything stays on loopback.
# shellcheck disable=SC2016 # $0 and $@ are expanded by the inner sh
bench_in_lab_ns() {
  exec env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u all_proxy -u ALL_PROXY \
    -u SSL_CERT_FILE -u SSL_CERT_DIR \
    unshare --mount --propagation private /bin/sh -c '
      mount --bind "$0/resolv.conf" /etc/resolv.conf &&
      mount --bind "$0/ca/ca.pem" /etc/ssl/certs/ca-certificates.crt &&
      exec "$@"' "$BENCH_LAB_DIR" "$@"
}
