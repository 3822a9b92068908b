#!/bin/sh
# An nph- script writes the whole response itself.
printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nnph body'
