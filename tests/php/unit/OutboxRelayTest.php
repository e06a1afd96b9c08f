<?php

use SunskyDropship\Outbox;
use SunskyDropship\OutboxRelay;

/** Nothing is lost when the dropship service is down; refusals are recorded, not retried forever. */
final class OutboxRelayTest extends ModuleTestCase
{
    public function testAnEventThatCouldNotBeSentIsResentByCronWithTheSameIdAndBody(): void
    {
        $this->transport->willFail('curl error 28: Operation timed out after 5000 milliseconds');
        $this->payInvoice();
        $this->afterResponse();

        [$row] = $this->outbox();
        $this->assertSame(Outbox::PENDING, $row['status']);
        $this->assertSame('1', $row['attempts']);
        $this->assertStringContainsString('timed out', $row['last_error']);
        $this->assertSame(Outbox::utc(self::NOW + 60), $row['next_retry_at']);

        $this->clock->advance(59);
        hooks()->do_action('after_cron_run', false);
        $this->assertCount(1, $this->transport->requests, 'not due yet');

        $this->clock->advance(1);
        hooks()->do_action('after_cron_run', false);

        [$first, $retry] = $this->transport->requests;
        $this->assertSame($first['headers']['webhook-id'], $retry['headers']['webhook-id']);
        $this->assertSame($first['body'], $retry['body']);
        $this->assertSame($row['body'], $retry['body']);
        $this->assertSame((string) $this->clock->now, $retry['headers']['webhook-timestamp'], 'signed afresh');
        $this->assertSignedBy(self::SIGNING_SECRET, $retry);
        $row = $this->outbox()[0];
        $this->assertSame(Outbox::SENT, $row['status']);
        $this->assertSame('2', $row['attempts']);
        $this->assertSame('202', $row['last_status_code']);
    }

    public function testABrokerOutageAnswerIsRetriedNoSoonerThanRetryAfter(): void
    {
        $this->transport->willAnswer(503, '{"error":"broker unavailable"}', ['Retry-After' => '600']);
        $this->payInvoice();
        $this->afterResponse();

        $row = $this->outbox()[0];
        $this->assertSame(Outbox::PENDING, $row['status']);
        $this->assertSame(Outbox::utc(self::NOW + 600), $row['next_retry_at']);
        $this->assertSame('503', $row['last_status_code']);
        $this->assertStringContainsString('broker unavailable', $row['last_error']);
    }

    /** @dataProvider refusals */
    public function testAPermanentRefusalIsMarkedFailedWithTheAnswerAndNotRetried(int $status): void
    {
        $this->transport->willAnswer($status, '{"error":"refused","detail":"data.invoice: field required"}');
        $this->payInvoice();
        $this->afterResponse();

        $row = $this->outbox()[0];
        $this->assertSame(Outbox::FAILED, $row['status']);
        $this->assertSame((string) $status, $row['last_status_code']);
        $this->assertStringContainsString('field required', $row['last_error']);
        $this->clock->advance(86400);
        hooks()->do_action('after_cron_run', false);
        $this->assertCount(1, $this->transport->requests);
        $this->assertStringContainsString('the ingest refused invoice.paid for invoice 42', implode("\n", $this->activityLog()));
    }

    public static function refusals(): array
    {
        return ['bad signature' => [401], 'not JSON' => [400], 'too large' => [413], 'wrong shape' => [422]];
    }

    /** @dataProvider transientAnswers */
    public function testTimeoutsThrottlingRedirectsAndServerErrorsAreRetried(int $status): void
    {
        $this->transport->willAnswer($status);
        $this->payInvoice();
        $this->afterResponse();

        $this->assertSame(Outbox::PENDING, $this->outbox()[0]['status']);
    }

    public static function transientAnswers(): array
    {
        return ['408' => [408], '429' => [429], '301' => [301], '500' => [500], '502' => [502]];
    }

    public function testTheBackoffDoublesUpToSixHours(): void
    {
        $delays = array_map([OutboxRelay::class, 'backoffSeconds'], [1, 2, 3, 4, 9, 10, 11, 500]);

        $this->assertSame([60, 120, 240, 480, 15360, 21600, 21600, 21600], $delays);
    }

    public function testCronKeepsRetryingWithGrowingDelaysWhileTheServiceStaysDown(): void
    {
        $this->payInvoice();
        for ($i = 0; $i < 6; $i++) {
            $this->transport->willFail();
        }
        $this->afterResponse();
        $retryTimes = [];
        for ($i = 0; $i < 5; $i++) {
            $this->clock->now = strtotime($this->outbox()[0]['next_retry_at'] . ' UTC');
            $retryTimes[] = $this->clock->now;
            hooks()->do_action('after_cron_run', false);
        }

        $gaps = [];
        for ($i = 1; $i < count($retryTimes); $i++) {
            $gaps[] = $retryTimes[$i] - $retryTimes[$i - 1];
        }
        $this->assertSame([120, 240, 480, 960], $gaps);
        $this->assertCount(6, $this->transport->requests);
        $this->assertSame(Outbox::PENDING, $this->outbox()[0]['status']);
        $this->assertCount(1, array_unique(array_column(array_column($this->transport->requests, 'headers'), 'webhook-id')));
    }

    public function testAfterTheFirstFailureTheRestOfTheRequestsEventsWaitForCron(): void
    {
        $this->transport->willFail();
        $this->invoice('contract_example');
        $this->invoice('unpaid_new');
        hooks()->do_action('invoice_status_changed', ['invoice_id' => 42, 'status' => '2']);
        hooks()->do_action('after_invoice_added', 43);

        $this->afterResponse();

        $this->assertCount(1, $this->transport->requests, 'one timeout is enough to know the service is down');
        $this->assertSame(['1', '0'], array_column($this->outbox(), 'attempts'));
        $this->clock->advance(OutboxRelay::INLINE_GRACE_SECONDS);
        hooks()->do_action('after_cron_run', false);
        $this->assertSame([Outbox::SENT, Outbox::SENT], array_column($this->outbox(), 'status'));
    }

    public function testACronRunStopsTryingOnceTheServiceIsClearlyDown(): void
    {
        for ($id = 1; $id <= 5; $id++) {
            $this->invoice('contract_example', 100 + $id);
            hooks()->do_action('invoice_status_changed', ['invoice_id' => 100 + $id, 'status' => '2']);
        }
        $this->clock->advance(OutboxRelay::INLINE_GRACE_SECONDS);
        for ($i = 0; $i < 5; $i++) {
            $this->transport->willFail();
        }

        hooks()->do_action('after_cron_run', false);

        $this->assertCount(OutboxRelay::CRON_GIVE_UP_AFTER, $this->transport->requests);
        $this->assertSame(['1', '1', '1', '0', '0'], array_column($this->outbox(), 'attempts'));
    }

    public function testDeliveredEventsAreDeletedAfterThirtyDays(): void
    {
        $this->payInvoice();
        $this->afterResponse();
        $this->invoice('unpaid_new');
        $this->clock->advance(29 * 86400);
        hooks()->do_action('after_invoice_added', 43);
        $this->afterResponse();

        $this->clock->advance(86400 + 1);
        hooks()->do_action('after_cron_run', false);

        $this->assertSame(['invoice.created'], array_column($this->outbox(), 'event_type'));
    }

    public function testWithoutSettingsEventsWaitInsteadOfBeingDropped(): void
    {
        update_option('sunsky_dropship_ingest_url', '');
        $this->payInvoice();
        $this->afterResponse();

        $row = $this->outbox()[0];
        $this->assertSame([], $this->transport->requests);
        $this->assertSame(Outbox::PENDING, $row['status']);
        $this->assertStringContainsString('not configured', $row['last_error']);
    }

    public function testRefusedEventsCanBeQueuedAgainOnceTheCauseIsFixed(): void
    {
        $this->transport->willAnswer(401, '{"error":"invalid_signature"}');
        $this->payInvoice();
        $this->afterResponse();

        $this->assertSame(1, $this->module->requeueFailed());
        hooks()->do_action('after_cron_run', false);

        $this->assertSame(Outbox::SENT, $this->outbox()[0]['status']);
        $this->assertSame(
            $this->transport->requests[0]['headers']['webhook-id'],
            $this->transport->requests[1]['headers']['webhook-id']
        );
    }

    public function testTwoCronRunsAtOnceDoNotBothSendARow(): void
    {
        $this->transport->willFail();
        $this->payInvoice();
        $this->afterResponse();
        $this->clock->advance(60);
        $outbox = new Outbox(get_instance()->db, 'tbl', $this->clock);
        $uid = $this->outbox()[0]['event_uid'];

        $this->assertTrue($outbox->lease($uid, $this->clock->now + 60));
        $this->assertFalse($outbox->lease($uid, $this->clock->now + 60));
    }

    /** @dataProvider connectionAnswers */
    public function testTestConnectionSendsASignedInvalidBodyAndExplainsTheAnswer(?int $status, bool $ok, string $says): void
    {
        $status === null ? $this->transport->willFail('curl error 6: Could not resolve host') : $this->transport->willAnswer($status);

        $result = $this->module->testConnection();

        [$request] = $this->transport->requests;
        $this->assertSame(self::INGEST_URL . '/v1/events', $request['url']);
        $this->assertSignedBy(self::SIGNING_SECRET, $request);
        $this->assertSame('sunsky_dropship.connection_test', json_decode($request['body'], true)['event_type']);
        $this->assertSame($ok, $result['ok']);
        $this->assertStringContainsString($says, $result['message']);
        $this->assertSame([], $this->outbox(), 'a test publishes nothing');
    }

    public static function connectionAnswers(): array
    {
        return [
            'signature accepted, body refused' => [422, true, 'signature was accepted'],
            'secret differs' => [401, false, 'signing secret differs'],
            'wrong path' => [404, false, 'without /v1/events'],
            'broker down' => [503, false, 'message broker'],
            'no answer' => [null, false, 'Could not resolve host'],
        ];
    }

    private function payInvoice(): void
    {
        $this->invoice('contract_example');
        hooks()->do_action('invoice_status_changed', ['invoice_id' => 42, 'status' => '2']);
    }
}
