<?php
header('Content-Type: text/plain');
echo "title=", $_POST['title'] ?? '(none)', "\n";
foreach ($_FILES as $field => $f) {
    if ($f['error'] !== UPLOAD_ERR_OK) {
        echo "$field: error ", $f['error'], "\n";
        continue;
    }
    echo "$field: name=", $f['name'], " size=", $f['size'], " type=", $f['type'],
        " md5=", md5_file($f['tmp_name']), "\n";
}
