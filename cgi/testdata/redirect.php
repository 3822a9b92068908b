<?php
// PHP answers header('Location: ...') with "Status: 302 Found".
header('Location: /login.php');
