# shellcheck shell=bash
# Shared code for tests/lab/{up,down,ctl}. Sourced, not executed.
#
# Layout of a lab directory (everything the lab writes lives there):
#   .mxsec-lab            marker: this directory belongs to the lab (safety for rm)
#   env                   KEY=VALUE lines (LAB_DIR, LAB_DNS, LAB_TA, LAB_CA, ...)
#   trust-anchor          DS record of the KSK of zone "test." (for ub_ctx_add_ta_file)
#   ca/                   trusted test CA (ca.pem, ca.key) and issued certs (ca/certs/)
#   untrusted-ca/         second CA that clients must NOT trust
#   zone/                 unsigned zone, keys, serial counter, TXT data per domain,
#                         check.zone (check cases), scan.zone + scan-count (scan set),
#                         child-keys/ (chk-bogus.test's keys and the decoy key of its DS)
#   nsd/                  nsd.conf, signed zone, pid file, control socket
#   nginx/                main.conf, down.conf, pid files, temp dirs
#   www/<domain>/         document roots (policy at .well-known/mta-sts.txt)
#   orig/                 pristine TXT data and policies (for `ctl restore`)
#   logs/                 nsd.log, nginx-*.log, blackhole.log, smtpbad.log, openssl.log,
#                         postfix-{mx,sender}.log (tests/lab/mta)
#   resolv.conf           "nameserver 127.0.53.1", bind-mounted over /etc/resolv.conf
#                         in the private mount namespaces of tests/lab/mta
#   postfix/{mx,sender}/  the two Postfix instances of tests/lab/mta (etc/, spool/, data/)
#   mail/<domain>/        maildirs the "mx" Postfix delivers to (mail/other/: other *.test)
#   exim-root/            Debian's exim4-daemon-heavy, extracted by tests/lab/exim
#                         (kept across tests/lab/up: a download cache)
#   exim/                 the Exim sender of tests/lab/exim (exim.conf, spool/, passwd, group)

export LC_ALL=C

LAB_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

LAB_DNS_IP=127.0.53.1
LAB_DNS_PORT=53
LAB_HTTPS_IP=127.0.54.1        # main nginx instance: every mta-sts.<domain> except below
LAB_HTTPS_DOWN_IP=127.0.54.2   # second nginx instance: only mta-sts.down.test
LAB_BLACKHOLE_IP=127.0.54.9    # accepts TCP connections and never answers
LAB_MX_IP=127.0.55.1           # mx.<domain>; the "mx" Postfix listens here with STARTTLS
LAB_MX_NOTLS_IP=127.0.55.2     # the "mx" Postfix without STARTTLS (mx.mta-nostarttls.test)
# shellcheck disable=SC2034 # used by the scripts that source this file
LAB_SENDER_IP=127.0.56.1       # the "sender" Postfix (mail injection, SMTP port 25)
# shellcheck disable=SC2034
LAB_EXIM_IP=127.0.56.2         # source address of the Exim sender's SMTP connections (tests/lab/exim)
LAB_ZONE="test"
LAB_TTL=5

# Every domain of the lab, as the label under "test." (domain = <label>.test).
LAB_DOMAINS=(
  enforce testing none two-records no-id ignored-record split-txt notfound
  redirect html params big big-chunked bad-syntax wrong-name expired untrusted
  changed removed removed-none down slow nopolicy blackhole
  mta-enforce mta-wild mta-badmx mta-testing mta-nostarttls mta-none
  dane-sts partial-dane
)

# The domains of the Postfix tests (tests/lab/mta); their MX hosts all share
# one certificate (ca/certs/mx.pem) served by the "mx" Postfix.
# shellcheck disable=SC2034 # used by the scripts that source this file
LAB_MTA_DOMAINS=(mta-enforce mta-wild mta-badmx mta-testing mta-nostarttls mta-none)

# MX hosts (relative to the zone) with `_25._tcp.HOST TLSA 3 1 1 <sha256 of the
# SubjectPublicKeyInfo of ca/certs/mx.pem>`; their names are in that certificate too.
# partial-dane.test has a second MX host, mx2.partial-dane, without TLSA.
# shellcheck disable=SC2034
LAB_TLSA_HOSTS=(mx.dane-sts mx1.partial-dane)

# ---------------------------------------------------------------- check cases (mxsec check)
# Receiving-side cases: MX hosts on 127.0.57.x (README "Check cases"). Their
# records come from zone/check.zone (written by tests/lab/up, included by
# lab_build_zone); the Postfix listeners and smtpbad.py are started by tests/lab/mta up.
LAB_CHECK_IP_PREFIX=127.0.57
# shellcheck disable=SC2034 # used by the scripts that source this file
LAB_SCAN_IP_PREFIX=127.0.58     # mx1..mx4.scan.test (only with LAB_SCAN_DOMAINS=N > 0)

# Labels (domain = <label>.test) whose mx.<label>.test is a listener of the
# "mx" Postfix, in the order of their addresses.
# shellcheck disable=SC2034
LAB_CHECK_PF_LABELS=(
  chk-valid chk-expired chk-expiring chk-selfsigned chk-wrongname chk-nostarttls
  chk-oldtls chk-legacy chk-dane-ee chk-dane-stale chk-dane-ta chk-unsigned chk-bogus
)
# Labels whose mx.<label>.test is served by smtpbad.py (mode = label without "chk-").
# shellcheck disable=SC2034
LAB_CHECK_BAD_LABELS=(chk-garbage chk-421 chk-tlsclose chk-silent)
# Check domains with an MTA-STS policy (TXT in zone/txt, policy under www/, like LAB_DOMAINS).
# shellcheck disable=SC2034
LAB_CHECK_STS_DOMAINS=(chk-valid chk-sts-mismatch)
# Delegated child zones served by the same NSD: chk-unsigned.test (no DS: insecure)
# and chk-bogus.test (DS of a key that signs nothing: bogus).
# shellcheck disable=SC2034
LAB_CHECK_CHILD_ZONES=(chk-unsigned chk-bogus)
# Every check domain (for docs, env and tools).
# shellcheck disable=SC2034
LAB_CHECK_DOMAINS=(
  "${LAB_CHECK_PF_LABELS[@]}" chk-nullmx chk-nomx chk-backup chk-sts-mismatch chk-badtlsrpt
  "${LAB_CHECK_BAD_LABELS[@]}"
)
# shellcheck disable=SC2034
LAB_CHECK_BACKUP_DEAD_IP=$LAB_CHECK_IP_PREFIX.30   # mx1.chk-backup.test: nothing listens
LAB_SMTPBAD_PID_NAME=smtpbad.pid

lab_check_ip() { # LABEL -> address of mx.<label>.test
  case "$1" in
    chk-valid)      echo "$LAB_CHECK_IP_PREFIX.1" ;;
    chk-expired)    echo "$LAB_CHECK_IP_PREFIX.2" ;;
    chk-expiring)   echo "$LAB_CHECK_IP_PREFIX.3" ;;
    chk-selfsigned) echo "$LAB_CHECK_IP_PREFIX.4" ;;
    chk-wrongname)  echo "$LAB_CHECK_IP_PREFIX.5" ;;
    chk-nostarttls) echo "$LAB_CHECK_IP_PREFIX.6" ;;
    chk-oldtls)     echo "$LAB_CHECK_IP_PREFIX.7" ;;
    chk-legacy)     echo "$LAB_CHECK_IP_PREFIX.8" ;;
    chk-dane-ee)    echo "$LAB_CHECK_IP_PREFIX.9" ;;
    chk-dane-stale) echo "$LAB_CHECK_IP_PREFIX.10" ;;
    chk-dane-ta)    echo "$LAB_CHECK_IP_PREFIX.11" ;;
    chk-unsigned)   echo "$LAB_CHECK_IP_PREFIX.12" ;;
    chk-bogus)      echo "$LAB_CHECK_IP_PREFIX.13" ;;
    chk-garbage)    echo "$LAB_CHECK_IP_PREFIX.20" ;;
    chk-421)        echo "$LAB_CHECK_IP_PREFIX.21" ;;
    chk-tlsclose)   echo "$LAB_CHECK_IP_PREFIX.22" ;;
    chk-silent)     echo "$LAB_CHECK_IP_PREFIX.23" ;;
    *) die "no check listener for '$1'" ;;
  esac
}

# Number of scan domains of the running lab (0 when none; written by tests/lab/up).
lab_scan_count() {
  local n
  n="$(cat "$LAB_DIR/zone/scan-count" 2>/dev/null || echo 0)"
  [[ "$n" =~ ^[0-9]+$ ]] || n=0
  echo "$n"
}

die() { echo "lab: error: $*" >&2; exit 1; }
note() { echo "lab: $*" >&2; }

need_tools() {
  local t missing=()
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  [ ${#missing[@]} -eq 0 ] || die "missing tools: ${missing[*]} (run scripts/install-deps)"
}

# lab_set_dir [DIR]: DIR, else $LAB_DIR from the environment, else $PWD/build/lab.
lab_set_dir() {
  local d="${1:-${LAB_DIR:-$PWD/build/lab}}"
  case "$d" in *[[:space:]]*) die "lab directory must not contain whitespace: '$d'" ;; esac
  LAB_DIR="$(realpath -m -- "$d")"
  [ "$LAB_DIR" != / ] || die "refusing to use / as lab directory"
  LAB_LOGS="$LAB_DIR/logs"
  LAB_NSD_CONF="$LAB_DIR/nsd/nsd.conf"
  LAB_NSD_PID="$LAB_DIR/nsd/nsd.pid"
  LAB_NSD_CTL="$LAB_DIR/nsd/nsd.ctl"
  LAB_NGINX_MAIN_CONF="$LAB_DIR/nginx/main.conf"
  LAB_NGINX_MAIN_PID="$LAB_DIR/nginx/main.pid"
  LAB_NGINX_DOWN_CONF="$LAB_DIR/nginx/down.conf"
  LAB_NGINX_DOWN_PID="$LAB_DIR/nginx/down.pid"
  LAB_BLACKHOLE_PID="$LAB_DIR/blackhole.pid"
  LAB_SMTPBAD_PID="$LAB_DIR/$LAB_SMTPBAD_PID_NAME"
  # shellcheck disable=SC2034 # used by the scripts that source this file
  LAB_RESOLV_CONF="$LAB_DIR/resolv.conf"
  LAB_PF_DIR="$LAB_DIR/postfix"
  # shellcheck disable=SC2034
  LAB_MAIL_DIR="$LAB_DIR/mail"
}

lab_require_up_dir() {
  if [ ! -f "$LAB_DIR/.mxsec-lab" ] || [ ! -f "$LAB_DIR/env" ]; then
    die "no lab in $LAB_DIR (run tests/lab/up first)"
  fi
}

# ---------------------------------------------------------------- processes

# lab_pid PIDFILE EXPECT: print the pid if the process is alive (not a zombie)
# and its command line contains EXPECT (guards against recycled pids).
lab_pid() {
  local f="$1" expect="$2" pid state
  [ -s "$f" ] || return 1
  pid="$(tr -cd '0-9' <"$f")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$expect" || return 1
  echo "$pid"
}

lab_alive() { # PID
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# lab_stop NAME PIDFILE EXPECT: TERM, wait up to 5 s, then KILL. Never fails.
lab_stop() {
  local name="$1" f="$2" expect="$3" pid
  if pid="$(lab_pid "$f" "$expect")"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do lab_alive "$pid" || break; sleep 0.1; done
    if lab_alive "$pid"; then
      note "$name (pid $pid) did not stop after SIGTERM, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 20); do lab_alive "$pid" || break; sleep 0.1; done
    fi
  fi
  rm -f "$f"
  return 0
}

# lab_wait_pidfile PIDFILE EXPECT SECONDS
lab_wait_pidfile() {
  local n=$(($3 * 10))
  for _ in $(seq "$n"); do
    lab_pid "$1" "$2" >/dev/null && return 0
    sleep 0.1
  done
  return 1
}

lab_log_tail() { # FILE
  if [ -s "$1" ]; then
    echo "---- last lines of $1 ----" >&2
    tail -n 15 "$1" >&2
    echo "----" >&2
  else
    echo "(log $1 is empty or missing)" >&2
  fi
}

# ---------------------------------------------------------------- DNS

lab_dns_running() { lab_pid "$LAB_NSD_PID" "$LAB_NSD_CONF" >/dev/null; }

lab_start_dns() {
  lab_dns_running && return 0
  rm -f "$LAB_NSD_PID" "$LAB_NSD_CTL"
  if ! nsd -c "$LAB_NSD_CONF" >>"$LAB_LOGS/nsd.log" 2>&1 \
     || ! lab_wait_pidfile "$LAB_NSD_PID" "$LAB_NSD_CONF" 10; then
    lab_log_tail "$LAB_LOGS/nsd.log"
    die "NSD did not start on $LAB_DNS_IP port $LAB_DNS_PORT"
  fi
  lab_wait_dns_serial "$(cat "$LAB_DIR/zone/serial")" \
    || { lab_log_tail "$LAB_LOGS/nsd.log"; die "NSD started but does not answer for zone test. on $LAB_DNS_IP@$LAB_DNS_PORT"; }
}

lab_stop_dns() { lab_stop NSD "$LAB_NSD_PID" "$LAB_NSD_CONF"; rm -f "$LAB_NSD_CTL"; }

# Serial of zone test. as NSD serves it (empty if no answer).
lab_dns_serial() {
  drill @"$LAB_DNS_IP" -p "$LAB_DNS_PORT" SOA "$LAB_ZONE." 2>/dev/null \
    | awk '$1 == "test." && $4 == "SOA" { print $7; exit }'
}

lab_wait_dns_serial() { # SERIAL: wait up to 10 s until NSD serves it
  for _ in $(seq 100); do
    [ "$(lab_dns_serial)" = "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

# Quote one text as zone-file TXT character-strings (split at 255 bytes).
lab_txt_quote() {
  local s="$1" out="" chunk
  while :; do
    chunk="${s:0:255}"
    s="${s:255}"
    chunk="${chunk//\\/\\\\}"
    chunk="${chunk//\"/\\\"}"
    out+="${out:+ }\"$chunk\""
    [ -n "$s" ] || break
  done
  printf '%s\n' "$out"
}

# Initial TXT data of _mta-sts.<label>.test: zone-file rdata, one record per line.
lab_initial_txt() {
  case "$1" in
    enforce)        lab_txt_quote 'v=STSv1; id=enf2026a;' ;;
    testing)        lab_txt_quote 'v=STSv1; id=tst1;' ;;
    none)           lab_txt_quote 'v=STSv1; id=none1;' ;;
    two-records)    lab_txt_quote 'v=STSv1; id=a1;'; lab_txt_quote 'v=STSv1; id=b2;' ;;
    no-id)          lab_txt_quote 'v=STSv1;' ;;
    ignored-record) lab_txt_quote 'v=spf1 -all'; lab_txt_quote 'v=STSv1; id=ok1;' ;;
    split-txt)      printf '%s\n' '"v=STSv1; " "id=split1;"' ;;
    notfound)       lab_txt_quote 'v=STSv1; id=nf1;' ;;
    redirect)       lab_txt_quote 'v=STSv1; id=rd1;' ;;
    html)           lab_txt_quote 'v=STSv1; id=html1;' ;;
    params)         lab_txt_quote 'v=STSv1; id=par1;' ;;
    big)            lab_txt_quote 'v=STSv1; id=big1;' ;;
    big-chunked)    lab_txt_quote 'v=STSv1; id=bigc1;' ;;
    bad-syntax)     lab_txt_quote 'v=STSv1; id=bad1;' ;;
    wrong-name)     lab_txt_quote 'v=STSv1; id=wn1;' ;;
    expired)        lab_txt_quote 'v=STSv1; id=exp1;' ;;
    untrusted)      lab_txt_quote 'v=STSv1; id=unt1;' ;;
    changed)        lab_txt_quote 'v=STSv1; id=chg1;' ;;
    removed)        lab_txt_quote 'v=STSv1; id=rm1;' ;;
    removed-none)   lab_txt_quote 'v=STSv1; id=rmn1;' ;;
    down)           lab_txt_quote 'v=STSv1; id=down1;' ;;
    slow)           lab_txt_quote 'v=STSv1; id=slow1;' ;;
    blackhole)      lab_txt_quote 'v=STSv1; id=bh1;' ;;
    mta-enforce)    lab_txt_quote 'v=STSv1; id=mtaenf1;' ;;
    mta-wild)       lab_txt_quote 'v=STSv1; id=mtawild1;' ;;
    mta-badmx)      lab_txt_quote 'v=STSv1; id=mtabad1;' ;;
    mta-testing)    lab_txt_quote 'v=STSv1; id=mtatst1;' ;;
    mta-nostarttls) lab_txt_quote 'v=STSv1; id=mtanotls1;' ;;
    dane-sts)       lab_txt_quote 'v=STSv1; id=dane1;' ;;
    partial-dane)   lab_txt_quote 'v=STSv1; id=pdane1;' ;;
    chk-valid)      lab_txt_quote 'v=STSv1; id=chk1;' ;;
    chk-sts-mismatch) lab_txt_quote 'v=STSv1; id=chkmm1;' ;;
    nopolicy|mta-none) ;;
    *) die "unknown lab domain label '$1'" ;;
  esac
}

lab_a_addr() { # LABEL -> address of mta-sts.<label>.test
  case "$1" in
    down) echo "$LAB_HTTPS_DOWN_IP" ;;
    blackhole) echo "$LAB_BLACKHOLE_IP" ;;
    *) echo "$LAB_HTTPS_IP" ;;
  esac
}

# lab_mx_host LABEL -> (first) MX host of <label>.test, relative to the zone
lab_mx_host() {
  case "$1" in
    mta-wild|partial-dane) echo "mx1.$1" ;;
    *) echo "mx.$1" ;;
  esac
}

# lab_mx_hosts LABEL -> all MX hosts of <label>.test (preference 10, 20, ...)
lab_mx_hosts() {
  case "$1" in
    partial-dane) echo "mx1.$1 mx2.$1" ;;
    *) lab_mx_host "$1" ;;
  esac
}

lab_mx_addr() { # LABEL -> address of its MX host
  case "$1" in
    mta-nostarttls) echo "$LAB_MX_NOTLS_IP" ;;
    *) echo "$LAB_MX_IP" ;;
  esac
}

# lab_label DOMAIN: "enforce.test" -> "enforce"; dies for names outside test.
lab_label() {
  local d="${1%.}"
  d="${d,,}"
  [[ "$d" =~ ^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.test$ ]] \
    || die "domain must be a name under test. (like enforce.test), got '$1'"
  echo "${d%.test}"
}

lab_next_serial() {
  local f="$LAB_DIR/zone/serial" s
  s="$(cat "$f" 2>/dev/null || echo 0)"
  s=$((s + 1))
  echo "$s" >"$f"
  echo "$s"
}

# Write the zone from zone/txt/*, sign it, install it as nsd/test.zone.signed.
# Prints the new serial.
lab_build_zone() {
  local serial z="$LAB_DIR/zone/test.zone" out="$LAB_DIR/nsd/test.zone.signed"
  local d f h line label now ksk zsk pref
  serial="$(lab_next_serial)"
  ksk="$(cat "$LAB_DIR/zone/keys/ksk")"
  zsk="$(cat "$LAB_DIR/zone/keys/zsk")"
  {
    # shellcheck disable=SC2016 # literal $ORIGIN/$TTL directives
    printf '$ORIGIN %s.\n$TTL %s\n' "$LAB_ZONE" "$LAB_TTL"
    printf '@ IN SOA ns.test. hostmaster.test. ( %s %s %s 600 %s )\n' \
      "$serial" "$LAB_TTL" "$LAB_TTL" "$LAB_TTL"
    printf '@ IN NS ns.test.\nns IN A %s\n' "$LAB_DNS_IP"
    # DNSKEYs (no TTL in the .key files, so $TTL applies)
    cat "$LAB_DIR/zone/keys/$ksk.key" "$LAB_DIR/zone/keys/$zsk.key"
    for d in "${LAB_DOMAINS[@]}"; do
      pref=10
      for h in $(lab_mx_hosts "$d"); do
        printf '%s IN MX %s %s\n' "$d" "$pref" "$h"
        printf '%s IN A %s\n' "$h" "$(lab_mx_addr "$d")"
        pref=$((pref + 10))
      done
      printf 'mta-sts.%s IN A %s\n' "$d" "$(lab_a_addr "$d")"
    done
    # DANE-EE(3) SPKI(1) SHA-256(1) of the "mx" Postfix's key (written by tests/lab/up)
    if [ -s "$LAB_DIR/zone/mx-spki-sha256" ]; then
      for h in "${LAB_TLSA_HOSTS[@]}"; do
        printf '_25._tcp.%s IN TLSA 3 1 1 %s\n' "$h" "$(cat "$LAB_DIR/zone/mx-spki-sha256")"
      done
    fi
    # Check cases and the scan set (tests/lab/up writes them once; static).
    for f in "$LAB_DIR/zone/check.zone" "$LAB_DIR/zone/scan.zone"; do
      [ ! -s "$f" ] || cat "$f"
    done
    for f in "$LAB_DIR"/zone/txt/*.test; do
      [ -e "$f" ] || continue
      label="$(basename "$f" .test)"
      while IFS= read -r line; do
        [ -n "$line" ] && printf '_mta-sts.%s IN TXT %s\n' "$label" "$line"
      done <"$f"
    done
  } >"$z.tmp"
  mv -f "$z.tmp" "$z"
  now="$(date +%s)"
  if ! ldns-signzone -o "$LAB_ZONE." -i $((now - 3600)) -e $((now + 30 * 86400)) \
        -f "$out.tmp" "$z" "$LAB_DIR/zone/keys/$zsk" "$LAB_DIR/zone/keys/$ksk" \
        >>"$LAB_LOGS/zone.log" 2>&1; then
    lab_log_tail "$LAB_LOGS/zone.log"
    die "ldns-signzone failed for $z"
  fi
  mv -f "$out.tmp" "$out"
  echo "$serial"
}

# Re-sign and make NSD serve the new zone (if NSD is running).
lab_resign_and_reload() {
  local serial out
  serial="$(lab_build_zone)"
  if ! lab_dns_running; then
    note "NSD is not running; zone re-signed (serial $serial), served after dns-up"
    return 0
  fi
  if ! out="$(nsd-control -c "$LAB_NSD_CONF" reload "$LAB_ZONE" 2>&1)"; then
    lab_log_tail "$LAB_LOGS/nsd.log"
    die "nsd-control reload failed: $out"
  fi
  lab_wait_dns_serial "$serial" || {
    lab_log_tail "$LAB_LOGS/nsd.log"
    die "NSD still does not serve serial $serial of zone test. after reload"
  }
}

# ---------------------------------------------------------------- HTTPS

lab_nginx_running() { # main|down
  case "$1" in
    main) lab_pid "$LAB_NGINX_MAIN_PID" "$LAB_NGINX_MAIN_CONF" >/dev/null ;;
    down) lab_pid "$LAB_NGINX_DOWN_PID" "$LAB_NGINX_DOWN_CONF" >/dev/null ;;
  esac
}

lab_start_nginx() { # main|down
  local inst="$1" conf pid log
  case "$inst" in
    main) conf="$LAB_NGINX_MAIN_CONF"; pid="$LAB_NGINX_MAIN_PID" ;;
    down) conf="$LAB_NGINX_DOWN_CONF"; pid="$LAB_NGINX_DOWN_PID" ;;
  esac
  log="$LAB_LOGS/nginx-$inst-error.log"
  lab_nginx_running "$inst" && return 0
  rm -f "$pid"
  # shellcheck disable=SC2094 # both append (O_APPEND) to the same log
  if ! nginx -q -c "$conf" -e "$log" >>"$log" 2>&1 \
     || ! lab_wait_pidfile "$pid" "$conf" 10; then
    lab_log_tail "$log"
    die "nginx ($inst instance, $conf) did not start"
  fi
}

lab_stop_nginx() { # main|down
  case "$1" in
    main) lab_stop "nginx (main)" "$LAB_NGINX_MAIN_PID" "$LAB_NGINX_MAIN_CONF" ;;
    down) lab_stop "nginx (down)" "$LAB_NGINX_DOWN_PID" "$LAB_NGINX_DOWN_CONF" ;;
  esac
}

# lab_wait_https LABEL IP: wait up to 10 s for a 200 from mta-sts.<label>.test.
lab_wait_https() {
  local host="mta-sts.$1.test" ip="$2"
  for _ in $(seq 50); do
    if curl -fsS -o /dev/null --max-time 2 --cacert "$LAB_DIR/ca/ca.pem" \
         --resolve "$host:443:$ip" "https://$host/.well-known/mta-sts.txt" 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# ---------------------------------------------------------------- blackhole

lab_blackhole_running() { lab_pid "$LAB_BLACKHOLE_PID" blackhole.py >/dev/null; }

lab_start_blackhole() {
  lab_blackhole_running && return 0
  rm -f "$LAB_BLACKHOLE_PID"
  setsid python3 "$LAB_SRC/blackhole.py" "$LAB_BLACKHOLE_IP" 443 "$LAB_BLACKHOLE_PID" \
    </dev/null >>"$LAB_LOGS/blackhole.log" 2>&1 &
  if ! lab_wait_pidfile "$LAB_BLACKHOLE_PID" blackhole.py 10; then
    lab_log_tail "$LAB_LOGS/blackhole.log"
    die "blackhole listener did not start on $LAB_BLACKHOLE_IP:443"
  fi
}

lab_stop_blackhole() { lab_stop blackhole "$LAB_BLACKHOLE_PID" blackhole.py; }

# ---------------------------------------------------------------- smtpbad (tests/lab/mta)
# Misbehaving SMTP servers for the check cases chk-garbage, chk-421,
# chk-tlsclose, chk-silent (one process, all four addresses, port 25).

lab_smtpbad_running() { lab_pid "$LAB_SMTPBAD_PID" smtpbad.py >/dev/null; }

lab_start_smtpbad() {
  local l args=()
  lab_smtpbad_running && return 0
  rm -f "$LAB_SMTPBAD_PID"
  for l in "${LAB_CHECK_BAD_LABELS[@]}"; do
    args+=("${l#chk-}@$(lab_check_ip "$l"):25")
  done
  setsid python3 "$LAB_SRC/smtpbad.py" "$LAB_SMTPBAD_PID" "${args[@]}" \
    </dev/null >>"$LAB_LOGS/smtpbad.log" 2>&1 &
  if ! lab_wait_pidfile "$LAB_SMTPBAD_PID" smtpbad.py 10; then
    lab_log_tail "$LAB_LOGS/smtpbad.log"
    die "smtpbad.py did not start (${args[*]})"
  fi
}

lab_stop_smtpbad() { lab_stop smtpbad "$LAB_SMTPBAD_PID" smtpbad.py; }

# ---------------------------------------------------------------- Postfix (tests/lab/mta)

lab_mta_conf_dir() { echo "$LAB_PF_DIR/$1/etc"; }            # mx|sender
lab_mta_pidfile() { echo "$LAB_PF_DIR/$1/spool/pid/master.pid"; }

# The master's command line is "/usr/lib/postfix/sbin/master -w"; the pid file
# lives in the instance's own queue directory.
lab_mta_running() { lab_pid "$(lab_mta_pidfile "$1")" sbin/master >/dev/null; }

lab_stop_mta() { # mx|sender: SIGTERM to the master (it stops its children)
  lab_stop "postfix ($1)" "$(lab_mta_pidfile "$1")" sbin/master
}

lab_stop_mtas() {
  lab_stop_smtpbad
  [ -d "$LAB_PF_DIR" ] || return 0
  lab_stop_mta sender
  lab_stop_mta mx
}

lab_stop_all() {
  lab_stop_mtas
  lab_stop_nginx down
  lab_stop_nginx main
  lab_stop_blackhole
  lab_stop_dns
}
