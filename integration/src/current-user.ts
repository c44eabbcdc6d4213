/**
 * Per engine: a query answering the session's user name (MySQL's without its `@host`) as `user`,
 * and the Service Connector variable that would otherwise name the user.
 */
export const CURRENT_USER = {
  postgresql: { sql: "select current_user as user", userVariable: "AZURE_POSTGRESQL_USER" },
  mysql: { sql: "select substring_index(current_user(), '@', 1) as user", userVariable: "AZURE_MYSQL_USER" },
} as const;
