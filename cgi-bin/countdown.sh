#!/bin/sh
# A streaming script: pwebs sends each line as the script writes it.
printf 'Content-Type: text/html; charset=utf-8\r\n\r\n'
printf '<!DOCTYPE html><meta name="viewport" content="width=device-width, initial-scale=1">'
printf '<link rel="stylesheet" href="/style.css"><main><h1>Countdown</h1>\n'
for i in 5 4 3 2 1; do
	printf '<p>%s…</p>\n' "$i"
	sleep 1
done
printf '<p>Lift-off! Each line arrived as the script wrote it.</p><p><a href="/">Back home</a></p></main>\n'
