<?php

defined('BASEPATH') or exit('No direct script access allowed');

/*
 * Setup -> Settings -> Integrations -> SUNSKY Dropship. Perfex saves every settings[...] field as
 * an option; the two buttons post to admin/sunsky_dropship/sunsky_settings/*.
 */
$sunskyCounts = sunsky_dropship()->outboxCounts();
$sunskyAction = function ($action) {
    return admin_url('sunsky_dropship/sunsky_settings/' . $action);
};
?>
<?php echo render_input(
    'settings[sunsky_dropship_ingest_url]',
    'sunsky_dropship_ingest_url',
    get_option('sunsky_dropship_ingest_url'),
    'url'
); ?>
<p class="text-muted"><?php echo _l('sunsky_dropship_ingest_url_help'); ?></p>
<?php echo render_input(
    'settings[sunsky_dropship_signing_secret]',
    'sunsky_dropship_signing_secret',
    get_option('sunsky_dropship_signing_secret'),
    'password',
    ['autocomplete' => 'off']
); ?>
<?php echo render_input(
    'settings[sunsky_dropship_webhook_secret]',
    'sunsky_dropship_webhook_secret',
    get_option('sunsky_dropship_webhook_secret'),
    'password',
    ['autocomplete' => 'off']
); ?>
<p class="text-muted"><?php echo _l('sunsky_dropship_secret_help'); ?></p>
<p>
    <?php echo _l('sunsky_dropship_webhook_url'); ?>:
    <code><?php echo htmlspecialchars(site_url('sunsky_dropship/webhook'), ENT_QUOTES, 'UTF-8'); ?></code>
</p>
<hr />
<?php render_yes_no_option('sunsky_dropship_send_shipped_email', 'sunsky_dropship_send_shipped_email'); ?>
<hr />
<?php echo render_input(
    'settings[sunsky_dropship_console_url]',
    'sunsky_dropship_console_url',
    get_option('sunsky_dropship_console_url'),
    'url'
); ?>
<?php echo render_input(
    'settings[sunsky_dropship_sku_field]',
    'sunsky_dropship_sku_field',
    get_option('sunsky_dropship_sku_field')
); ?>
<hr />
<p>
    <strong><?php echo _l('sunsky_dropship_outbox'); ?>:</strong>
    <?php foreach ($sunskyCounts as $sunskyStatus => $sunskyCount) { ?>
        <span class="label label-default"><?php echo htmlspecialchars($sunskyStatus . ': ' . $sunskyCount); ?></span>
    <?php } ?>
</p>
<button type="button" class="btn btn-default" data-sunsky-action="<?php echo $sunskyAction('test_connection'); ?>">
    <?php echo _l('sunsky_dropship_test_connection'); ?>
</button>
<button type="button" class="btn btn-default" data-sunsky-action="<?php echo $sunskyAction('requeue_failed'); ?>">
    <?php echo _l('sunsky_dropship_requeue_failed'); ?>
</button>
<span class="text-muted"><?php echo _l('sunsky_dropship_test_connection_help'); ?></span>
<div id="sunsky-dropship-result" class="alert mtop15 hide" role="status"></div>
<script>
    document.querySelectorAll('[data-sunsky-action]').forEach(function (button) {
        button.addEventListener('click', function () {
            var data = {};
            if (typeof csrfData !== 'undefined') {
                data[csrfData.token_name] = csrfData.hash;
            }
            var box = $('#sunsky-dropship-result');
            $.post(button.getAttribute('data-sunsky-action'), data).done(function (answer) {
                answer = typeof answer === 'string' ? JSON.parse(answer) : answer;
                box.removeClass('hide alert-success alert-danger')
                    .addClass(answer.ok ? 'alert-success' : 'alert-danger')
                    .text((answer.status ? answer.status + ': ' : '') + answer.message);
            }).fail(function (xhr) {
                box.removeClass('hide alert-success').addClass('alert-danger').text('Request failed: ' + xhr.status);
            });
        });
    });
</script>
