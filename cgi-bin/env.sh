#!/bin/sh
# Shows the CGI/1.1 environment pwebs gives a script.
printf 'Content-Type: text/plain; charset=utf-8\r\n\r\n'
env | sort
