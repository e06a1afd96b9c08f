<?php

/*
 * php -S 127.0.0.1:PORT tests/php/bin/webhook_router.php
 *
 * Serves the module's webhook controller (POST /sunsky_dropship/webhook, as in Perfex) on a
 * stubbed Perfex whose data is in MariaDB, so the dropship notifier can be pointed at it. Install
 * the module in that database first (perfex_harness.php install). GET /health answers 200 once the
 * database and the module's tables are there.
 *
 * Environment: SUNSKY_DB (a database name or mysql://user:password@host:port/name),
 * SUNSKY_MYSQL_HOST/PORT/USER/PASSWORD (defaults root@127.0.0.1:3306), SUNSKY_WEBHOOK_SECRET
 * (optional: stored as the module's Perfex webhook secret on each request), SUNSKY_PERFEX_BASE_URL.
 * E-mails are recorded in tblstub_sent_emails and notes in tblnotes: perfex_harness.php dump.
 */

require __DIR__ . '/common.php';

function router_answer(int $status, array $body): void
{
    http_response_code($status);
    header('Content-Type: application/json');
    echo json_encode($body), "\n";
}

$path = (string) parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH);
if ($path !== '/health' && $path !== '/sunsky_dropship/webhook') {
    router_answer(404, ['error' => 'not_found', 'message' => 'POST /sunsky_dropship/webhook']);
    return true;
}
try {
    harness_connect((string) getenv('SUNSKY_DB'));
} catch (Throwable $e) {
    router_answer(503, ['error' => 'no_database', 'message' => $e->getMessage()]);
    return true;
}
if (!harness_installed()) {
    router_answer(503, ['error' => 'not_installed', 'message' => 'run perfex_harness.php install first']);
    return true;
}
if ($path === '/health') {
    router_answer(200, ['status' => 'ok']);
    return true;
}
if (getenv('SUNSKY_WEBHOOK_SECRET') !== false) {
    update_option('sunsky_dropship_webhook_secret', getenv('SUNSKY_WEBHOOK_SECRET'));
}
$ci = get_instance();
$ci->input = new StubInput(
    (string) $_SERVER['REQUEST_METHOD'],
    function_exists('getallheaders') ? getallheaders() : [],
    (string) file_get_contents('php://input')
);
harness_module();
require_once module_dir_path('sunsky_dropship', 'controllers/Sunsky_dropship.php');
(new Sunsky_dropship())->webhook();
$ci->output->send();
return true;
