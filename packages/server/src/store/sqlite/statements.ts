import type BetterSqlite3 from "better-sqlite3";
import type { Sql, SqlValue, Dialect } from "../sql.ts";

/** Turns one raw row (values in column order) into the object the repositories read. */
type RowBuilder = (values: readonly unknown[]) => object;

interface Prepared {
  readonly statement: BetterSqlite3.Statement;
  /** False for a statement that may change the database (SQLite's `sqlite3_stmt_readonly`). */
  readonly readonly: boolean;
  /** Set for statements that return rows; rebuilt should the column list change. */
  build: RowBuilder | undefined;
  columnCount: number;
}

/**
 * Statements cached per connection; far above what the code's fixed SQL needs. Past it the
 * oldest is dropped, so SQL that varies (an `IN` of n ids) cannot grow the cache without bound.
 */
const STATEMENTS_MAX = 2000;

/**
 * Builds a row object from a raw row with one object literal whose keys are fixed when the
 * statement is prepared. better-sqlite3's own row objects set each column by name from C++,
 * turning every column name into a V8 string again for every row: a 16-column row costs 45.8k
 * instructions that way against 29.9k here (callgrind), and a deduct reads two rows. Column
 * names come from our own SQL and are quoted with JSON.stringify, so the generated code is a
 * plain object literal. A repeated column name keeps its last value, as better-sqlite3's objects
 * do. Where code generation is disabled (`--disallow-code-generation-from-strings`), a loop
 * builds the same objects, more slowly.
 */
function rowBuilder(columns: readonly string[]): RowBuilder {
  const fields = columns.map((name, i) => `${JSON.stringify(name)}: v[${i}]`).join(", ");
  try {
    return new Function("v", `return { ${fields} };`) as RowBuilder;
  } catch {
    return (values) => {
      const row: Record<string, unknown> = {};
      for (let i = 0; i < columns.length; i++) row[columns[i]!] = values[i];
      return row;
    };
  }
}

/**
 * One connection's prepared statements, and a `Sql` that runs them. Statements are prepared once
 * per SQL text and kept; rows come back raw and are turned into objects by a per-statement builder.
 */
export class StatementCache {
  private readonly prepared = new Map<string, Prepared>();
  readonly sql: Sql;
  /**
   * Statements run so far that may have changed the database (any that is not read-only,
   * whether or not it changed a row): a transaction that ran none has nothing to undo.
   */
  writes = 0;

  constructor(
    private readonly connection: BetterSqlite3.Database,
    dialect: Dialect,
  ) {
    this.sql = {
      dialect,
      all: async <T extends object>(sql: string, params?: readonly SqlValue[]) => this.all(sql, params) as T[],
      get: async <T extends object>(sql: string, params?: readonly SqlValue[]) => this.get(sql, params) as T | undefined,
      run: async (sql: string, params?: readonly SqlValue[]) => ({ changes: runWith(this.prepareToRun(sql).statement, params).changes }),
    };
  }

  private prepare(sql: string): Prepared {
    let entry = this.prepared.get(sql);
    if (entry === undefined) {
      const statement = this.connection.prepare(sql);
      entry = { statement, readonly: statement.readonly, build: undefined, columnCount: -1 };
      if (statement.reader) {
        statement.raw(true);
        this.refreshColumns(entry);
      }
      if (this.prepared.size >= STATEMENTS_MAX) this.prepared.delete(this.prepared.keys().next().value!);
      this.prepared.set(sql, entry);
    }
    return entry;
  }

  /** The statement for `sql`, counted in `writes` when it may write. */
  private prepareToRun(sql: string): Prepared {
    const entry = this.prepare(sql);
    if (!entry.readonly) this.writes++;
    return entry;
  }

  /** SQLite re-prepares a statement after a schema change, and `SELECT *` may then return other columns. */
  private refreshColumns(entry: Prepared): void {
    const columns = entry.statement.columns().map((c) => c.name);
    entry.build = rowBuilder(columns);
    entry.columnCount = columns.length;
  }

  private toRow(entry: Prepared, values: readonly unknown[]): object {
    if (values.length !== entry.columnCount) this.refreshColumns(entry);
    return entry.build!(values);
  }

  private all(sql: string, params: readonly SqlValue[] | undefined): object[] {
    const entry = this.prepareToRun(sql);
    const rows = allWith(entry.statement, params) as unknown[][];
    if (entry.build === undefined) return rows as unknown as object[];
    const objects = new Array<object>(rows.length);
    for (let i = 0; i < rows.length; i++) objects[i] = this.toRow(entry, rows[i]!);
    return objects;
  }

  private get(sql: string, params: readonly SqlValue[] | undefined): object | undefined {
    const entry = this.prepareToRun(sql);
    const row = getWith(entry.statement, params) as unknown[] | undefined;
    if (row === undefined || entry.build === undefined) return row as object | undefined;
    return this.toRow(entry, row);
  }
}

/**
 * Parameters mostly go to better-sqlite3 spread as arguments: it reads each from the call's
 * arguments directly, where an array costs it a generic element lookup per parameter (callgrind,
 * a 17-parameter INSERT: 19.6k instructions against 25.9k). A long list (an `IN (…)` of many
 * ids) goes as one array instead, which better-sqlite3 also takes, so no call nears the
 * engine's limit on arguments.
 */
const SPREAD_PARAMS_MAX = 256;

function runWith(statement: BetterSqlite3.Statement, params: readonly SqlValue[] | undefined): BetterSqlite3.RunResult {
  const values = normalize(params);
  return values.length > SPREAD_PARAMS_MAX ? statement.run(values) : statement.run(...values);
}

function getWith(statement: BetterSqlite3.Statement, params: readonly SqlValue[] | undefined): unknown {
  const values = normalize(params);
  return values.length > SPREAD_PARAMS_MAX ? statement.get(values) : statement.get(...values);
}

function allWith(statement: BetterSqlite3.Statement, params: readonly SqlValue[] | undefined): unknown[] {
  const values = normalize(params);
  return values.length > SPREAD_PARAMS_MAX ? statement.all(values) : statement.all(...values);
}

/** SQLite has no booleans. */
const NO_PARAMS: unknown[] = [];
function normalize(params: readonly SqlValue[] | undefined): unknown[] {
  if (params === undefined) return NO_PARAMS;
  for (const p of params) if (typeof p === "boolean") return params.map((v) => (typeof v === "boolean" ? (v ? 1 : 0) : v));
  return params as unknown[];
}
