<?php

// phpcs:disable PSR1.Files.SideEffects -- the BASEPATH guard Perfex puts in every file

namespace SunskyDropship;

defined('BASEPATH') or exit('No direct script access allowed');

/**
 * Turns what invoices_model->get() returns into the invoice.created / invoice.paid event of
 * perfex-event-contract.md. Values stay as Perfex stores them (strings, "<br />" in streets);
 * the Python side parses them.
 */
final class EventBuilder
{
    public const CREATED = 'invoice.created';
    public const PAID = 'invoice.paid';
    public const SKU_KEY = 'sunsky_sku';

    /** @var PerfexRuntime */
    private $perfex;
    /** @var callable(): int */
    private $now;

    public function __construct(PerfexRuntime $perfex, callable $now)
    {
        $this->perfex = $perfex;
        $this->now = $now;
    }

    /**
     * @param object $invoice
     * @return array<string, mixed>
     */
    public function build(string $eventType, string $eventId, $invoice): array
    {
        return [
            'event_id' => $eventId,
            'event_type' => $eventType,
            'occurred_at' => gmdate('Y-m-d\TH:i:s\Z', ($this->now)()),
            'source' => [
                'system' => 'perfex',
                'perfex_version' => $this->perfex->version(),
                'base_url' => $this->perfex->baseUrl(),
            ],
            'data' => [
                'invoice' => $this->invoice($invoice, $this->skuField()),
                'client' => $this->client($invoice),
                'primary_contact' => $this->primaryContact($invoice),
                'payment' => $eventType === self::PAID ? $this->payment($invoice) : null,
            ],
        ];
    }

    /** @param array<string, mixed> $event */
    public static function encode(array $event): string
    {
        return json_encode(
            $event,
            JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE | JSON_THROW_ON_ERROR
        );
    }

    /**
     * @param object $invoice
     * @return array<string, mixed>
     */
    private function invoice($invoice, string $skuField): array
    {
        $currency = ['id' => self::text($invoice->currency ?? null)];
        if (isset($invoice->currency_name)) {  // the ISO code, joined in by get(); "USD" when absent
            $currency['code'] = (string) $invoice->currency_name;
        }
        $currency['symbol'] = self::text($invoice->symbol ?? null);

        return [
            'id' => self::text($invoice->id),
            'number' => self::text($invoice->number),
            'prefix' => self::text($invoice->prefix ?? null),
            'formatted_number' => $this->perfex->formattedNumber($invoice),
            'status' => self::text($invoice->status),
            'date' => self::text($invoice->date ?? null),
            'duedate' => self::text($invoice->duedate ?? null),
            'currency' => $currency,
            'subtotal' => self::text($invoice->subtotal ?? null),
            'total_tax' => self::text($invoice->total_tax ?? null),
            'discount_total' => self::text($invoice->discount_total ?? null),
            'adjustment' => self::text($invoice->adjustment ?? null),
            'total' => self::text($invoice->total),
            'hash' => self::text($invoice->hash ?? null),
            'include_shipping' => self::text($invoice->include_shipping ?? '0'),
            'billing' => $this->address($invoice, 'billing'),
            'shipping' => self::flag($invoice->include_shipping ?? '0') ? $this->address($invoice, 'shipping') : null,
            'items' => array_map(function ($item) use ($skuField) {
                return $this->item($item, $skuField);
            }, array_values((array) ($invoice->items ?? []))),
        ];
    }

    /**
     * @param array<string, mixed>|object $item a tblitemable row
     * @return array<string, mixed>
     */
    private function item($item, string $skuField): array
    {
        $item = (array) $item;
        $sku = $this->perfex->itemCustomField((int) $item['id'], $skuField);

        return [
            'id' => self::text($item['id']),
            'item_order' => self::text($item['item_order'] ?? null),
            'description' => (string) ($item['description'] ?? ''),
            'long_description' => self::text($item['long_description'] ?? null),
            'qty' => self::text($item['qty']),
            'rate' => self::text($item['rate']),
            'unit' => self::text($item['unit'] ?? null),
            // an object, so that "no custom fields" is {} in JSON, not []
            'custom_fields' => $sku === '' ? new \stdClass() : [self::SKU_KEY => $sku],
        ];
    }

    /**
     * @param object $invoice
     * @return array<string, mixed>
     */
    private function client($invoice): array
    {
        $client = isset($invoice->client) && is_object($invoice->client) ? $invoice->client : null;
        if ($client === null) {  // the customer was deleted; Perfex keeps only a name on the invoice
            return [
                'userid' => self::text($invoice->clientid ?? '0'),
                'company' => self::text($invoice->deleted_customer_name ?? null),
                'phonenumber' => null,
                'vat' => null,
                'shipping' => null,
                'billing' => null,
            ];
        }

        return [
            'userid' => self::text($client->userid),
            'company' => self::text($client->company ?? null),
            'phonenumber' => self::text($client->phonenumber ?? null),
            'vat' => self::text($client->vat ?? null),
            'shipping' => $this->address($client, 'shipping'),
            'billing' => $this->address($client, 'billing'),
        ];
    }

    /**
     * @param object $invoice
     * @return array<string, mixed>|null
     */
    private function primaryContact($invoice): ?array
    {
        $contact = $this->perfex->primaryContact((int) ($invoice->clientid ?? 0));
        if ($contact === null) {
            return null;
        }

        return [
            'id' => self::text($contact['id'] ?? null),
            'firstname' => self::text($contact['firstname'] ?? null),
            'lastname' => self::text($contact['lastname'] ?? null),
            'email' => self::text($contact['email'] ?? null),
            'phonenumber' => self::text($contact['phonenumber'] ?? null),
        ];
    }

    /**
     * The latest payment row; null when there is none (paid by credit note) or the total is zero.
     * Rows come from get_invoice_payments(), whose "id" is the payment MODE: the payment's own id
     * is "paymentid".
     *
     * @param object $invoice
     * @return array<string, mixed>|null
     */
    private function payment($invoice): ?array
    {
        $payments = array_map(
            function ($row) {
                return (array) $row;
            },
            array_values((array) ($invoice->payments ?? []))
        );
        if ($payments === [] || (float) $invoice->total === 0.0) {
            return null;
        }
        usort($payments, function (array $a, array $b) {
            return [(string) ($b['daterecorded'] ?? ''), (int) ($b['paymentid'] ?? 0)]
                <=> [(string) ($a['daterecorded'] ?? ''), (int) ($a['paymentid'] ?? 0)];
        });
        $latest = $payments[0];
        $fields = ['paymentid', 'invoiceid', 'amount', 'paymentmode', 'paymentmethod', 'date', 'daterecorded',
            'transactionid'];
        $payment = [];
        foreach ($fields as $field) {
            $payment[$field] = self::text($latest[$field] ?? null);
        }

        return $payment;
    }

    /**
     * @param object $row an invoice or client row
     * @return array<string, mixed>
     */
    private function address($row, string $kind): array
    {
        $countryId = self::text($row->{$kind . '_country'} ?? null);
        $country = $this->perfex->country($countryId);

        return [
            'street' => self::text($row->{$kind . '_street'} ?? null),
            'city' => self::text($row->{$kind . '_city'} ?? null),
            'state' => self::text($row->{$kind . '_state'} ?? null),
            'zip' => self::text($row->{$kind . '_zip'} ?? null),
            'country_id' => $countryId,
            'country_iso2' => $country['iso2'],
            'country_name' => $country['name'],
        ];
    }

    private function skuField(): string
    {
        $slug = $this->perfex->option('sunsky_dropship_sku_field');

        return $slug !== '' ? $slug : 'items_sunsky_sku';
    }

    /** @param mixed $value a tinyint column: "1"/"0" */
    private static function flag($value): bool
    {
        return (string) $value === '1';
    }

    /**
     * Perfex's own representation: a string, or null for SQL NULL.
     *
     * @param mixed $value
     */
    private static function text($value): ?string
    {
        if ($value === null) {
            return null;
        }
        if (is_bool($value)) {
            return $value ? '1' : '0';
        }

        return (string) $value;
    }
}
