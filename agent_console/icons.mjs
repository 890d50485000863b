// The console's app icons, drawn at build time into PNG files (no image files in the repository, no
// image library): a white speech bubble on the accent colour. `any` icons have rounded corners; the
// `maskable` one fills its square and keeps the bubble inside the safe circle (80 % of the side), so a
// launcher may cut it to any shape.

import { deflateSync } from "node:zlib";

const ACCENT = [0x4f, 0x46, 0xe5];
const WHITE = [0xff, 0xff, 0xff];

function roundedBox(x, y, cx, cy, hw, hh, r) {
  const qx = Math.abs(x - cx) - hw + r;
  const qy = Math.abs(y - cy) - hh + r;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r <= 0;
}

function inTriangle(x, y, [ax, ay], [bx, by], [cx, cy]) {
  const side = (px, py, qx, qy) => (x - qx) * (py - qy) - (px - qx) * (y - qy);
  const d1 = side(ax, ay, bx, by);
  const d2 = side(bx, by, cx, cy);
  const d3 = side(cx, cy, ax, ay);
  return !((d1 < 0 || d2 < 0 || d3 < 0) && (d1 > 0 || d2 > 0 || d3 > 0));
}

/** The colour at (x, y) of the unit square, or null outside the icon. */
function shade(x, y, maskable) {
  if (!maskable && !roundedBox(x, y, 0.5, 0.5, 0.5, 0.5, 0.22)) return null;
  const dot = [0.38, 0.5, 0.62].some((dx) => Math.hypot(x - dx, y - 0.46) <= 0.036);
  const bubble = roundedBox(x, y, 0.5, 0.46, 0.27, 0.19, 0.08) || inTriangle(x, y, [0.33, 0.6], [0.46, 0.6], [0.3, 0.76]);
  return bubble && !dot ? WHITE : ACCENT;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "ascii");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A `size`×`size` RGBA PNG of the icon, each pixel the average of 4×4 samples (smooth edges). */
export function iconPng(size, { maskable = false } = {}) {
  const SS = 4;
  const rows = Buffer.alloc(size * (size * 4 + 1));
  for (let py = 0; py < size; py++) {
    const row = py * (size * 4 + 1);
    rows[row] = 0; // filter: none
    for (let px = 0; px < size; px++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < SS; sy++) {
        for (let sx = 0; sx < SS; sx++) {
          const c = shade((px + (sx + 0.5) / SS) / size, (py + (sy + 0.5) / SS) / size, maskable);
          if (!c) continue;
          r += c[0];
          g += c[1];
          b += c[2];
          a += 255;
        }
      }
      const n = SS * SS;
      const at = row + 1 + px * 4;
      // Colour averaged over the covered samples, alpha over all of them.
      const covered = a / 255 || 1;
      rows[at] = Math.round(r / covered);
      rows[at + 1] = Math.round(g / covered);
      rows[at + 2] = Math.round(b / covered);
      rows[at + 3] = Math.round(a / n);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bits per channel
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(rows, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}
