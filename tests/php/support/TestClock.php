<?php

/** The module's clock (callable(): int), moved by hand. */
final class TestClock
{
    /** @var int */
    public $now;

    public function __construct(int $now)
    {
        $this->now = $now;
    }

    public function __invoke(): int
    {
        return $this->now;
    }

    public function advance(int $seconds): void
    {
        $this->now += $seconds;
    }
}
