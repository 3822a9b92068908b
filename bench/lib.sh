# bench/lib.sh: what run.sh, slowloris.sh and staleness.sh share. It is
# sourced by them and never run alone.
#
# It installs missing tools, makes a private temporary folder, builds pwebs
# and the small Go clients under bench/, generates the test site, writes a
# private config for each server (pwebs, nginx, lighttpd, Apache httpd) in
# that folder, starts each server as an ordinary process on its own
# 127.0.0.1 port pinned to core 0, and stops exactly the processes it
# started when the script exits. It never changes the system's configs or
# services, and the servers read none of their system-wide configs (php-cgi
# reads its php.ini, as it always does).
#
# Variables a script may set before calling these functions:
#   PWEBS_MAX_CLIENTS   max_clients for pwebs (default: pwebs's own, 256)
#   PWEBS_KEEPALIVE     keepalive_timeout for pwebs (default 120s, as the
#                       peers are given; empty: pwebs's own default)
#   KEEP_TMP=1          keep the temporary folder (its path is printed)

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin:/usr/local/go/bin"
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH/.." && pwd)
SERVER_CORE=0 # every server, and the fork/exec ceiling
LOAD_CORE=1   # every load generator
CLK_TCK=$(getconf CLK_TCK)
PHP_CGI=
PORT=
REASON=
PWEBS_BUILT=
NOFILE=4096
TMP=
SITE=
declare -A SERVER_PID=() SERVER_PORT=() SERVER_DIR=()
BG_PIDS=()

say() { printf 'bench: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}
is_root() { [ "$(id -u)" = 0 ]; }

# have COMMAND-OR-PATH succeeds when the command (or, for an absolute path,
# the file) is there.
have() {
	if [[ $1 == /* ]]; then [ -e "$1" ]; else command -v "$1" >/dev/null; fi
}

# ensure_tools PACKAGE:COMMAND... installs, with apt-get, each Debian
# package whose command (or file, for an absolute path) is missing. It keeps
# Debian from starting the system-wide services the server packages ship (a
# policy-rc.d that exits 101, the documented way, present only while
# apt-get runs).
ensure_tools() {
	local missing=() pc
	for pc in "$@"; do
		have "${pc#*:}" || missing+=("${pc%%:*}")
	done
	((${#missing[@]})) || return 0
	is_root || die "missing Debian packages: ${missing[*]}; run as root to install them"
	say "installing ${missing[*]} with apt-get"
	local policy=/usr/sbin/policy-rc.d made= rc=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made=1
	fi
	{ DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } || rc=$?
	[ -n "$made" ] && rm -f "$policy"
	((rc == 0)) || die "apt-get install ${missing[*]} failed"
	for pc in "$@"; do
		have "${pc#*:}" || die "${pc#*:} is still missing after installing ${pc%%:*}"
	done
}

# setup_tmp makes the private folder every config, log and site lives in,
# and arranges for cleanup on exit. The folder is world-readable because
# Apache, nginx and lighttpd drop to www-data when started as root.
setup_tmp() {
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/pwebs-bench.XXXXXX") || die "mktemp failed"
	chmod 755 "$TMP"
	mkdir -p "$TMP/bin" "$TMP/srv"
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# cleanup stops every process this script started, then removes TMP.
cleanup() {
	local pid name
	for pid in "${BG_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for name in "${!SERVER_PID[@]}"; do
		stop_server "$name"
	done
	for pid in "${BG_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ -n "$TMP" ] && [ -d "$TMP" ]; then
		if [ "${KEEP_TMP:-}" = 1 ]; then
			say "kept $TMP"
		else
			rm -rf "$TMP"
		fi
	fi
}

# raise_nofile WANT NEED raises the open-file limit of this shell, and so
# of every server and client it starts, towards WANT (root may raise the
# hard limit, where the container allows it; anyone may raise the soft limit
# up to the hard one), warns when it stays below NEED, and sets NOFILE to
# the limit the servers' configs are given.
raise_nofile() {
	local want=$1 need=$2 hard got
	hard=$(ulimit -Hn)
	if [ "$hard" != unlimited ] && ((hard < want)) && is_root; then
		ulimit -Hn "$want" 2>/dev/null && hard=$want
	fi
	ulimit -Sn "$hard" 2>/dev/null
	got=$(ulimit -Sn)
	[ "$got" = unlimited ] && got=$want
	NOFILE=$((got < want ? got : want))
	if ((got < need)); then
		say "warning: the open-file limit is $got, below the $need this run needs"
	fi
}

# build compiles pwebs and the bench's Go clients into TMP/bin, and
# bench/forkrate.c and bench/canned.c when a C compiler is there. pwebs is
# built from the working tree, or with PWEBS_FROM_HEAD=1 from the last
# commit (exported with git archive, which changes nothing in the
# checkout), and PWEBS_BUILT says which.
build() {
	command -v go >/dev/null || die "go is not installed (see .ci/run for how CI gets it)"
	say "building pwebs and the bench clients"
	local commit
	commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [ "${PWEBS_FROM_HEAD:-}" = 1 ]; then
		mkdir -p "$TMP/src"
		git -C "$REPO" archive HEAD | tar -x -C "$TMP/src" || die "git archive HEAD failed"
		(cd "$TMP/src" && go build -o "$TMP/bin/pwebs" ./cmd/pwebs) || die "go build ./cmd/pwebs (commit $commit) failed"
		PWEBS_BUILT="commit $commit"
	else
		(cd "$REPO" && go build -o "$TMP/bin/pwebs" ./cmd/pwebs) ||
			die "go build ./cmd/pwebs failed (--committed builds the last commit instead)"
		PWEBS_BUILT="commit $commit"
		[ -z "$(git -C "$REPO" status --porcelain -- . ':!bench' 2>/dev/null)" ] ||
			PWEBS_BUILT+=" with uncommitted changes"
	fi
	(cd "$REPO" && go build -o "$TMP/bin/" ./bench/idleconns ./bench/probe ./bench/stalecheck) ||
		die "go build ./bench/... failed"
	if command -v cc >/dev/null; then
		cc -O2 -o "$TMP/bin/forkrate" "$BENCH/forkrate.c" || die "cc bench/forkrate.c failed"
		cc -O2 -o "$TMP/bin/canned" "$BENCH/canned.c" || die "cc bench/canned.c failed"
	fi
}

# page SIZE prints an HTML page of exactly SIZE bytes.
page() {
	local size=$1
	local head='<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>pwebs bench</title></head><body>
<p>'
	local foot='</p>
</body></html>
'
	printf '%s' "$head"
	yes 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.' |
		head -c $((size - ${#head} - ${#foot}))
	printf '%s' "$foot"
}

# gen_site writes the test site into TMP/site and the exact bodies each
# dynamic URL must return into TMP/expect:
#   /1k.html /100k.html   HTML pages of 1 KiB and 100 KiB
#   /10m.bin              10 MiB of random bytes
#   /dir/                 200 files, no index: a directory listing
#   /ssi.shtml            three <!--#include virtual--> and an <!--#echo-->
#   /cgi-bin/hello.cgi    a /bin/sh CGI script printing "Hello, world!"
#   /hello.php            PHP printing "Hello, world!"
gen_site() {
	SITE=$TMP/site
	mkdir -p "$SITE/dir" "$SITE/cgi-bin" "$SITE/inc" "$TMP/expect"
	page 1024 >"$SITE/1k.html"
	page 102400 >"$SITE/100k.html"
	head -c $((10 << 20)) /dev/urandom >"$SITE/10m.bin"
	local i
	for i in $(seq -w 0 199); do
		printf 'file %s of the listing\n' "$i" >"$SITE/dir/file-$i.txt"
	done

	printf '<header><h1>pwebs bench</h1><p>An SSI page with three includes and an echo.</p></header>\n' >"$SITE/inc/header.html"
	printf '<nav><a href="/">home</a> <a href="/dir/">files</a> <a href="/hello.php">php</a></nav>\n' >"$SITE/inc/nav.html"
	printf '<footer><p>Served by a server that expands Server Side Includes.</p></footer>\n' >"$SITE/inc/footer.html"
	local top='<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>SSI</title></head><body>
' bottom='</body></html>
'
	{
		printf '%s' "$top"
		printf '<!--#include virtual="/inc/header.html" -->\n'
		printf '<p>This page is <!--#echo var="DOCUMENT_URI" -->.</p>\n'
		printf '<!--#include virtual="/inc/nav.html" -->\n'
		printf '<!--#include virtual="/inc/footer.html" -->\n'
		printf '%s' "$bottom"
	} >"$SITE/ssi.shtml"
	{
		printf '%s' "$top"
		cat "$SITE/inc/header.html"
		printf '\n<p>This page is /ssi.shtml.</p>\n'
		cat "$SITE/inc/nav.html"
		printf '\n'
		cat "$SITE/inc/footer.html"
		printf '\n%s' "$bottom"
	} >"$TMP/expect/ssi"

	printf '#!/bin/sh\nprintf '\''Content-Type: text/plain\\r\\n\\r\\nHello, world!\\n'\''\n' >"$SITE/cgi-bin/hello.cgi"
	chmod 755 "$SITE/cgi-bin/hello.cgi"
	printf '<?php echo "Hello, world!\\n";\n' >"$SITE/hello.php"
	printf 'Hello, world!\n' >"$TMP/expect/cgi"
	printf 'Hello, world!\n' >"$TMP/expect/php"
	chmod -R a+rX "$SITE"
}

# free_port sets PORT to a TCP port on 127.0.0.1 that nothing listens on
# and that this script has not handed out yet.
free_port() {
	local p
	for ((p = ${NEXT_PORT:-18700}; p < 19700; p++)); do
		if [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ]; then
			NEXT_PORT=$((p + 1))
			PORT=$p
			return 0
		fi
	done
	die "no free port between 18700 and 19700"
}

# kind NAME prints the program a server name runs: pwebs for pwebs and
# its variants (pwebs-log, pwebs-nocache), else the name itself.
kind() {
	case $1 in
	pwebs*) echo pwebs ;;
	nginx*) echo nginx ;;
	*) echo "$1" ;;
	esac
}

# --- configs. Each conf_KIND DIR PORT writes the server's config into DIR
# and prints the command that starts it in the foreground, one argument a
# line.

conf_nginx() {
	local d=$1 port=$2 name=${3:-nginx} log='access_log off;'
	# nginx-log writes the combined format through nginx's own buffer, as
	# a user who keeps the access log would: nginx rotates nothing itself.
	[ "$name" = nginx-log ] && log="access_log $d/access.log combined buffer=64k flush=1s;"
	mkdir -p "$d/tmp"
	cat >"$d/nginx.conf" <<EOF
# nginx for the pwebs bench: one worker, tuned for speed as its users do
# (deferred: accept a connection once its request is there, as pwebs's
# defer_accept and Apache's AcceptFilter do by default).
$(is_root && echo "user www-data;")
worker_processes 1;
worker_rlimit_nofile $NOFILE;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections $NOFILE; }
http {
    types { text/html html shtml; text/plain txt; application/octet-stream bin; }
    default_type application/octet-stream;
    $log
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    open_file_cache max=10000 inactive=60s;
    open_file_cache_valid 60s;
    open_file_cache_errors on;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    server {
        listen 127.0.0.1:$port backlog=1024 deferred;
        server_name 127.0.0.1;
        root $SITE;
        index index.html;
        autoindex on;
        location ~ \.shtml\$ { ssi on; }
    }
}
EOF
	printf '%s\n' nginx -p "$d/" -e "$d/error.log" -c "$d/nginx.conf" -g 'daemon off;'
}

conf_apache() {
	local d=$1 port=$2 m=/usr/lib/apache2/modules
	mkdir -p "$d/run" "$d/php-bin"
	ln -sf "$PHP_CGI" "$d/php-bin/php-cgi"
	local user=
	is_root && user=$'User www-data\nGroup www-data'
	cat >"$d/httpd.conf" <<EOF
# Apache httpd for the pwebs bench: the event MPM with one child process,
# KeepAlive on, sendfile on, CGI by mod_cgid, PHP by php-cgi through
# mod_actions (the same php-cgi every server runs; no mod_php), SSI by
# mod_include, listings by mod_autoindex, no access log.
ServerRoot $d
DefaultRuntimeDir $d/run
PidFile $d/run/httpd.pid
ErrorLog $d/error.log
LogLevel warn
Listen 127.0.0.1:$port
ServerName 127.0.0.1
$user
LoadModule mpm_event_module $m/mod_mpm_event.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule mime_module $m/mod_mime.so
LoadModule dir_module $m/mod_dir.so
LoadModule autoindex_module $m/mod_autoindex.so
LoadModule alias_module $m/mod_alias.so
LoadModule actions_module $m/mod_actions.so
LoadModule cgid_module $m/mod_cgid.so
LoadModule include_module $m/mod_include.so
StartServers 1
ServerLimit 1
ThreadLimit 64
ThreadsPerChild 64
MaxRequestWorkers 64
MinSpareThreads 16
MaxSpareThreads 64
AsyncRequestWorkerFactor 200
MaxConnectionsPerChild 0
ListenBacklog 1024
KeepAlive On
KeepAliveTimeout 120
MaxKeepAliveRequests 0
EnableSendfile On
EnableMMAP On
HostnameLookups Off
ScriptSock $d/run/cgisock
TypesConfig /dev/null
AddType text/html .html .shtml
AddType text/plain .txt
AddType application/octet-stream .bin
AddOutputFilter INCLUDES .shtml
DocumentRoot $SITE
DirectoryIndex index.html
IndexOptions FancyIndexing VersionSort HTMLTable NameWidth=* DescriptionWidth=* Charset=UTF-8
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory $SITE>
    Options Indexes Includes FollowSymLinks
    AllowOverride None
    Require all granted
</Directory>
ScriptAlias /cgi-bin/ $SITE/cgi-bin/
ScriptAlias /php-bin/ $d/php-bin/
<Directory $d/php-bin>
    Options FollowSymLinks
    Require all granted
</Directory>
Action application/x-httpd-php /php-bin/php-cgi
AddHandler application/x-httpd-php .php
EOF
	chmod -R a+rX "$d"
	printf '%s\n' apache2 -f "$d/httpd.conf" -DFOREGROUND
}

conf_lighttpd() {
	local d=$1 port=$2
	cat >"$d/lighttpd.conf" <<EOF
# lighttpd for the pwebs bench: its usual settings (one process, epoll,
# sendfile), keep-alive limits raised, TCP_DEFER_ACCEPT as the other
# servers have it, no access log.
server.modules = ("mod_indexfile", "mod_dirlisting", "mod_ssi", "mod_cgi", "mod_staticfile")
server.document-root = "$SITE"
server.bind = "127.0.0.1"
server.port = $port
server.pid-file = "$d/lighttpd.pid"
server.errorlog = "$d/error.log"
$(is_root && printf 'server.username = "www-data"\nserver.groupname = "www-data"')
server.max-fds = $NOFILE
server.max-connections = $((NOFILE / 2))
server.max-keep-alive-idle = 120
server.max-keep-alive-requests = 1000000
server.listen-backlog = 1024
server.defer-accept = 1
server.event-handler = "linux-sysepoll"
index-file.names = ("index.html")
dir-listing.activate = "enable"
ssi.extension = (".shtml")
cgi.assign = (".php" => "$PHP_CGI")
\$HTTP["url"] =~ "^/cgi-bin/" { cgi.assign = ("" => "") }
mimetype.assign = (".html" => "text/html", ".shtml" => "text/html", ".txt" => "text/plain", ".bin" => "application/octet-stream")
EOF
	# lighttpd opens its error log after dropping to www-data.
	is_root && chown www-data: "$d"
	printf '%s\n' lighttpd -D -f "$d/lighttpd.conf"
}

# pwebs_base DIR PORT prints the part of pwebs.conf every pwebs variant
# shares: the same site, keep-alive as long as the peers' (PWEBS_KEEPALIVE,
# default 120s; empty for pwebs's own default), listings on.
pwebs_base() {
	local port=$2
	cat <<EOF
# pwebs for the bench (written by bench/lib.sh).
listen = ["127.0.0.1:$port"]
server_name = "127.0.0.1"
document_root = "$SITE"
index = ["index.html"]
listing = true
$([ -n "${PWEBS_KEEPALIVE-120s}" ] && echo "keepalive_timeout = \"${PWEBS_KEEPALIVE-120s}\"")
$([ -n "${PWEBS_MAX_CLIENTS:-}" ] && echo "max_clients = $PWEBS_MAX_CLIENTS")
$([ -n "${PWEBS_USER:-}" ] && echo "user = \"$PWEBS_USER\"")
EOF
}

# pwebs_user sets PWEBS_USER to www-data when the bench runs as root and
# this pwebs knows the user key (it then refuses to serve as root, as the
# peers drop to www-data too). Call it after build and gen_site.
PWEBS_USER=
pwebs_user() {
	PWEBS_USER=
	is_root || return 0
	local d=$TMP/srv/user-try
	mkdir -p "$d"
	PWEBS_USER=www-data
	pwebs_try "$d" "$(pwebs_base "$d" 1)" >/dev/null || PWEBS_USER=
}

# pwebs_try DIR TEXT checks a pwebs config with pwebs -t. It succeeds when
# the config is accepted; otherwise it prints pwebs's complaint, on one
# line, to stdout.
pwebs_try() {
	local d=$1 text=$2 out
	printf '%s\n' "$text" >"$d/try.conf"
	if out=$("$TMP/bin/pwebs" -t -c "$d/try.conf" 2>&1); then
		return 0
	fi
	printf '%s' "$out" | sed "s|$d/try.conf|pwebs.conf|g" | tr '\n' ' ' | cut -c1-160
	return 1
}

conf_pwebs() {
	local d=$1 port=$2
	# PWEBS_CONF_TEXT is the whole config, chosen by the caller (run.sh adds
	# the sections pwebs accepts); by default the base alone.
	printf '%s\n' "${PWEBS_CONF_TEXT:-$(pwebs_base "$d" "$port")}" >"$d/pwebs.conf"
	# Logs it rotates after dropping to PWEBS_USER are created here.
	[ -z "$PWEBS_USER" ] || chown -R "$PWEBS_USER:" "$d"
	printf '%s\n' env GOMAXPROCS=1 "$TMP/bin/pwebs" -c "$d/pwebs.conf"
}

# --- processes

# tree_pids PID prints PID and every process descended from it.
tree_pids() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
		{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); parent[$1] = f[2] }
		END {
			keep[root] = 1; print root
			do {
				more = 0
				for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; print p; more = 1 }
			} while (more)
		}'
}

# cpu_ticks PID... prints the CPU time, in clock ticks, that the processes
# used, with that of their children they have reaped (CGI scripts).
cpu_ticks() {
	local total=0 p line f
	for p in "$@"; do
		{ read -r line <"/proc/$p/stat"; } 2>/dev/null || continue
		line=${line##*) }
		read -ra f <<<"$line"
		total=$((total + f[11] + f[12] + f[13] + f[14]))
	done
	echo "$total"
}

# core_ticks CORE prints the busy time of one core in clock ticks: user,
# nice, system, irq, softirq and steal from /proc/stat.
core_ticks() {
	awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# rss_kb PID... prints the sum of the processes' VmRSS in KiB.
rss_kb() {
	local total=0 p k v
	for p in "$@"; do
		{ while read -r k v _; do
			[ "$k" = VmRSS: ] && total=$((total + v))
		done <"/proc/$p/status"; } 2>/dev/null
	done
	echo "$total"
}

# start_server NAME starts the server NAME (its config already written by
# conf_KIND into TMP/srv/NAME) pinned to SERVER_CORE, and waits until it
# answers. When the server does not come up it fails with the reason in
# REASON.
start_server() {
	local name=$1 d=$TMP/srv/$1 cmd pid i
	mapfile -t cmd <"$d/cmd"
	# taskset execs the server (and env execs pwebs): $! is the server.
	taskset -c "$SERVER_CORE" "${cmd[@]}" >>"$d/stdout.log" 2>&1 </dev/null &
	pid=$!
	SERVER_PID[$name]=$pid
	for ((i = 0; i < 100; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			unset "SERVER_PID[$name]"
			wait "$pid" 2>/dev/null
			REASON="did not start: $(cat "$d/stdout.log" "$d/error.log" 2>/dev/null | grep . | tail -n 2 | tr '\n' ' ' | cut -c1-200)"
			return 1
		fi
		if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:${SERVER_PORT[$name]}/1k.html"; then
			return 0
		fi
		sleep 0.1
	done
	REASON="does not answer on port ${SERVER_PORT[$name]} after 10s"
	stop_server "$name"
	return 1
}

# alive NAME succeeds while the server NAME runs (a dead child that has not
# been waited for yet is a zombie, and kill -0 would still succeed).
alive() {
	local pid=${SERVER_PID[$1]:-} st
	[ -n "$pid" ] || return 1
	{ read -r _ _ st _ <"/proc/$pid/stat"; } 2>/dev/null || return 1
	[ "$st" != Z ] && [ "$st" != X ]
}

# revive NAME starts the server NAME again if it has died (something outside
# the bench may kill it: other engineers share the machine, and a broad
# "pkill -f pwebs" matches every server's command line). It counts the
# deaths in DEATHS[NAME], says why, and fails with REASON when the server
# does not come back.
declare -A DEATHS=() DEATH_WHY=()
revive() {
	local name=$1 pid st
	alive "$name" && return 0
	pid=${SERVER_PID[$name]:-}
	unset "SERVER_PID[$name]"
	st=?
	if [ -n "$pid" ]; then
		wait "$pid" 2>/dev/null
		st=$?
	fi
	DEATHS[$name]=$((${DEATHS[$name]:-0} + 1))
	local why="exit status $st" panic
	[[ $st =~ ^[0-9]+$ ]] && ((st > 128)) && why+=" (signal $((st - 128)))"
	# A Go panic: its message and the first frame in the repository.
	panic=$(awk -v repo="$REPO/" '
		/^(panic|fatal error):/ { p = $0; f = "" }
		p != "" && f == "" && index($1, repo) == 1 { f = substr($1, length(repo) + 1) }
		END { if (p != "") print p (f != "" ? " at " f : "") }' "$TMP/srv/$name/stdout.log" 2>/dev/null)
	[ -z "$panic" ] || why+=": $panic"
	DEATH_WHY[$name]=${why:0:200}
	say "$name died, $why; starting it again"
	start_server "$name"
}

# stop_server NAME stops the server NAME and everything it started: TERM to
# the process started, then KILL to what is left of its tree after 10s.
stop_server() {
	local name=$1 pid i pids
	pid=${SERVER_PID[$name]:-}
	[ -n "$pid" ] || return 0
	unset "SERVER_PID[$name]"
	mapfile -t pids < <(tree_pids "$pid")
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	wait "$pid" 2>/dev/null
	return 0
}

# setup_server NAME writes NAME's config, on a fresh port unless
# SERVER_PORT[NAME] is set, and starts it (see start_server).
setup_server() {
	local name=$1 k d
	k=$(kind "$name")
	d=$TMP/srv/$name
	mkdir -p "$d"
	SERVER_DIR[$name]=$d
	if [ -z "${SERVER_PORT[$name]:-}" ]; then
		free_port
		SERVER_PORT[$name]=$PORT
	fi
	"conf_$k" "$d" "${SERVER_PORT[$name]}" "$name" >"$d/cmd"
	start_server "$name"
}

# server_version NAME prints the version of the program behind NAME.
server_version() {
	case $(kind "$1") in
	pwebs) "$TMP/bin/pwebs" -version 2>&1 | head -n 1 ;;
	nginx) nginx -v 2>&1 | sed 's/^nginx version: //' ;;
	apache) apache2 -v 2>&1 | sed -n 's/^Server version: *//p' ;;
	lighttpd) lighttpd -v 2>&1 | head -n 1 | cut -d' ' -f1 ;;
	esac
}

# fetch URL FILE [CURL-ARGS...] saves URL's body into FILE and prints the
# status code.
fetch() {
	local url=$1 file=$2 code
	shift 2
	rm -f "$file"
	code=$(curl -s --max-time 10 -o "$file" -w '%{http_code}' "$@" "$url") || code="none ($code)"
	[ -f "$file" ] || : >"$file"
	echo "$code"
}

# describe FILE prints the start of FILE on one line, for error messages.
describe() {
	head -c 70 "$1" | tr -c '[:print:]' ' '
}

# wait_line FILE REGEX SECONDS waits until FILE has a line matching REGEX.
wait_line() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
