<?php

defined('BASEPATH') or exit('No direct script access allowed');

// The dropship service posts signed order updates here; it cannot hold a CSRF token.
return [
    'sunsky_dropship/webhook',
];
