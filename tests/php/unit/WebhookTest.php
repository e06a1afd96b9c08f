<?php

use SunskyDropship\OrderMirror;

/**
 * POST sunsky_dropship/webhook through the module's controller: refused unless signed and fresh,
 * applied once per webhook-id, a shipment noted on the invoice and e-mailed to the customer once.
 */
final class WebhookTest extends ModuleTestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        require_once module_dir_path('sunsky_dropship', 'controllers/Sunsky_dropship.php');
        $this->invoice('contract_example');
    }

    public function testTheBuildersMatchTheNotifiersJsonSchemas(): void
    {
        $messages = [OrderMessages::placed(), OrderMessages::shipped(), OrderMessages::delivered(),
            OrderMessages::cancelled(), OrderMessages::apiFailed()];
        foreach ($messages as $message) {
            $file = dirname(__DIR__, 3) . '/schemas/json/' . $message['type'] . '.schema.json';
            $schema = json_decode((string) file_get_contents($file), true);
            $this->assertSame([], array_diff($schema['required'], array_keys($message)), $message['type'] . ' lacks');
            $this->assertSame([], array_diff(array_keys($message), array_keys($schema['properties'])), $message['type'] . ' invents');
            $this->assertSame($schema['properties']['type']['const'], $message['type']);
        }
    }

    public function testABadSignatureIsRefusedAndChangesNothing(): void
    {
        $request = OrderMessages::request(OrderMessages::placed(), 'whsec_' . base64_encode('another secret'), self::NOW);

        [$status, $body] = $this->post($request);

        $this->assertSame(401, $status);
        $this->assertSame('invalid_signature', $body['error']);
        $this->assertSame([], $this->order(42));
    }

    /** @dataProvider staleTimes */
    public function testATimestampMoreThanFiveMinutesAwayIsRefused(int $offset): void
    {
        $request = OrderMessages::request(OrderMessages::placed(), self::WEBHOOK_SECRET, self::NOW + $offset);

        [$status, $body] = $this->post($request);

        $this->assertSame(401, $status);
        $this->assertSame('stale_timestamp', $body['error']);
        $this->assertSame([], $this->order(42));
    }

    public static function staleTimes(): array
    {
        return ['301 s old' => [-301], '301 s ahead' => [301], 'a day old' => [-86400]];
    }

    public function testAMessageWithoutSignatureHeadersIsRefused(): void
    {
        [$status, $body] = $this->post(['method' => 'POST', 'headers' => [], 'body' => json_encode(OrderMessages::placed())]);

        $this->assertSame([401, 'missing_headers'], [$status, $body['error']]);
    }

    public function testAGoodMessageIsAppliedOnceAndASecondDeliveryChangesNothing(): void
    {
        $request = OrderMessages::request(OrderMessages::placed(), self::WEBHOOK_SECRET, self::NOW);

        [$status, $body] = $this->post($request);
        $this->assertSame([200, 'applied', 'Placed'], [$status, $body['status'], $body['order_status']]);
        $order = $this->order(42);
        $this->assertSame('SO-2026-000123', $order['sunsky_order_number']);
        $this->assertSame('7001', $order['order_id']);

        $this->clock->advance(30);
        [$status, $body] = $this->post($request);

        $this->assertSame([200, 'duplicate'], [$status, $body['status']]);
        $this->assertSame($order, $this->order(42), 'not even updated_at moves');
    }

    public function testAShipmentIsNotedOnTheInvoiceAndEmailedToTheCustomerOnce(): void
    {
        $request = OrderMessages::request(OrderMessages::shipped(), self::WEBHOOK_SECRET, self::NOW);

        $this->assertSame(200, $this->post($request)[0]);
        $this->assertSame(200, $this->post($request)[0]);

        $order = $this->order(42);
        $this->assertSame(OrderMirror::SHIPPED, $order['status']);
        $this->assertSame('RR123456789CN', $order['tracking_number']);
        $this->assertSame('https://track.example.com/?n=RR123456789CN', $order['tracking_url']);
        $this->assertSame('China Post Registered Air Mail', $order['shipping_method']);
        [$note] = $this->notes(42);
        $this->assertStringContainsString('Tracking number: RR123456789CN', $note['description']);
        $this->assertSame('1', $note['addedfrom'], 'signed by the staff member who activated the module');
        [$email] = $this->emails();
        $this->assertSame('jane@example.com', $email['to_email']);
        $this->assertSame('sunsky-order-shipped', $email['slug']);
        $this->assertSame('Your order INV-000042 has shipped', $email['subject']);
        $this->assertStringContainsString('Hello Jane Doe', $email['message']);
        $this->assertStringContainsString('<strong>RR123456789CN</strong>', $email['message']);
        $this->assertStringContainsString('href="https://track.example.com/?n=RR123456789CN"', $email['message']);
        $this->assertStringContainsString('China Post Registered Air Mail', $email['message']);
        $this->assertStringNotContainsString('{sunsky_', $email['message'], 'every merge field filled');
    }

    public function testANewTrackingNumberIsNotedAndEmailedAgainButTheSameOneIsNot(): void
    {
        $this->post(OrderMessages::request(OrderMessages::shipped(), self::WEBHOOK_SECRET, self::NOW));
        $sameAgain = OrderMessages::shipped(['occurred_at' => '2026-11-27T09:00:00Z']);
        $this->post(OrderMessages::request($sameAgain, self::WEBHOOK_SECRET, self::NOW));
        $changed = OrderMessages::shipped(['is_update' => true, 'tracking_number' => 'LX999999999CN',
            'tracking_url' => 'https://track.example.com/?n=LX999999999CN', 'occurred_at' => '2026-11-28T08:00:00Z']);

        $this->post(OrderMessages::request($changed, self::WEBHOOK_SECRET, self::NOW));

        $this->assertSame('LX999999999CN', $this->order(42)['tracking_number']);
        $this->assertCount(2, $this->notes(42));
        $this->assertStringContainsString('changed the tracking number', $this->notes(42)[1]['description']);
        $this->assertSame(2, count($this->emails()));
        $this->assertStringContainsString('LX999999999CN', $this->emails()[1]['message']);
    }

    public function testTheShippedEmailCanBeSwitchedOff(): void
    {
        update_option('sunsky_dropship_send_shipped_email', '0');

        $this->post(OrderMessages::request(OrderMessages::shipped(), self::WEBHOOK_SECRET, self::NOW));

        $this->assertSame([], $this->emails());
        $this->assertCount(1, $this->notes(42));
    }

    public function testAnInactiveTemplateSendsNothingAndSaysSoInTheActivityLog(): void
    {
        get_instance()->db->where('slug', 'sunsky-order-shipped')->update('tblemailtemplates', ['active' => 0]);

        [$status] = $this->post(OrderMessages::request(OrderMessages::shipped(), self::WEBHOOK_SECRET, self::NOW));

        $this->assertSame(200, $status);
        $this->assertSame([], $this->emails());
        $this->assertStringContainsString('shipped e-mail for invoice 42 was not sent', implode("\n", $this->activityLog()));
    }

    public function testDeliveredCancelledAndApiFailedReachTheMirror(): void
    {
        $this->post(OrderMessages::request(OrderMessages::apiFailed(), self::WEBHOOK_SECRET, self::NOW));
        $order = $this->order(42);
        $this->assertSame(['API Failed', 'INSUFFICIENT_BALANCE', 'SUNSKY says the account balance is too low'],
            [$order['status'], $order['last_error_code'], $order['last_error_message']]);

        $this->post(OrderMessages::request(OrderMessages::placed(['occurred_at' => '2026-11-27T09:00:00Z']), self::WEBHOOK_SECRET, self::NOW));
        $order = $this->order(42);
        $this->assertSame(['Placed', null, null], [$order['status'], $order['last_error_code'], $order['last_error_message']]);

        $this->post(OrderMessages::request(OrderMessages::delivered(['occurred_at' => '2026-11-29T09:00:00Z']), self::WEBHOOK_SECRET, self::NOW));
        $this->assertSame('Delivered', $this->order(42)['status']);

        $this->invoice('unpaid_new');
        $this->post(OrderMessages::request(OrderMessages::cancelled(['invoice_id' => '43']), self::WEBHOOK_SECRET, self::NOW));
        $this->assertSame(['Cancelled', 'Out of stock at SUNSKY'],
            [$this->order(43)['status'], $this->order(43)['cancel_reason']]);
        $this->assertSame([], $this->emails(), 'only a shipment e-mails the customer');
    }

    public function testALateOlderMessageDoesNotMoveTheStatusBack(): void
    {
        $this->post(OrderMessages::request(OrderMessages::shipped(['occurred_at' => '2026-11-28T08:00:00Z']), self::WEBHOOK_SECRET, self::NOW));

        [, $body] = $this->post(OrderMessages::request(OrderMessages::placed(), self::WEBHOOK_SECRET, self::NOW));

        $this->assertSame(['stale', 'Shipped'], [$body['status'], $body['order_status']]);
        $this->assertSame('Shipped', $this->order(42)['status']);
    }

    /** @dataProvider badRequests */
    public function testBadRequestsGetAClearReason(array $message, string $method, int $status, string $error): void
    {
        $request = OrderMessages::request($message, self::WEBHOOK_SECRET, self::NOW, 'msg-bad');
        $request['method'] = $method;
        if ($message === []) {
            $request['body'] = 'not json';
            $request['headers']['webhook-signature'] = (new SunskyDropship\WebhookSignature(self::WEBHOOK_SECRET))
                ->sign('msg-bad', self::NOW, 'not json');
        }

        [$actualStatus, $body] = $this->post($request);

        $this->assertSame([$status, $error], [$actualStatus, $body['error']]);
        $this->assertNotSame('', $body['message']);
    }

    public static function badRequests(): array
    {
        return [
            'not JSON' => [[], 'POST', 400, 'bad_json'],
            'unknown type' => [['type' => 'order.ready', 'invoice_id' => '42'], 'POST', 422, 'unknown_type'],
            'no invoice id' => [['type' => 'order.placed', 'message_id' => 'x'], 'POST', 422, 'invalid_message'],
            'GET' => [['type' => 'order.placed', 'invoice_id' => '42'], 'GET', 405, 'method_not_allowed'],
        ];
    }

    public function testWithoutAWebhookSecretTheServiceIsAskedToComeBackLater(): void
    {
        update_option('sunsky_dropship_webhook_secret', '');

        [$status, $body] = $this->post(OrderMessages::request(OrderMessages::placed(), self::WEBHOOK_SECRET, self::NOW));

        $this->assertSame([503, 'not_configured'], [$status, $body['error']]);
    }

    public function testTheWebhookRouteIsExcludedFromCsrf(): void
    {
        $excluded = include module_dir_path('sunsky_dropship', 'config/csrf_exclude_uris.php');

        $this->assertSame(['sunsky_dropship/webhook'], $excluded);
    }

    /** @return array{int, array} the answer's status and JSON */
    private function post(array $request): array
    {
        $ci = get_instance();
        $ci->input = new StubInput($request['method'], $request['headers'], $request['body']);
        $ci->output = new StubOutput();
        (new Sunsky_dropship())->webhook();
        $this->assertSame('application/json', $ci->output->contentType);

        return [$ci->output->status, json_decode($ci->output->output, true)];
    }
}
