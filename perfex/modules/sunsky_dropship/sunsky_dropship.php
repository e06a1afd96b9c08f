<?php

// phpcs:disable PSR1.Files.SideEffects -- Perfex's module loader wants hooks and functions in one init file

defined('BASEPATH') or exit('No direct script access allowed');

/*
Module Name: SUNSKY Dropship
Description: Sends invoices to the SUNSKY dropship service and shows order status and tracking
Version: 1.0.0
Requires at least: 3.0.*
Author: sunsky-dropship
*/

define('SUNSKY_DROPSHIP_MODULE_NAME', 'sunsky_dropship');

require_once __DIR__ . '/libraries/autoload.php';

hooks()->add_action('after_invoice_added', 'sunsky_dropship_after_invoice_added');
hooks()->add_action('invoice_status_changed', 'sunsky_dropship_invoice_status_changed');
register_cron_task('sunsky_dropship_cron');

hooks()->add_action('admin_init', 'sunsky_dropship_admin_init');
hooks()->add_filter('module_sunsky_dropship_action_links', 'sunsky_dropship_action_links');
hooks()->add_action('after_admin_invoice_preview_template_tab_menu_last_item', 'sunsky_dropship_invoice_tab_menu');
hooks()->add_action('after_admin_invoice_preview_template_tab_content_last_item', 'sunsky_dropship_invoice_tab');

register_activation_hook(SUNSKY_DROPSHIP_MODULE_NAME, 'sunsky_dropship_activate');
register_deactivation_hook(SUNSKY_DROPSHIP_MODULE_NAME, 'sunsky_dropship_deactivate');
register_uninstall_hook(SUNSKY_DROPSHIP_MODULE_NAME, 'sunsky_dropship_uninstall');
register_language_files(SUNSKY_DROPSHIP_MODULE_NAME, [SUNSKY_DROPSHIP_MODULE_NAME]);
register_merge_fields(SUNSKY_DROPSHIP_MODULE_NAME . '/merge_fields/sunsky_order_merge_fields');

/**
 * The module, built once per request and kept on the CodeIgniter super-object.
 */
function sunsky_dropship(): \SunskyDropship\Module
{
    $CI = &get_instance();
    if (!isset($CI->sunsky_dropship)) {
        $CI->sunsky_dropship = \SunskyDropship\Module::create(
            $CI,
            new \SunskyDropship\CurlTransport(),
            'time',
            'register_shutdown_function'
        );
    }

    return $CI->sunsky_dropship;
}

/**
 * Runs a hook's work without ever breaking the page that fired it (saving an invoice, recording
 * a payment, cron): a failure is written to the activity log instead.
 */
function sunsky_dropship_guard(string $what, callable $work): void
{
    try {
        $work(sunsky_dropship());
    } catch (\Throwable $e) {
        log_activity('SUNSKY Dropship: ' . $what . ' failed: ' . $e->getMessage());
    }
}

function sunsky_dropship_after_invoice_added($invoiceId)
{
    sunsky_dropship_guard('invoice.created for invoice ' . $invoiceId, function ($module) use ($invoiceId) {
        $module->invoiceAdded($invoiceId);
    });
}

function sunsky_dropship_invoice_status_changed($data)
{
    sunsky_dropship_guard('invoice status change', function ($module) use ($data) {
        $module->invoiceStatusChanged($data);
    });
}

function sunsky_dropship_cron($manually = false)
{
    sunsky_dropship_guard('the outbox retry', function ($module) {
        $module->cron();
    });
}

function sunsky_dropship_admin_init()
{
    $CI = &get_instance();
    register_staff_capabilities(SUNSKY_DROPSHIP_MODULE_NAME, [
        'capabilities' => ['view' => _l('permission_view') . '(' . _l('permission_global') . ')'],
    ], _l('sunsky_dropship'));

    if (staff_can('view', SUNSKY_DROPSHIP_MODULE_NAME)) {
        $CI->app_menu->add_sidebar_menu_item('sunsky-store', [
            'name' => _l('sunsky_dropship_menu_store'),
            'collapse' => true,
            'position' => 30,
            'icon' => 'fa-solid fa-truck-fast',
        ]);
        $CI->app_menu->add_sidebar_children_item('sunsky-store', [
            'slug' => 'sunsky-orders',
            'name' => _l('sunsky_dropship_menu_orders'),
            'href' => get_option('sunsky_dropship_console_url') ?: 'http://127.0.0.1:8700/',
            'position' => 1,
        ]);
    }

    $section = [
        'name' => _l('sunsky_dropship'),
        'view' => SUNSKY_DROPSHIP_MODULE_NAME . '/settings',
        'position' => 40,
        'icon' => 'fa-solid fa-truck-fast',
    ];
    if (method_exists($CI->app, 'add_settings_section_child')) {  // Perfex 3.2+
        $CI->app->add_settings_section_child('integrations', SUNSKY_DROPSHIP_MODULE_NAME, $section);
    } else {
        $CI->app_tabs->add_settings_tab(SUNSKY_DROPSHIP_MODULE_NAME, $section);
    }
}

function sunsky_dropship_action_links($actions)
{
    $actions[] = '<a href="' . admin_url('settings?group=' . SUNSKY_DROPSHIP_MODULE_NAME) . '">'
        . _l('settings') . '</a>';

    return $actions;
}

function sunsky_dropship_invoice_tab_menu($invoice)
{
    get_instance()->load->view(SUNSKY_DROPSHIP_MODULE_NAME . '/invoice_tab_menu');
}

function sunsky_dropship_invoice_tab($invoice)
{
    $panel = ['order' => null, 'outbox' => null];
    sunsky_dropship_guard('the invoice tab', function ($module) use ($invoice, &$panel) {
        $panel = $module->invoicePanel((int) $invoice->id);
    });
    get_instance()->load->view(SUNSKY_DROPSHIP_MODULE_NAME . '/invoice_tab', $panel);
}

function sunsky_dropship_activate()
{
    require __DIR__ . '/install.php';
}

function sunsky_dropship_deactivate()
{
    log_activity('SUNSKY Dropship: deactivated; the outbox and order tables are kept');
}

function sunsky_dropship_uninstall()
{
    require __DIR__ . '/uninstall.php';
}
