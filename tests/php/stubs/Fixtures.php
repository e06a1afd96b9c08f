<?php

/**
 * Invoice fixtures: tests/php/fixtures/invoices/NAME.json, each holding what invoices_model->get()
 * returns ("invoice"), the client's contacts, and the items' custom field values by item id.
 */
final class StubFixtures
{
    public static function dir(): string
    {
        return dirname(__DIR__) . '/fixtures/invoices/';
    }

    /** @return string[] fixture names */
    public static function names(): array
    {
        return array_map(function ($path) {
            return basename($path, '.json');
        }, glob(self::dir() . '*.json'));
    }

    /** A fixture by name, by path, or inline JSON. */
    public static function load(string $nameOrJson): array
    {
        $text = trim($nameOrJson);
        if ($text !== '' && $text[0] === '{') {
            $json = $text;
        } elseif (is_file($text)) {
            $json = file_get_contents($text);
        } elseif (is_file(self::dir() . $text . '.json')) {
            $json = file_get_contents(self::dir() . $text . '.json');
        } else {
            throw new InvalidArgumentException('no invoice fixture ' . $text . ' (names: ' . implode(', ', self::names()) . ')');
        }
        $fixture = json_decode($json, true, 512, JSON_THROW_ON_ERROR);
        if (!isset($fixture['invoice']['id'])) {
            throw new InvalidArgumentException('a fixture needs "invoice" with an "id"');
        }

        return $fixture;
    }

    /**
     * Stores a fixture where the stubs read it. With $id the invoice gets that id and number (its
     * items ids $id*100+n), so one fixture can stand for many invoices.
     *
     * @return int the invoice id
     */
    public static function install(array $fixture, ?int $id = null): int
    {
        $invoice = $fixture['invoice'];
        $fields = $fixture['item_custom_fields'] ?? [];
        if ($id !== null) {
            [$invoice, $fields] = self::renumber($invoice, $fields, $id);
        }
        $db = get_instance()->db;
        $db->query('REPLACE INTO tblstub_invoices (id, data) VALUES (?, ?)', [(int) $invoice['id'], json_encode($invoice)]);
        foreach ($fixture['contacts'] ?? [] as $contact) {
            $contact += ['datecreated' => '2026-01-01 00:00:00', 'active' => 1, 'is_primary' => 1, 'phonenumber' => ''];
            $db->where('id', (int) $contact['id'])->delete('tblcontacts');
            $db->insert('tblcontacts', $contact);
        }
        foreach ($fields as $itemId => $values) {
            foreach ($values as $slug => $value) {
                $fieldId = self::itemsField($slug);
                $db->where('relid', (int) $itemId)->where('fieldid', $fieldId)->delete('tblcustomfieldsvalues');
                $db->insert('tblcustomfieldsvalues', ['relid' => (int) $itemId, 'fieldid' => $fieldId, 'fieldto' => 'items', 'value' => $value]);
            }
        }

        return (int) $invoice['id'];
    }

    /** Changes a stored invoice (e.g. its status once a payment lands). */
    public static function update(int $invoiceId, array $changes): void
    {
        $db = get_instance()->db;
        $row = $db->where('id', $invoiceId)->get('tblstub_invoices')->row_array();
        $invoice = array_merge(json_decode($row['data'], true), $changes);
        $db->where('id', $invoiceId)->update('tblstub_invoices', ['data' => json_encode($invoice)]);
    }

    private static function itemsField(string $slug): int
    {
        $db = get_instance()->db;
        $row = $db->where('slug', $slug)->where('fieldto', 'items')->get('tblcustomfields')->row_array();
        if ($row) {
            return (int) $row['id'];
        }
        $db->insert('tblcustomfields', ['fieldto' => 'items', 'name' => $slug, 'slug' => $slug]);

        return $db->insert_id();
    }

    private static function renumber(array $invoice, array $fields, int $id): array
    {
        $renamed = [];
        $invoice['id'] = (string) $id;
        if ((string) $invoice['number'] !== (string) Invoices_model::STATUS_DRAFT_NUMBER) {
            $invoice['number'] = (string) $id;
            $invoice['formatted_number'] = $invoice['prefix'] . str_pad((string) $id, 6, '0', STR_PAD_LEFT);
        }
        foreach ($invoice['items'] as $n => $item) {
            $newId = (string) ($id * 100 + $n + 1);
            if (isset($fields[$item['id']])) {
                $renamed[$newId] = $fields[$item['id']];
            }
            $invoice['items'][$n]['id'] = $newId;
            $invoice['items'][$n]['rel_id'] = (string) $id;
        }
        foreach ($invoice['payments'] ?? [] as $n => $payment) {
            $invoice['payments'][$n]['invoiceid'] = (string) $id;
        }

        return [$invoice, $renamed];
    }
}
