<?php

// phpcs:disable PSR1.Files.SideEffects -- the BASEPATH guard Perfex puts in every file

namespace SunskyDropship;

defined('BASEPATH') or exit('No direct script access allowed');

/**
 * Standard Webhooks 1.0 symmetric signatures, both directions.
 *
 * Signed content is "{webhook-id}.{webhook-timestamp}.{raw body}", the MAC is HMAC-SHA256 with the
 * base64-decoded part of the "whsec_<base64>" secret, and the header value is "v1,<base64 MAC>"
 * (several space-separated values are allowed, e.g. during a secret rotation). Timestamps more than
 * five minutes away from now, in either direction, are refused.
 */
final class WebhookSignature
{
    public const TOLERANCE_SECONDS = 300;
    private const SECRET_PREFIX = 'whsec_';

    /** @var string */
    private $key;

    public function __construct(string $secret)
    {
        $secret = trim($secret);
        if (strpos($secret, self::SECRET_PREFIX) === 0) {
            $secret = substr($secret, strlen(self::SECRET_PREFIX));
        }
        $key = base64_decode($secret, true);
        if ($key === false || $key === '') {
            throw new \InvalidArgumentException('A signing secret must look like whsec_<base64>');
        }
        $this->key = $key;
    }

    public function sign(string $messageId, int $timestamp, string $body): string
    {
        return 'v1,' . $this->mac($messageId, (string) $timestamp, $body);
    }

    /**
     * @param array<string, string> $headers header names in lower case
     * @throws WebhookVerificationException
     */
    public function verify(array $headers, string $body, int $now): void
    {
        $id = trim((string) ($headers['webhook-id'] ?? ''));
        $timestamp = trim((string) ($headers['webhook-timestamp'] ?? ''));
        $signatures = trim((string) ($headers['webhook-signature'] ?? ''));
        if ($id === '' || $timestamp === '' || $signatures === '') {
            throw new WebhookVerificationException(
                'missing_headers',
                'webhook-id, webhook-timestamp and webhook-signature are required'
            );
        }
        if (!ctype_digit($timestamp)) {
            throw new WebhookVerificationException('invalid_timestamp', 'webhook-timestamp must be unix seconds');
        }
        if (abs($now - (int) $timestamp) > self::TOLERANCE_SECONDS) {
            throw new WebhookVerificationException(
                'stale_timestamp',
                'webhook-timestamp is more than ' . self::TOLERANCE_SECONDS . ' seconds away from now'
            );
        }
        $expected = $this->mac($id, $timestamp, $body);
        foreach (preg_split('/\s+/', $signatures) as $candidate) {
            $parts = explode(',', $candidate, 2);
            if (count($parts) === 2 && $parts[0] === 'v1' && hash_equals($expected, $parts[1])) {
                return;
            }
        }
        throw new WebhookVerificationException('invalid_signature', 'no v1 signature matches this body');
    }

    private function mac(string $messageId, string $timestamp, string $body): string
    {
        return base64_encode(hash_hmac('sha256', $messageId . '.' . $timestamp . '.' . $body, $this->key, true));
    }
}
