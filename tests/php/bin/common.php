<?php

/*
 * Shared by the command-line tools in this folder: a stubbed Perfex on a MariaDB database named
 * on the command line (a name, or mysql://user:password@host:port/name), with the module loaded.
 */

date_default_timezone_set('UTC');
require_once dirname(__DIR__) . '/stubs/perfex.php';

/** Connects to the database (creating it when missing) and loads the module's init file. */
function harness_connect(string $database): void
{
    if (preg_match('#^mysql://#', $database)) {
        $parts = parse_url($database);
        foreach (['host' => 'HOST', 'port' => 'PORT', 'user' => 'USER', 'pass' => 'PASSWORD'] as $key => $env) {
            if (isset($parts[$key])) {
                putenv('SUNSKY_MYSQL_' . $env . '=' . rawurldecode((string) $parts[$key]));
            }
        }
        $database = ltrim($parts['path'] ?? '', '/');
    }
    StubPerfex::connect($database);
    StubPerfex::$baseUrl = rtrim(getenv('SUNSKY_PERFEX_BASE_URL') ?: 'https://crm.example.com', '/') . '/';
    StubPerfex::createCoreTables();
    StubPerfex::loadModule();
}

/** The module as Perfex builds it: curl, the real clock, sends after the response. */
function harness_module(): \SunskyDropship\Module
{
    return sunsky_dropship();
}

function harness_installed(): bool
{
    return get_instance()->db->table_exists('tblsunsky_outbox');
}

function harness_json($value): string
{
    return json_encode($value, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE) . "\n";
}
