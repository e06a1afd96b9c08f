<?php

// phpcs:disable PSR1.Files.SideEffects -- the BASEPATH guard Perfex puts in every file

namespace SunskyDropship;

defined('BASEPATH') or exit('No direct script access allowed');

/**
 * Perfex's copy of each order's state, one row per invoice, fed by the dropship service's
 * order.* messages. Messages can arrive late or out of order: one older than the last applied
 * message only fills in what is still unknown (the SUNSKY number), it never moves the status back.
 */
final class OrderMirror
{
    public const PLACED = 'Placed';
    public const SHIPPED = 'Shipped';
    public const DELIVERED = 'Delivered';
    public const CANCELLED = 'Cancelled';
    public const API_FAILED = 'API Failed';

    public const STATUS_BY_TYPE = [
        'order.placed' => self::PLACED,
        'order.shipped' => self::SHIPPED,
        'order.delivered' => self::DELIVERED,
        'order.cancelled' => self::CANCELLED,
        'order.api_failed' => self::API_FAILED,
    ];

    /** column => longest value it takes */
    private const LENGTHS = [
        'sunsky_order_number' => 64,
        'tracking_number' => 100,
        'tracking_url' => 1000,
        'shipping_method' => 191,
        'last_error_code' => 64,
        'last_error_message' => 2000,
        'cancel_reason' => 2000,
    ];

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
        $this->table = $prefix . 'sunsky_orders';
        $this->now = $now;
    }

    public static function knows(string $type): bool
    {
        return isset(self::STATUS_BY_TYPE[$type]);
    }

    /** @return array<string, mixed>|null */
    public function find(int $invoiceId): ?array
    {
        $row = $this->db->where('invoice_id', $invoiceId)->get($this->table)->row_array();

        return $row && $row['status'] !== '' ? $row : null;
    }

    /**
     * Applies one message; call it inside the caller's transaction (the row stays locked).
     *
     * @param array<string, mixed> $message
     * @return array{previous: ?array, current: array, applied: bool, shipped: bool}
     */
    public function apply(string $type, array $message): array
    {
        $invoiceId = (int) $message['invoice_id'];
        $previous = $this->lock($invoiceId);
        $occurredAt = self::timestamp($message['occurred_at'] ?? null) ?? ($this->now)();
        $stale = $previous !== null && $previous['last_event_at'] !== null
            && $occurredAt < (int) strtotime($previous['last_event_at'] . ' UTC');
        $fields = $this->fieldsFor($type, $message);
        if ($stale) {
            $fields = array_filter($fields, function ($value, $column) use ($previous) {
                return in_array($column, ['sunsky_order_number', 'order_id'], true) && $previous[$column] === null
                    && $value !== null;
            }, ARRAY_FILTER_USE_BOTH);
        } else {
            $fields['status'] = self::STATUS_BY_TYPE[$type];
            $fields['last_event_type'] = $type;
            $fields['last_event_at'] = Outbox::utc($occurredAt);
        }
        $fields['updated_at'] = Outbox::utc(($this->now)());
        $this->db->where('invoice_id', $invoiceId)->update($this->table, $fields);
        $current = $this->find($invoiceId);
        $shipped = !$stale && $type === 'order.shipped' && ($previous === null
            || $previous['status'] !== self::SHIPPED
            || (string) $previous['tracking_number'] !== (string) $current['tracking_number']);

        return ['previous' => $previous, 'current' => $current, 'applied' => !$stale, 'shipped' => $shipped];
    }

    /** Creates the row if needed and locks it until the transaction ends. */
    private function lock(int $invoiceId): ?array
    {
        $this->db->query(
            'INSERT IGNORE INTO `' . $this->table . '` (invoice_id, status, updated_at) VALUES (?, ?, ?)',
            [$invoiceId, '', Outbox::utc(($this->now)())]
        );
        $row = $this->db->query(
            'SELECT * FROM `' . $this->table . '` WHERE invoice_id = ? FOR UPDATE',
            [$invoiceId]
        )->row_array();

        return $row && $row['status'] !== '' ? $row : null;
    }

    /**
     * The columns a message sets; a field the message leaves out or sends as null keeps its value.
     *
     * @param array<string, mixed> $message
     * @return array<string, mixed>
     */
    private function fieldsFor(string $type, array $message): array
    {
        $fields = [];
        $columns = ['sunsky_order_number' => 'sunsky_order_number'];
        if ($type === 'order.placed') {
            $fields = ['last_error_code' => null, 'last_error_message' => null];  // placed after all
        } elseif ($type === 'order.shipped') {
            $columns += [
                'tracking_number' => 'tracking_number',
                'tracking_url' => 'tracking_url',
                'shipping_method' => 'shipping_method',
            ];
        } elseif ($type === 'order.cancelled') {
            $columns['cancel_reason'] = 'reason';
        } elseif ($type === 'order.api_failed') {
            $columns = ['last_error_code' => 'error_code', 'last_error_message' => 'message'];
        }
        foreach ($columns as $column => $key) {
            $value = $message[$key] ?? null;
            if ($value !== null && !is_array($value)) {
                $fields[$column] = self::clip((string) $value, self::LENGTHS[$column]);
            }
        }
        if (isset($message['order_id']) && is_numeric($message['order_id'])) {
            $fields['order_id'] = (int) $message['order_id'];
        }

        return $fields;
    }

    /** @param mixed $value an ISO-8601 date-time */
    private static function timestamp($value): ?int
    {
        if (!is_string($value) || $value === '') {
            return null;
        }
        $at = strtotime($value);

        return $at === false ? null : $at;
    }

    private static function clip(string $value, int $length): string
    {
        return mb_substr($value, 0, $length, 'UTF-8');
    }
}
