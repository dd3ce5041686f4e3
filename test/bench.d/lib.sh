# shellcheck shell=bash
# test/bench.d/lib.sh - helpers of test/bench (sourced after test/lib.sh).
#
# Timed statements are run from generated psql scripts: each one is
# announced by a line "@@ LABEL" (\echo) and run between \timing on/off, so
# that the output of   psql -q -A -t -F '|'   reads
#
#   @@ A:1
#   410466
#   Time: 294.483 ms
#
# bench_run_script parses that into BENCH_TIME[LABEL] (milliseconds, as
# measured by psql's \timing: client-side wall time of the statement, i.e.
# execution plus one round trip over the unix socket) and
# BENCH_RESULT[LABEL] (the result row, columns separated by '|').

declare -gA BENCH_TIME=()
declare -gA BENCH_RESULT=()
BENCH_CHILD=

bench_die() {
	printf 'bench: error: %s\n' "$*" >&2
	exit 1
}

# bench_q STRING - STRING quoted for a single-quoted shell word.
bench_q() {
	printf "'%s'" "${1//\'/\'\\\'\'}"
}

# bench_sim_cmd QUERY - a shell command line asking the simulator for
# /_sim/QUERY (for \! lines of psql scripts).
bench_sim_cmd() {
	printf 'curl -sSf -o /dev/null %s' "$(bench_q "$ESI_SIM_URL/_sim/$1")"
}

bench_sim() {
	curl -sSf -o /dev/null "$ESI_SIM_URL/_sim/$1" || bench_die "simulator control /_sim/$1 failed"
}

# bench_psql [psql arguments...] - psql on the bench database.
bench_psql() {
	esi_psql -d "${BENCH_DB:-bench}" "$@"
}

# bench_script_new NAME - starts the psql script $BENCH_WORK/NAME.sql.
bench_script_new() {
	BENCH_SCRIPT=$BENCH_WORK/$1.sql
	: >"$BENCH_SCRIPT"
}

# bench_script_line LINE... - appends raw lines to the current script.
bench_script_line() {
	printf '%s\n' "$@" >>"$BENCH_SCRIPT"
}

# bench_script_timed LABEL SQL [SHELL-COMMAND]
# Appends: the shell command (run by psql, untimed; e.g. a simulator reset),
# the "@@ LABEL" marker, then SQL under \timing.
bench_script_timed() {
	local label=$1 sql=$2 pre=${3:-}
	{
		[ -z "$pre" ] || printf '\\! %s\n' "$pre"
		printf '\\echo @@ %s\n' "$label"
		printf '\\timing on\n%s;\n\\timing off\n' "$sql"
	} >>"$BENCH_SCRIPT"
}

# bench_script_cold LABEL SQL [SHELL-COMMAND] - like bench_script_timed,
# with esi_fdw's response cache emptied first (untimed; \gset keeps its
# result out of the parsed output): the scan finds nothing cached.
BENCH_CLEAR='SELECT esi.cache_clear() AS bench_cleared \gset'
bench_script_cold() {
	printf '%s\n' "$BENCH_CLEAR" >>"$BENCH_SCRIPT"
	bench_script_timed "$@"
}

# bench_script_plain LABEL SQL - like bench_script_timed, without \timing.
bench_script_plain() {
	printf '\\echo @@ %s\n%s;\n' "$1" "$2" >>"$BENCH_SCRIPT"
}

# bench_run_script - runs the current script in ONE session and parses its
# output into BENCH_TIME / BENCH_RESULT.
bench_run_script() {
	local out=${BENCH_SCRIPT%.sql}.out label='' line
	local rc=0
	# in the background, so that a signal reaches test/bench's traps at once
	# (its cleanup then ends this psql: BENCH_CHILD)
	bench_psql -q -A -t -F '|' -f "$BENCH_SCRIPT" >"$out" 2>"$out.err" </dev/null &
	BENCH_CHILD=$!
	wait "$BENCH_CHILD" || rc=$?
	BENCH_CHILD=
	if [ "$rc" -ne 0 ]; then
		cat "$out.err" >&2
		tail -n 20 "$out" >&2
		bench_die "psql script $BENCH_SCRIPT failed"
	fi
	if [ -s "$out.err" ]; then
		sed 's/^/  psql: /' "$out.err" >&2
	fi
	while IFS= read -r line; do
		case $line in
			'@@ '*) label=${line#@@ } ;;
			'Time: '*)
				line=${line#Time: }
				BENCH_TIME[$label]=${line%% ms*}
				;;
			*)
				if [ -n "${BENCH_RESULT[$label]+x}" ]; then
					BENCH_RESULT[$label]+=$'\n'$line
				else
					BENCH_RESULT[$label]=$line
				fi
				;;
		esac
	done <"$out"
}

# bench_times PREFIX N - the times of PREFIX:1 .. PREFIX:N (PREFIX:0 is the
# warm-up and is left out), one a line.
bench_times() {
	local i
	for ((i = 1; i <= $2; i++)); do
		[ -n "${BENCH_TIME[$1:$i]:-}" ] || bench_die "no timing for $1:$i"
		printf '%s\n' "${BENCH_TIME[$1:$i]}"
	done
}

# bench_median / bench_min / bench_list: of numbers on stdin.
bench_median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) exit 1
		if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f\n", m }'
}
bench_min() {
	sort -g | awk 'NR == 1 { printf "%.1f\n", $1 }'
}
bench_list() {
	awk '{ printf "%s%.0f", (NR > 1 ? " " : ""), $1 } END { print "" }'
}

# bench_calc EXPR - floating point arithmetic (awk), e.g. bench_calc '1/3'.
bench_calc() {
	awk "BEGIN { printf \"%.6g\n\", $1 }"
}

# bench_fmt NUMBER DECIMALS
bench_fmt() {
	awk -v v="$1" -v d="$2" 'BEGIN { printf "%.*f\n", d, v }'
}

# bench_le A B - true when A <= B (floating point).
bench_le() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'
}

# bench_cpu_ticks PID - utime+stime of PID in clock ticks.
bench_cpu_ticks() {
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# bench_pages REGION - X-Pages of the region's orders (from page 1).
bench_pages() {
	local n
	n=$(curl -sSf -D - -o /dev/null "$ESI_SIM_URL/markets/$1/orders?order_type=all&page=1" |
		tr -d '\r' | awk -F': *' 'tolower($1) == "x-pages" { print $2 }')
	case $n in '' | *[!0-9]*) bench_die "no X-Pages for region $1" ;; esac
	printf '%s\n' "$n"
}

# bench_fresh_for REGION - seconds until the Expires of the region's orders
# (page 1), as the simulator sends it: how long a cached reply stays fresh.
bench_fresh_for() {
	local exp
	exp=$(curl -sSf -D - -o /dev/null "$ESI_SIM_URL/markets/$1/orders?order_type=all&page=1" |
		tr -d '\r' | awk 'tolower($0) ~ /^expires:/ { sub(/^[^:]*: */, ""); print }')
	exp=$(date -d "$exp" +%s 2>/dev/null) || bench_die "no Expires for region $1"
	echo $((exp - $(date +%s)))
}

# Summary rows: bench_row NAME VALUE TARGET VERDICT
BENCH_ROWS=()
bench_row() {
	BENCH_ROWS+=("$(printf '%-44s %-24s %-16s %s' "$1" "$2" "$3" "$4")")
}

# bench_verdict A B - PASS when A <= B, else FAIL.
bench_verdict() {
	if bench_le "$1" "$2"; then echo PASS; else echo FAIL; fi
}
