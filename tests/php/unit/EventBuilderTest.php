<?php

use SunskyDropship\EventBuilder;
use SunskyDropship\PerfexRuntime;

/** The invoice events, built from invoices_model->get() fixtures, against perfex-event-contract.md. */
final class EventBuilderTest extends ModuleTestCase
{
    public function testThePaidEventOfTheContractsExampleInvoiceIsTheContractsExample(): void
    {
        $this->invoice('contract_example');
        hooks()->do_action('invoice_status_changed', ['invoice_id' => '42', 'status' => '2']);

        [$row] = $this->outbox();
        $event = json_decode($row['body'], true);
        $contract = json_decode((string) file_get_contents(__DIR__ . '/../fixtures/contract_event.json'), true);
        unset($contract['_comment']);
        $this->assertMatchesRegularExpression(
            '/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/',
            $event['event_id']
        );
        $expected = self::flatten($contract);
        $actual = self::flatten($event);
        unset($expected['event_id'], $actual['event_id']);
        foreach ($expected as $path => $value) {
            $this->assertArrayHasKey($path, $actual, "the event has no $path");
            $this->assertSame($value, $actual[$path], "at $path");
        }
        $this->assertSame([], array_diff_key($actual, $expected), 'fields the contract does not have');
        $this->assertStringContainsString('"custom_fields":{}', $row['body'], 'no custom fields is {} in JSON');
        $this->assertSame($event['event_id'], $row['event_uid']);
    }

    public function testTheCreatedEventHasNoPayment(): void
    {
        $event = $this->build(EventBuilder::CREATED, 'unpaid_new');

        $this->assertSame('invoice.created', $event['event_type']);
        $this->assertNull($event['data']['payment']);
        $this->assertSame('1', $event['data']['invoice']['status']);
        $this->assertSame(['sunsky_sku' => 'S-CAB-0042'], $event['data']['invoice']['items'][0]['custom_fields']);
    }

    public function testAnInvoicePaidByCreditNoteOrWithAZeroTotalHasNoPayment(): void
    {
        $this->assertNull($this->build(EventBuilder::PAID, 'credit_note_paid')['data']['payment']);
        $this->assertNull($this->build(EventBuilder::PAID, 'zero_total')['data']['payment']);
    }

    public function testThePaymentIsTheLatestOneAndItsIdIsPaymentidNotThePaymentModesId(): void
    {
        $payment = $this->build(EventBuilder::PAID, 'no_shipping_two_payments')['data']['payment'];

        $this->assertSame('22', $payment['paymentid']);
        $this->assertSame('paypal_checkout', $payment['paymentmode']);
        $this->assertSame('39.90', $payment['amount']);
    }

    public function testWithoutIncludeShippingTheInvoiceHasNoShippingAddressButTheClientsIsThere(): void
    {
        $event = $this->build(EventBuilder::PAID, 'no_shipping_two_payments');

        $this->assertNull($event['data']['invoice']['shipping']);
        $this->assertSame('0', $event['data']['invoice']['include_shipping']);
        $this->assertSame([
            'street' => 'Lagerweg 2', 'city' => 'Esslingen', 'state' => 'BW', 'zip' => '73728',
            'country_id' => '83', 'country_iso2' => 'DE', 'country_name' => 'Germany',
        ], $event['data']['client']['shipping']);
        $this->assertSame('Königstraße 5<br />Hinterhaus', $event['data']['invoice']['billing']['street']);
        $this->assertSame(['id' => '2', 'code' => 'EUR', 'symbol' => '€'], $event['data']['invoice']['currency']);
        $this->assertSame('Zoë', $event['data']['primary_contact']['firstname']);
    }

    public function testADeletedCustomerLeavesOnlyTheNameAndNoContact(): void
    {
        $event = $this->build(EventBuilder::PAID, 'deleted_customer');

        $this->assertSame('99', $event['data']['client']['userid']);
        $this->assertSame('Gone Ltd', $event['data']['client']['company']);
        $this->assertNull($event['data']['primary_contact']);
    }

    public function testTheSkuComesFromTheItemsCustomFieldNamedInTheSettings(): void
    {
        $fixture = StubFixtures::load('contract_example');
        $fixture['item_custom_fields'] = ['7' => ['items_supplier_code' => 'S-OTHER-1']];
        StubFixtures::install($fixture);
        update_option('sunsky_dropship_sku_field', 'items_supplier_code');

        $items = $this->build(EventBuilder::PAID, '')['data']['invoice']['items'];

        $this->assertSame(['sunsky_sku' => 'S-OTHER-1'], $items[0]['custom_fields']);
    }

    public function testTheFormattedNumberComesFromFormatInvoiceNumberNotTheStoredColumn(): void
    {
        // Payments_model::add() numbers a draft and fires invoice_status_changed before
        // save_formatted_number() updates the column: the helper already knows the new number.
        $fixture = StubFixtures::load('contract_example');
        $fixture['invoice']['formatted_number'] = 'INV-DRAFT';
        StubFixtures::install($fixture);

        $this->assertSame('INV-000042', $this->build(EventBuilder::PAID, '')['data']['invoice']['formatted_number']);
    }

    private function build(string $type, string $fixture): array
    {
        $id = $fixture === '' ? 42 : $this->invoice($fixture);
        $perfex = new PerfexRuntime(get_instance());
        $event = (new EventBuilder($perfex, $this->clock))->build($type, 'a-test-event', $perfex->invoice($id));

        return json_decode(EventBuilder::encode($event), true);
    }

    /** @return array<string, mixed> "data.invoice.items.0.qty" => "2.00", empty arrays and objects as "{}" */
    private static function flatten(array $value, string $prefix = ''): array
    {
        $flat = [];
        foreach ($value as $key => $item) {
            $path = $prefix === '' ? (string) $key : $prefix . '.' . $key;
            if (is_array($item) && $item !== []) {
                $flat += self::flatten($item, $path);
            } else {
                $flat[$path] = $item === [] ? '{}' : $item;
            }
        }

        return $flat;
    }
}
