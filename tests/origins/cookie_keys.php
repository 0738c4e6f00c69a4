<?php
// The keys PHP makes of the request's Cookie header ($_COOKIE), as hex: names are bytes, not UTF-8.
header('Content-Type: application/json');
echo json_encode(array_map(fn ($key) => bin2hex((string) $key), array_keys($_COOKIE)));
