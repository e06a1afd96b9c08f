<?php

// phpcs:disable PSR1.Classes.ClassDeclaration.MissingNamespace, Squiz.Classes.ValidClassName.NotCamelCaps
// phpcs:disable PSR1.Files.SideEffects
// -- Perfex loads merge fields by this exact, global class name (register_merge_fields()),
// and Perfex wants the BASEPATH guard in every file.

defined('BASEPATH') or exit('No direct script access allowed');

/** Lists the tracking merge fields in the "SUNSKY order shipped" template's editor. */
class Sunsky_order_merge_fields extends App_merge_fields
{
    public function build()
    {
        $names = [
            '{sunsky_order_number}' => 'SUNSKY order number',
            '{sunsky_tracking_number}' => 'Tracking number',
            '{sunsky_tracking_url}' => 'Tracking URL',
            '{sunsky_shipping_method}' => 'Shipping method',
        ];
        $fields = [];
        foreach ($names as $key => $name) {
            $fields[] = ['name' => $name, 'key' => $key, 'available' => [], 'templates' => ['sunsky-order-shipped']];
        }

        return $fields;
    }

    /**
     * @param array $order the order mirror row
     * @return array
     */
    public function format($order)
    {
        return [
            '{sunsky_order_number}' => (string) ($order['sunsky_order_number'] ?? ''),
            '{sunsky_tracking_number}' => (string) ($order['tracking_number'] ?? ''),
            '{sunsky_tracking_url}' => (string) ($order['tracking_url'] ?? ''),
            '{sunsky_shipping_method}' => (string) ($order['shipping_method'] ?? ''),
        ];
    }
}
