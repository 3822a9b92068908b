<?php
// A visit counter kept in the session; the save path comes from the
// X-Session-Dir request header so the test controls it.
session_save_path($_SERVER['HTTP_X_SESSION_DIR']);
session_start();
$_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
header('Content-Type: text/plain');
echo "visit ", $_SESSION['n'], "\n";
