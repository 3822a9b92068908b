#!/usr/bin/env bash
# bench/cachemem.sh: does pwebs's memory stay inside its cache bound?
# (issue 4)
#
# Usage:
#   bench/cachemem.sh [--mib N] [--committed] [--keep]
#
# It writes a site of N MiB (default 500) of small files (64 KiB each, under
# max_file_size, so every one is cacheable), starts pwebs (core 0,
# GOMAXPROCS=1) with [cache] max_size = "64MiB", requests every file once
# over keep-alive connections (curl, 4 at a time), then twice more, and
# reports the process's resident memory (VmRSS) at the end and its peak
# (VmHWM), against the target: below max_size + 64 MiB, that is 128 MiB.
# The table goes to stdout and bench/results/cachemem.md.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MIB=500
ARGS="$*"
while (($#)); do
	case $1 in
	--mib) MIB=${2:?} && shift ;;
	--keep) KEEP_TMP=1 ;;
	--committed) PWEBS_FROM_HEAD=1 ;;
	-h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' && exit 0 ;;
	*) die "unknown option $1" ;;
	esac
	shift
done
[[ $MIB =~ ^[1-9][0-9]{0,4}$ ]] || die "--mib must be from 1 to 99999"

START=$(date +%s)
ensure_tools curl:curl
setup_tmp
build
gen_site
pwebs_user

files=$((MIB * 16))
say "writing $files files of 64 KiB ($MIB MiB)"
mkdir -p "$SITE/mem"
head -c 65536 /dev/urandom >"$TMP/block"
for ((i = 0; i < files; i++)); do
	d=$SITE/mem/$((i / 1000))
	[ -d "$d" ] || mkdir -p "$d"
	cp "$TMP/block" "$d/f$i.txt"
done
chmod -R a+rX "$SITE/mem"

d=$TMP/srv/pwebs
mkdir -p "$d"
free_port
SERVER_PORT[pwebs]=$PORT
PWEBS_CONF_TEXT="$(pwebs_base "$d" "$PORT")"$'\n[cache]\nenabled = true\nmax_size = "64MiB"\nmax_file_size = "1MiB"\ncompress = true\n[log]\naccess = ""\nerror = "-"'
setup_server pwebs || die "pwebs: $REASON"
pid=${SERVER_PID[pwebs]}
before=$(rss_kb "$pid")

# One curl per quarter of the files, each fetching its URLs over one
# keep-alive connection.
for ((pass = 1; pass <= 3; pass++)); do
	say "pass $pass: requesting every file"
	pids=()
	for ((part = 0; part < 4; part++)); do
		cfg=$TMP/curl.$part
		: >"$cfg"
		for ((i = part; i < files; i += 4)); do
			printf 'url = "http://127.0.0.1:%s/mem/%d/f%d.txt"\noutput = "/dev/null"\n' "$PORT" $((i / 1000)) "$i" >>"$cfg"
		done
		taskset -c "$LOAD_CORE" curl -s -K "$cfg" &
		pids+=($!)
	done
	wait "${pids[@]}"
done
rss=$(rss_kb "$pid")
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
target=$(((64 + 64) * 1024))
out=$BENCH/results/cachemem.md
mkdir -p "$BENCH/results"
{
	echo "## pwebs memory with a site bigger than its cache: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "- Command: \`bench/cachemem.sh${ARGS:+ $ARGS}\`, $(($(date +%s) - START)) s; $("$TMP/bin/pwebs" -version) ($PWEBS_BUILT)."
	echo "- Machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores, Linux $(uname -r)."
	echo "- Site: $files files of 64 KiB ($MIB MiB), each requested 3 times; [cache] max_size = \"64MiB\", compress = true."
	echo
	echo "| RSS at start | RSS at the end | peak RSS (VmHWM) | target (max_size + 64 MiB) | met |"
	echo "| ---: | ---: | ---: | ---: | --- |"
	met=yes
	[ "$hwm" -lt "$target" ] || met=no
	echo "| $((before / 1024)) MiB | $((rss / 1024)) MiB | $((hwm / 1024)) MiB | $((target / 1024)) MiB | $met |"
} | tee "$out"
stop_server pwebs
