<?php
echo "Hello from PHP ", PHP_MAJOR_VERSION, "\n";
