import { describe, expect, it } from 'vitest';
import {
  allowedInReadonly, createdTemporaryTable, explicitFormat, insertDataOffset, quoteString, setAssignments, statementKind, useDatabase,
} from '../../../processors/clickhouse/endpoint/sql.ts';

describe('statementKind', () => {
  it('reads the leading keyword, treating WITH and parenthesised selects as SELECT', () => {
    expect(statementKind('  select 1')).toBe('SELECT');
    expect(statementKind('WITH x AS (SELECT 1) SELECT * FROM x')).toBe('SELECT');
    expect(statementKind('(SELECT 1) UNION ALL (SELECT 2)')).toBe('SELECT');
    expect(statementKind('-- comment\ninsert into t values (1)')).toBe('INSERT');
    expect(statementKind('/* c */ SET a = 1')).toBe('SET');
    expect(statementKind('desc t')).toBe('DESCRIBE');
    expect(statementKind('SELEC 1')).toBe('OTHER');
    expect(statementKind('  -- only a comment')).toBe('EMPTY');
  });
});

describe('allowedInReadonly', () => {
  it('refuses statements that change data or schema, lets reads and SET (readonly=2) through', () => {
    expect(allowedInReadonly('SELECT 1', 2)).toBe(true);
    expect(allowedInReadonly('SHOW TABLES', 1)).toBe(true);
    expect(allowedInReadonly('SET max_threads = 1', 2)).toBe(true);
    expect(allowedInReadonly('SET max_threads = 1', 1)).toBe(false);
    expect(allowedInReadonly('INSERT INTO t VALUES (1)', 2)).toBe(false);
    expect(allowedInReadonly('create table t (a Int8) engine = Memory', 2)).toBe(false);
    expect(allowedInReadonly('DROP TABLE t', 1)).toBe(false);
  });

  it('lets unknown words through so the engine reports the syntax error', () => {
    expect(allowedInReadonly('SELEC 1', 2)).toBe(true);
  });
});

describe('explicitFormat', () => {
  it('finds a trailing FORMAT clause, also before SETTINGS or a semicolon', () => {
    expect(explicitFormat('SELECT 1 FORMAT JSONEachRow')).toBe('JSONEachRow');
    expect(explicitFormat('SELECT 1 FORMAT Native SETTINGS max_threads = 1')).toBe('Native');
    expect(explicitFormat('SELECT 1 format JSON;')).toBe('JSON');
  });

  it('ignores a column called format, formats inside strings and in subqueries', () => {
    expect(explicitFormat('SELECT name, format FROM system.formats')).toBeUndefined();
    expect(explicitFormat("SELECT * FROM file('x.csv', 'CSV') WHERE s = 'FORMAT JSON'")).toBeUndefined();
    expect(explicitFormat('SELECT * FROM (SELECT 1 FORMAT CSV)')).toBeUndefined();
  });
});

describe('insertDataOffset', () => {
  it('points just past the format name and one line break', () => {
    const sql = 'INSERT INTO t (a, b) FORMAT JSONEachRow\n{"a":1}';
    expect(sql.slice(insertDataOffset(sql))).toBe('{"a":1}');
    const crlf = 'insert into t format CSV  \r\n1,2';
    expect(crlf.slice(insertDataOffset(crlf))).toBe('1,2');
  });

  it('keeps leading bytes of binary data that happen to be blanks', () => {
    const sql = 'INSERT INTO t FORMAT RowBinary \n\n\x00';
    expect(sql.slice(insertDataOffset(sql))).toBe('\n\x00');
  });

  it('has no offset for INSERT … SELECT, INSERT … VALUES and other statements', () => {
    expect(insertDataOffset('INSERT INTO t SELECT * FROM s FORMAT JSON')).toBeUndefined();
    expect(insertDataOffset('INSERT INTO t VALUES (1)')).toBeUndefined();
    expect(insertDataOffset('SELECT 1 FORMAT JSON')).toBeUndefined();
  });

  it('skips a FORMAT named inside the column list or settings strings', () => {
    const sql = "INSERT INTO t (`format`) SETTINGS x = 'FORMAT' FORMAT TSV\n1";
    expect(sql.slice(insertDataOffset(sql))).toBe('1');
  });
});

describe('setAssignments', () => {
  it('splits top-level assignments and keeps each value as written', () => {
    expect(setAssignments("SET a = 1, b = 'x,y', c = [1, 2], param_p = 'it''s'")).toEqual([
      { name: 'a', valueSql: '1' },
      { name: 'b', valueSql: "'x,y'" },
      { name: 'c', valueSql: '[1, 2]' },
      { name: 'param_p', valueSql: "'it''s'" },
    ]);
  });

  it('is empty for SET ROLE and non-SET statements', () => {
    expect(setAssignments('SET ROLE admin')).toEqual([]);
    expect(setAssignments('SELECT 1')).toEqual([]);
  });
});

describe('useDatabase and createdTemporaryTable', () => {
  it('read the database of USE and the name of a new temporary table', () => {
    expect(useDatabase('USE `masterdeal`')).toBe('masterdeal');
    expect(createdTemporaryTable('CREATE TEMPORARY TABLE IF NOT EXISTS tmp_1 (a UInt8)')).toBe('tmp_1');
    expect(createdTemporaryTable('create or replace temporary table "t2" as select 1')).toBe('t2');
    expect(createdTemporaryTable('CREATE TABLE t (a UInt8) ENGINE = Memory')).toBeUndefined();
  });
});

describe('quoteString', () => {
  it('escapes backslashes and quotes', () => {
    expect(quoteString("a'b\\c")).toBe("'a\\'b\\\\c'");
  });
});

describe('droppedTable', () => {
  it('names an unqualified table a DROP TABLE targets, temporary or not', async () => {
    const { droppedTable } = await import('../../../processors/clickhouse/endpoint/sql.ts');
    expect(droppedTable('DROP TEMPORARY TABLE IF EXISTS tmp_1')).toBe('tmp_1');
    expect(droppedTable('drop table `x y`')).toBe('x y');
    expect(droppedTable('DROP TABLE db.t')).toBeUndefined();
    expect(droppedTable('DROP TABLE `db`.`t`')).toBeUndefined();
    expect(droppedTable('DROP VIEW v')).toBeUndefined();
    expect(droppedTable('DROP DATABASE d')).toBeUndefined();
  });
});
