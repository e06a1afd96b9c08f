<?php

/**
 * The subset of CodeIgniter 3's query builder the module uses, on a real MariaDB through mysqli.
 * Like CodeIgniter's mysqli driver, every value comes back as a string (or null). Unlike a
 * production Perfex (db_debug off), a failing query throws, so a test sees it at once.
 */
final class StubDatabase
{
    /** @var mysqli */
    private $mysqli;
    /** @var string[] */
    private $wheres = [];
    /** @var string[] */
    private $orderBy = [];
    /** @var int|null */
    private $limit;
    /** @var string */
    private $select = '*';
    /** @var int */
    private $affectedRows = 0;
    /** @var int */
    private $insertId = 0;
    /** @var string[] every statement sent, for tests that look at the SQL */
    public $queries = [];

    public function __construct(mysqli $mysqli)
    {
        $this->mysqli = $mysqli;
    }

    public function mysqli(): mysqli
    {
        return $this->mysqli;
    }

    public function where($key, $value = null, $escape = true): self
    {
        if (is_array($key)) {
            foreach ($key as $column => $item) {
                $this->where($column, $item);
            }
            return $this;
        }
        if ($value === null && $escape === false) {
            $this->wheres[] = $key;  // a raw condition, as CodeIgniter allows
            return $this;
        }
        if (!preg_match('/^\s*([\w.]+)\s*(<=|>=|<>|!=|<|>|=)?\s*$/', $key, $m)) {
            throw new InvalidArgumentException('unsupported where() key: ' . $key);
        }
        $operator = $m[2] ?? '';
        if ($value === null) {
            $this->wheres[] = $this->identifier($m[1]) . ($operator === '!=' || $operator === '<>' ? ' IS NOT NULL' : ' IS NULL');
        } else {
            $this->wheres[] = $this->identifier($m[1]) . ' ' . ($operator ?: '=') . ' ' . $this->escape($value);
        }
        return $this;
    }

    public function where_in($key, array $values): self
    {
        $this->wheres[] = $values === []
            ? '0 = 1'
            : $this->identifier($key) . ' IN (' . implode(', ', array_map([$this, 'escape'], $values)) . ')';
        return $this;
    }

    public function order_by($column, $direction = 'ASC'): self
    {
        $this->orderBy[] = $this->identifier($column) . (strtoupper($direction) === 'DESC' ? ' DESC' : ' ASC');
        return $this;
    }

    public function limit($limit, $offset = null): self
    {
        $this->limit = (int) $limit;
        return $this;
    }

    public function select($columns = '*'): self
    {
        $this->select = $columns;
        return $this;
    }

    public function get($table = '', $limit = null, $offset = null): StubResult
    {
        if ($limit !== null) {
            $this->limit($limit);
        }
        $sql = 'SELECT ' . $this->select . ' FROM ' . $this->identifier($table) . $this->compileWhere();
        if ($this->orderBy) {
            $sql .= ' ORDER BY ' . implode(', ', $this->orderBy);
        }
        if ($this->limit !== null) {
            $sql .= ' LIMIT ' . $this->limit;
        }
        $this->reset();
        return $this->query($sql);
    }

    public function get_where($table, array $where): StubResult
    {
        return $this->where($where)->get($table);
    }

    public function count_all_results($table): int
    {
        $result = $this->select('COUNT(*) AS total')->get($table)->row_array();
        return (int) $result['total'];
    }

    public function insert($table, array $data): bool
    {
        $columns = implode(', ', array_map([$this, 'identifier'], array_keys($data)));
        $values = implode(', ', array_map([$this, 'escape'], array_values($data)));
        $this->reset();
        return $this->query('INSERT INTO ' . $this->identifier($table) . " ($columns) VALUES ($values)");
    }

    public function insert_id(): int
    {
        return $this->insertId;
    }

    public function update($table, array $data = [], $where = null): bool
    {
        if ($where !== null) {
            $this->where($where);
        }
        $sets = [];
        foreach ($data as $column => $value) {
            $sets[] = $this->identifier($column) . ' = ' . $this->escape($value);
        }
        $sql = 'UPDATE ' . $this->identifier($table) . ' SET ' . implode(', ', $sets) . $this->compileWhere();
        $this->reset();
        return $this->query($sql);
    }

    public function delete($table, $where = []): bool
    {
        if ($where) {
            $this->where($where);
        }
        $sql = 'DELETE FROM ' . $this->identifier($table) . $this->compileWhere();
        $this->reset();
        return $this->query($sql);
    }

    public function affected_rows(): int
    {
        return $this->affectedRows;
    }

    /**
     * @param array|false $binds values for the "?" placeholders, escaped as CodeIgniter does
     * @return StubResult|bool a result for statements that return rows, else true
     */
    public function query($sql, $binds = false)
    {
        if (is_array($binds)) {
            $parts = explode('?', $sql);
            if (count($parts) - 1 !== count($binds)) {
                throw new InvalidArgumentException('query(): ' . count($binds) . ' binds for ' . (count($parts) - 1) . ' placeholders');
            }
            $sql = array_shift($parts);
            foreach ($parts as $i => $part) {
                $sql .= $this->escape($binds[$i]) . $part;
            }
        }
        $this->queries[] = $sql;
        $result = $this->mysqli->query($sql);
        if ($result === false) {
            throw new RuntimeException('MariaDB error ' . $this->mysqli->errno . ': ' . $this->mysqli->error . ' in: ' . $sql);
        }
        $this->affectedRows = max(0, (int) $this->mysqli->affected_rows);
        $this->insertId = (int) $this->mysqli->insert_id;
        if ($result instanceof mysqli_result) {
            $rows = $result->fetch_all(MYSQLI_ASSOC);
            $result->free();
            return new StubResult($rows);
        }
        return true;
    }

    public function escape($value): string
    {
        if ($value === null) {
            return 'NULL';
        }
        if (is_bool($value)) {
            return $value ? '1' : '0';
        }
        if (is_int($value) || is_float($value)) {
            return (string) $value;
        }
        return "'" . $this->mysqli->real_escape_string((string) $value) . "'";
    }

    public function trans_begin(): bool
    {
        return $this->mysqli->begin_transaction();
    }

    public function trans_commit(): bool
    {
        return $this->mysqli->commit();
    }

    public function trans_rollback(): bool
    {
        return $this->mysqli->rollback();
    }

    public function table_exists($table): bool
    {
        return $this->query('SHOW TABLES LIKE ?', [$table])->num_rows() === 1;
    }

    public function field_exists($field, $table): bool
    {
        return $this->query('SHOW COLUMNS FROM ' . $this->identifier($table) . ' LIKE ?', [$field])->num_rows() === 1;
    }

    private function compileWhere(): string
    {
        return $this->wheres ? ' WHERE ' . implode(' AND ', $this->wheres) : '';
    }

    private function reset(): void
    {
        $this->wheres = [];
        $this->orderBy = [];
        $this->limit = null;
        $this->select = '*';
    }

    private function identifier(string $name): string
    {
        return implode('.', array_map(function ($part) {
            return '`' . str_replace('`', '', $part) . '`';
        }, explode('.', trim($name))));
    }
}

final class StubResult
{
    /** @var array<int, array<string, ?string>> */
    private $rows;

    public function __construct(array $rows)
    {
        $this->rows = $rows;
    }

    public function result_array(): array
    {
        return $this->rows;
    }

    public function result(): array
    {
        return array_map(function ($row) {
            return (object) $row;
        }, $this->rows);
    }

    /** Like CodeIgniter: an empty array when there is no row. */
    public function row_array(): array
    {
        return $this->rows[0] ?? [];
    }

    public function row()
    {
        return isset($this->rows[0]) ? (object) $this->rows[0] : null;
    }

    public function num_rows(): int
    {
        return count($this->rows);
    }
}
