<?php

/*
 * php tests/php/bin/build_event.php FIXTURE [invoice.paid|invoice.created]
 *
 * Prints the event the module publishes for an invoice fixture (tests/php/fixtures/invoices/
 * FIXTURE.json, a path, or inline JSON): the hook fires as in Perfex, and the outbox row's body,
 * the exact bytes that would be sent, is printed. Nothing is sent. Runs on a scratch MariaDB
 * database (sunsky_build_<random>) that is dropped afterwards. Exit 3 when the module publishes
 * nothing for that invoice (a draft).
 */

require __DIR__ . '/common.php';

if ($argc < 2 || in_array($argv[1], ['-h', '--help'], true)) {
    fwrite(STDERR, "usage: php build_event.php FIXTURE [invoice.paid|invoice.created]\n");
    exit(2);
}
$type = $argv[2] ?? 'invoice.paid';
if (!in_array($type, ['invoice.paid', 'invoice.created'], true)) {
    fwrite(STDERR, "unknown event type $type\n");
    exit(2);
}

$database = 'sunsky_build_' . bin2hex(random_bytes(4));
harness_connect($database);
try {
    StubPerfex::$staffId = 1;
    StubPerfex::activate();
    $module = \SunskyDropship\Module::create(get_instance(), new \SunskyDropship\CurlTransport(), 'time', function () {
        // build only: nothing is sent
    });
    get_instance()->sunsky_dropship = $module;
    $id = StubFixtures::install(StubFixtures::load($argv[1]));
    if ($type === 'invoice.paid') {  // update_invoice_status() stores the status, then fires the hook
        StubFixtures::update($id, ['status' => (string) Invoices_model::STATUS_PAID]);
        hooks()->do_action('invoice_status_changed', ['invoice_id' => $id, 'status' => Invoices_model::STATUS_PAID]);
    } else {
        hooks()->do_action('after_invoice_added', $id);
    }
    $row = get_instance()->db->where('event_type', $type)->get('tblsunsky_outbox')->row_array();
    $errors = get_instance()->db->get('tblactivity_log')->result_array();
    foreach ($errors as $error) {
        fwrite(STDERR, $error['description'] . "\n");
    }
    if (!$row) {
        fwrite(STDERR, "the module published no $type for this invoice\n");
        $status = 3;
    } else {
        echo $row['body'], "\n";
        $status = 0;
    }
} finally {
    StubPerfex::dropDatabase($database);
}
exit($status);
