<?php

defined('BASEPATH') or exit('No direct script access allowed');

/** @var array|null $order the order mirror row; @var array|null $outbox the invoice's latest event */
$sunskyText = function ($value) {
    return htmlspecialchars((string) $value, ENT_QUOTES, 'UTF-8');
};
$sunskyRows = [];
if (!empty($order)) {
    $sunskyRows['sunsky_dropship_status'] = '<span class="label label-default">' . $sunskyText($order['status'])
        . '</span>';
    $sunskyRows['sunsky_dropship_order_number'] = $sunskyText($order['sunsky_order_number']);
    $tracking = $sunskyText($order['tracking_number']);
    if (!empty($order['tracking_url']) && preg_match('#^https?://#i', $order['tracking_url'])) {
        $tracking = '<a href="' . $sunskyText($order['tracking_url']) . '" target="_blank" rel="noopener">'
            . ($tracking !== '' ? $tracking : $sunskyText($order['tracking_url'])) . '</a>';
    }
    $sunskyRows['sunsky_dropship_tracking'] = $tracking;
    $sunskyRows['sunsky_dropship_shipping_method'] = $sunskyText($order['shipping_method']);
    $sunskyRows['sunsky_dropship_cancel_reason'] = $sunskyText($order['cancel_reason']);
    if (!empty($order['last_error_code'])) {
        $sunskyRows['sunsky_dropship_last_error'] = $sunskyText($order['last_error_code'] . ': '
            . $order['last_error_message']);
    }
    $sunskyRows['sunsky_dropship_updated'] = $sunskyText($order['updated_at']);
}
if (!empty($outbox)) {
    $sunskyRows['sunsky_dropship_last_event'] = $sunskyText($outbox['event_type'] . ' - ' . $outbox['status']
        . ($outbox['last_error'] ? ' (' . $outbox['last_error'] . ')' : ''));
}
?>
<div role="tabpanel" class="tab-pane" id="tab_sunsky_dropship">
    <?php if (empty($order)) { ?>
        <p class="text-muted"><?php echo _l('sunsky_dropship_no_order'); ?></p>
    <?php } ?>
    <table class="table table-condensed">
        <tbody>
        <?php foreach ($sunskyRows as $label => $html) { ?>
            <?php if ($html !== '') { ?>
                <tr>
                    <th class="tw-w-1/4"><?php echo _l($label); ?></th>
                    <td data-sunsky="<?php echo $label; ?>"><?php echo $html; ?></td>
                </tr>
            <?php } ?>
        <?php } ?>
        </tbody>
    </table>
</div>
