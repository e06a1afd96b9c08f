<?php

use SunskyDropship\Schema;

/** Activation, migration, uninstall, and what the module adds to Perfex's admin pages. */
final class InstallTest extends ModuleTestCase
{
    public function testActivationCreatesTheTablesOptionsAndEmailTemplate(): void
    {
        Schema::uninstall(get_instance()->db, 'tbl');
        StubPerfex::reset();
        StubPerfex::$staffId = 7;

        StubPerfex::activate();

        foreach (Schema::TABLES as $table) {
            $this->assertTrue(get_instance()->db->table_exists('tbl' . $table), $table);
        }
        $this->assertTrue(get_instance()->db->field_exists('next_retry_at', 'tblsunsky_outbox'));
        $this->assertSame('1', get_option('sunsky_dropship_send_shipped_email'));
        $this->assertSame('http://127.0.0.1:8700/', get_option('sunsky_dropship_console_url'));
        $this->assertSame('items_sunsky_sku', get_option('sunsky_dropship_sku_field'));
        $this->assertSame('7', get_option('sunsky_dropship_note_staff_id'));
        $template = get_instance()->db->where('slug', 'sunsky-order-shipped')->get('tblemailtemplates')->row_array();
        $this->assertSame(['invoice', '1', 'english'], [$template['type'], $template['active'], $template['language']]);
        foreach (['{sunsky_tracking_number}', '{sunsky_tracking_url}', '{sunsky_shipping_method}'] as $field) {
            $this->assertStringContainsString($field, $template['message']);
        }
    }

    public function testReactivatingKeepsTheSettingsAndTheTemplate(): void
    {
        update_option('sunsky_dropship_send_shipped_email', '0');

        StubPerfex::activate();

        $this->assertSame('0', get_option('sunsky_dropship_send_shipped_email'));
        $this->assertSame(self::INGEST_URL, get_option('sunsky_dropship_ingest_url'));
        $this->assertSame(1, total_rows('emailtemplates', ['slug' => 'sunsky-order-shipped']));
    }

    public function testTheFirstMigrationBuildsTheSameSchemaAndIsIdempotent(): void
    {
        Schema::uninstall(get_instance()->db, 'tbl');
        require_once module_dir_path('sunsky_dropship', 'migrations/100_version_100.php');

        (new Migration_Version_100())->up();
        (new Migration_Version_100())->up();

        foreach (Schema::TABLES as $table) {
            $this->assertTrue(get_instance()->db->table_exists('tbl' . $table), $table);
        }
    }

    public function testUninstallRemovesEverythingTheModuleCreated(): void
    {
        hooks()->do_action('uninstall_sunsky_dropship_module');

        foreach (Schema::TABLES as $table) {
            $this->assertFalse(get_instance()->db->table_exists('tbl' . $table), $table);
        }
        $this->assertSame(0, total_rows('options', []));
        $this->assertSame(0, total_rows('emailtemplates', ['slug' => 'sunsky-order-shipped']));
        StubPerfex::activate();  // leave the schema for the next test
    }

    public function testTheHeaderIsTheOnePerfexReads(): void
    {
        $init = (string) file_get_contents(module_dir_path('sunsky_dropship', 'sunsky_dropship.php'));

        $this->assertMatchesRegularExpression('/^Module Name: SUNSKY Dropship$/m', $init);
        $this->assertMatchesRegularExpression('/^Version: 1\.0\.0$/m', $init);
        $this->assertMatchesRegularExpression('/^Requires at least: 3\.0\.\*$/m', $init);
        $this->assertStringContainsString("defined('BASEPATH') or exit('No direct script access allowed');", $init);
        $this->assertFileExists(module_dir_path('sunsky_dropship', 'migrations/100_version_100.php'), 'version 1.0.0 is migration 100');
    }

    public function testAdminInitAddsTheMenuAndTheSettingsSection(): void
    {
        update_option('sunsky_dropship_console_url', 'https://console.example.test/orders');

        hooks()->do_action('admin_init');

        $ci = get_instance();
        $this->assertSame('Sunsky Store', $ci->app_menu->items['sunsky-store']['name']);
        $orders = $ci->app_menu->children['sunsky-store']['sunsky-orders'];
        $this->assertSame(['Orders', 'https://console.example.test/orders'], [$orders['name'], $orders['href']]);
        $this->assertSame('sunsky_dropship/settings', $ci->app->settingsSections['integrations']['sunsky_dropship']['view']);
        $this->assertArrayHasKey('sunsky_dropship', StubPerfex::$registered['capabilities']);
    }

    public function testTheSettingsSectionRenders(): void
    {
        $html = get_instance()->load->view('sunsky_dropship/settings', [], true);

        $this->assertStringContainsString('name="settings[sunsky_dropship_ingest_url]" value="' . self::INGEST_URL . '"', $html);
        $this->assertStringContainsString('type="password" name="settings[sunsky_dropship_signing_secret]"', $html);
        $this->assertStringContainsString('https://crm.example.com/sunsky_dropship/webhook', $html);
        $this->assertStringContainsString('admin/sunsky_dropship/sunsky_settings/test_connection', $html);
        $this->assertStringContainsString('pending: 0', $html);
    }

    public function testTheInvoiceTabShowsTheOrderEscaped(): void
    {
        get_instance()->db->insert('tblsunsky_orders', [
            'invoice_id' => 42, 'status' => 'Shipped', 'sunsky_order_number' => 'SO-1',
            'tracking_number' => 'RR<script>1', 'tracking_url' => 'https://track.example.com/?n=RR1&x=1',
            'shipping_method' => 'Air Mail', 'updated_at' => '2026-11-27 08:00:00',
        ]);
        $invoice = (object) ['id' => '42'];

        ob_start();
        hooks()->do_action('after_admin_invoice_preview_template_tab_menu_last_item', $invoice);
        hooks()->do_action('after_admin_invoice_preview_template_tab_content_last_item', $invoice);
        $html = (string) ob_get_clean();

        $this->assertStringContainsString('href="#tab_sunsky_dropship"', $html);
        $this->assertStringContainsString('id="tab_sunsky_dropship"', $html);
        $this->assertStringContainsString('>Shipped</span>', $html);
        $this->assertStringContainsString('href="https://track.example.com/?n=RR1&amp;x=1"', $html);
        $this->assertStringContainsString('RR&lt;script&gt;1', $html);
        $this->assertStringNotContainsString('<script>1', $html);
    }

    public function testTheEditorListsExactlyTheFieldsTheMailTemplateFills(): void
    {
        require_once module_libs_path('sunsky_dropship', 'merge_fields/Sunsky_order_merge_fields.php');
        $listed = array_column((new Sunsky_order_merge_fields())->build(), 'key');

        $this->assertSame(array_keys(shipped_mail_fields()), $listed);
        $this->assertSame(array_keys(shipped_mail_fields()), array_keys((new Sunsky_order_merge_fields())->format([])));
        $this->assertContains('sunsky_dropship/merge_fields/sunsky_order_merge_fields', StubPerfex::$registered['merge_fields']);
    }
}

function shipped_mail_fields(): array
{
    require_once module_libs_path('sunsky_dropship', 'mails/Sunsky_order_shipped.php');

    return Sunsky_order_shipped::TRACKING_FIELDS;
}
