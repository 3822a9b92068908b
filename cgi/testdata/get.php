<?php
header('Content-Type: text/plain');
ksort($_GET);
foreach ($_GET as $k => $v) {
    echo "$k=", is_array($v) ? implode(',', $v) : $v, "\n";
}
