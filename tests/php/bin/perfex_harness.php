<?php

/*
 * Drives the module inside a stubbed Perfex on MariaDB, for end-to-end tests (see ../README.md).
 *
 *   php tests/php/bin/perfex_harness.php --db DATABASE COMMAND [ARGS]
 *
 *   install                          create the database if needed, Perfex's core tables, then
 *                                    activate the module (tables, options, e-mail template)
 *   set-option NAME VALUE            e.g. sunsky_dropship_ingest_url http://127.0.0.1:8080
 *   get-option NAME
 *   paid --invoice FIXTURE [--id N]  store the invoice, fire invoice_status_changed (paid) and send
 *   created --invoice FIXTURE [--id N]   the same with after_invoice_added
 *   cron [--due-now]                 fire after_cron_run, which retries the events that are due;
 *                                    --due-now first makes every pending event due (instead of
 *                                    waiting out the backoff; the clock itself is never faked,
 *                                    since the ingest refuses timestamps 5 minutes off)
 *   dump                             print outbox, order mirror, webhook ids, e-mails, notes, log
 *   drop                             drop the database
 *
 * DATABASE is a name (MariaDB from SUNSKY_MYSQL_HOST/PORT/USER/PASSWORD, default root@127.0.0.1:3306)
 * or mysql://user:password@host:port/name. FIXTURE is a name in tests/php/fixtures/invoices/, a
 * path, or inline JSON of the same shape. Every command prints JSON; exit 0 on success, 1 on error,
 * 2 on bad usage.
 */

require __DIR__ . '/common.php';

const USAGE = "usage: php perfex_harness.php --db DATABASE install | set-option NAME VALUE | get-option NAME\n"
    . "    | paid --invoice FIXTURE [--id N] | created --invoice FIXTURE [--id N] | cron [--due-now] | dump | drop\n";

function harness_args(array $argv): array
{
    $options = ['db' => getenv('SUNSKY_DB') ?: null, 'invoice' => null, 'id' => null];
    $words = [];
    for ($i = 1; $i < count($argv); $i++) {
        if (preg_match('/^--(db|invoice|id)$/', $argv[$i], $m) && isset($argv[$i + 1])) {
            $options[$m[1]] = $argv[++$i];
        } elseif (preg_match('/^--(db|invoice|id)=(.*)$/s', $argv[$i], $m)) {
            $options[$m[1]] = $m[2];
        } else {
            $words[] = $argv[$i];
        }
    }

    return [$options, $words];
}

function harness_fire(string $command, array $options): array
{
    if ($options['invoice'] === null) {
        throw new InvalidArgumentException($command . ' needs --invoice FIXTURE_OR_JSON');
    }
    $before = (int) (get_instance()->db->query('SELECT COALESCE(MAX(id), 0) AS id FROM tblsunsky_outbox')->row_array()['id']);
    $id = StubFixtures::install(
        StubFixtures::load($options['invoice']),
        $options['id'] !== null ? (int) $options['id'] : null
    );
    if ($command === 'paid') {
        StubFixtures::update($id, ['status' => (string) Invoices_model::STATUS_PAID]);
        hooks()->do_action('invoice_status_changed', ['invoice_id' => $id, 'status' => Invoices_model::STATUS_PAID]);
    } else {
        hooks()->do_action('after_invoice_added', $id);
    }
    sunsky_dropship()->flush();  // in Perfex this runs once the response is out; here, before printing

    return [
        'invoice_id' => $id,
        'events' => get_instance()->db->where('id >', $before)->order_by('id')->get('tblsunsky_outbox')->result_array(),
        'errors' => harness_errors(),
    ];
}

function harness_errors(): array
{
    return array_values(array_filter(
        array_column(get_instance()->db->order_by('id')->get('tblactivity_log')->result_array(), 'description'),
        function ($line) {
            return strpos($line, 'failed') !== false;
        }
    ));
}

function harness_dump(): array
{
    $db = get_instance()->db;
    $options = [];
    foreach ($db->query("SELECT name, value FROM tbloptions WHERE name LIKE 'sunsky\\_dropship\\_%' ORDER BY name")->result_array() as $row) {
        $secret = preg_match('/secret$/', $row['name']);
        $options[$row['name']] = $secret ? ($row['value'] === '' ? '' : '(set)') : $row['value'];
    }

    return [
        'options' => $options,
        'outbox' => $db->order_by('id')->get('tblsunsky_outbox')->result_array(),
        'orders' => $db->order_by('invoice_id')->get('tblsunsky_orders')->result_array(),
        'webhook_ids' => $db->order_by('received_at')->get('tblsunsky_webhook_ids')->result_array(),
        'emails' => $db->order_by('id')->get('tblstub_sent_emails')->result_array(),
        'notes' => $db->order_by('id')->get('tblnotes')->result_array(),
        'activity_log' => array_column($db->order_by('id')->get('tblactivity_log')->result_array(), 'description'),
    ];
}

[$options, $words] = harness_args($argv);
$command = $words[0] ?? '';
if ($options['db'] === null || $command === '') {
    fwrite(STDERR, USAGE);
    exit(2);
}
try {
    harness_connect($options['db']);
    if ($command !== 'install' && $command !== 'drop' && !harness_installed()) {
        throw new RuntimeException('the module is not installed in this database: run "install" first');
    }
    harness_module();
    switch ($command) {
        case 'install':
            StubPerfex::$staffId = 1;
            StubPerfex::activate();
            $result = ['installed' => true, 'tables' => \SunskyDropship\Schema::TABLES];
            break;
        case 'set-option':
            if (count($words) !== 3) {
                throw new InvalidArgumentException('set-option NAME VALUE');
            }
            update_option($words[1], $words[2]);
            $result = ['option' => $words[1], 'set' => true];
            break;
        case 'get-option':
            $result = ['option' => $words[1] ?? '', 'value' => get_option($words[1] ?? '')];
            break;
        case 'paid':
        case 'created':
            $result = harness_fire($command, $options);
            break;
        case 'cron':
            if (in_array('--due-now', $words, true)) {
                get_instance()->db->where('status', \SunskyDropship\Outbox::PENDING)
                    ->update('tblsunsky_outbox', ['next_retry_at' => \SunskyDropship\Outbox::utc(time())]);
            }
            hooks()->do_action('after_cron_run', false);
            sunsky_dropship()->flush();
            $result = ['outbox' => sunsky_dropship()->outboxCounts(), 'errors' => harness_errors()];
            break;
        case 'dump':
            $result = harness_dump();
            break;
        case 'drop':
            StubPerfex::dropDatabase(get_instance()->db->query('SELECT DATABASE() AS name')->row_array()['name']);
            $result = ['dropped' => true];
            break;
        default:
            fwrite(STDERR, USAGE);
            exit(2);
    }
    echo harness_json($result);
} catch (Throwable $e) {
    fwrite(STDERR, 'error: ' . $e->getMessage() . "\n");
    exit(1);
}
