import type { ReactNode } from "react";

export const metadata = { title: "Next.js + Drizzle on Azure PostgreSQL, passwordless" };

export default function RootLayout({ children }: { readonly children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
