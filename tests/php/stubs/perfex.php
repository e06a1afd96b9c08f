<?php

/*
 * Small stand-ins for the parts of Perfex CRM 3.x (CodeIgniter 3) that the module touches, written
 * from Perfex 3.3.1's source as reference/perfex-crm-data.md and -module-console-ops.md describe
 * it. Data lives in a real MariaDB database (schema.sql); everything else is kept in StubPerfex.
 * Each function notes the Perfex original it imitates. Not Perfex: no session, no permissions
 * (staff_can() says yes), no invoice maths, no mail transport.
 */

if (!defined('BASEPATH')) {
    define('BASEPATH', __DIR__ . '/');
}
if (!defined('APPPATH')) {
    define('APPPATH', __DIR__ . '/application/');
}

require_once __DIR__ . '/Database.php';
require_once __DIR__ . '/Hooks.php';
require_once __DIR__ . '/Fixtures.php';

final class StubPerfex
{
    public const MODULE = 'sunsky_dropship';

    /** @var StubDatabase */
    public static $db;
    /** @var StubHooks */
    public static $hooks;
    /** @var StubCI */
    public static $ci;
    /** @var string site_url() base, with the trailing slash Perfex's has */
    public static $baseUrl = 'https://crm.example.com/';
    /** @var int|false get_staff_user_id(): false outside a staff session (webhooks, cron) */
    public static $staffId = false;
    /** @var string get_app_version() */
    public static $version = '3.3.1';
    /** @var array<string, string> language lines loaded by register_language_files() */
    public static $lang = [];
    /** @var array<string, array> what the module registered: merge fields, capabilities */
    public static $registered = ['merge_fields' => [], 'capabilities' => []];

    public static function modulesDir(): string
    {
        return dirname(__DIR__, 3) . '/perfex/modules/';
    }

    /** Connects to MariaDB (env SUNSKY_MYSQL_HOST/PORT/USER/PASSWORD), creating the database if needed. */
    public static function connect(string $database): StubDatabase
    {
        if (!preg_match('/^[A-Za-z0-9_]{1,64}$/', $database)) {
            throw new InvalidArgumentException('database names are letters, digits and _: ' . $database);
        }
        mysqli_report(MYSQLI_REPORT_OFF);
        $mysqli = @new mysqli(
            getenv('SUNSKY_MYSQL_HOST') ?: '127.0.0.1',
            getenv('SUNSKY_MYSQL_USER') ?: 'root',
            (string) getenv('SUNSKY_MYSQL_PASSWORD'),
            '',
            (int) (getenv('SUNSKY_MYSQL_PORT') ?: 3306)
        );
        if ($mysqli->connect_errno) {
            throw new RuntimeException('MariaDB is not reachable: ' . $mysqli->connect_error);
        }
        $mysqli->set_charset('utf8mb4');
        $db = new StubDatabase($mysqli);
        $db->query('CREATE DATABASE IF NOT EXISTS `' . $database . '` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci');
        $mysqli->select_db($database);
        $db->query("SET SESSION time_zone = '+00:00'");
        self::$db = $db;
        self::$hooks = self::$hooks ?: new StubHooks();
        self::$ci = new StubCI($db);

        return $db;
    }

    public static function dropDatabase(string $database): void
    {
        self::$db->query('DROP DATABASE IF EXISTS `' . $database . '`');
    }

    /** The core tables of schema.sql. */
    public static function createCoreTables(): void
    {
        $sql = (string) file_get_contents(__DIR__ . '/schema.sql');
        $sql = preg_replace('/^--.*$/m', '', $sql);
        foreach (array_filter(array_map('trim', explode(';', $sql))) as $statement) {
            self::$db->query($statement);
        }
    }

    /** Loads the module's init file, as Perfex does for an active module on every request. */
    public static function loadModule(): void
    {
        require_once self::modulesDir() . self::MODULE . '/' . self::MODULE . '.php';
    }

    /** Setup -> Modules -> Activate. */
    public static function activate(): void
    {
        hooks()->do_action('activate_' . self::MODULE . '_module');
    }

    /**
     * A fresh request on an empty database: no rows but the countries, no module object. (Rows are
     * deleted rather than tables dropped: DDL makes every test ten times slower.)
     */
    public static function reset(): void
    {
        $tables = ['options', 'contacts', 'customfields', 'customfieldsvalues', 'notes', 'emailtemplates',
            'activity_log', 'stub_invoices', 'stub_sent_emails'];
        foreach (array_merge($tables, \SunskyDropship\Schema::TABLES) as $table) {
            if (self::$db->table_exists('tbl' . $table)) {
                self::$db->query('DELETE FROM `tbl' . $table . '`');
            }
        }
        self::$staffId = false;
        self::$ci = new StubCI(self::$db);
    }
}

#[\AllowDynamicProperties]
final class StubCI
{
    public $db;
    public $load;
    public $app;
    public $app_menu;
    public $app_tabs;
    public $input;
    public $output;

    public function __construct(StubDatabase $db)
    {
        $this->db = $db;
        $this->load = new StubLoader($this);
        $this->app = new StubApp();
        $this->app_menu = new StubMenu();
        $this->app_tabs = new StubMenu();
        $this->input = new StubInput('GET', [], '');
        $this->output = new StubOutput();
    }
}

/** CodeIgniter's loader: models become properties of the super-object; views render from the module. */
final class StubLoader
{
    private const MODELS = ['invoices_model' => 'Invoices_model', 'clients_model' => 'Clients_model',
        'emails_model' => 'Emails_model'];
    private $ci;

    public function __construct(StubCI $ci)
    {
        $this->ci = $ci;
    }

    public function model($name)
    {
        $name = strtolower($name);
        if (!isset(self::MODELS[$name])) {
            throw new RuntimeException('no stub for model ' . $name);
        }
        if (!isset($this->ci->{$name})) {
            $class = self::MODELS[$name];
            $this->ci->{$name} = new $class();
        }
    }

    /** "sunsky_dropship/invoice_tab" is modules/sunsky_dropship/views/invoice_tab.php, as in HMVC. */
    public function view($view, $vars = [], $return = false)
    {
        [$module, $file] = explode('/', $view, 2);
        $path = module_dir_path($module, 'views/' . $file . '.php');
        extract($vars);
        ob_start();
        include $path;
        $html = (string) ob_get_clean();
        if ($return) {
            return $html;
        }
        echo $html;
    }

    public function library($name)
    {
    }

    public function helper($name)
    {
    }
}

final class StubApp
{
    public $settingsSections = [];

    /** Perfex 3.2+: application/libraries/App.php */
    public function add_settings_section_child($parent, $id, $data)
    {
        $this->settingsSections[$parent][$id] = $data;
    }

    public function get_current_db_version()
    {
        return str_replace('.', '', StubPerfex::$version);
    }
}

final class StubMenu
{
    public $items = [];
    public $children = [];

    public function add_sidebar_menu_item($slug, $item)
    {
        $this->items[$slug] = $item;
    }

    public function add_sidebar_children_item($parent, $item)
    {
        $this->children[$parent][$item['slug']] = $item;
    }

    public function add_settings_tab($slug, $tab)
    {
        $this->items[$slug] = $tab;
    }
}

/** CodeIgniter's CI_Input, for one request. */
final class StubInput
{
    public $raw_input_stream;
    private $method;
    private $headers;

    public function __construct(string $method, array $headers, string $body)
    {
        $this->method = $method;
        $this->headers = $headers;
        $this->raw_input_stream = $body;
    }

    public function request_headers($xssClean = false)
    {
        return $this->headers;
    }

    public function method($upper = false)
    {
        return $upper ? strtoupper($this->method) : strtolower($this->method);
    }
}

/** CodeIgniter's CI_Output, chainable; send() is what CodeIgniter does at the end of a request. */
final class StubOutput
{
    public $status = 200;
    public $contentType = 'text/html';
    public $output = '';

    public function set_status_header($code = 200)
    {
        $this->status = (int) $code;
        return $this;
    }

    public function set_content_type($type)
    {
        $this->contentType = $type;
        return $this;
    }

    public function set_output($output)
    {
        $this->output = (string) $output;
        return $this;
    }

    public function send(): void
    {
        http_response_code($this->status);
        header('Content-Type: ' . $this->contentType . '; charset=utf-8');
        echo $this->output;
    }
}

class CI_Controller
{
    public $input;
    public $output;
    public $load;
    public $db;

    public function __construct()
    {
        $ci = get_instance();
        $this->input = $ci->input;
        $this->output = $ci->output;
        $this->load = $ci->load;
        $this->db = $ci->db;
    }
}

class App_Controller extends CI_Controller
{
}

class AdminController extends App_Controller
{
}

class App_module_migration
{
}

abstract class App_merge_fields
{
    abstract public function build();
}

final class StubAccessDenied extends RuntimeException
{
}

final class StubNotFound extends RuntimeException
{
}

/** application/models/Invoices_model.php: the constants, and get() shaped like Perfex's. */
class Invoices_model
{
    public const STATUS_UNPAID = 1;
    public const STATUS_PAID = 2;
    public const STATUS_PARTIALLY = 3;
    public const STATUS_OVERDUE = 4;
    public const STATUS_CANCELLED = 5;
    public const STATUS_DRAFT = 6;
    public const STATUS_DRAFT_NUMBER = 1000000000;

    /** @return object|null columns as strings, items and payments as arrays of rows, client as an object */
    public function get($id = '', $where = [])
    {
        $row = get_instance()->db->where('id', (int) $id)->get('tblstub_invoices')->row_array();
        if (!$row) {
            return null;
        }
        $invoice = json_decode($row['data']);
        $invoice->items = json_decode(json_encode($invoice->items ?? []), true);
        $invoice->payments = json_decode(json_encode($invoice->payments ?? []), true);

        return hooks()->apply_filters('get_invoice', $invoice);
    }
}

/** application/models/Clients_model.php */
class Clients_model
{
    public function get_contacts($customer_id = '', $where = ['active' => 1], $whereIn = [])
    {
        $db = get_instance()->db;
        $db->where($where);
        if ($customer_id !== '') {
            $db->where('userid', $customer_id);
        }

        return $db->order_by('is_primary', 'DESC')->get('tblcontacts')->result_array();
    }
}

/** application/models/Emails_model.php */
class Emails_model
{
    public function add_template($data)
    {
        get_instance()->db->insert('tblemailtemplates', $data);

        return get_instance()->db->insert_id();
    }
}

/**
 * application/libraries/App_mail_template.php: build() fills the recipient and merge fields;
 * send() renders the e-mail template by slug (an inactive template is not sent, as in Perfex) and
 * records the result in tblstub_sent_emails instead of mailing it.
 */
abstract class App_mail_template
{
    protected $ci;
    protected $send_to;
    protected $rel_id;
    protected $merge_fields = [];

    public function __construct()
    {
        $this->ci = get_instance();
    }

    abstract public function build();

    public function to($email)
    {
        $this->send_to = $email;
        return $this;
    }

    public function set_rel_id($relId)
    {
        $this->rel_id = $relId;
        return $this;
    }

    public function set_merge_fields($fields, ...$params)
    {
        if (!is_array($fields)) {
            $fields = StubMergeFields::format($fields, ...$params);
        }
        $this->merge_fields = array_merge($this->merge_fields, $fields);
        return $this;
    }

    public function get_merge_fields()
    {
        return $this->merge_fields;
    }

    public function send()
    {
        $this->build();
        $template = $this->ci->db->where('slug', $this->slug)->where('language', 'english')
            ->get('tblemailtemplates')->row();
        if (!$template || (int) $template->active !== 1 || !$this->send_to) {
            return false;
        }
        $fields = array_merge($this->merge_fields, StubMergeFields::format('other_merge_fields'));
        $render = function ($text) use ($fields) {
            return str_replace(array_keys($fields), array_values($fields), $text);
        };
        $this->ci->db->insert('tblstub_sent_emails', [
            'template_class' => get_class($this),
            'slug' => $this->slug,
            'to_email' => $this->send_to,
            'rel_type' => $this->rel_type ?? null,
            'rel_id' => $this->rel_id,
            'subject' => $render($template->subject),
            'message' => $render($template->message),
            'merge_fields' => json_encode($fields),
            'sent_at' => gmdate('Y-m-d H:i:s'),
        ]);

        return true;
    }
}

/** The core merge-field classes the module's mail template asks for, reduced to a few fields. */
final class StubMergeFields
{
    public static function format($name, ...$params): array
    {
        $db = get_instance()->db;
        if ($name === 'client_merge_fields') {
            $contact = $db->where('id', (int) ($params[1] ?? 0))->get('tblcontacts')->row_array();
            return [
                '{contact_firstname}' => $contact['firstname'] ?? '',
                '{contact_lastname}' => $contact['lastname'] ?? '',
                '{contact_email}' => $contact['email'] ?? '',
            ];
        }
        if ($name === 'invoice_merge_fields') {
            $invoice = (new Invoices_model())->get($params[0]);
            return [
                '{invoice_number}' => format_invoice_number($params[0]),
                '{invoice_link}' => site_url('invoice/' . $params[0] . '/' . ($invoice->hash ?? '')),
            ];
        }
        if ($name === 'other_merge_fields') {
            return ['{email_signature}' => 'The Example Shop', '{companyname}' => 'Example Shop'];
        }
        throw new RuntimeException('no stub for merge fields ' . $name);
    }
}

// ---- application/helpers and core functions --------------------------------------------------

function hooks()
{
    return StubPerfex::$hooks;
}

function &get_instance()
{
    return StubPerfex::$ci;
}

function db_prefix()
{
    return 'tbl';
}

/** settings_helper.php: add_option() inserts only when the option is missing. */
function add_option($name, $value = '', $autoload = 1)
{
    if (get_instance()->db->where('name', $name)->get('tbloptions')->row_array()) {
        return false;
    }
    get_instance()->db->insert('tbloptions', ['name' => $name, 'value' => (string) $value, 'autoload' => $autoload]);

    return true;
}

function get_option($name)
{
    $row = get_instance()->db->where('name', $name)->get('tbloptions')->row_array();

    return $row ? $row['value'] : '';
}

function update_option($name, $value, $autoload = null)
{
    if (!add_option($name, $value, $autoload ?? 1)) {
        get_instance()->db->where('name', $name)->update('tbloptions', ['value' => (string) $value]);
    }

    return true;
}

function delete_option($name)
{
    get_instance()->db->where('name', $name)->delete('tbloptions');

    return true;
}

function total_rows($table, $where = [])
{
    if (strpos($table, db_prefix()) !== 0) {
        $table = db_prefix() . $table;
    }
    get_instance()->db->where($where);

    return get_instance()->db->count_all_results($table);
}

function _l($line, $label = '', $logErrors = true)
{
    $text = StubPerfex::$lang[$line] ?? $line;

    return $label !== '' ? sprintf($text, $label) : $text;
}

function site_url($uri = '')
{
    return StubPerfex::$baseUrl . ltrim((string) $uri, '/');
}

function admin_url($url = '')
{
    return site_url('admin/' . ltrim((string) $url, '/'));
}

function get_app_version()
{
    return StubPerfex::$version;
}

function get_staff_user_id()
{
    return StubPerfex::$staffId;
}

function is_admin($staffId = '')
{
    return true;
}

function staff_can($capability = '', $feature = '', $staffId = '')
{
    return true;
}

function access_denied($permission = '')
{
    throw new StubAccessDenied($permission);
}

function show_404()
{
    throw new StubNotFound('404');
}

/** misc_helper.php: one row in tblactivity_log. */
function log_activity($description, $staffid = null)
{
    get_instance()->db->insert('tblactivity_log', [
        'description' => $description,
        'date' => date('Y-m-d H:i:s'),
        'staffid' => $staffid,
    ]);
}

/** invoices_helper.php: prefix + number padded to 6 (number format 1), prefix + DRAFT for drafts. */
function format_invoice_number($id)
{
    $invoice = (new Invoices_model())->get($id);
    if (!$invoice) {
        return '';
    }
    if ((int) $invoice->status === Invoices_model::STATUS_DRAFT) {
        $number = $invoice->prefix . 'DRAFT';
    } elseif ((string) ($invoice->number_format ?? '1') === '1') {
        $number = $invoice->prefix . str_pad((string) $invoice->number, 6, '0', STR_PAD_LEFT);
    } else {
        $number = (string) ($invoice->formatted_number ?? $invoice->number);
    }

    return hooks()->apply_filters('format_invoice_number', $number, ['id' => $id, 'invoice' => $invoice]);
}

/** custom_fields_helper.php, same query: by field id or slug, for one relation. */
function get_custom_field_value($rel_id, $field_id_or_slug, $field_to, $format = true)
{
    $column = is_numeric($field_id_or_slug) ? 'f.id' : 'f.slug';
    $row = get_instance()->db->query(
        'SELECT v.value FROM tblcustomfieldsvalues v JOIN tblcustomfields f ON f.id = v.fieldid'
        . ' WHERE v.relid = ? AND ' . $column . ' = ? AND v.fieldto = ?',
        [$rel_id, $field_id_or_slug, $field_to]
    )->row_array();

    return $row ? $row['value'] : '';
}

/** countries_helper.php */
function get_country($id)
{
    return get_instance()->db->where('country_id', $id)->get('tblcountries')->row();
}

/** modules_helper.php */
function register_activation_hook($module, $function)
{
    hooks()->add_action('activate_' . $module . '_module', $function);
}

function register_deactivation_hook($module, $function)
{
    hooks()->add_action('deactivate_' . $module . '_module', $function);
}

function register_uninstall_hook($module, $function)
{
    hooks()->add_action('uninstall_' . $module . '_module', $function);
}

function register_cron_task($function)
{
    hooks()->add_action('after_cron_run', $function);
}

function register_language_files($module, $languages = [])
{
    foreach ($languages as $language) {
        $lang = [];
        include module_dir_path($module, 'language/english/' . $language . '_lang.php');
        StubPerfex::$lang = array_merge(StubPerfex::$lang, $lang);
    }
}

function register_merge_fields($path)
{
    StubPerfex::$registered['merge_fields'][] = $path;
}

function register_staff_capabilities($feature, $config, $name = null)
{
    StubPerfex::$registered['capabilities'][$feature] = $config;
}

function module_dir_path($module, $concat = '')
{
    return StubPerfex::modulesDir() . $module . '/' . $concat;
}

function module_libs_path($module, $concat = '')
{
    return module_dir_path($module, 'libraries/' . $concat);
}

/** email_templates_helper.php: created once per slug. */
function create_email_template($subject, $message, $type, $name, $slug, $active = 1)
{
    if (total_rows('emailtemplates', ['slug' => $slug]) > 0) {
        return false;
    }
    get_instance()->load->model('emails_model');

    return get_instance()->emails_model->add_template([
        'subject' => $subject,
        'message' => $message,
        'type' => $type,
        'name' => $name,
        'slug' => $slug,
        'language' => 'english',
        'active' => $active,
        'plaintext' => 0,
        'fromname' => '{companyname} | CRM',
    ]);
}

function send_mail_template()
{
    return mail_template(...func_get_args())->send();
}

/** The second argument names an active module whose libraries/mails/ holds the class. */
function mail_template($class)
{
    $params = array_values(array_slice(func_get_args(), 1));
    $dir = APPPATH . 'libraries/mails/';
    if (isset($params[0]) && is_string($params[0]) && is_dir(module_dir_path($params[0]))) {
        $dir = module_libs_path($params[0]) . 'mails/';
        array_shift($params);
    }
    $path = $dir . ucfirst($class) . '.php';
    if (!file_exists($path)) {
        throw new RuntimeException('Mail Class Does Not Exists [' . $path . ']');
    }
    if (!class_exists($class, false)) {
        include_once $path;
    }

    return new $class(...$params);
}

/** forms helpers, enough to render the settings view */
function render_input($name, $label = '', $value = '', $type = 'text', $inputAttrs = [], $groupAttrs = [])
{
    return '<label>' . _l($label) . '</label><input type="' . $type . '" name="' . $name . '" value="'
        . htmlspecialchars((string) $value, ENT_QUOTES) . '">';
}

function render_yes_no_option($optionValue, $label, $tooltip = '')
{
    echo '<label>' . _l($label) . '</label><input type="radio" name="settings[' . $optionValue . ']" value="1"'
        . (get_option($optionValue) === '1' ? ' checked' : '') . '>';
}
