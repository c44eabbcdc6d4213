import { withEntra as withEntraMysql } from "@org/mysql2-entra";
import { withEntra as withEntraPg } from "@org/pg-entra";
import mysql from "mysql2/promise";
import pg from "pg";

/** One to-do item. */
export interface Todo {
  readonly id: number;
  readonly title: string;
  readonly done: boolean;
}

/** The app's data access: the code under test, the same in production and in the tests. */
export interface TodoRepository {
  /** Creates the table if it does not exist. */
  migrate(): Promise<void>;
  add(title: string): Promise<Todo>;
  complete(id: number): Promise<void>;
  list(): Promise<Todo[]>;
  /** The database user the session runs as: the managed identity's name. */
  currentUser(): Promise<string>;
  close(): Promise<void>;
}

/**
 * The to-do list in Azure Database for PostgreSQL. No password anywhere: `withEntra()` reads the
 * Service Connector variables (`AZURE_POSTGRESQL_HOST`, `_PORT`, `_DATABASE`, `_USER`, `_SSL`) and
 * signs every new connection in with an Entra token from `DefaultAzureCredential`, over verified TLS.
 */
export function createPostgresTodoRepository(): TodoRepository {
  const pool = new pg.Pool(withEntraPg({ max: 4 }));
  return {
    async migrate() {
      await pool.query(
        "create table if not exists todos (id serial primary key, title text not null, done boolean not null default false)",
      );
    },
    async add(title) {
      const { rows } = await pool.query<Todo>(
        "insert into todos (title) values ($1) returning id, title, done",
        [title],
      );
      return rows[0] as Todo;
    },
    async complete(id) {
      await pool.query("update todos set done = true where id = $1", [id]);
    },
    async list() {
      const { rows } = await pool.query<Todo>("select id, title, done from todos order by id");
      return rows;
    },
    async currentUser() {
      const { rows } = await pool.query<{ name: string }>("select current_user as name");
      return (rows[0] as { name: string }).name;
    },
    close: () => pool.end(),
  };
}

/**
 * The to-do list in Azure Database for MySQL (or MariaDB): the same, with `AZURE_MYSQL_*` and the
 * `mysql_clear_password` plugin answering with the token.
 */
export function createMysqlTodoRepository(): TodoRepository {
  const pool = mysql.createPool(withEntraMysql({ connectionLimit: 4 }));
  type Row = mysql.RowDataPacket & { id: number; title: string; done: number };
  const toTodo = (row: Row): Todo => ({ id: row.id, title: row.title, done: row.done === 1 });
  return {
    async migrate() {
      await pool.query(
        "create table if not exists todos (id int auto_increment primary key, title varchar(200) not null, done boolean not null default false)",
      );
    },
    async add(title) {
      const [result] = await pool.execute<mysql.ResultSetHeader>("insert into todos (title) values (?)", [
        title,
      ]);
      return { id: result.insertId, title, done: false };
    },
    async complete(id) {
      await pool.execute("update todos set done = true where id = ?", [id]);
    },
    async list() {
      const [rows] = await pool.query<Row[]>("select id, title, done from todos order by id");
      return rows.map(toTodo);
    },
    async currentUser() {
      const [rows] = await pool.query<(mysql.RowDataPacket & { name: string })[]>(
        "select current_user() as name",
      );
      return (rows[0] as { name: string }).name;
    },
    close: () => pool.end(),
  };
}
