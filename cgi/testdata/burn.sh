#!/bin/sh
# Burns CPU without output (bounded, in case no limit stops it).
i=0
while [ $i -lt 50000000 ]; do i=$((i + 1)); done
printf 'Content-Type: text/plain\n\nnot stopped\n'
