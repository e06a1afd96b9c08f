<?php

defined('BASEPATH') or exit('No direct script access allowed');

/*
 * Loads the module's own classes (namespace SunskyDropship, one class per file in this folder).
 * No Composer: Perfex hosts often cannot run it, and the module needs nothing but PHP and curl.
 */
spl_autoload_register(function ($class) {
    $prefix = 'SunskyDropship\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = __DIR__ . '/' . substr($class, strlen($prefix)) . '.php';
    if (is_file($file)) {
        require_once $file;
    }
});
