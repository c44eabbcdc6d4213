import { execFile } from "node:child_process";
import { promisify } from "node:util";

const LOCAL_IMAGES = {
  ENTRA_IT_POSTGRES_IMAGE: "entra-local/postgres:17",
  ENTRA_IT_MARIADB_IMAGE: "entra-local/mariadb:11",
} as const;

async function imageExists(image: string): Promise<boolean> {
  try {
    await promisify(execFile)("docker", ["image", "inspect", "--format", "{{.Id}}", image], {
      timeout: 5_000,
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * The integration project's global setup: where scripts/build-test-images.sh built the local
 * PostgreSQL 17 and MariaDB 11 images (no image registry reachable), the testcontainers pass and the
 * testcontainers example use them, and testcontainers' Ryuk (an image from Docker Hub) is disabled;
 * scripts/ensure-docker.sh removes what a crashed run leaves instead. The workers inherit these
 * variables. Variables already set win; without the local images, the official images are used.
 */
export default async function setup(): Promise<void> {
  if (process.env.ENTRA_IT_CONTAINERS === "off") return;
  const missing = Object.entries(LOCAL_IMAGES).filter(([variable]) => !process.env[variable]);
  if (missing.length === 0) return;
  const local = await Promise.all(missing.map(([, image]) => imageExists(image)));
  if (!local.every(Boolean)) return;
  for (const [variable, image] of missing) process.env[variable] = image;
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
}
