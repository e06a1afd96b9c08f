<?php

use SunskyDropship\HttpResponse;
use SunskyDropship\HttpTransport;
use SunskyDropship\TransportException;

/** Records every request; answers from a script (responses or exceptions), 202 when it runs out. */
final class RecordingTransport implements HttpTransport
{
    /** @var array<int, array{url: string, headers: array, body: string, timeout: int}> */
    public $requests = [];
    /** @var array<int, HttpResponse|Throwable> */
    private $script = [];

    public function willAnswer(int $status, string $body = '', array $headers = []): self
    {
        $this->script[] = new HttpResponse($status, $headers, $body);
        return $this;
    }

    public function willFail(string $message = 'curl error 7: Failed to connect'): self
    {
        $this->script[] = new TransportException($message);
        return $this;
    }

    public function post(string $url, array $headers, string $body, int $timeoutSeconds): HttpResponse
    {
        $this->requests[] = ['url' => $url, 'headers' => $headers, 'body' => $body, 'timeout' => $timeoutSeconds];
        $next = array_shift($this->script) ?? new HttpResponse(202, [], '{"status":"accepted"}');
        if ($next instanceof Throwable) {
            throw $next;
        }
        return $next;
    }
}
