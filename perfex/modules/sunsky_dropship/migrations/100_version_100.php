<?php

// phpcs:disable PSR1.Classes.ClassDeclaration.MissingNamespace, Squiz.Classes.ValidClassName.NotCamelCaps
// phpcs:disable PSR1.Files.SideEffects
// -- CodeIgniter migrations are found by this exact, global class name,
// and Perfex wants the BASEPATH guard in every file.

defined('BASEPATH') or exit('No direct script access allowed');

require_once __DIR__ . '/../libraries/autoload.php';

/**
 * 1.0.0, the first release. Activation already creates the latest schema; this migration only
 * makes sure an install that predates it converges on the same tables (install() is idempotent).
 * Later versions add NNN_version_NNN.php files here, each changing the schema by one step.
 */
class Migration_Version_100 extends App_module_migration
{
    public function up()
    {
        \SunskyDropship\Schema::install(get_instance()->db, db_prefix());
    }
}
