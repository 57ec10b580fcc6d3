/**
 * SVG to PNG with @resvg/resvg-wasm (pure WebAssembly; no system fonts are
 * needed because the figures draw their text as paths).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { initWasm, Resvg } from "@resvg/resvg-wasm";

let ready: Promise<void> | undefined;

function init(): Promise<void> {
  if (!ready) {
    const wasm = readFileSync(createRequire(import.meta.url).resolve("@resvg/resvg-wasm/index_bg.wasm"));
    ready = initWasm(wasm);
  }
  return ready;
}

/** Renders an SVG at `zoom` times its size on a white background. */
export async function svgToPng(svg: string, zoom = 2): Promise<{ png: Uint8Array; width: number; height: number }> {
  await init();
  const r = new Resvg(svg, { fitTo: { mode: "zoom", value: zoom }, background: "#ffffff", font: { loadSystemFonts: false } });
  try {
    const img = r.render();
    try {
      return { png: img.asPng(), width: img.width, height: img.height };
    } finally {
      img.free();
    }
  } finally {
    r.free();
  }
}
