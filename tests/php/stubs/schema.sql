-- The Perfex core tables the module and its stubs touch, trimmed to the columns in use, with the
-- types of Perfex 3.3.1's install/database.sql. The stub-only tables are prefixed tblstub_.

CREATE TABLE IF NOT EXISTS `tbloptions` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(191) NOT NULL,
  `value` LONGTEXT NOT NULL,
  `autoload` TINYINT(1) NOT NULL DEFAULT 1,
  PRIMARY KEY (`id`),
  UNIQUE KEY `name` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `tblcountries` (
  `country_id` INT NOT NULL,
  `iso2` CHAR(2) DEFAULT NULL,
  `short_name` VARCHAR(80) NOT NULL DEFAULT '',
  `long_name` VARCHAR(80) NOT NULL DEFAULT '',
  `iso3` CHAR(3) DEFAULT NULL,
  PRIMARY KEY (`country_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `tblcontacts` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `userid` INT NOT NULL,
  `is_primary` INT NOT NULL DEFAULT 1,
  `firstname` VARCHAR(191) NOT NULL,
  `lastname` VARCHAR(191) NOT NULL,
  `email` VARCHAR(100) NOT NULL,
  `phonenumber` VARCHAR(100) NOT NULL,
  `title` VARCHAR(100) DEFAULT NULL,
  `datecreated` DATETIME NOT NULL,
  `active` TINYINT(1) NOT NULL DEFAULT 1,
  `invoice_emails` TINYINT(1) NOT NULL DEFAULT 1,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `tblcustomfields` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `fieldto` VARCHAR(30) DEFAULT NULL,
  `name` VARCHAR(150) NOT NULL,
  `slug` VARCHAR(150) NOT NULL,
  `type` VARCHAR(20) NOT NULL DEFAULT 'input',
  `active` INT NOT NULL DEFAULT 1,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `tblcustomfieldsvalues` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `relid` INT NOT NULL,
  `fieldid` INT NOT NULL,
  `fieldto` VARCHAR(15) NOT NULL,
  `value` MEDIUMTEXT NOT NULL,
  PRIMARY KEY (`id`),
  KEY `relid` (`relid`),
  KEY `fieldto` (`fieldto`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `tblnotes` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `rel_id` INT NOT NULL,
  `rel_type` VARCHAR(20) NOT NULL,
  `description` MEDIUMTEXT,
  `date_contacted` DATETIME DEFAULT NULL,
  `addedfrom` INT NOT NULL,
  `dateadded` DATETIME NOT NULL,
  PRIMARY KEY (`id`),
  KEY `rel_id` (`rel_id`),
  KEY `rel_type` (`rel_type`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `tblemailtemplates` (
  `emailtemplateid` INT NOT NULL AUTO_INCREMENT,
  `type` MEDIUMTEXT NOT NULL,
  `slug` VARCHAR(100) NOT NULL,
  `language` VARCHAR(40) DEFAULT NULL,
  `name` MEDIUMTEXT NOT NULL,
  `subject` MEDIUMTEXT NOT NULL,
  `message` TEXT NOT NULL,
  `fromname` MEDIUMTEXT NOT NULL,
  `fromemail` VARCHAR(100) DEFAULT NULL,
  `plaintext` INT NOT NULL DEFAULT 0,
  `active` TINYINT NOT NULL DEFAULT 0,
  `order` INT NOT NULL DEFAULT 0,
  PRIMARY KEY (`emailtemplateid`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `tblactivity_log` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `description` LONGTEXT NOT NULL,
  `date` DATETIME NOT NULL,
  `staffid` VARCHAR(100) DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- What invoices_model->get() returns, one JSON document per invoice (items, client, payments).
CREATE TABLE IF NOT EXISTS `tblstub_invoices` (
  `id` INT NOT NULL,
  `data` LONGTEXT NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every e-mail App_mail_template::send() would have sent, rendered.
CREATE TABLE IF NOT EXISTS `tblstub_sent_emails` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `template_class` VARCHAR(100) NOT NULL,
  `slug` VARCHAR(100) NOT NULL,
  `to_email` VARCHAR(191) NOT NULL,
  `rel_type` VARCHAR(30) DEFAULT NULL,
  `rel_id` INT DEFAULT NULL,
  `subject` MEDIUMTEXT NOT NULL,
  `message` MEDIUMTEXT NOT NULL,
  `merge_fields` MEDIUMTEXT NOT NULL,
  `sent_at` DATETIME NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO `tblcountries` (`country_id`, `iso2`, `short_name`, `long_name`, `iso3`) VALUES
(14, 'AU', 'Australia', 'Commonwealth of Australia', 'AUS'),
(40, 'CA', 'Canada', 'Canada', 'CAN'),
(76, 'FR', 'France', 'French Republic', 'FRA'),
(83, 'DE', 'Germany', 'Federal Republic of Germany', 'DEU'),
(235, 'GB', 'United Kingdom', 'United Kingdom of Great Britain and Nothern Ireland', 'GBR'),
(236, 'US', 'United States', 'United States of America', 'USA');
