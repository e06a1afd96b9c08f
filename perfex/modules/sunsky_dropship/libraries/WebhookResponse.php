<?php

// phpcs:disable PSR1.Files.SideEffects -- the BASEPATH guard Perfex puts in every file

namespace SunskyDropship;

defined('BASEPATH') or exit('No direct script access allowed');

final class WebhookResponse
{
    /** @var int */
    private $status;
    /** @var array<string, mixed> */
    private $body;

    /** @param array<string, mixed> $body */
    public function __construct(int $status, array $body)
    {
        $this->status = $status;
        $this->body = $body;
    }

    public static function refuse(int $status, string $error, string $message): self
    {
        return new self($status, ['error' => $error, 'message' => $message]);
    }

    public function status(): int
    {
        return $this->status;
    }

    /** @return array<string, mixed> */
    public function body(): array
    {
        return $this->body;
    }

    public function json(): string
    {
        return (string) json_encode($this->body, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
    }
}
