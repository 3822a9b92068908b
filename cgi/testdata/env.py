# Prints CGI variables and the request body as Python sees them.
import os
import sys

body = sys.stdin.buffer.read(int(os.environ.get("CONTENT_LENGTH") or 0))
sys.stdout.write("Content-Type: text/plain\r\nX-Script: python\r\n\r\n")
for name in ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "REQUEST_URI", "HTTP_X_TEST", "HTTPS", "REMOTE_USER"):
    sys.stdout.write("%s=%s\n" % (name, os.environ.get(name, "(unset)")))
sys.stdout.write("body=%s\n" % body.decode())
sys.stdout.write("cwd=%s\n" % os.getcwd())
