/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord framing and the
 * checkpoint trailer use it, plus TensorFlow's masking of a stored CRC.
 */

const TABLE = (() => {
  const t = new Uint32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let s = 1; s < 8; s++) {
      const p = t[(s - 1) * 256 + n];
      t[s * 256 + n] = (p >>> 8) ^ t[p & 0xff];
    }
  }
  return t;
})();

/** CRC-32C of `bytes`, continuing from `crc` (pass a previous result to chain chunks). */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  const T = TABLE;
  let c = ~crc >>> 0;
  let i = 0;
  const n = bytes.length;
  // Bytes up to a 4-byte boundary, then 8 bytes at a time through a Uint32Array view
  // (slicing-by-8; little-endian), then the rest.
  while (i < n && (bytes.byteOffset + i) & 3) c = T[(c ^ bytes[i++]) & 0xff] ^ (c >>> 8);
  const words = (n - i) >>> 3;
  if (words) {
    const u = new Uint32Array(bytes.buffer, bytes.byteOffset + i, words * 2);
    for (let w = 0; w < u.length; w += 2) {
      const a = u[w] ^ c, b = u[w + 1];
      c = T[1792 + (a & 0xff)] ^ T[1536 + ((a >>> 8) & 0xff)] ^ T[1280 + ((a >>> 16) & 0xff)] ^
        T[1024 + (a >>> 24)] ^ T[768 + (b & 0xff)] ^ T[512 + ((b >>> 8) & 0xff)] ^
        T[256 + ((b >>> 16) & 0xff)] ^ T[b >>> 24];
    }
    i += words * 8;
  }
  for (; i < n; i++) c = T[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** TensorFlow's masked CRC: rotate right by 15 bits and add 0xa282ead8 (mod 2^32). */
export function maskCrc(crc: number): number {
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}
