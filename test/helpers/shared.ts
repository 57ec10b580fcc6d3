/**
 * The real data samples beside the project (../shared/data; see its
 * README.md): their folder, a file in it, and whether files are present.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The shared data folder (dist/test/helpers -> the repository's parent folder). */
export const SHARED = fileURLToPath(new URL("../../../../shared/data/", import.meta.url));

/** A file of the shared data folder. */
export function sharedFile(rel: string): string {
  return join(SHARED, rel);
}

/** True when every one of these shared files is present. */
export function haveShared(...rels: string[]): boolean {
  return rels.every((r) => existsSync(sharedFile(r)));
}
