#!/bin/sh
# Prints the variables a script most relies on, and where it runs.
printf 'Content-Type: text/plain\n\n'
for v in SCRIPT_NAME SCRIPT_FILENAME PATH_INFO PATH_TRANSLATED QUERY_STRING REQUEST_URI REQUEST_METHOD SERVER_PROTOCOL CONTENT_LENGTH; do
	eval "printf '%s=%s\n' $v \"\${$v-(unset)}\""
done
printf 'PWD=%s\n' "$(pwd)"
printf 'ARGS=%s\n' "$*"
