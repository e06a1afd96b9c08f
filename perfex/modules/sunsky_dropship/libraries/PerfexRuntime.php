<?php

// phpcs:disable PSR1.Files.SideEffects -- the BASEPATH guard Perfex puts in every file

namespace SunskyDropship;

defined('BASEPATH') or exit('No direct script access allowed');

/**
 * Everything the module asks of Perfex itself, in one place: options, the invoice model, helpers
 * for countries, custom fields, numbers and e-mails, the notes table and the activity log.
 * The rest of the module talks to this class, so the tests can run it against a stubbed Perfex.
 */
final class PerfexRuntime
{
    public const MODULE = 'sunsky_dropship';
    public const SHIPPED_MAIL_CLASS = 'sunsky_order_shipped';
    private const DRAFT_NUMBER = '1000000000';

    /** @var object the CodeIgniter super-object */
    private $ci;

    /** @param object $ci */
    public function __construct($ci)
    {
        $this->ci = $ci;
    }

    public function option(string $name): string
    {
        return trim((string) get_option($name));
    }

    /** @return object|null what invoices_model->get() returns: columns, items, client, payments */
    public function invoice(int $invoiceId)
    {
        $this->ci->load->model('invoices_model');
        $invoice = $this->ci->invoices_model->get($invoiceId);

        return is_object($invoice) ? $invoice : null;
    }

    /** @param mixed $status as Perfex passes it: "2" or 2 */
    public function isPaidStatus($status): bool
    {
        $this->ci->load->model('invoices_model');

        return is_numeric($status) && (int) $status === (int) \Invoices_model::STATUS_PAID;
    }

    /** @param object $invoice */
    public function isDraft($invoice): bool
    {
        $this->ci->load->model('invoices_model');
        $draftNumber = defined('Invoices_model::STATUS_DRAFT_NUMBER')
            ? (string) \Invoices_model::STATUS_DRAFT_NUMBER
            : self::DRAFT_NUMBER;

        return (string) $invoice->status === (string) \Invoices_model::STATUS_DRAFT
            || (string) $invoice->number === $draftNumber;
    }

    /** @param object $invoice */
    public function formattedNumber($invoice): ?string
    {
        if (function_exists('format_invoice_number')) {
            return (string) format_invoice_number($invoice->id);
        }

        return isset($invoice->formatted_number) ? (string) $invoice->formatted_number : null;
    }

    public function itemCustomField(int $itemId, string $slug): string
    {
        return trim((string) get_custom_field_value($itemId, $slug, 'items', false));
    }

    /**
     * @param mixed $countryId
     * @return array{iso2: ?string, name: ?string}
     */
    public function country($countryId): array
    {
        $row = is_numeric($countryId) && (int) $countryId > 0 ? get_country((int) $countryId) : null;
        if (!$row) {
            return ['iso2' => null, 'name' => null];
        }
        $row = (object) $row;

        return ['iso2' => $row->iso2 ?? null, 'name' => $row->short_name ?? null];
    }

    /** @return array<string, mixed>|null */
    public function primaryContact(int $clientId): ?array
    {
        if ($clientId <= 0) {
            return null;
        }
        $this->ci->load->model('clients_model');
        $contacts = $this->ci->clients_model->get_contacts($clientId, ['active' => 1, 'is_primary' => 1]);
        $first = is_array($contacts) && $contacts ? reset($contacts) : null;

        return $first ? (array) $first : null;
    }

    public function version(): ?string
    {
        if (function_exists('get_app_version')) {
            return (string) get_app_version();
        }
        if (isset($this->ci->app) && method_exists($this->ci->app, 'get_current_db_version')) {
            return implode('.', str_split((string) $this->ci->app->get_current_db_version()));
        }

        return null;
    }

    public function baseUrl(): string
    {
        return rtrim((string) site_url(), '/');
    }

    public function webhookUrl(): string
    {
        return (string) site_url(self::MODULE . '/webhook');
    }

    public function log(string $message): void
    {
        log_activity('SUNSKY Dropship: ' . $message);
    }

    /**
     * Written straight to the notes table rather than through misc_model->add_note(): add_note()
     * stamps the note with get_staff_user_id(), which is empty in a webhook request, and the invoice's
     * Notes tab joins notes to staff, so such a note would never show. The note is signed with the
     * staff member who activated the module (option sunsky_dropship_note_staff_id).
     */
    public function addInvoiceNote(int $invoiceId, string $text, int $now): void
    {
        $this->ci->db->insert(db_prefix() . 'notes', [
            'rel_id' => $invoiceId,
            'rel_type' => 'invoice',
            'description' => nl2br(htmlspecialchars($text, ENT_QUOTES, 'UTF-8')),
            'addedfrom' => max(1, (int) $this->option('sunsky_dropship_note_staff_id')),
            'dateadded' => date('Y-m-d H:i:s', $now),
        ]);
    }

    /**
     * Perfex renders and sends (or queues) the "sunsky-order-shipped" e-mail template.
     *
     * @param object $invoice
     * @param array<string, mixed> $contact
     * @param array<string, mixed> $order the order mirror row
     */
    public function sendShippedEmail($invoice, array $contact, array $order): bool
    {
        return (bool) send_mail_template(self::SHIPPED_MAIL_CLASS, self::MODULE, $invoice, $contact, $order);
    }
}
