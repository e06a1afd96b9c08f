<?php

use PHPUnit\Framework\TestCase;
use SunskyDropship\CurlTransport;
use SunskyDropship\TransportException;

/** The real curl transport against a local php -S server. */
final class CurlTransportTest extends TestCase
{
    /** @var resource */
    private static $server;
    /** @var string */
    private static $url;

    public static function setUpBeforeClass(): void
    {
        $port = self::freePort();
        self::$url = 'http://127.0.0.1:' . $port;
        self::$server = proc_open(
            [PHP_BINARY, '-S', '127.0.0.1:' . $port, dirname(__DIR__) . '/fixtures/echo_server.php'],
            [0 => ['file', '/dev/null', 'r'], 1 => ['file', '/dev/null', 'w'], 2 => ['file', '/dev/null', 'w']],
            $pipes
        );
        for ($i = 0; $i < 100 && !@fsockopen('127.0.0.1', $port); $i++) {
            usleep(50000);
        }
    }

    public static function tearDownAfterClass(): void
    {
        proc_terminate(self::$server);
        proc_close(self::$server);
    }

    public function testItPostsTheBodyAndHeadersAsGivenAndReadsTheAnswer(): void
    {
        $body = json_encode(['street' => '12 Elm St<br />Apt 4', 'name' => 'Zoë', 'pad' => str_repeat('x', 4000)]);

        $response = (new CurlTransport())->post(self::$url . '/echo?status=503&retry_after=120', [
            'Content-Type' => 'application/json',
            'webhook-id' => 'evt-1',
            'webhook-timestamp' => '1795688100',
            'webhook-signature' => 'v1,abc=',
        ], $body, 5);

        $this->assertSame(503, $response->status());
        $this->assertSame('120', $response->header('Retry-After'));
        $echo = json_decode($response->body(), true);
        $this->assertSame('POST', $echo['method']);
        $this->assertSame($body, $echo['body'], 'the exact bytes that were signed');
        $this->assertSame('evt-1', $echo['headers']['webhook-id']);
        $this->assertSame('v1,abc=', $echo['headers']['webhook-signature']);
        $this->assertSame('application/json', $echo['headers']['content-type']);
        $this->assertArrayNotHasKey('expect', $echo['headers'], 'no 100-continue round trip');
    }

    public function testNobodyListeningIsATransportError(): void
    {
        $this->expectException(TransportException::class);
        (new CurlTransport())->post('http://127.0.0.1:' . self::freePort() . '/v1/events', [], '{}', 5);
    }

    public function testOnlyHttpAndHttpsUrlsAreUsed(): void
    {
        $this->expectException(TransportException::class);
        (new CurlTransport())->post('file:///etc/passwd', [], '{}', 5);
    }

    public function testASlowServiceTimesOutInsteadOfHoldingTheRequest(): void
    {
        $started = microtime(true);
        try {
            (new CurlTransport())->post(self::$url . '/slow', [], '{}', 1);
            $this->fail('expected a timeout');
        } catch (TransportException $e) {
            $this->assertStringContainsString('curl error 28', $e->getMessage());
        }
        $this->assertLessThan(2.5, microtime(true) - $started);
    }

    private static function freePort(): int
    {
        $socket = stream_socket_server('tcp://127.0.0.1:0');
        $port = (int) substr(strrchr(stream_socket_get_name($socket, false), ':'), 1);
        fclose($socket);

        return $port;
    }
}
