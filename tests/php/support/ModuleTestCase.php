<?php

use PHPUnit\Framework\TestCase;
use SunskyDropship\Module;
use SunskyDropship\WebhookSignature;

/**
 * Each test is one fresh Perfex: empty database, module activated by staff member 1, configured,
 * and a module object whose transport records requests and whose "after the response" work waits
 * for flush() (in Perfex it runs at shutdown).
 */
abstract class ModuleTestCase extends TestCase
{
    public const NOW = 1795688100;  // 2026-11-26T10:15:00Z, the contract example's occurred_at
    public const INGEST_URL = 'https://ingest.example.test';
    public const SIGNING_SECRET = 'whsec_c2lnbmluZy1zZWNyZXQtZm9yLXRoZS10ZXN0cy0zMmI=';
    public const WEBHOOK_SECRET = 'whsec_d2ViaG9vay1zZWNyZXQtZm9yLXRoZS10ZXN0cy0zMmI=';

    /** @var TestClock */
    protected $clock;
    /** @var RecordingTransport */
    protected $transport;
    /** @var Module */
    protected $module;
    /** @var callable[] work deferred "after the response" */
    protected $deferred = [];

    protected function setUp(): void
    {
        StubPerfex::reset();
        StubPerfex::$staffId = 1;
        StubPerfex::activate();
        StubPerfex::$staffId = false;
        update_option('sunsky_dropship_ingest_url', self::INGEST_URL);
        update_option('sunsky_dropship_signing_secret', self::SIGNING_SECRET);
        update_option('sunsky_dropship_webhook_secret', self::WEBHOOK_SECRET);
        $this->clock = new TestClock(self::NOW);
        $this->transport = new RecordingTransport();
        $this->deferred = [];
        $this->module = Module::create(get_instance(), $this->transport, $this->clock, function (callable $work) {
            $this->deferred[] = $work;
        });
        get_instance()->sunsky_dropship = $this->module;
    }

    /** What PHP's shutdown would run once the page is delivered. */
    protected function afterResponse(): void
    {
        $deferred = $this->deferred;
        $this->deferred = [];
        foreach ($deferred as $work) {
            $work();
        }
    }

    protected function invoice(string $fixture, ?int $id = null): int
    {
        return StubFixtures::install(StubFixtures::load($fixture), $id);
    }

    /** @return array<int, array<string, ?string>> */
    protected function outbox(): array
    {
        return get_instance()->db->order_by('id')->get('tblsunsky_outbox')->result_array();
    }

    protected function order(int $invoiceId): array
    {
        return get_instance()->db->where('invoice_id', $invoiceId)->get('tblsunsky_orders')->row_array();
    }

    protected function emails(): array
    {
        return get_instance()->db->order_by('id')->get('tblstub_sent_emails')->result_array();
    }

    protected function notes(int $invoiceId): array
    {
        return get_instance()->db->where('rel_id', $invoiceId)->where('rel_type', 'invoice')
            ->order_by('id')->get('tblnotes')->result_array();
    }

    protected function activityLog(): array
    {
        return array_column(get_instance()->db->order_by('id')->get('tblactivity_log')->result_array(), 'description');
    }

    /** Checks a request the module sent carries a valid Standard Webhooks signature of its body. */
    protected function assertSignedBy(string $secret, array $request): void
    {
        $headers = array_change_key_case($request['headers'], CASE_LOWER);
        (new WebhookSignature($secret))->verify($headers, $request['body'], $this->clock->now);
        $this->addToAssertionCount(1);
    }
}
