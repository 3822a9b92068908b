#!/bin/sh
# Writes line 1, then line 2 only once the file named by the X-Gate request
# header exists (at most about 20 seconds).
printf 'Content-Type: text/plain\n\nline 1\n'
i=0
while [ ! -e "$HTTP_X_GATE" ] && [ $i -lt 2000 ]; do
	sleep 0.01
	i=$((i + 1))
done
printf 'line 2\n'
