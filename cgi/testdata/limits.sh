#!/bin/sh
# Prints the resource limits the script started with.
printf 'Content-Type: text/plain\n\n'
printf 'cpu=%s as=%s core=%s\n' "$(ulimit -t)" "$(ulimit -v)" "$(ulimit -c)"
printf 'nofile=%s\n' "$(ulimit -n)"
