<?php

use SunskyDropship\WebhookSignature;

/**
 * Our notifier's messages as schemas/json/order.*.schema.json define them (WebhookTest checks these
 * builders against the schema files), and signed requests carrying them.
 */
final class OrderMessages
{
    public const OCCURRED_AT = '2026-11-27T08:00:00Z';

    public static function placed(array $overrides = []): array
    {
        return $overrides + self::base('order.placed') + [
            'sunsky_order_number' => 'SO-2026-000123',
            'site_number' => 'pfx-42',
            'currency' => 'USD',
            'total_amount' => '12.34',
        ];
    }

    public static function shipped(array $overrides = []): array
    {
        return $overrides + self::base('order.shipped') + [
            'sunsky_order_number' => 'SO-2026-000123',
            'invoice_number' => 'INV-000042',
            'is_update' => false,
            'shipping_method' => 'China Post Registered Air Mail',
            'tracking_number' => 'RR123456789CN',
            'tracking_url' => 'https://track.example.com/?n=RR123456789CN',
        ];
    }

    public static function delivered(array $overrides = []): array
    {
        return $overrides + self::base('order.delivered') + [
            'sunsky_order_number' => 'SO-2026-000123',
            'invoice_number' => 'INV-000042',
        ];
    }

    public static function cancelled(array $overrides = []): array
    {
        return $overrides + self::base('order.cancelled') + [
            'reason' => 'Out of stock at SUNSKY',
            'sunsky_order_number' => 'SO-2026-000123',
            'invoice_number' => 'INV-000042',
        ];
    }

    public static function apiFailed(array $overrides = []): array
    {
        return $overrides + self::base('order.api_failed') + [
            'error_code' => 'INSUFFICIENT_BALANCE',
            'error_kind' => 'needs_action',
            'message' => 'SUNSKY says the account balance is too low',
            'fix_hint' => 'Top up the SUNSKY balance, then retry',
            'attempt' => 1,
            'first_failed_at' => self::OCCURRED_AT,
        ];
    }

    /** @return array{method: string, headers: array<string, string>, body: string} */
    public static function request(array $message, string $secret, int $timestamp, ?string $id = null): array
    {
        $body = json_encode($message, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
        $id = $id ?? $message['message_id'];

        return ['method' => 'POST', 'body' => $body, 'headers' => [
            'Content-Type' => 'application/json',
            'webhook-id' => $id,
            'webhook-timestamp' => (string) $timestamp,
            'webhook-signature' => (new WebhookSignature($secret))->sign($id, $timestamp, $body),
        ]];
    }

    private static function base(string $type): array
    {
        return [
            'type' => $type,
            'message_id' => 'msg-' . bin2hex(random_bytes(6)),
            'order_id' => 7001,
            'invoice_id' => '42',
            'occurred_at' => self::OCCURRED_AT,
        ];
    }
}
