<?php

// phpcs:disable PSR1.Files.SideEffects -- the BASEPATH guard Perfex puts in every file

namespace SunskyDropship;

defined('BASEPATH') or exit('No direct script access allowed');

/** The only door to the network: CurlTransport in Perfex, a recording fake in the tests. */
interface HttpTransport
{
    /**
     * @param array<string, string> $headers
     * @throws TransportException when no HTTP answer arrived (DNS, connect, TLS, timeout)
     */
    public function post(string $url, array $headers, string $body, int $timeoutSeconds): HttpResponse;
}
