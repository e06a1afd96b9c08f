<?php

// phpcs:disable PSR1.Files.SideEffects -- the BASEPATH guard Perfex puts in every file

namespace SunskyDropship;

defined('BASEPATH') or exit('No direct script access allowed');

/** HTTP through ext-curl, which every Perfex host has; TLS verification always on. */
final class CurlTransport implements HttpTransport
{
    private const CONNECT_TIMEOUT_SECONDS = 3;

    public function post(string $url, array $headers, string $body, int $timeoutSeconds): HttpResponse
    {
        if (!preg_match('#^https?://#i', $url)) {
            throw new TransportException('The URL must start with http:// or https://');
        }
        $lines = ['Expect:'];  // no "100-continue" round trip for bodies over 1 KB
        foreach ($headers as $name => $value) {
            $lines[] = $name . ': ' . $value;
        }
        $received = [];
        $handle = curl_init($url);
        curl_setopt_array($handle, [
            CURLOPT_POST => true,
            CURLOPT_POSTFIELDS => $body,
            CURLOPT_HTTPHEADER => $lines,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_CONNECTTIMEOUT => min(self::CONNECT_TIMEOUT_SECONDS, $timeoutSeconds),
            CURLOPT_TIMEOUT => $timeoutSeconds,
            CURLOPT_SSL_VERIFYPEER => true,
            CURLOPT_SSL_VERIFYHOST => 2,
            CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS,
            CURLOPT_HEADERFUNCTION => function ($unused, $line) use (&$received) {
                $parts = explode(':', $line, 2);
                if (count($parts) === 2) {
                    $received[strtolower(trim($parts[0]))] = trim($parts[1]);
                }
                return strlen($line);
            },
        ]);
        $answer = curl_exec($handle);
        if ($answer === false) {
            $error = sprintf('curl error %d: %s', curl_errno($handle), curl_error($handle));
            curl_close($handle);
            throw new TransportException($error);
        }
        $status = (int) curl_getinfo($handle, CURLINFO_RESPONSE_CODE);
        curl_close($handle);

        return new HttpResponse($status, $received, (string) $answer);
    }
}
