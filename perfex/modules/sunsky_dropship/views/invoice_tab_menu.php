<?php defined('BASEPATH') or exit('No direct script access allowed'); ?>
<li role="presentation">
    <a href="#tab_sunsky_dropship" aria-controls="tab_sunsky_dropship" role="tab" data-toggle="tab">
        <i class="fa-solid fa-truck-fast" aria-hidden="true"></i> <?php echo _l('sunsky_dropship_tab'); ?>
    </a>
</li>
