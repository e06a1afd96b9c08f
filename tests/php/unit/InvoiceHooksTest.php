<?php

use SunskyDropship\Outbox;

/**
 * The hooks as Perfex fires them (through hooks(), into the init file's handlers): which invoice
 * changes become events, and that nothing leaves before the page's response.
 */
final class InvoiceHooksTest extends ModuleTestCase
{
    public function testTheModuleListensWhereTheContractSays(): void
    {
        $this->assertSame(['sunsky_dropship_after_invoice_added'], hooks()->names('after_invoice_added'));
        $this->assertSame(['sunsky_dropship_invoice_status_changed'], hooks()->names('invoice_status_changed'));
        $this->assertSame(['sunsky_dropship_cron'], hooks()->names('after_cron_run'));
    }

    /** @dataProvider paidStatuses */
    public function testAPaidStatusPublishesOneInvoicePaid($status): void
    {
        $this->invoice('contract_example');

        hooks()->do_action('invoice_status_changed', ['invoice_id' => '42', 'status' => $status]);

        $rows = $this->outbox();
        $this->assertCount(1, $rows);
        $this->assertSame('invoice.paid', $rows[0]['event_type']);
        $this->assertSame('42', $rows[0]['invoice_id']);
        $this->assertSame(Outbox::PENDING, $rows[0]['status']);
    }

    public static function paidStatuses(): array
    {
        return ['as a string' => ['2'], 'as the constant' => [Invoices_model::STATUS_PAID]];
    }

    /** @dataProvider otherStatuses */
    public function testNoOtherStatusPublishesAnything($status): void
    {
        $this->invoice('contract_example');

        hooks()->do_action('invoice_status_changed', ['invoice_id' => '42', 'status' => $status]);

        $this->assertSame([], $this->outbox());
    }

    public static function otherStatuses(): array
    {
        $cases = [];
        foreach ([1, 3, 4, 5, 6] as $status) {
            $cases["$status as a string"] = [(string) $status];
            $cases["$status as an int"] = [$status];
        }
        return $cases + ['no status' => [null], 'garbage' => ['2abc']];
    }

    public function testANewInvoicePublishesInvoiceCreated(): void
    {
        $this->invoice('unpaid_new');

        hooks()->do_action('after_invoice_added', 43);

        $rows = $this->outbox();
        $this->assertCount(1, $rows);
        $this->assertSame('invoice.created', $rows[0]['event_type']);
    }

    public function testDraftsAreIgnoredWhenAddedAndWhenPaid(): void
    {
        $this->invoice('draft');

        hooks()->do_action('after_invoice_added', 46);
        hooks()->do_action('invoice_status_changed', ['invoice_id' => 46, 'status' => Invoices_model::STATUS_PAID]);

        $this->assertSame([], $this->outbox());
    }

    public function testEachPaymentThatCompletesTheInvoiceAgainIsANewEvent(): void
    {
        // paid, a payment deleted (partially paid), paid again: two publications, two event ids
        $this->invoice('contract_example');
        foreach (['2', '3', '2'] as $status) {
            hooks()->do_action('invoice_status_changed', ['invoice_id' => 42, 'status' => $status]);
        }

        $rows = $this->outbox();
        $this->assertCount(2, $rows);
        $this->assertNotSame($rows[0]['event_uid'], $rows[1]['event_uid']);
    }

    public function testAZeroTotalInvoicePaidInsideAddWaitsForItsItems(): void
    {
        // Invoices_model::add(): update_invoice_status() (paid: the total is 0) runs before the
        // items are inserted, and after_invoice_added comes last.
        $fixture = StubFixtures::load('zero_total');
        $items = $fixture['invoice']['items'];
        $fixture['invoice']['items'] = [];
        StubFixtures::install($fixture);
        hooks()->do_action('invoice_status_changed', ['invoice_id' => 45, 'status' => Invoices_model::STATUS_PAID]);
        $this->assertSame(Outbox::AWAITING_ITEMS, $this->outbox()[0]['status']);

        StubFixtures::update(45, ['items' => $items]);
        hooks()->do_action('after_invoice_added', 45);

        $rows = $this->outbox();
        $this->assertSame(['invoice.paid', 'invoice.created'], array_column($rows, 'event_type'));
        $this->assertSame([Outbox::PENDING, Outbox::PENDING], array_column($rows, 'status'));
        $paid = json_decode($rows[0]['body'], true);
        $this->assertSame($rows[0]['event_uid'], $paid['event_id']);
        $this->assertSame('S-CAB-0042', $paid['data']['invoice']['items'][0]['custom_fields']['sunsky_sku']);
        $this->afterResponse();
        $this->assertSame(
            [$rows[1]['event_uid'], $rows[0]['event_uid']],
            array_column(array_column($this->transport->requests, 'headers'), 'webhook-id'),
            'created goes out first, then paid'
        );
    }

    public function testNothingIsSentBeforeTheResponseThenEachEventOnceSigned(): void
    {
        $this->invoice('contract_example');
        hooks()->do_action('invoice_status_changed', ['invoice_id' => 42, 'status' => '2']);
        $this->assertSame([], $this->transport->requests, 'the payment request must not wait on us');

        $this->afterResponse();

        [$request] = $this->transport->requests;
        [$row] = $this->outbox();
        $this->assertSame(self::INGEST_URL . '/v1/events', $request['url']);
        $this->assertSame($row['body'], $request['body']);
        $this->assertSame($row['event_uid'], $request['headers']['webhook-id']);
        $this->assertSame((string) self::NOW, $request['headers']['webhook-timestamp']);
        $this->assertSame('application/json', $request['headers']['Content-Type']);
        $this->assertSame(5, $request['timeout']);
        $this->assertSignedBy(self::SIGNING_SECRET, $request);
        $this->assertSame(Outbox::SENT, $this->outbox()[0]['status']);
    }

    public function testAFailureInsideTheModuleNeverBreaksTheInvoiceSave(): void
    {
        $this->invoice('contract_example');
        get_instance()->db->query('DROP TABLE tblsunsky_outbox');

        hooks()->do_action('invoice_status_changed', ['invoice_id' => 42, 'status' => '2']);

        $this->assertStringContainsString('SUNSKY Dropship: invoice status change failed', implode("\n", $this->activityLog()));
    }
}
