<?php

// phpcs:disable PSR1.Classes.ClassDeclaration.MissingNamespace, Squiz.Classes.ValidClassName.NotCamelCaps
// phpcs:disable PSR1.Files.SideEffects, PSR1.Methods.CamelCapsMethodName
// -- CodeIgniter routes sunsky_dropship/webhook to this global class, and Perfex wants the BASEPATH
// guard in every file.

defined('BASEPATH') or exit('No direct script access allowed');

/**
 * POST {perfex}/sunsky_dropship/webhook: order updates from the dropship service (no login, no CSRF
 * token: the Standard Webhooks signature is the authentication; see config/csrf_exclude_uris.php).
 */
class Sunsky_dropship extends App_Controller
{
    public function webhook()
    {
        $headers = array_change_key_case((array) $this->input->request_headers(), CASE_LOWER);
        $response = sunsky_dropship()->webhook(
            (string) $this->input->method(true),
            $headers,
            (string) $this->input->raw_input_stream
        );
        $this->output
            ->set_status_header($response->status())
            ->set_content_type('application/json')
            ->set_output($response->json());
    }
}
