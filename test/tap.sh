# shellcheck shell=bash
# test/tap.sh - TAP output for the shell tests in test/t; source it.
# Each test counts with ok/not_ok and ends with: echo "1..$n"; [ "$failures" -eq 0 ]
n=0
failures=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
# not_ok DESCRIPTION [FILE_OR_TEXT...] - a failure with its diagnostics: each
# further argument is a file to show (an absolute path; skipped when missing
# or empty) or a text
not_ok() {
	n=$((n + 1))
	failures=$((failures + 1))
	echo "not ok $n - $1"
	shift
	local f
	for f in "$@"; do
		if [[ $f == /* ]]; then
			[ -s "$f" ] || continue
			echo "# --- $(basename "$f") ---"
			sed -e 's/^/#   /' "$f" | head -n 40
		elif [ -n "$f" ]; then
			printf '%s\n' "$f" | sed -e 's/^/#   /'
		fi
	done
}
