<?php
header('Content-Type: text/plain');
foreach (['PHP_SELF', 'SCRIPT_NAME', 'SCRIPT_FILENAME', 'REQUEST_URI', 'PATH_INFO', 'QUERY_STRING',
          'SERVER_PROTOCOL', 'DOCUMENT_ROOT', 'REMOTE_ADDR', 'HTTP_HOST', 'HTTPS', 'REMOTE_USER', 'HTTP_PROXY'] as $k) {
    echo $k, '=', $_SERVER[$k] ?? '(unset)', "\n";
}
echo 'cwd=', getcwd(), "\n";
