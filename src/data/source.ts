import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { createGunzip } from "node:zlib";
import { isStdin, stdinChunks } from "./stdin.js";

const CHUNK = 1 << 20;

/** True when the file starts with the gzip magic bytes. */
export async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, "r");
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/**
 * The bytes of a file, plain or gzip (detected by its magic bytes), in chunks
 * of about 1 MiB. A truncated or corrupt gzip stream is an error naming the
 * file, never a silent short read. The path "-" is standard input, read in
 * one pass (data/stdin.ts). With `start` > 0, the bytes of a plain file from
 * that offset on (a gzip file or standard input cannot start there: an error).
 */
export async function* fileChunks(path: string, start = 0): AsyncGenerator<Buffer> {
  if (!Number.isSafeInteger(start) || start < 0) throw new RangeError(`${path}: start byte ${start} must be an integer >= 0`);
  if (isStdin(path)) {
    if (start > 0) throw new Error(`${path}: standard input cannot be read from byte ${start}`);
    yield* stdinChunks();
    return;
  }
  const gz = await isGzip(path);
  if (gz && start > 0) throw new Error(`${path}: a gzip file cannot be read from byte ${start}`);
  const raw = createReadStream(path, start > 0 ? { highWaterMark: CHUNK, start } : { highWaterMark: CHUNK });
  const stream = gz ? raw.pipe(createGunzip({ chunkSize: CHUNK })) : raw;
  if (gz) raw.on("error", (e) => stream.destroy(e));
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (gz && (err.code === "Z_BUF_ERROR" || err.code === "Z_DATA_ERROR" || /unexpected end/i.test(err.message))) {
      throw new Error(`${path}: the gzip stream is truncated or corrupt (${err.message})`);
    }
    throw new Error(`${path}: ${err.message}`);
  } finally {
    raw.destroy();
  }
}
