<?php

defined('BASEPATH') or exit('No direct script access allowed');

/* Uninstall removes everything the module created: its tables, options and e-mail template. */

require_once __DIR__ . '/libraries/autoload.php';

$CI = &get_instance();
\SunskyDropship\Schema::uninstall($CI->db, db_prefix());
$CI->db->where_in('name', [
    'sunsky_dropship_ingest_url',
    'sunsky_dropship_signing_secret',
    'sunsky_dropship_webhook_secret',
    'sunsky_dropship_send_shipped_email',
    'sunsky_dropship_console_url',
    'sunsky_dropship_sku_field',
    'sunsky_dropship_note_staff_id',
])->delete(db_prefix() . 'options');
$CI->db->where('slug', 'sunsky-order-shipped')->delete(db_prefix() . 'emailtemplates');
