export default function Home() {
  return (
    <main>
      <h1>Next.js + Drizzle on Azure Database for PostgreSQL, no password</h1>
      <ul>
        <li>
          <a href="/api/whoami">/api/whoami</a>: the database role this app signs in as
        </li>
        <li>
          <a href="/api/health">/api/health</a>: the state of its Entra token
        </li>
      </ul>
    </main>
  );
}
