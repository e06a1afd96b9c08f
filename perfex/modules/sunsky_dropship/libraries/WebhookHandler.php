<?php

// phpcs:disable PSR1.Files.SideEffects -- the BASEPATH guard Perfex puts in every file

namespace SunskyDropship;

defined('BASEPATH') or exit('No direct script access allowed');

/**
 * POST {perfex}/sunsky_dropship/webhook: the dropship service's order.* messages, one per request,
 * signed with Standard Webhooks and the "Perfex webhook secret".
 *
 * Answers: 200 applied (or "duplicate": that webhook-id was applied before, nothing changes;
 * "stale": older than what is shown, only missing details filled in), 401 signature or timestamp,
 * 400 not a JSON object, 413 too large, 422 unknown type or no invoice_id, 503 not configured,
 * 500 could not store (the sender retries). The webhook-id is recorded in the same transaction as
 * the change, so a message is applied exactly once; the customer e-mail goes out after commit.
 */
final class WebhookHandler
{
    public const MAX_BODY_BYTES = 1048576;
    private const MAX_ID_LENGTH = 191;

    /** @var object CodeIgniter database */
    private $db;
    /** @var string */
    private $idsTable;
    /** @var OrderMirror */
    private $mirror;
    /** @var PerfexRuntime */
    private $perfex;
    /** @var callable(): int */
    private $now;

    /** @param object $db */
    public function __construct($db, string $prefix, OrderMirror $mirror, PerfexRuntime $perfex, callable $now)
    {
        $this->db = $db;
        $this->idsTable = $prefix . 'sunsky_webhook_ids';
        $this->mirror = $mirror;
        $this->perfex = $perfex;
        $this->now = $now;
    }

    /** @param array<string, string> $headers header names in lower case */
    public function handle(string $method, array $headers, string $body): WebhookResponse
    {
        if (strtoupper($method) !== 'POST') {
            return WebhookResponse::refuse(405, 'method_not_allowed', 'Send the message with POST');
        }
        $refusal = $this->verify($headers, $body);
        if ($refusal !== null) {
            return $refusal;
        }
        $decoded = json_decode($body);
        if (!is_object($decoded)) {
            return WebhookResponse::refuse(400, 'bad_json', 'The body must be a JSON object');
        }
        $message = json_decode($body, true);
        $type = $message['type'] ?? null;
        if (!is_string($type) || !OrderMirror::knows($type)) {
            return WebhookResponse::refuse(422, 'unknown_type', 'Unknown message type; expected one of '
                . implode(', ', array_keys(OrderMirror::STATUS_BY_TYPE)));
        }
        $invoiceId = $message['invoice_id'] ?? null;
        if (!is_scalar($invoiceId) || !ctype_digit((string) $invoiceId) || (int) $invoiceId <= 0) {
            return WebhookResponse::refuse(422, 'invalid_message', 'invoice_id must be a Perfex invoice id');
        }

        return $this->apply(trim($headers['webhook-id']), $type, $message);
    }

    /** @param array<string, string> $headers */
    private function verify(array $headers, string $body): ?WebhookResponse
    {
        $secret = $this->perfex->option('sunsky_dropship_webhook_secret');
        if ($secret === '') {
            return WebhookResponse::refuse(503, 'not_configured', 'The Perfex webhook secret is not set in Perfex');
        }
        if (strlen($body) > self::MAX_BODY_BYTES) {
            return WebhookResponse::refuse(413, 'too_large', 'The body is larger than 1 MB');
        }
        try {
            (new WebhookSignature($secret))->verify($headers, $body, ($this->now)());
        } catch (\InvalidArgumentException $e) {
            return WebhookResponse::refuse(503, 'not_configured', 'The Perfex webhook secret is not a whsec_ secret');
        } catch (WebhookVerificationException $e) {
            return WebhookResponse::refuse(401, $e->reason(), $e->getMessage());
        }
        if (strlen(trim($headers['webhook-id'])) > self::MAX_ID_LENGTH) {
            return WebhookResponse::refuse(422, 'invalid_message', 'webhook-id is longer than 191 characters');
        }

        return null;
    }

    /** @param array<string, mixed> $message */
    private function apply(string $webhookId, string $type, array $message): WebhookResponse
    {
        $invoiceId = (int) $message['invoice_id'];
        $this->db->trans_begin();
        try {
            if (!$this->remember($webhookId, $type, $invoiceId)) {
                $this->db->trans_rollback();

                return new WebhookResponse(200, ['status' => 'duplicate', 'webhook_id' => $webhookId]);
            }
            $change = $this->mirror->apply($type, $message);
            if ($change['shipped']) {
                $this->perfex->addInvoiceNote($invoiceId, self::shippedNote($change), ($this->now)());
            }
            $this->db->trans_commit();
        } catch (\Throwable $e) {
            $this->db->trans_rollback();
            $this->perfex->log('could not store ' . $type . ' for invoice ' . $invoiceId . ': ' . $e->getMessage());

            return WebhookResponse::refuse(500, 'internal_error', 'The update could not be stored; send it again');
        }
        if ($change['shipped']) {
            $this->sendShippedEmail($invoiceId, $change['current']);
        }

        return new WebhookResponse(200, [
            'status' => $change['applied'] ? 'applied' : 'stale',
            'invoice_id' => (string) $invoiceId,
            'order_status' => $change['current']['status'],
        ]);
    }

    /** True the first time this webhook-id is seen (the row is part of the open transaction). */
    private function remember(string $webhookId, string $type, int $invoiceId): bool
    {
        $this->db->query(
            'INSERT IGNORE INTO `' . $this->idsTable . '` (webhook_id, message_type, invoice_id, received_at)'
            . ' VALUES (?, ?, ?, ?)',
            [$webhookId, $type, $invoiceId, Outbox::utc(($this->now)())]
        );

        return (int) $this->db->affected_rows() === 1;
    }

    /** @param array<string, mixed> $order */
    private function sendShippedEmail(int $invoiceId, array $order): void
    {
        if ($this->perfex->option('sunsky_dropship_send_shipped_email') !== '1') {
            return;
        }
        $invoice = $this->perfex->invoice($invoiceId);
        $contact = $invoice ? $this->perfex->primaryContact((int) $invoice->clientid) : null;
        if (!$invoice || !$contact || trim((string) ($contact['email'] ?? '')) === '') {
            $this->perfex->log('no shipped e-mail for invoice ' . $invoiceId . ': no primary contact with an e-mail');

            return;
        }
        try {
            $sent = $this->perfex->sendShippedEmail($invoice, $contact, $order);
        } catch (\Throwable $e) {
            $sent = false;
        }
        if (!$sent) {
            $this->perfex->log('the shipped e-mail for invoice ' . $invoiceId . ' was not sent (is the '
                . '"SUNSKY order shipped" e-mail template active?)');
        }
    }

    /** @param array{previous: ?array, current: array} $change */
    private static function shippedNote(array $change): string
    {
        $order = $change['current'];
        $changed = $change['previous'] !== null && $change['previous']['status'] === OrderMirror::SHIPPED;
        $lines = [$changed ? 'SUNSKY changed the tracking number of this order.' : 'The SUNSKY order has shipped.'];
        $details = [
            'SUNSKY order' => $order['sunsky_order_number'],
            'Shipping method' => $order['shipping_method'],
            'Tracking number' => $order['tracking_number'],
            'Track it' => $order['tracking_url'],
        ];
        foreach ($details as $label => $value) {
            if ($value !== null && $value !== '') {
                $lines[] = $label . ': ' . $value;
            }
        }

        return implode("\n", $lines);
    }
}
