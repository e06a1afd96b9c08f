<?php

// phpcs:disable PSR1.Files.SideEffects -- the BASEPATH guard Perfex puts in every file

namespace SunskyDropship;

defined('BASEPATH') or exit('No direct script access allowed');

/** The module's tables; activation and the migrations both call install(), which is idempotent. */
final class Schema
{
    public const TABLES = ['sunsky_outbox', 'sunsky_orders', 'sunsky_webhook_ids'];

    private const OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci';

    /** @param object $db CodeIgniter database */
    public static function install($db, string $prefix): void
    {
        $db->query('CREATE TABLE IF NOT EXISTS `' . $prefix . 'sunsky_outbox` (
            `id` INT NOT NULL AUTO_INCREMENT,
            `event_uid` VARCHAR(64) NOT NULL,
            `event_type` VARCHAR(40) NOT NULL,
            `invoice_id` INT NOT NULL,
            `body` MEDIUMTEXT NOT NULL,
            `status` VARCHAR(20) NOT NULL DEFAULT \'pending\',
            `attempts` INT NOT NULL DEFAULT 0,
            `next_retry_at` DATETIME NULL DEFAULT NULL,
            `last_status_code` INT NULL DEFAULT NULL,
            `last_error` TEXT NULL,
            `created_at` DATETIME NOT NULL,
            `sent_at` DATETIME NULL DEFAULT NULL,
            PRIMARY KEY (`id`),
            UNIQUE KEY `event_uid` (`event_uid`),
            KEY `status_next_retry_at` (`status`, `next_retry_at`),
            KEY `invoice_id` (`invoice_id`)
        ) ' . self::OPTIONS);
        $db->query('CREATE TABLE IF NOT EXISTS `' . $prefix . 'sunsky_orders` (
            `id` INT NOT NULL AUTO_INCREMENT,
            `invoice_id` INT NOT NULL,
            `order_id` BIGINT NULL DEFAULT NULL,
            `status` VARCHAR(30) NOT NULL DEFAULT \'\',
            `sunsky_order_number` VARCHAR(64) NULL DEFAULT NULL,
            `tracking_number` VARCHAR(100) NULL DEFAULT NULL,
            `tracking_url` VARCHAR(1000) NULL DEFAULT NULL,
            `shipping_method` VARCHAR(191) NULL DEFAULT NULL,
            `cancel_reason` TEXT NULL,
            `last_error_code` VARCHAR(64) NULL DEFAULT NULL,
            `last_error_message` TEXT NULL,
            `last_event_type` VARCHAR(40) NULL DEFAULT NULL,
            `last_event_at` DATETIME NULL DEFAULT NULL,
            `updated_at` DATETIME NOT NULL,
            PRIMARY KEY (`id`),
            UNIQUE KEY `invoice_id` (`invoice_id`)
        ) ' . self::OPTIONS);
        $db->query('CREATE TABLE IF NOT EXISTS `' . $prefix . 'sunsky_webhook_ids` (
            `webhook_id` VARCHAR(191) NOT NULL,
            `message_type` VARCHAR(40) NOT NULL,
            `invoice_id` INT NOT NULL,
            `received_at` DATETIME NOT NULL,
            PRIMARY KEY (`webhook_id`),
            KEY `invoice_id` (`invoice_id`)
        ) ' . self::OPTIONS);
    }

    /** @param object $db CodeIgniter database */
    public static function uninstall($db, string $prefix): void
    {
        foreach (self::TABLES as $table) {
            $db->query('DROP TABLE IF EXISTS `' . $prefix . $table . '`');
        }
    }
}
