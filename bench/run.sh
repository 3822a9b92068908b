#!/usr/bin/env bash
# bench/run.sh: pwebs against nginx, lighttpd and Apache httpd, in one run.
#
# Usage:
#   bench/run.sh [--quick] [--only SCENARIO,...] [--servers NAME,...]
#                [--rounds N] [--duration SECONDS] [--idle-conns N]
#                [--committed] [--keep]
#
# It installs what is missing (as root, with apt-get), builds pwebs and the
# clients under bench/, generates a test site, writes a private config for
# every server in a temporary folder, starts each one on its own 127.0.0.1
# port pinned to core 0 (one worker process; GOMAXPROCS=1 for pwebs), checks
# that each returns the right body for each scenario, then times the
# scenarios with the load generator pinned to core 1, in rounds interleaved
# across the servers (A B C D A B C D ...), and prints medians as a Markdown
# table, also written to bench/results/latest.md (every round is in
# bench/results/latest-rounds.tsv). It stops exactly the processes it
# started. See bench/README.md for how to read the table.
#
# Scenarios (--only takes these names):
#   ka1k     1 KiB page, keep-alive, wrk -t1 -c50
#   ab1k     1 KiB page, HTTP/1.0 keep-alive, ab -k -c50
#   conn1k   1 KiB page, a new connection per request, ab -c50
#   ka100k   100 KiB page, keep-alive, wrk -t1 -c50
#   big10m   10 MiB file, keep-alive, wrk -t1 -c10
#   listing  a folder of 200 files with no index, wrk -t1 -c50
#   ssi      a page with three include virtual and an echo, wrk -t1 -c50
#   cgi      a /bin/sh CGI hello, wrk -t1 -c50
#   php      a PHP hello run by php-cgi, wrk -t1 -c50
#   idle     RSS growth while holding --idle-conns idle keep-alive connections
#
# Servers (--servers takes these names): pwebs, nginx, lighttpd, apache,
# three pwebs variants: pwebs-log (access log on, the combined format to a
# file, rotated at 64 MiB as a busy site would set it), pwebs-log1m (the
# same with [log]'s shipped rotation at 1 MiB) and pwebs-nocache (memory
# cache off), and nginx-log (nginx with its access log on, the combined
# format through a 64 KiB buffer, no rotation: what logging costs the
# peer). By default every server runs, pwebs-log, pwebs-log1m and nginx-log
# only in ka1k and ab1k (issue 3: log on at least 90% of log off)
# and pwebs-nocache only in ka1k and ssi (issue 4: cache on at least 1.3x
# cache off; issue 6: SSI with the cache off). Naming servers with
# --servers runs them in every scenario chosen, for example:
#   bench/run.sh --servers pwebs,pwebs-log --only ka1k,ab1k
#   bench/run.sh --servers pwebs,pwebs-nocache --only ka1k,ka100k,listing,ssi
#
# --quick: one round of 1 s per server and scenario (2 s for CGI, 3 s for
# PHP), no warm-up, one idle round of 2,000 connections; about a minute and
# a half. The default: 5 rounds of 6 s after a 2 s warm-up, 3 idle rounds of
# 10,000 connections; about 25 minutes. --committed builds pwebs from the
# last commit (git archive HEAD; the checkout is not touched) instead of the
# working tree. --keep keeps the temporary folder with every config and log.
#
# pwebs scenarios that need a config section pwebs does not have yet ([log],
# [cache], [cgi], [ssi]; see PWEBS_SECTIONS below) are reported as n/a with
# pwebs -t's complaint, and so is any server whose body is wrong; neither
# stops the run.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The config sections pwebs gets, as issues 3-6 define them. Each is tried
# with pwebs -t on its own: a section pwebs accepts is used; one it refuses
# is left out, and the scenarios that need it are n/a for pwebs. Removing a
# name here turns that section off by hand.
PWEBS_SECTIONS=(log cache cgi ssi)
declare -A SECTION_TEXT=(
	[log]='[log]
access = ""'
	[cache]='[cache]
enabled = true
max_size = "64MiB"
max_file_size = "1MiB"'
	[cgi]='[cgi]
dirs = { "/cgi-bin/" = "@SITE@/cgi-bin" }
interpreters = { ".php" = "@PHP_CGI@" }'
	[ssi]='[ssi]
extensions = [".shtml"]'
)
# What the pwebs variants change. pwebs-log rotates at 64 MiB, as a site
# that serves this load would set it (the shipped 1 MiB rotates a file
# twenty times a second here), and keeps the rest of [log]'s defaults
# (keep 20, compress true). pwebs-log1m keeps the shipped rotation too: what
# a user who changes nothing gets. The environment variables
# PWEBS_LOG_SECTION, PWEBS_LOG1M_SECTION and PWEBS_NOCACHE_SECTION replace
# these texts for one run (@DIR@ is the variant's folder), for example to
# see what rotation costs:
#   PWEBS_LOG_SECTION=$'[log]\naccess = "@DIR@/access_log"\nrotate_size = 0' \
#     bench/run.sh --servers pwebs,pwebs-log --only ka1k
VARIANT_LOG=${PWEBS_LOG_SECTION:-'[log]
access = "@DIR@/access_log"
format = "combined"
rotate_size = "64MiB"'}
VARIANT_LOG1M=${PWEBS_LOG1M_SECTION:-'[log]
access = "@DIR@/access_log"
format = "combined"'}
VARIANT_NOCACHE=${PWEBS_NOCACHE_SECTION:-'[cache]
enabled = false'}
# The pwebs section each scenario needs.
declare -A SCENARIO_NEEDS=([ssi]=ssi [cgi]=cgi [php]=cgi)

ALL_SCENARIOS=(ka1k ab1k conn1k ka100k big10m listing ssi cgi php idle)
ALL_SERVERS=(pwebs pwebs-log pwebs-log1m pwebs-nocache nginx nginx-log lighttpd apache)
PEERS=(nginx lighttpd apache)
declare -A TITLE=(
	[ka1k]="1 KiB, keep-alive (wrk -c50)"
	[ab1k]="1 KiB, HTTP/1.0 keep-alive (ab -k -c50)"
	[conn1k]="1 KiB, a connection per request (ab -c50)"
	[ka100k]="100 KiB, keep-alive (wrk -c50)"
	[big10m]="10 MiB file (wrk -c10)"
	[listing]="directory listing, 200 files (wrk -c50)"
	[ssi]="SSI page: 3 includes + echo (wrk -c50)"
	[cgi]="CGI hello, /bin/sh (wrk -c50)"
	[php]="PHP hello, php-cgi (wrk -c50)"
)
declare -A URLPATH=([ka1k]=/1k.html [ab1k]=/1k.html [conn1k]=/1k.html [ka100k]=/100k.html
	[big10m]=/10m.bin [listing]=/dir/ [ssi]=/ssi.shtml [cgi]=/cgi-bin/hello.cgi [php]=/hello.php)
declare -A TOOL=([ka1k]=wrk [ab1k]=abk [conn1k]=ab [ka100k]=wrk [big10m]=wrk [listing]=wrk
	[ssi]=wrk [cgi]=wrk [php]=wrk)
declare -A CONNS=([ka1k]=50 [ab1k]=50 [conn1k]=50 [ka100k]=50 [big10m]=10 [listing]=50
	[ssi]=50 [cgi]=50 [php]=50)
# Scenarios whose CPU per request is counted on the whole of the servers'
# core (/proc/stat) rather than from the server's processes: Apache's
# mod_cgid ignores SIGCHLD, so the CPU its scripts use is added to no
# process's reaped-children time. Other load on that core is counted too.
declare -A CPU_FROM_CORE=([cgi]=1 [php]=1)
# The shortest round, in seconds, for scenarios with few requests per second.
declare -A MIN_SECONDS=([cgi]=2 [php]=3)
# The scenarios a pwebs variant runs in when --servers does not name it.
declare -A VARIANT_SCENARIOS=([pwebs-log]="ka1k ab1k" [pwebs-log1m]="ka1k ab1k" [pwebs-nocache]="ka1k ssi" [nginx-log]="ka1k ab1k")
# Scenarios a server cannot run at all, and why.
declare -A CANNOT=(
	[nginx,cgi]="nginx runs no CGI (it needs fcgiwrap)"
	[nginx,php]="nginx runs no CGI (it needs php-fpm or fcgiwrap)"
	[nginx-log,cgi]="nginx runs no CGI (it needs fcgiwrap)"
	[nginx-log,php]="nginx runs no CGI (it needs php-fpm or fcgiwrap)"
)

# --- options
QUICK= ONLY= SERVERS_OPT= ROUNDS= DURATION= IDLE_CONNS= WARM=
usage() {
	sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit "${1:-0}"
}
ARGS="$*"
while (($#)); do
	case $1 in
	--quick) QUICK=1 ;;
	--only) ONLY=${2:?--only needs a list} && shift ;;
	--servers) SERVERS_OPT=${2:?--servers needs a list} && shift ;;
	--rounds) ROUNDS=${2:?} && shift ;;
	--duration) DURATION=${2:?} && shift ;;
	--idle-conns) IDLE_CONNS=${2:?} && shift ;;
	--keep) KEEP_TMP=1 ;;
	--committed) PWEBS_FROM_HEAD=1 ;;
	-h | --help) usage 0 ;;
	*) say "unknown option $1" && usage 2 ;;
	esac
	shift
done
if [ -n "$QUICK" ]; then
	: "${ROUNDS:=1}" "${DURATION:=1}" "${WARM:=0}" "${IDLE_CONNS:=2000}"
	IDLE_ROUNDS=1
else
	: "${ROUNDS:=5}" "${DURATION:=6}" "${WARM:=2}" "${IDLE_CONNS:=10000}"
	IDLE_ROUNDS=3
fi
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "--rounds must be from 1 to 99"
[[ $DURATION =~ ^[1-9][0-9]{0,2}$ ]] || die "--duration must be from 1 to 999 seconds"
[[ $IDLE_CONNS =~ ^[1-9][0-9]{0,4}$ ]] || die "--idle-conns must be from 1 to 99999"

SCENARIOS=()
IFS=, read -ra want <<<"${ONLY:-$(IFS=, && echo "${ALL_SCENARIOS[*]}")}"
for s in "${want[@]}"; do
	[[ " ${ALL_SCENARIOS[*]} " == *" $s "* ]] || die "unknown scenario $s (known: ${ALL_SCENARIOS[*]})"
	SCENARIOS+=("$s")
done
SERVERS=()
IFS=, read -ra want <<<"${SERVERS_OPT:-$(IFS=, && echo "${ALL_SERVERS[*]}")}"
for s in "${want[@]}"; do
	[[ " ${ALL_SERVERS[*]} " == *" $s "* ]] || die "unknown server $s (known: ${ALL_SERVERS[*]})"
	SERVERS+=("$s")
done

# runs SERVER SCENARIO succeeds when SERVER takes part in SCENARIO.
runs() {
	case $1 in
	pwebs-log | pwebs-log1m | pwebs-nocache | nginx-log)
		[ -n "$SERVERS_OPT" ] || [[ " ${VARIANT_SCENARIOS[$1]} " == *" $2 "* ]] || return 1
		[ "$2" != idle ]
		;;
	esac
}

# --- results: every measurement goes into these, keyed "scenario,server".
declare -A NA=() RPS=() P99=() CPU=() ERRS=() NOTE=() IDLE=() CEIL=() DOWN=()
ROUNDS_TSV=

# record SCEN SERVER ROUND RPS P99 CPU REQS ERRS NOTE
record() {
	local k=$1,$2
	RPS[$k]+=" $4" P99[$k]+=" $5" CPU[$k]+=" $6"
	if (($8 > 0)); then ERRS[$k]=$((${ERRS[$k]:-0} + $8)); fi
	[ -z "$9" ] || NOTE[$k]=$9
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$ROUNDS_TSV"
}

# median of the numbers given (the mean of the middle two for an even count).
median() {
	printf '%s\n' "$@" | grep . | sort -g | awk '{ a[NR] = $1 } END {
		if (NR == 0) print ""; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
# spread: half the range of the numbers as a percentage of their median.
spread() {
	printf '%s\n' "$@" | grep . | sort -g | awk '{ a[NR] = $1 } END {
		m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		if (NR < 2 || m == 0) print "-"; else printf "±%.0f%%\n", 50 * (a[NR] - a[1]) / m }'
}

# --- load generators. Each prints: requests/s, p99 in ms, requests done,
# failed requests, and a note (or "-").

# wrk_run URL CONNS SECONDS
wrk_run() {
	taskset -c "$LOAD_CORE" wrk -t1 -c"$2" -d"$3"s --timeout 5s --latency "$1" 2>&1 | awk '
		/^Requests\/sec:/ { rps = $2 }
		/ requests in / { reqs = $1 }
		/^ +99%/ {
			p = $2
			if (p ~ /us$/) p99 = p / 1000; else if (p ~ /ms$/) p99 = p + 0
			else if (p ~ /m$/) p99 = p * 60000; else if (p ~ /s$/) p99 = p * 1000
		}
		/Non-2xx or 3xx responses:/ { bad += $NF }
		/Socket errors:/ { gsub(",", ""); bad += $4 + $10 }
		END { if (rps == "") print "0 0 0 0 wrk-failed"; else printf "%s %.3f %d %d -\n", rps, p99, reqs, bad }'
}

# ab_run URL CONNS SECONDS [-k]
ab_run() {
	local csv=$TMP/ab.csv
	rm -f "$csv"
	taskset -c "$LOAD_CORE" ab -q -r -c "$2" -t "$3" -n $(($3 * 150000)) ${4:-} -e "$csv" "$1" 2>&1 |
		awk -v csv="$csv" -v ka="${4:-}" '
		/^Requests per second:/ { rps = $4 }
		/^Complete requests:/ { reqs = $3 }
		/^Failed requests:/ { bad += $3 }
		/^Non-2xx responses:/ { bad += $3 }
		/^Keep-Alive requests:/ { kar = $3 }
		END {
			while ((getline line < csv) > 0) if (line ~ /^99,/) { split(line, f, ","); p99 = f[2] }
			note = "-"
			if (ka != "" && reqs > 0 && kar < 0.9 * reqs) note = sprintf("keep-alive on %.0f%% of requests", 100 * kar / reqs)
			if (rps == "") print "0 0 0 0 ab-failed"; else printf "%s %.3f %d %d %s\n", rps, p99, reqs, bad, note }'
}

# load SCEN SERVER SECONDS runs SCEN's load generator against SERVER for
# SECONDS (at least SCEN's MIN_SECONDS).
load() {
	local url="http://127.0.0.1:${SERVER_PORT[$2]}${URLPATH[$1]}" secs=$3
	((secs >= ${MIN_SECONDS[$1]:-1})) || secs=${MIN_SECONDS[$1]}
	case ${TOOL[$1]} in
	wrk) wrk_run "$url" "${CONNS[$1]}" "$secs" ;;
	ab) ab_run "$url" "${CONNS[$1]}" "$secs" ;;
	abk) ab_run "$url" "${CONNS[$1]}" "$secs" -k ;;
	esac
}

# measure SCEN SERVER ROUND times one round and records it, with the CPU the
# server's processes (or its core, see CPU_FROM_CORE) used over the timed
# window.
measure() {
	local pids t0 t1 rps p99 reqs bad note cpu
	mapfile -t pids < <(tree_pids "${SERVER_PID[$2]}")
	if [ -n "${CPU_FROM_CORE[$1]:-}" ]; then
		t0=$(core_ticks "$SERVER_CORE")
		read -r rps p99 reqs bad note < <(load "$1" "$2" "$DURATION")
		t1=$(core_ticks "$SERVER_CORE")
	else
		t0=$(cpu_ticks "${pids[@]}")
		read -r rps p99 reqs bad note < <(load "$1" "$2" "$DURATION")
		t1=$(cpu_ticks "${pids[@]}")
	fi
	[ "$note" = - ] && note=
	if ! alive "$2"; then
		# Its figures are partial and its CPU time is lost: drop the round.
		record "$1" "$2" "$3" "" "" "" 0 0 "the server died during a round"
		revive "$2" || say "$2: $REASON"
		return
	fi
	if ((reqs == 0)); then
		record "$1" "$2" "$3" "" "" "" 0 0 "no request completed${note:+ ($note)}"
		return
	fi
	cpu=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN { printf "%.2f", d * 1e6 / hz / n }')
	record "$1" "$2" "$3" "$rps" "$p99" "$cpu" "$reqs" "$bad" "$note"
}

# check SCEN SERVER succeeds when SERVER returns the right body for SCEN;
# otherwise it prints why not.
check() {
	local url="http://127.0.0.1:${SERVER_PORT[$2]}${URLPATH[$1]}" body=$TMP/body code n
	case $1 in
	listing)
		code=$(fetch "$url" "$body")
		n=$(grep -o 'file-[0-9]*\.txt' "$body" | sort -u | wc -l)
		[ "$code" = 200 ] && ((n == 200)) && return 0
		echo "listing check failed: status $code, $n of the 200 names; body: $(describe "$body")"
		return 1
		;;
	ab1k) code=$(fetch "$url" "$body" --http1.0 -H 'Connection: keep-alive') ;;
	*) code=$(fetch "$url" "$body") ;;
	esac
	local want=$SITE${URLPATH[$1]}
	[ -f "$TMP/expect/$1" ] && want=$TMP/expect/$1
	[ "$code" = 200 ] && cmp -s "$body" "$want" && return 0
	echo "wrong response: status $code, body $(wc -c <"$body") bytes: $(describe "$body")"
	return 1
}

# --- pwebs's configs

declare -A REFUSED=()
prepare_pwebs() {
	local d=$TMP/srv/pwebs-try base sec text reason
	mkdir -p "$d"
	base=$(pwebs_base "$d" 1)
	reason=$(pwebs_try "$d" "$base") || die "pwebs -t refuses the bench's base config: $reason"
	for sec in log cache cgi ssi; do
		if [[ " ${PWEBS_SECTIONS[*]} " != *" $sec "* ]]; then
			REFUSED[$sec]="[$sec] switched off in PWEBS_SECTIONS (bench/run.sh)"
			continue
		fi
		text=$(section "$sec" "$d")
		reason=$(pwebs_try "$d" "$base"$'\n'"$text") || REFUSED[$sec]="pwebs -t refuses [$sec]: $reason"
	done
}

# section NAME DIR prints the TOML of a pwebs section.
section() {
	local t=${SECTION_TEXT[$1]}
	t=${t//@SITE@/$SITE}
	t=${t//@PHP_CGI@/$PHP_CGI}
	printf '%s\n' "${t//@DIR@/$2}"
}

# pwebs_conf NAME DIR PORT prints the whole config of pwebs variant NAME:
# the base and every section pwebs accepts, with the variant's change.
pwebs_conf() {
	local name=$1 d=$2 sec t
	pwebs_base "$d" "$3"
	for sec in log cache cgi ssi; do
		[ -z "${REFUSED[$sec]:-}" ] || continue
		t=$(section "$sec" "$d")
		[ "$name,$sec" = pwebs-log,log ] && t=${VARIANT_LOG//@DIR@/$d}
		[ "$name,$sec" = pwebs-log1m,log ] && t=${VARIANT_LOG1M//@DIR@/$d}
		[ "$name,$sec" = pwebs-nocache,cache ] && t=$VARIANT_NOCACHE
		printf '\n%s\n' "$t"
	done
}

# --- the run

START=$(date +%s)
ensure_tools nginx:nginx apache2:apache2 lighttpd:lighttpd wrk:wrk apache2-utils:ab php-cgi:php-cgi curl:curl \
	gcc:cc libc6-dev:/usr/include/spawn.h
PHP_CGI=$(command -v php-cgi)
raise_nofile 65536 $((IDLE_CONNS + 1000))
setup_tmp
ROUNDS_TSV=$TMP/rounds.tsv
printf 'scenario\tserver\tround\treq/s\tp99_ms\tcpu_us_per_req\trequests\tfailed\tnote\n' >"$ROUNDS_TSV"
build
gen_site
pwebs_user
prepare_pwebs

# Start every server once; a server that does not start is n/a everywhere.
RUNNING=()
for s in "${SERVERS[@]}"; do
	case $s in
	pwebs-log | pwebs-log1m) [ -z "${REFUSED[log]:-}" ] || { DOWN[$s]="${REFUSED[log]}" && continue; } ;;
	pwebs-nocache) [ -z "${REFUSED[cache]:-}" ] || { DOWN[$s]="${REFUSED[cache]} (so pwebs is uncached already)" && continue; } ;;
	esac
	if [ "$(kind "$s")" = pwebs ]; then
		free_port
		SERVER_PORT[$s]=$PORT
		PWEBS_CONF_TEXT=$(pwebs_conf "$s" "$TMP/srv/$s" "$PORT")
	fi
	if setup_server "$s"; then
		RUNNING+=("$s")
		say "$s $(server_version "$s") on 127.0.0.1:${SERVER_PORT[$s]}"
	else
		DOWN[$s]=$REASON
		say "$s: $REASON"
	fi
	unset PWEBS_CONF_TEXT
done

# na SCEN SERVER REASON marks SCEN n/a for SERVER (the first reason wins).
na() { [ -n "${NA[$1,$2]:-}" ] || NA[$1,$2]=${3//|//}; }

# SCRIPTS_AT_ONCE is how many scripts pwebs runs at once under the CGI and
# PHP rows' 50 clients: its default max_processes. The ceilings are also
# measured with that many started at once, with no server at all: the most
# any server running that many scripts at once could reach on this core.
SCRIPTS_AT_ONCE=32

# fork_ceiling JOBS PROGRAM [TEXT] prints how many times a second core 0 can
# run PROGRAM (whose output must contain TEXT), JOBS at a time.
fork_ceiling() {
	taskset -c "$SERVER_CORE" "$TMP/bin/forkrate" -j "$1" -d "$DURATION" ${3:+-e "$3"} "$2" |
		sed -n 's/.*per_sec=\([0-9.]*\).*/\1/p'
}
# start_canned starts bench/canned.c on core 0, answering every request
# with the SSI page's bytes and doing no HTTP work, and sets CANNED_PORT
# (cleanup stops it). canned_ceiling prints the requests a second the SSI
# row's load gets from it: what is left when the server does no work, the
# kernel's TCP on loopback and the load generator.
start_canned() {
	[ -x "$TMP/bin/canned" ] && [ -z "${CANNED_PORT:-}" ] || return 0
	free_port
	taskset -c "$SERVER_CORE" "$TMP/bin/canned" -p "$PORT" "$TMP/expect/ssi" >/dev/null 2>"$TMP/canned.err" &
	BG_PIDS+=("$!")
	local i
	for ((i = 0; i < 50; i++)); do
		if [ -n "$(ss -Htln "sport = :$PORT" 2>/dev/null)" ]; then
			CANNED_PORT=$PORT
			return 0
		fi
		sleep 0.1
	done
	say "bench/canned.c did not start: $(cat "$TMP/canned.err")"
}
canned_ceiling() {
	[ -n "${CANNED_PORT:-}" ] || return 0
	wrk_run "http://127.0.0.1:$CANNED_PORT${URLPATH[ssi]}" "${CONNS[ssi]}" "$DURATION" | awk '$1 > 0 { print $1 }'
}
# php_ceiling JOBS does the same for php-cgi running hello.php.
php_ceiling() {
	local secs=$((DURATION < ${MIN_SECONDS[php]} ? ${MIN_SECONDS[php]} : DURATION))
	env REDIRECT_STATUS=200 GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET SERVER_PROTOCOL=HTTP/1.1 \
		SCRIPT_FILENAME="$SITE/hello.php" SCRIPT_NAME=/hello.php DOCUMENT_ROOT="$SITE" \
		taskset -c "$SERVER_CORE" "$TMP/bin/forkrate" -j "$1" -d "$secs" -e 'Hello, world!' "$PHP_CGI" |
		sed -n 's/.*per_sec=\([0-9.]*\).*/\1/p'
}

for scen in "${SCENARIOS[@]}"; do
	[ "$scen" = idle ] && continue
	live=()
	for s in "${SERVERS[@]}"; do
		runs "$s" "$scen" || continue
		[ -n "${DOWN[$s]:-}" ] || revive "$s" || DOWN[$s]="died, and did not start again: $REASON"
		if [ -n "${DOWN[$s]:-}" ]; then
			na "$scen" "$s" "${DOWN[$s]}"
		elif [ -n "${CANNOT[$s,$scen]:-}" ]; then
			na "$scen" "$s" "${CANNOT[$s,$scen]}"
		elif [ "$(kind "$s")" = pwebs ] && [ -n "${SCENARIO_NEEDS[$scen]:-}" ] &&
			[ -n "${REFUSED[${SCENARIO_NEEDS[$scen]}]:-}" ]; then
			na "$scen" "$s" "${REFUSED[${SCENARIO_NEEDS[$scen]}]}"
		elif reason=$(check "$scen" "$s"); then
			live+=("$s")
		else
			na "$scen" "$s" "$reason"
		fi
	done
	NA_LIST=
	for s in "${SERVERS[@]}"; do [ -z "${NA[$scen,$s]:-}" ] || NA_LIST+=" $s"; done
	say "${TITLE[$scen]}: timing ${live[*]:-nothing}${NA_LIST:+ (n/a:$NA_LIST)}"
	((${#live[@]})) || continue
	if ((WARM > 0)); then
		for s in "${live[@]}"; do load "$scen" "$s" "$WARM" >/dev/null; done
	fi
	[ "$scen" = ssi ] && start_canned
	for ((r = 1; r <= ROUNDS; r++)); do
		if [ "$scen" = cgi ]; then
			CEIL[cgi]+=" $(fork_ceiling 1 /bin/true)"
			CEIL[cgi_script]+=" $(fork_ceiling 1 "$SITE/cgi-bin/hello.cgi" 'Hello, world!')"
			CEIL[cgi_script_many]+=" $(fork_ceiling "$SCRIPTS_AT_ONCE" "$SITE/cgi-bin/hello.cgi" 'Hello, world!')"
		fi
		[ "$scen" = ssi ] && CEIL[canned]+=" $(canned_ceiling)"
		if [ "$scen" = php ]; then
			CEIL[php]+=" $(php_ceiling 1)"
			CEIL[php_many]+=" $(php_ceiling "$SCRIPTS_AT_ONCE")"
		fi
		for s in "${live[@]}"; do
			if revive "$s"; then
				measure "$scen" "$s" "$r"
			else
				record "$scen" "$s" "$r" "" "" "" 0 0 "the server died and did not start again: $REASON"
			fi
		done
	done
done

# idle: each server restarted fresh, then RSS before and after holding the
# connections, in interleaved rounds.
if [[ " ${SCENARIOS[*]} " == *" idle "* ]]; then
	idle_servers=()
	for s in "${SERVERS[@]}"; do
		runs "$s" idle || continue
		if [ -n "${DOWN[$s]:-}" ]; then na idle "$s" "${DOWN[$s]}"; else idle_servers+=("$s"); fi
	done
	say "memory: $IDLE_CONNS idle keep-alive connections on ${idle_servers[*]}"
	for ((r = 1; r <= IDLE_ROUNDS; r++)); do
		for s in "${idle_servers[@]}"; do
			[ -z "${NA[idle,$s]:-}" ] || continue
			t0=$SECONDS
			stop_server "$s"
			if ! start_server "$s"; then
				na idle "$s" "$REASON"
				continue
			fi
			if ! reason=$(check ka1k "$s"); then
				na idle "$s" "$reason"
				continue
			fi
			sleep 0.5
			mapfile -t pids < <(tree_pids "${SERVER_PID[$s]}")
			rss0=$(rss_kb "${pids[@]}")
			out=$TMP/idle.out
			: >"$out"
			taskset -c "$LOAD_CORE" "$TMP/bin/idleconns" -n "$IDLE_CONNS" "127.0.0.1:${SERVER_PORT[$s]}" \
				>"$out" 2>"$TMP/idle.err" &
			ipid=$!
			BG_PIDS+=("$ipid")
			if ! wait_line "$out" '^ready' 180; then
				na idle "$s" "the idle connections were not all open after 180 s"
				kill -TERM "$ipid" 2>/dev/null
				wait "$ipid" 2>/dev/null
				continue
			fi
			sleep 1
			mapfile -t pids < <(tree_pids "${SERVER_PID[$s]}")
			rss1=$(rss_kb "${pids[@]}")
			kill -TERM "$ipid" 2>/dev/null
			wait "$ipid" 2>/dev/null
			if ! alive "$s"; then
				revive "$s" >/dev/null
				say "  $s died during its idle round: round dropped"
				continue
			fi
			held=$(sed -n 's/^held open=\([0-9]*\).*/\1/p' "$out")
			failed=$(sed -n 's/^ready .*failed=\([0-9]*\).*/\1/p' "$out")
			if [ -z "$held" ] || ((held == 0)); then
				na idle "$s" "no connection stayed open ($(head -c 150 "$TMP/idle.err" | tr '\n' ' '))"
				continue
			fi
			IDLE[$s]+=" $rss0:$rss1:$held:${failed:-0}"
			say "  $s: $held held, $(((rss1 - rss0) * 1024 / held)) bytes each ($((SECONDS - t0)) s)"
			printf 'idle\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$r" "rss0_kb=$rss0" "rss1_kb=$rss1" "" "$held" "${failed:-0}" \
				"bytes_per_conn=$(((rss1 - rss0) * 1024 / held))" >>"$ROUNDS_TSV"
		done
	done
fi

# --- the report
ELAPSED=$(($(date +%s) - START))
fmt_int() { awk -v n="$1" 'BEGIN { n = sprintf("%.0f", n); s = ""; while (length(n) > 3) { s = "," substr(n, length(n) - 2) s; n = substr(n, 1, length(n) - 3) } print n s }'; }
fmt_ms() { awk -v n="$1" 'BEGIN { if (n >= 100) printf "%.0f", n; else if (n >= 10) printf "%.1f", n; else printf "%.2f", n }'; }
fmt_num() { awk -v n="$1" 'BEGIN { if (n >= 100) printf "%.0f", n; else if (n >= 10) printf "%.1f", n; else printf "%.2f", n }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f\n", a / b }'; }
med() { median ${1:-}; }

# idle_stats SERVER prints the medians of the connections held, RSS before,
# RSS after (KiB) and bytes per connection over the idle rounds.
idle_stats() {
	local rec h=() a=() b=() per=() r0 r1 n
	for rec in ${IDLE[$1]:-}; do
		IFS=: read -r r0 r1 n _ <<<"$rec"
		h+=("$n") a+=("$r0") b+=("$r1") per+=("$(((r1 - r0) * 1024 / n))")
	done
	echo "$(median "${h[@]}") $(median "${a[@]}") $(median "${b[@]}") $(median "${per[@]}")"
}

report() {
	local cpu_model cores
	cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	cores=$(nproc)
	echo "## pwebs bench: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "- Command: \`bench/run.sh${ARGS:+ $ARGS}\`, $((ELAPSED / 60)) min $((ELAPSED % 60)) s."
	echo "- Machine: $cpu_model, $cores cores, Linux $(uname -r), $(go version | cut -d' ' -f3)."
	echo "- Servers: pwebs $(server_version pwebs | sed 's/^pwebs //') ($PWEBS_BUILT), $(server_version nginx), $(server_version lighttpd), $(server_version apache) (event MPM); $($PHP_CGI -v | head -n 1 | cut -d' ' -f1-2) for every server's PHP."
	echo "- Load: $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2), ab $(ab -V | sed -n 's/.*Version \([0-9.]*\).*/\1/p'). Each server on core $SERVER_CORE (one worker process; GOMAXPROCS=1 for pwebs), the load generator on core $LOAD_CORE, all over 127.0.0.1; access logs off."
	echo "- Rounds: $ROUNDS × ${DURATION} s per server and scenario$( ((WARM > 0)) && echo " after a ${WARM} s warm-up"), interleaved across servers; medians shown, ± is half the range of req/s over the rounds. The machine is shared with other engineers' tests, so absolute figures are noisy (10-30% between runs): compare the ratios within one run."
	local sec state=
	for sec in log cache cgi ssi; do
		if [ -n "${REFUSED[$sec]:-}" ]; then state+=" [$sec] not yet (${REFUSED[$sec]#pwebs -t refuses \[$sec\]: });"; else state+=" [$sec] on;"; fi
	done
	echo "- pwebs sections:${state%;}."
	if ((${#DEATHS[@]})); then
		local died=
		for s in "${!DEATHS[@]}"; do died+=" $s ${DEATHS[$s]}× (last: ${DEATH_WHY[$s]//|//});"; done
		echo "- Servers that died during the run and were started again, their rounds in flight dropped:${died%;}. A signal means something outside the bench stopped them (other engineers' tests share the machine); a panic is a crash."
	fi
	echo
	echo "req/s: median requests per second. p99: 99th-percentile latency (wrk, ab). CPU: the server's CPU time per request over the timed window: user + system time of the server's processes with the children they reaped (/proc/PID/stat), except in the CGI and PHP rows, where it is all the busy time of core $SERVER_CORE (/proc/stat; Apache's mod_cgid lets the kernel reap its scripts, so their CPU shows in no process; other load on that core is counted too). pwebs req/s ÷: pwebs's req/s divided by this row's (above 1: pwebs is faster). pwebs CPU ÷: pwebs's CPU per request divided by this row's (below 1: pwebs is cheaper)."
	echo
	echo "| scenario | server | req/s | ± | p99 ms | CPU µs/req | pwebs req/s ÷ | pwebs CPU ÷ | note |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
	local scen s k label rps p99 cpu prps pcpu nrps note errs reqsum ceil
	for scen in "${SCENARIOS[@]}"; do
		[ "$scen" = idle ] && continue
		label=${TITLE[$scen]}
		prps=$(med "${RPS[$scen,pwebs]:-}")
		pcpu=$(med "${CPU[$scen,pwebs]:-}")
		for s in "${SERVERS[@]}"; do
			runs "$s" "$scen" || continue
			k=$scen,$s
			if [ -z "${RPS[$k]:-}" ] || [ -z "$(med "${RPS[$k]}")" ]; then
				echo "| $label | $s | n/a | | | | | | ${NA[$k]:-${NOTE[$k]:-no result}} |"
				label=
				continue
			fi
			rps=$(med "${RPS[$k]}")
			p99=$(med "${P99[$k]}")
			cpu=$(med "${CPU[$k]}")
			note=${NOTE[$k]:-}
			errs=${ERRS[$k]:-0}
			if ((errs > 0)); then note+="${note:+; }$errs failed requests over all rounds"; fi
			case $scen,$s in
			cgi,*) ceil=$(med "${CEIL[cgi]:-}") && [ -n "$ceil" ] &&
				note+="${note:+; }$(awk -v a="$rps" -v b="$ceil" 'BEGIN { printf "%.0f%%", 100 * a / b }') of the fork/exec ceiling" ;;
			php,*) ceil=$(med "${CEIL[php]:-}") && [ -n "$ceil" ] &&
				note+="${note:+; }$(awk -v a="$rps" -v b="$ceil" 'BEGIN { printf "%.0f%%", 100 * a / b }') of the php-cgi ceiling" ;;
			esac
			[ "$s" = pwebs-log ] && [ -n "$prps" ] && note+="${note:+; }log on ÷ log off: $(ratio "$rps" "$prps") (target ≥ 0.90)"
			[ "$s" = pwebs-log1m ] && [ -n "$prps" ] && note+="${note:+; }log on ÷ log off: $(ratio "$rps" "$prps") (rotated at 1 MiB)"
			[ "$s" = pwebs-nocache ] && [ -n "$prps" ] && note+="${note:+; }cache on ÷ cache off: $(ratio "$prps" "$rps")"
			[ "$s" = nginx-log ] && nrps=$(med "${RPS[$scen,nginx]:-}") && [ -n "$nrps" ] &&
				note+="${note:+; }log on ÷ log off: $(ratio "$rps" "$nrps") (nginx)"
			echo "| $label | $s | $(fmt_int "$rps") | $(spread ${RPS[$k]}) | $(fmt_ms "$p99") | $(fmt_num "$cpu") | $(ratio "$prps" "$rps") | $(ratio "$pcpu" "$cpu") | $note |"
			label=
		done
	done
	if [[ ${CEIL[canned]:-} =~ [0-9] ]]; then
		echo
		echo "No work at all, for the SSI row: bench/canned.c on core $SERVER_CORE, a C loop that answers the same load with the SSI page's bytes from memory and does no HTTP work (no parsing, no file, no headers to make, no log): $(fmt_int "$(med "${CEIL[canned]}")") requests a second. What is left is the kernel's TCP on loopback and the load generator, which every server pays."
	fi
	if [ -n "${CEIL[cgi]:-}${CEIL[php]:-}" ]; then
		echo
		echo "Fork/exec ceiling on core $SERVER_CORE, for the CGI and PHP rows (bench/forkrate.c: posix_spawn, read the output, reap; one process after another, or $SCRIPTS_AT_ONCE such loops at once, as many scripts as pwebs runs at once here; no server):"
		echo
		echo "| process | per second | ÷ the ceiling |"
		echo "| --- | ---: | ---: |"
		[ -z "${CEIL[cgi]:-}" ] || echo "| /bin/true (the fork/exec ceiling) | $(fmt_int "$(med "${CEIL[cgi]}")") | 1.00 |"
		[ -z "${CEIL[cgi_script]:-}" ] || echo "| hello.cgi run directly (/bin/sh) | $(fmt_int "$(med "${CEIL[cgi_script]}")") | $(ratio "$(med "${CEIL[cgi_script]}")" "$(med "${CEIL[cgi]:-}")") |"
		[ -z "${CEIL[cgi_script_many]:-}" ] || echo "| hello.cgi, $SCRIPTS_AT_ONCE at once | $(fmt_int "$(med "${CEIL[cgi_script_many]}")") | $(ratio "$(med "${CEIL[cgi_script_many]}")" "$(med "${CEIL[cgi]:-}")") |"
		[ -z "${CEIL[php]:-}" ] || echo "| php-cgi running hello.php (the php-cgi ceiling) | $(fmt_int "$(med "${CEIL[php]}")") | 1.00 |"
		[ -z "${CEIL[php_many]:-}" ] || echo "| php-cgi, $SCRIPTS_AT_ONCE at once | $(fmt_int "$(med "${CEIL[php_many]}")") | $(ratio "$(med "${CEIL[php_many]}")" "$(med "${CEIL[php]}")") |"
	fi
	if [[ " ${SCENARIOS[*]} " == *" idle "* ]]; then
		echo
		echo "Memory: each server freshly started, then $IDLE_CONNS keep-alive connections opened (bench/idleconns), one request on each, then held idle; growth of VmRSS summed over the server's processes, divided by the connections still open; median of $IDLE_ROUNDS round(s)."
		echo
		echo "| server | connections held | RSS before | RSS after | bytes per connection | pwebs ÷ | note |"
		echo "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
		local pbytes= held r0 r1 per
		[ -z "${IDLE[pwebs]:-}" ] || read -r _ _ _ pbytes < <(idle_stats pwebs)
		for s in "${SERVERS[@]}"; do
			runs "$s" idle || continue
			if [ -z "${IDLE[$s]:-}" ]; then
				echo "| $s | n/a | | | | | ${NA[idle,$s]:-no result} |"
				continue
			fi
			read -r held r0 r1 per < <(idle_stats "$s")
			note=
			((held < IDLE_CONNS)) && note="$((IDLE_CONNS - held)) of $IDLE_CONNS not held (refused or closed by the server)"
			echo "| $s | $(fmt_int "$held") | $(fmt_int "$r0") KiB | $(fmt_int "$r1") KiB | $(fmt_int "$per") | $(ratio "$pbytes" "$per") | $note |"
		done
	fi
	targets
}

# targets prints issue 9's targets (and issues 3-6's bench targets) with
# whether this run met them.
targets() {
	echo
	echo "Targets (issues 3-6 and 9), from this run's medians:"
	echo
	echo "| target | this run | |"
	echo "| --- | ---: | --- |"
	local scen best bs s v r
	verdict() { awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN { if (v == "-" || v == "") print "n/a"; else if ((dir == ">=" && v >= t) || (dir == "<=" && v <= t)) print "met"; else print "not met" }'; }
	row() { echo "| $1 | $2 | $(verdict "$2" "$3" "$4") |"; }
	# bound gives, beside the target above it, a figure with no server's
	# work in it: NOTE says what it bounds.
	bound() { echo "| $1 | $2 | ${3:-the most a server running as many at once could reach} |"; }
	peak() { # peak SCEN FIELD(RPS|CPU) max|min: best peer's median
		local s v best=
		for s in "${PEERS[@]}"; do
			if [ "$2" = RPS ]; then v=$(med "${RPS[$1,$s]:-}"); else v=$(med "${CPU[$1,$s]:-}"); fi
			[ -n "$v" ] || continue
			if [ -z "$best" ] || awk -v a="$v" -v b="$best" -v m="$3" 'BEGIN { exit !((m == "max" && a > b) || (m == "min" && a < b)) }'; then best=$v; fi
		done
		echo "$best"
	}
	for scen in ka1k ab1k ka100k; do
		[[ " ${SCENARIOS[*]} " == *" $scen "* ]] || continue
		row "${TITLE[$scen]}: pwebs req/s ÷ the fastest peer ≥ 1.0" "$(ratio "$(med "${RPS[$scen,pwebs]:-}")" "$(peak "$scen" RPS max)")" 1.0 ">="
	done
	for scen in conn1k big10m; do
		[[ " ${SCENARIOS[*]} " == *" $scen "* ]] || continue
		row "${TITLE[$scen]}: pwebs CPU/req ÷ the cheapest peer's ≤ 1.0" "$(ratio "$(med "${CPU[$scen,pwebs]:-}")" "$(peak "$scen" CPU min)")" 1.0 "<="
	done
	if [[ " ${SCENARIOS[*]} " == *" listing "* ]]; then
		row "listing: pwebs ÷ nginx autoindex ≥ 10" "$(ratio "$(med "${RPS[listing,pwebs]:-}")" "$(med "${RPS[listing,nginx]:-}")")" 10 ">="
	fi
	if [[ " ${SCENARIOS[*]} " == *" ssi "* ]]; then
		row "SSI, cache on: pwebs ÷ lighttpd mod_ssi ≥ 3" "$(ratio "$(med "${RPS[ssi,pwebs]:-}")" "$(med "${RPS[ssi,lighttpd]:-}")")" 3 ">="
		[[ ! ${CEIL[canned]:-} =~ [0-9] ]] || bound "SSI: bench/canned.c (the page's bytes, no HTTP work) ÷ lighttpd mod_ssi" "$(ratio "$(med "${CEIL[canned]}")" "$(med "${RPS[ssi,lighttpd]:-}")")" "what answering with no work at all reaches"
		row "SSI, cache on: pwebs ÷ Apache mod_include ≥ 3" "$(ratio "$(med "${RPS[ssi,pwebs]:-}")" "$(med "${RPS[ssi,apache]:-}")")" 3 ">="
		row "SSI, cache off: pwebs-nocache ÷ lighttpd mod_ssi ≥ 1" "$(ratio "$(med "${RPS[ssi,pwebs-nocache]:-}")" "$(med "${RPS[ssi,lighttpd]:-}")")" 1 ">="
		row "SSI, cache off: pwebs-nocache ÷ Apache mod_include ≥ 1" "$(ratio "$(med "${RPS[ssi,pwebs-nocache]:-}")" "$(med "${RPS[ssi,apache]:-}")")" 1 ">="
	fi
	if [[ " ${SCENARIOS[*]} " == *" cgi "* ]]; then
		row "CGI hello: pwebs ÷ the fork/exec ceiling ≥ 0.90" "$(ratio "$(med "${RPS[cgi,pwebs]:-}")" "$(med "${CEIL[cgi]:-}")")" 0.9 ">="
		bound "CGI hello: hello.cgi $SCRIPTS_AT_ONCE at once, no server, ÷ the fork/exec ceiling" "$(ratio "$(med "${CEIL[cgi_script_many]:-}")" "$(med "${CEIL[cgi]:-}")")"
		row "CGI hello: pwebs ÷ Apache mod_cgid ≥ 1.0" "$(ratio "$(med "${RPS[cgi,pwebs]:-}")" "$(med "${RPS[cgi,apache]:-}")")" 1.0 ">="
	fi
	if [[ " ${SCENARIOS[*]} " == *" php "* ]]; then
		row "PHP hello: pwebs ÷ the php-cgi ceiling ≥ 0.95" "$(ratio "$(med "${RPS[php,pwebs]:-}")" "$(med "${CEIL[php]:-}")")" 0.95 ">="
		bound "PHP hello: php-cgi $SCRIPTS_AT_ONCE at once, no server, ÷ the php-cgi ceiling" "$(ratio "$(med "${CEIL[php_many]:-}")" "$(med "${CEIL[php]:-}")")"
		row "PHP hello: pwebs ÷ Apache (php-cgi by mod_cgid) ≥ 1.0" "$(ratio "$(med "${RPS[php,pwebs]:-}")" "$(med "${RPS[php,apache]:-}")")" 1.0 ">="
	fi
	if [[ " ${SCENARIOS[*]} " == *" ka1k "* ]]; then
		row "access log on ÷ off (pwebs-log ÷ pwebs, 1 KiB keep-alive) ≥ 0.90" "$(ratio "$(med "${RPS[ka1k,pwebs-log]:-}")" "$(med "${RPS[ka1k,pwebs]:-}")")" 0.9 ">="
		row "access log on ÷ off, rotated at 1 MiB (pwebs-log1m ÷ pwebs, 1 KiB keep-alive) ≥ 0.90" "$(ratio "$(med "${RPS[ka1k,pwebs-log1m]:-}")" "$(med "${RPS[ka1k,pwebs]:-}")")" 0.9 ">="
		row "cache on ÷ off (pwebs ÷ pwebs-nocache, 1 KiB keep-alive) ≥ 1.3" "$(ratio "$(med "${RPS[ka1k,pwebs]:-}")" "$(med "${RPS[ka1k,pwebs-nocache]:-}")")" 1.3 ">="
	fi
	if [[ " ${SCENARIOS[*]} " == *" idle "* ]]; then
		local pb nb
		[ -z "${IDLE[pwebs]:-}" ] || read -r _ _ _ pb < <(idle_stats pwebs)
		[ -z "${IDLE[nginx]:-}" ] || read -r _ _ _ nb < <(idle_stats nginx)
		row "idle keep-alive connection: pwebs bytes ÷ nginx's ≤ 2" "$(ratio "${pb:-}" "${nb:-}")" 2 "<="
	fi
}

mkdir -p "$BENCH/results"
report | tee "$TMP/report.md"
cp "$TMP/report.md" "$BENCH/results/latest.md"
cp "$ROUNDS_TSV" "$BENCH/results/latest-rounds.tsv"
say "wrote bench/results/latest.md and bench/results/latest-rounds.tsv"
