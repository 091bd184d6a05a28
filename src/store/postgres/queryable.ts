/** What the area modules run their SQL on: the pool (one statement, autocommit) or a client inside a transaction. */
import type pg from 'pg';

export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

export async function rowsOf<R extends pg.QueryResultRow>(
  db: Queryable,
  sql: string,
  params: unknown[] = [],
): Promise<R[]> {
  return (await db.query<R>(sql, params)).rows;
}
