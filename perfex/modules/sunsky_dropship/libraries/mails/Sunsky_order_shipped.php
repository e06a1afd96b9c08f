<?php

// phpcs:disable PSR1.Classes.ClassDeclaration.MissingNamespace, Squiz.Classes.ValidClassName.NotCamelCaps
// phpcs:disable PSR1.Files.SideEffects
// -- Perfex finds mail templates by this exact, global class name (send_mail_template()),
// and Perfex wants the BASEPATH guard in every file.

defined('BASEPATH') or exit('No direct script access allowed');

/**
 * "Your order has shipped", to the invoice's primary contact, through the e-mail template
 * "sunsky-order-shipped" (Setup -> Email Templates -> Invoices). Sent by
 * send_mail_template('sunsky_order_shipped', 'sunsky_dropship', $invoice, $contact, $order).
 */
class Sunsky_order_shipped extends App_mail_template
{
    public const TRACKING_FIELDS = [
        '{sunsky_order_number}' => 'sunsky_order_number',
        '{sunsky_tracking_number}' => 'tracking_number',
        '{sunsky_tracking_url}' => 'tracking_url',
        '{sunsky_shipping_method}' => 'shipping_method',
    ];

    public $slug = 'sunsky-order-shipped';

    public $rel_type = 'invoice';

    protected $for = 'customer';

    protected $invoice;

    protected $contact;

    protected $order;

    /**
     * @param object $invoice invoices_model->get()
     * @param array $contact the primary contact row
     * @param array $order the order mirror row
     */
    public function __construct($invoice, $contact, $order)
    {
        parent::__construct();
        $this->invoice = $invoice;
        $this->contact = $contact;
        $this->order = $order;
    }

    public function build()
    {
        $tracking = [];
        foreach (self::TRACKING_FIELDS as $field => $column) {
            $tracking[$field] = (string) ($this->order[$column] ?? '');
        }
        $this->to($this->contact['email'])
            ->set_rel_id($this->invoice->id)
            ->set_merge_fields('client_merge_fields', $this->invoice->clientid, $this->contact['id'])
            ->set_merge_fields('invoice_merge_fields', $this->invoice->id)
            ->set_merge_fields($tracking);
    }
}
