<?php

// phpcs:disable PSR1.Files.SideEffects -- the BASEPATH guard Perfex puts in every file

namespace SunskyDropship;

defined('BASEPATH') or exit('No direct script access allowed');

/**
 * The module's outbox table: every event is stored before any attempt to send it, with its final
 * body and webhook-id, so a retry re-sends exactly the same bytes. Times are stored in UTC and
 * compared with bound values (never the database's NOW()).
 *
 * Status: pending -> sent | failed (refused for good, answer recorded; an admin can requeue);
 * awaiting_items is a paid event whose invoice had no items yet (see Module::invoiceStatusChanged).
 */
final class Outbox
{
    public const PENDING = 'pending';
    public const SENT = 'sent';
    public const FAILED = 'failed';
    public const AWAITING_ITEMS = 'awaiting_items';

    /** @var object CodeIgniter database */
    private $db;
    /** @var string */
    private $table;
    /** @var callable(): int */
    private $now;

    /** @param object $db */
    public function __construct($db, string $prefix, callable $now)
    {
        $this->db = $db;
        $this->table = $prefix . 'sunsky_outbox';
        $this->now = $now;
    }

    public function add(string $uid, string $type, int $invoiceId, string $body, int $firstRetryAt): void
    {
        $this->insert($uid, $type, $invoiceId, $body, self::PENDING, $firstRetryAt);
    }

    public function addAwaitingItems(string $uid, string $type, int $invoiceId): void
    {
        $this->insert($uid, $type, $invoiceId, '', self::AWAITING_ITEMS, ($this->now)());
    }

    /** Gives an awaiting_items row its body; from now on it is an ordinary pending event. */
    public function complete(string $uid, string $body, int $firstRetryAt): void
    {
        $this->db->where('event_uid', $uid)->where('status', self::AWAITING_ITEMS)->update($this->table, [
            'body' => $body,
            'status' => self::PENDING,
            'next_retry_at' => self::utc($firstRetryAt),
        ]);
    }

    /** @return array<int, array<string, mixed>> */
    public function awaitingItems(?int $invoiceId = null, ?int $createdBefore = null): array
    {
        $this->db->where('status', self::AWAITING_ITEMS);
        if ($invoiceId !== null) {
            $this->db->where('invoice_id', $invoiceId);
        }
        if ($createdBefore !== null) {
            $this->db->where('created_at <', self::utc($createdBefore));
        }

        return $this->db->order_by('id', 'ASC')->get($this->table)->result_array();
    }

    /** @return array<string, mixed>|null */
    public function find(string $uid): ?array
    {
        $row = $this->db->where('event_uid', $uid)->get($this->table)->row_array();

        return $row ?: null;
    }

    /** @return array<int, array<string, mixed>> pending rows whose retry time has come, oldest first */
    public function due(int $limit): array
    {
        return $this->db->where('status', self::PENDING)
            ->where('next_retry_at <=', self::utc(($this->now)()))
            ->order_by('id', 'ASC')
            ->limit($limit)
            ->get($this->table)
            ->result_array();
    }

    /**
     * Claims a due row until $until, so that two cron runs never send the same row at once.
     * True when this caller got it.
     */
    public function lease(string $uid, int $until): bool
    {
        $this->db->where('event_uid', $uid)
            ->where('status', self::PENDING)
            ->where('next_retry_at <=', self::utc(($this->now)()))
            ->update($this->table, ['next_retry_at' => self::utc($until)]);

        return (int) $this->db->affected_rows() === 1;
    }

    public function markSent(string $uid, int $attempts, int $statusCode): void
    {
        $this->update($uid, [
            'status' => self::SENT,
            'attempts' => $attempts,
            'last_status_code' => $statusCode,
            'last_error' => null,
            'next_retry_at' => null,
            'sent_at' => self::utc(($this->now)()),
        ]);
    }

    public function markRetry(string $uid, int $attempts, int $nextRetryAt, string $error, ?int $statusCode): void
    {
        $this->update($uid, [
            'status' => self::PENDING,
            'attempts' => $attempts,
            'next_retry_at' => self::utc($nextRetryAt),
            'last_error' => $error,
            'last_status_code' => $statusCode,
        ]);
    }

    public function markFailed(string $uid, int $attempts, string $error, int $statusCode): void
    {
        $this->update($uid, [
            'status' => self::FAILED,
            'attempts' => $attempts,
            'next_retry_at' => null,
            'last_error' => $error,
            'last_status_code' => $statusCode,
        ]);
    }

    /** Puts every refused event back in the queue (after fixing, say, the signing secret). */
    public function requeueFailed(): int
    {
        $this->db->where('status', self::FAILED)->update($this->table, [
            'status' => self::PENDING,
            'next_retry_at' => self::utc(($this->now)()),
        ]);

        return (int) $this->db->affected_rows();
    }

    /** Deletes delivered events sent before $before: their bodies hold customer data. */
    public function pruneSent(int $before): int
    {
        $this->db->where('status', self::SENT)->where('sent_at <', self::utc($before))->delete($this->table);

        return (int) $this->db->affected_rows();
    }

    /** @return array<string, int> */
    public function countsByStatus(): array
    {
        $counts = [self::PENDING => 0, self::SENT => 0, self::FAILED => 0, self::AWAITING_ITEMS => 0];
        $rows = $this->db->query(
            'SELECT status, COUNT(*) AS total FROM `' . $this->table . '` GROUP BY status'
        )->result_array();
        foreach ($rows as $row) {
            $counts[$row['status']] = (int) $row['total'];
        }

        return $counts;
    }

    /** @return array<string, mixed>|null */
    public function latestForInvoice(int $invoiceId): ?array
    {
        $row = $this->db->where('invoice_id', $invoiceId)
            ->order_by('id', 'DESC')
            ->limit(1)
            ->get($this->table)
            ->row_array();

        return $row ?: null;
    }

    public static function utc(int $timestamp): string
    {
        return gmdate('Y-m-d H:i:s', $timestamp);
    }

    private function insert(string $uid, string $type, int $invoiceId, string $body, string $status, int $retryAt): void
    {
        $this->db->insert($this->table, [
            'event_uid' => $uid,
            'event_type' => $type,
            'invoice_id' => $invoiceId,
            'body' => $body,
            'status' => $status,
            'attempts' => 0,
            'next_retry_at' => self::utc($retryAt),
            'created_at' => self::utc(($this->now)()),
        ]);
    }

    /** @param array<string, mixed> $fields */
    private function update(string $uid, array $fields): void
    {
        $this->db->where('event_uid', $uid)->update($this->table, $fields);
    }
}
