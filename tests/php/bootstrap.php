<?php

/*
 * PHPUnit bootstrap: a stubbed Perfex on a MariaDB database of its own (sunsky_test_<random>,
 * dropped at the end), with the module's init file loaded as Perfex loads an active module.
 */

error_reporting(E_ALL);
date_default_timezone_set('UTC');

require_once __DIR__ . '/stubs/perfex.php';

$database = 'sunsky_test_' . bin2hex(random_bytes(4));
StubPerfex::connect($database);
register_shutdown_function(function () use ($database) {
    StubPerfex::dropDatabase($database);
});
StubPerfex::createCoreTables();
StubPerfex::loadModule();

foreach (glob(__DIR__ . '/support/*.php') as $support) {
    require_once $support;
}
