<?php

// phpcs:disable PSR1.Classes.ClassDeclaration.MissingNamespace, Squiz.Classes.ValidClassName.NotCamelCaps
// phpcs:disable PSR1.Files.SideEffects, PSR1.Methods.CamelCapsMethodName
// -- CodeIgniter routes admin/sunsky_dropship/sunsky_settings/<method> to this global class and its
// snake_case methods, and Perfex wants the BASEPATH guard in every file.

defined('BASEPATH') or exit('No direct script access allowed');

/** The two buttons of the settings section; both answer JSON to the section's script. */
class Sunsky_settings extends AdminController
{
    /** POST admin/sunsky_dropship/sunsky_settings/test_connection */
    public function test_connection()
    {
        $this->guard();
        $this->json(sunsky_dropship()->testConnection());
    }

    /** POST admin/sunsky_dropship/sunsky_settings/requeue_failed */
    public function requeue_failed()
    {
        $this->guard();
        $count = sunsky_dropship()->requeueFailed();
        log_activity('SUNSKY Dropship: ' . $count . ' refused event(s) queued again');
        $this->json(['ok' => true, 'requeued' => $count, 'message' => $count . ' event(s) queued again']);
    }

    private function guard()
    {
        if (!is_admin() && !staff_can('edit', 'settings')) {
            access_denied('settings');
        }
        if ($this->input->method() !== 'post') {
            show_404();
        }
    }

    private function json(array $body)
    {
        $this->output->set_content_type('application/json')->set_output(json_encode($body));
    }
}
