<?php

// phpcs:disable PSR1.Files.SideEffects -- the BASEPATH guard Perfex puts in every file

namespace SunskyDropship;

defined('BASEPATH') or exit('No direct script access allowed');

/**
 * Sends this request's new events once the page has been delivered, so saving an invoice or
 * recording a payment never waits on the dropship service: PHP-FPM's fastcgi_finish_request() (or
 * LiteSpeed's equivalent) closes the response first. Under mod_php the browser may wait for the
 * send, at most the relay's timeout. Whatever fails here stays pending for cron.
 */
final class AfterResponse
{
    /** @var OutboxRelay */
    private $relay;
    /** @var callable(callable): void normally register_shutdown_function */
    private $defer;
    /** @var string[] */
    private $uids = [];
    /** @var bool */
    private $scheduled = false;

    public function __construct(OutboxRelay $relay, callable $defer)
    {
        $this->relay = $relay;
        $this->defer = $defer;
    }

    public function queue(string $uid): void
    {
        $this->uids[] = $uid;
        if (!$this->scheduled) {
            $this->scheduled = true;
            ($this->defer)([$this, 'run']);
        }
    }

    public function run(): void
    {
        $uids = $this->uids;
        $this->uids = [];
        $this->scheduled = false;
        if ($uids === []) {
            return;
        }
        self::finishResponse();
        $this->relay->sendNow($uids);
    }

    private static function finishResponse(): void
    {
        ignore_user_abort(true);
        if (session_status() === PHP_SESSION_ACTIVE) {
            session_write_close();  // do not hold the session lock while we wait on the network
        }
        if (function_exists('fastcgi_finish_request')) {
            fastcgi_finish_request();
        } elseif (function_exists('litespeed_finish_request')) {
            litespeed_finish_request();
        }
    }
}
