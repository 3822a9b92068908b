<?php
// A front controller: pwebs.conf sends every path under /app/ that names no
// file here (fallback = { "/app/" = "/app/index.php" }), so this one script
// answers /app/, /app/hello/you and /app/anything/else. The path asked for
// is in REQUEST_URI, as under Apache's FallbackResource.
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$route = substr($path, strlen('/app/'));
if (preg_match('#^hello/([^/]+)$#', $route, $m)) {
    $title = 'Hello, ' . $m[1];
    $text = 'A route with a parameter, matched by the script.';
} elseif ($route === '') {
    $title = 'The app';
    $text = 'The front page of a small app behind one front controller.';
} else {
    http_response_code(404);
    $title = 'No route for /app/' . $route;
    $text = 'The script answered 404 itself, with its own page.';
}
$h = fn($s) => htmlspecialchars($s, ENT_QUOTES);
?><!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title><?= $h($title) ?></title><link rel="stylesheet" href="/style.css"></head><body><main>
<h1><?= $h($title) ?></h1>
<p><?= $h($text) ?></p>
<p>REQUEST_URI <code><?= $h($_SERVER['REQUEST_URI']) ?></code>, SCRIPT_NAME <code><?= $h($_SERVER['SCRIPT_NAME']) ?></code>.</p>
<ul>
<li><a href="/app/">/app/</a></li>
<li><a href="/app/hello/world?from=link">/app/hello/world</a></li>
<li><a href="/app/no/such/route">/app/no/such/route</a></li>
</ul>
<p><a href="/">Back home</a></p>
</main></body></html>
