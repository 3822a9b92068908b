<?php
// A PHP page with a session: the counter survives from one visit to the next.
session_start();
$_SESSION['visits'] = ($_SESSION['visits'] ?? 0) + 1;
$n = $_SESSION['visits'];
?><!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>PHP session</title><link rel="stylesheet" href="/style.css"></head><body><main>
<h1>PHP through php-cgi</h1>
<p>You have loaded this page <strong><?= $n ?></strong> time<?= $n == 1 ? '' : 's' ?> in this session. Reload to count up.</p>
<p>PHP <?= htmlspecialchars(PHP_VERSION) ?>, SCRIPT_NAME <code><?= htmlspecialchars($_SERVER['SCRIPT_NAME']) ?></code>,
served by <code><?= htmlspecialchars($_SERVER['SERVER_SOFTWARE']) ?></code>.</p>
<p><a href="/">Back home</a></p>
</main></body></html>
