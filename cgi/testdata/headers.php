<?php
http_response_code(201);
header('Content-Type: application/json');
header('X-Powered-By-Test: pwebs');
setcookie('first', 'one');
setcookie('second', 'two', ['path' => '/', 'httponly' => true]);
echo json_encode(['cookies' => $_COOKIE]), "\n";
