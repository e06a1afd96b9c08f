<?php

// phpcs:disable PSR1.Files.SideEffects -- the BASEPATH guard Perfex puts in every file

namespace SunskyDropship;

defined('BASEPATH') or exit('No direct script access allowed');

/** No HTTP answer at all: the request may or may not have arrived, so it is always retried. */
final class TransportException extends \RuntimeException
{
}
