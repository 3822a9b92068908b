<?php
header('Content-Type: text/plain');
echo "method=", $_SERVER['REQUEST_METHOD'], "\n";
ksort($_POST);
foreach ($_POST as $k => $v) {
    echo "$k=$v\n";
}
