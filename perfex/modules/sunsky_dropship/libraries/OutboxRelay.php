<?php

// phpcs:disable PSR1.Files.SideEffects -- the BASEPATH guard Perfex puts in every file

namespace SunskyDropship;

defined('BASEPATH') or exit('No direct script access allowed');

/**
 * Delivers outbox rows to the dropship ingest: POST {ingest_url}/v1/events, Standard Webhooks
 * headers, the row's event_uid as webhook-id and its stored body, byte for byte, on every attempt
 * (a fresh timestamp and signature each time, as the specification asks).
 *
 * What each answer means for the row:
 *   2xx                       sent (202 also when the ingest had the webhook-id already)
 *   4xx except 408 and 429    failed: refused for good, answer recorded, nothing retried
 *                             (401 bad signature, 400 not JSON, 413 too large, 422 wrong shape)
 *   408, 429, 3xx, 5xx,       pending again: retried from cron with exponential backoff
 *   no answer at all          (60 s doubling, capped at 6 h; a longer Retry-After wins)
 * Nothing is ever dropped because our side is down.
 */
final class OutboxRelay
{
    public const SENT = 'sent';
    public const RETRY = 'retry';
    public const FAILED = 'failed';

    public const TIMEOUT_SECONDS = 5;
    /** how long cron leaves a new row to the send after the response, before trying it too */
    public const INLINE_GRACE_SECONDS = 120;
    public const BACKOFF_BASE_SECONDS = 60;
    public const BACKOFF_CAP_SECONDS = 21600;
    public const LEASE_SECONDS = 60;
    public const CRON_BATCH = 50;
    /** a cron run stops after this many deliveries in a row found the service down */
    public const CRON_GIVE_UP_AFTER = 3;

    private const EVENTS_PATH = '/v1/events';
    private const USER_AGENT = 'sunsky-dropship-perfex/1.0.0';
    private const ERROR_EXCERPT_BYTES = 500;

    /** @var Outbox */
    private $outbox;
    /** @var HttpTransport */
    private $transport;
    /** @var PerfexRuntime */
    private $perfex;
    /** @var callable(): int */
    private $now;

    public function __construct(Outbox $outbox, HttpTransport $transport, PerfexRuntime $perfex, callable $now)
    {
        $this->outbox = $outbox;
        $this->transport = $transport;
        $this->perfex = $perfex;
        $this->now = $now;
    }

    /**
     * Sends the events this request stored. Stops at the first one that could not be delivered:
     * when the ingest is down, one timeout is enough, and cron retries the rest.
     *
     * @param string[] $uids
     */
    public function sendNow(array $uids): void
    {
        foreach ($uids as $uid) {
            $row = $this->outbox->find($uid);
            if ($row === null || $row['status'] !== Outbox::PENDING) {
                continue;
            }
            if ($this->attempt($row) === self::RETRY) {
                return;
            }
        }
    }

    /**
     * Cron's pass over the rows that are due, oldest first. When the service is down, it stops
     * after a few attempts instead of spending a timeout on every row; the rest stay due.
     *
     * @return array<string, int> how many rows were sent, left for a retry, refused
     */
    public function retryDue(int $limit = self::CRON_BATCH): array
    {
        $summary = [self::SENT => 0, self::RETRY => 0, self::FAILED => 0];
        $downInARow = 0;
        foreach ($this->outbox->due($limit) as $row) {
            if (!$this->outbox->lease($row['event_uid'], ($this->now)() + self::LEASE_SECONDS)) {
                continue;
            }
            $outcome = $this->attempt($row);
            $summary[$outcome]++;
            $downInARow = $outcome === self::RETRY ? $downInARow + 1 : 0;
            if ($downInARow >= self::CRON_GIVE_UP_AFTER) {
                break;
            }
        }

        return $summary;
    }

    /**
     * One delivery attempt of one outbox row; its outcome is recorded on the row.
     *
     * @param array<string, mixed> $row
     */
    public function attempt(array $row): string
    {
        $uid = (string) $row['event_uid'];
        $attempts = (int) $row['attempts'] + 1;
        try {
            $response = $this->post($uid, (string) $row['body']);
        } catch (TransportException $e) {
            return $this->retry($uid, $attempts, $e->getMessage(), null, 0);
        }
        $status = $response->status();
        if ($status >= 200 && $status < 300) {
            $this->outbox->markSent($uid, $attempts, $status);

            return self::SENT;
        }
        $error = 'HTTP ' . $status . ': ' . self::excerpt($response->body());
        if (self::isPermanentRefusal($status)) {
            $this->outbox->markFailed($uid, $attempts, $error, $status);
            $this->perfex->log(sprintf(
                'the ingest refused %s for invoice %s (%s); fix the cause, then re-send failed events in settings',
                $row['event_type'],
                $row['invoice_id'],
                $error
            ));

            return self::FAILED;
        }

        return $this->retry($uid, $attempts, $error, $status, self::retryAfterSeconds($response, ($this->now)()));
    }

    public static function isPermanentRefusal(int $status): bool
    {
        return $status >= 400 && $status < 500 && $status !== 408 && $status !== 429;
    }

    public static function backoffSeconds(int $attempts): int
    {
        $delay = self::BACKOFF_BASE_SECONDS << min(max($attempts - 1, 0), 20);

        return min($delay, self::BACKOFF_CAP_SECONDS);
    }

    /**
     * "Test connection": a signed POST /v1/events whose body is valid JSON of the wrong shape, so the
     * ingest checks the signature and then refuses it with 422 without publishing anything.
     *
     * @return array{ok: bool, status: ?int, message: string}
     */
    public function testConnection(): array
    {
        $uid = 'connection-test-' . bin2hex(random_bytes(8));
        $body = (string) json_encode([
            'event_type' => 'sunsky_dropship.connection_test',
            'event_id' => $uid,
            'note' => 'Signed on purpose with a body the ingest must refuse.',
        ]);
        try {
            $response = $this->post($uid, $body);
        } catch (TransportException $e) {
            return ['ok' => false, 'status' => null, 'message' => 'No answer from the ingest: ' . $e->getMessage()];
        }

        return self::explainTestAnswer($response);
    }

    /** @return array{ok: bool, status: int, message: string} */
    private static function explainTestAnswer(HttpResponse $response): array
    {
        $status = $response->status();
        $said = ' The ingest said: ' . self::excerpt($response->body());
        if ($status === 401) {
            $message = 'Signature refused (401): the signing secret differs from the dropship service\'s, '
                . 'or this server\'s clock is more than 5 minutes off.';
        } elseif ($status === 404) {
            $message = 'Not found (404): the ingest URL should be the service\'s base URL, without /v1/events.';
        } elseif ($status >= 400 && $status < 500) {
            return ['ok' => true, 'status' => $status, 'message' => 'Connected, and the signature was accepted: '
                . 'the ingest refused the deliberately invalid test body with ' . $status . ', as it should.' . $said];
        } elseif ($status >= 200 && $status < 300) {
            return ['ok' => true, 'status' => $status, 'message' => 'Connected; the ingest accepted the request.'];
        } elseif ($status === 503) {
            $message = 'The ingest is up but cannot reach its message broker (503); events wait in the outbox.';
        } elseif ($status >= 300 && $status < 400) {
            $message = 'Redirected (' . $status . '): check the ingest URL (https?).';
        } else {
            $message = 'The ingest answered ' . $status . '.';
        }

        return ['ok' => false, 'status' => $status, 'message' => $message . $said];
    }

    /** @throws TransportException */
    private function post(string $uid, string $body): HttpResponse
    {
        $url = $this->perfex->option('sunsky_dropship_ingest_url');
        $secret = $this->perfex->option('sunsky_dropship_signing_secret');
        if ($url === '' || $secret === '') {
            throw new TransportException('not configured: set the ingest URL and the signing secret in settings');
        }
        try {
            $signer = new WebhookSignature($secret);
        } catch (\InvalidArgumentException $e) {
            throw new TransportException('signing secret: ' . $e->getMessage());
        }
        $timestamp = ($this->now)();

        return $this->transport->post(rtrim($url, '/') . self::EVENTS_PATH, [
            'Content-Type' => 'application/json',
            'User-Agent' => self::USER_AGENT,
            'webhook-id' => $uid,
            'webhook-timestamp' => (string) $timestamp,
            'webhook-signature' => $signer->sign($uid, $timestamp, $body),
        ], $body, self::TIMEOUT_SECONDS);
    }

    private function retry(string $uid, int $attempts, string $error, ?int $status, int $retryAfter): string
    {
        $delay = max(self::backoffSeconds($attempts), min($retryAfter, self::BACKOFF_CAP_SECONDS));
        $this->outbox->markRetry($uid, $attempts, ($this->now)() + $delay, $error, $status);

        return self::RETRY;
    }

    /** Retry-After in seconds or as an HTTP date; 0 when absent. */
    private static function retryAfterSeconds(HttpResponse $response, int $now): int
    {
        $value = trim((string) $response->header('Retry-After'));
        if ($value === '') {
            return 0;
        }
        if (ctype_digit($value)) {
            return (int) $value;
        }
        $at = strtotime($value);

        return $at === false ? 0 : max(0, $at - $now);
    }

    /** A short, valid UTF-8 excerpt of an answer, fit for a utf8mb4 column. */
    private static function excerpt(string $body): string
    {
        $body = trim((string) preg_replace('/\s+/', ' ', mb_convert_encoding($body, 'UTF-8', 'UTF-8')));
        if (strlen($body) <= self::ERROR_EXCERPT_BYTES) {
            return $body;
        }

        return mb_strcut($body, 0, self::ERROR_EXCERPT_BYTES, 'UTF-8') . '...';
    }
}
