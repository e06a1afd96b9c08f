<?php

/** Perfex's hooks() API (WordPress-style actions and filters with priorities). */
final class StubHooks
{
    /** @var array<string, array<int, array<int, array{callable, int}>>> */
    private $hooks = [];

    public function add_action($tag, $callback, $priority = 10, $acceptedArgs = 1): bool
    {
        $this->hooks[$tag][$priority][] = [$callback, $acceptedArgs];
        return true;
    }

    public function add_filter($tag, $callback, $priority = 10, $acceptedArgs = 1): bool
    {
        return $this->add_action($tag, $callback, $priority, $acceptedArgs);
    }

    public function do_action($tag, ...$args): void
    {
        foreach ($this->callbacks($tag) as [$callback, $accepted]) {
            $callback(...array_slice($args, 0, $accepted));
        }
    }

    public function apply_filters($tag, $value, ...$args)
    {
        foreach ($this->callbacks($tag) as [$callback, $accepted]) {
            $value = $callback(...array_slice(array_merge([$value], $args), 0, $accepted));
        }
        return $value;
    }

    public function has_action($tag): bool
    {
        return !empty($this->hooks[$tag]);
    }

    /** @return string[] the callbacks registered on a tag, for assertions */
    public function names($tag): array
    {
        return array_map(function ($entry) {
            return is_string($entry[0]) ? $entry[0] : 'closure';
        }, $this->callbacks($tag));
    }

    private function callbacks($tag): array
    {
        $byPriority = $this->hooks[$tag] ?? [];
        ksort($byPriority);
        return $byPriority ? array_merge(...array_values($byPriority)) : [];
    }
}
