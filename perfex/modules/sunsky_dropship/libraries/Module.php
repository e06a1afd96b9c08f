<?php

// phpcs:disable PSR1.Files.SideEffects -- the BASEPATH guard Perfex puts in every file

namespace SunskyDropship;

defined('BASEPATH') or exit('No direct script access allowed');

/**
 * What the init file's hooks call, and the composition root that builds the module's objects.
 * Perfex gets one instance per request (sunsky_dropship() keeps it on the CodeIgniter super-object,
 * like any CodeIgniter library); the tests build their own with a recording transport.
 */
final class Module
{
    /** a paid event still waiting for its invoice's items is built by cron after this long */
    private const AWAITING_ITEMS_SECONDS = 600;
    /** delivered events are kept this long (the invoice's SUNSKY tab shows the latest one) */
    private const KEEP_SENT_SECONDS = 30 * 86400;

    /** @var PerfexRuntime */
    private $perfex;
    /** @var Outbox */
    private $outbox;
    /** @var OrderMirror */
    private $mirror;
    /** @var EventBuilder */
    private $builder;
    /** @var OutboxRelay */
    private $relay;
    /** @var AfterResponse */
    private $afterResponse;
    /** @var WebhookHandler */
    private $webhook;
    /** @var callable(): int */
    private $now;
    /** @var callable(): string */
    private $newId;

    public function __construct(
        PerfexRuntime $perfex,
        Outbox $outbox,
        OrderMirror $mirror,
        OutboxRelay $relay,
        AfterResponse $afterResponse,
        WebhookHandler $webhook,
        callable $now,
        callable $newId
    ) {
        $this->perfex = $perfex;
        $this->outbox = $outbox;
        $this->mirror = $mirror;
        $this->builder = new EventBuilder($perfex, $now);
        $this->relay = $relay;
        $this->afterResponse = $afterResponse;
        $this->webhook = $webhook;
        $this->now = $now;
        $this->newId = $newId;
    }

    /**
     * @param object $ci the CodeIgniter super-object
     * @param callable(): int $now
     * @param callable(callable): void $defer runs a callable after the response (register_shutdown_function)
     */
    public static function create($ci, HttpTransport $transport, callable $now, callable $defer): self
    {
        $prefix = db_prefix();
        $perfex = new PerfexRuntime($ci);
        $outbox = new Outbox($ci->db, $prefix, $now);
        $mirror = new OrderMirror($ci->db, $prefix, $now);
        $relay = new OutboxRelay($outbox, $transport, $perfex, $now);

        return new self(
            $perfex,
            $outbox,
            $mirror,
            $relay,
            new AfterResponse($relay, $defer),
            new WebhookHandler($ci->db, $prefix, $mirror, $perfex, $now),
            $now,
            [self::class, 'uuid4']
        );
    }

    /**
     * after_invoice_added($invoice_id): invoice.created, unless the invoice is a draft.
     *
     * @param mixed $invoiceId
     */
    public function invoiceAdded($invoiceId): void
    {
        $invoice = $this->perfex->invoice((int) $invoiceId);
        if ($invoice === null) {
            return;
        }
        if (!$this->perfex->isDraft($invoice)) {
            $this->publish(EventBuilder::CREATED, ($this->newId)(), $invoice);
        }
        foreach ($this->outbox->awaitingItems((int) $invoice->id) as $row) {
            $this->complete($row, $invoice);
        }
    }

    /**
     * invoice_status_changed(['invoice_id' => ..., 'status' => ...]): invoice.paid when the new
     * status is Invoices_model::STATUS_PAID (by payment, credit note or a zero total).
     *
     * @param mixed $data
     */
    public function invoiceStatusChanged($data): void
    {
        if (!is_array($data) || !$this->perfex->isPaidStatus($data['status'] ?? null)) {
            return;
        }
        $invoice = $this->perfex->invoice((int) ($data['invoice_id'] ?? 0));
        if ($invoice === null || $this->perfex->isDraft($invoice)) {
            return;
        }
        if (empty($invoice->items)) {
            // A zero-total invoice turns paid inside invoices_model->add(), before its items are
            // saved: after_invoice_added (or, failing that, cron) builds the event once they are.
            $this->outbox->addAwaitingItems(($this->newId)(), EventBuilder::PAID, (int) $invoice->id);

            return;
        }
        $this->publish(EventBuilder::PAID, ($this->newId)(), $invoice);
    }

    /** @return array<string, int> after_cron_run: what the retry pass did */
    public function cron(): array
    {
        $this->outbox->pruneSent(($this->now)() - self::KEEP_SENT_SECONDS);
        $cutoff = ($this->now)() - self::AWAITING_ITEMS_SECONDS;
        foreach ($this->outbox->awaitingItems(null, $cutoff) as $row) {
            $invoice = $this->perfex->invoice((int) $row['invoice_id']);
            if ($invoice === null) {
                $this->outbox->markFailed($row['event_uid'], 0, 'the invoice no longer exists', 0);
            } else {
                $this->complete($row, $invoice);
            }
        }

        return $this->relay->retryDue();
    }

    /** Sends what this request queued now instead of at shutdown (the harness and the tests). */
    public function flush(): void
    {
        $this->afterResponse->run();
    }

    /** @param array<string, string> $headers header names in lower case */
    public function webhook(string $method, array $headers, string $body): WebhookResponse
    {
        return $this->webhook->handle($method, $headers, $body);
    }

    /** @return array{ok: bool, status: ?int, message: string} */
    public function testConnection(): array
    {
        return $this->relay->testConnection();
    }

    public function requeueFailed(): int
    {
        return $this->outbox->requeueFailed();
    }

    /** @return array<string, int> */
    public function outboxCounts(): array
    {
        return $this->outbox->countsByStatus();
    }

    /** @return array{order: ?array, outbox: ?array} what the invoice's SUNSKY tab shows */
    public function invoicePanel(int $invoiceId): array
    {
        return ['order' => $this->mirror->find($invoiceId), 'outbox' => $this->outbox->latestForInvoice($invoiceId)];
    }

    public static function uuid4(): string
    {
        $bytes = random_bytes(16);
        $bytes[6] = chr((ord($bytes[6]) & 0x0f) | 0x40);
        $bytes[8] = chr((ord($bytes[8]) & 0x3f) | 0x80);

        return vsprintf('%s%s-%s-%s-%s-%s%s%s', str_split(bin2hex($bytes), 4));
    }

    /** @param object $invoice */
    private function publish(string $type, string $uid, $invoice): void
    {
        $body = EventBuilder::encode($this->builder->build($type, $uid, $invoice));
        $this->outbox->add($uid, $type, (int) $invoice->id, $body, ($this->now)() + OutboxRelay::INLINE_GRACE_SECONDS);
        $this->afterResponse->queue($uid);
    }

    /**
     * @param array<string, mixed> $row an awaiting_items outbox row
     * @param object $invoice
     */
    private function complete(array $row, $invoice): void
    {
        $uid = (string) $row['event_uid'];
        $body = EventBuilder::encode($this->builder->build((string) $row['event_type'], $uid, $invoice));
        $this->outbox->complete($uid, $body, ($this->now)() + OutboxRelay::INLINE_GRACE_SECONDS);
        $this->afterResponse->queue($uid);
    }
}
