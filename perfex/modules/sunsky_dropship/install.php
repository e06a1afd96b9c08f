<?php

defined('BASEPATH') or exit('No direct script access allowed');

/*
 * Activation: the latest schema, the options (add_option() keeps values already set, so
 * re-activating is safe) and the customer e-mail template (created once, by slug).
 */

require_once __DIR__ . '/libraries/autoload.php';

\SunskyDropship\Schema::install(get_instance()->db, db_prefix());

add_option('sunsky_dropship_ingest_url', '');
add_option('sunsky_dropship_signing_secret', '');
add_option('sunsky_dropship_webhook_secret', '');
add_option('sunsky_dropship_send_shipped_email', '1');
add_option('sunsky_dropship_console_url', 'http://127.0.0.1:8700/');
add_option('sunsky_dropship_sku_field', 'items_sunsky_sku');
add_option('sunsky_dropship_note_staff_id', (string) (get_staff_user_id() ?: 1));

create_email_template(
    'Your order {invoice_number} has shipped',
    '<p>Hello {contact_firstname} {contact_lastname},</p>'
    . '<p>Good news: your order for invoice <strong>{invoice_number}</strong> is on its way.</p>'
    . '<p>Shipping method: {sunsky_shipping_method}<br />'
    . 'Tracking number: <strong>{sunsky_tracking_number}</strong><br />'
    . 'Track your parcel: <a href="{sunsky_tracking_url}">{sunsky_tracking_url}</a></p>'
    . '<p>You can view the invoice here: <a href="{invoice_link}">{invoice_number}</a></p>'
    . '<p>Kind regards,<br />{email_signature}</p>',
    'invoice',
    'SUNSKY order shipped (sent to customer)',
    'sunsky-order-shipped'
);
