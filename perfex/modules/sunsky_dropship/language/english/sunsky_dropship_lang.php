<?php

defined('BASEPATH') or exit('No direct script access allowed');

$lang['sunsky_dropship'] = 'SUNSKY Dropship';
$lang['sunsky_dropship_menu_store'] = 'Sunsky Store';
$lang['sunsky_dropship_menu_orders'] = 'Orders';
$lang['sunsky_dropship_ingest_url'] = 'Dropship service URL (ingest)';
$lang['sunsky_dropship_ingest_url_help'] = 'Base URL of the dropship ingest, e.g. https://dropship.example.com;'
    . ' events go to /v1/events.';
$lang['sunsky_dropship_signing_secret'] = 'Signing secret (Perfex to dropship service)';
$lang['sunsky_dropship_webhook_secret'] = 'Perfex webhook secret (dropship service to Perfex)';
$lang['sunsky_dropship_secret_help'] = 'Standard Webhooks secret: whsec_ followed by base64,'
    . ' the same value as on the dropship service.';
$lang['sunsky_dropship_webhook_url'] = 'Order updates are received at';
$lang['sunsky_dropship_send_shipped_email'] = 'E-mail the customer when an order ships';
$lang['sunsky_dropship_console_url'] = 'Admin console URL (Sunsky Store -> Orders)';
$lang['sunsky_dropship_sku_field'] = 'Slug of the items custom field holding the SUNSKY SKU';
$lang['sunsky_dropship_test_connection'] = 'Test connection';
$lang['sunsky_dropship_test_connection_help'] = 'Uses the saved settings: save first.';
$lang['sunsky_dropship_requeue_failed'] = 'Re-send refused events';
$lang['sunsky_dropship_outbox'] = 'Outbox';
$lang['sunsky_dropship_tab'] = 'SUNSKY';
$lang['sunsky_dropship_no_order'] = 'The dropship service has not reported an order for this invoice yet.';
$lang['sunsky_dropship_status'] = 'Status';
$lang['sunsky_dropship_order_number'] = 'SUNSKY order';
$lang['sunsky_dropship_tracking'] = 'Tracking';
$lang['sunsky_dropship_shipping_method'] = 'Shipping method';
$lang['sunsky_dropship_cancel_reason'] = 'Cancellation reason';
$lang['sunsky_dropship_last_error'] = 'Last error';
$lang['sunsky_dropship_updated'] = 'Updated (UTC)';
$lang['sunsky_dropship_last_event'] = 'Last event sent to the dropship service';
