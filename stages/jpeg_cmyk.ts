/**
 * Decoding 4-component (CMYK and YCCK) JPEGs to the RGB that Pillow gives for
 * `Image.open(f).convert("RGB")`. MozJPEG as compiled in `@jsquash/jpeg` only outputs RGB
 * and refuses these files ("Unsupported color conversion request"), and no npm decoder
 * matches Pillow on them (jpeg-js 0.4.4: up to 4 off at 4:4:4 and about 90 with
 * subsampling, and it refuses CMYK without an Adobe marker), so this file holds a small
 * decoder for them alone: baseline and progressive Huffman-coded 8-bit JPEG, with restart
 * intervals, any integer sampling factors. The pixel arithmetic (`jpeg_cmyk_pixels.ts`) is
 * libjpeg-turbo's, so the result equals Pillow's.
 *
 * The colour space is libjpeg's choice: an Adobe APP14 marker with transform 0 means CMYK,
 * any other transform YCCK, no marker CMYK. Pillow then always reads the components with
 * Adobe polarity (inverted, rawmode `CMYK;I`), marker or not.
 *
 * Errors are thrown as plain `Error`s with libjpeg-like reasons; `codec.ts` turns them
 * into `DecodeError`s ("premature end" reads as truncated, anything else as corrupt).
 *
 * @module
 */
import { cmykToRgba, idctBlock, NATURAL_ORDER, type Plane, upsample } from "./jpeg_cmyk_pixels.ts";
import type { RawImage } from "./types.ts";

interface Huffman {
  maxcode: Int32Array; // per code length 1…16, −1 when none; [17] is a sentinel
  valptr: Int32Array;
  mincode: Int32Array;
  values: Uint8Array;
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  /** Blocks per row and column that hold real samples. */
  bw: number;
  bh: number;
  /** Blocks per row and column of the MCU-padded coefficient buffer. */
  pw: number;
  ph: number;
  coefs: Int16Array;
  /** The quantization table as it was at the component's first scan (libjpeg latches it). */
  quant?: Int16Array;
  pred: number;
  dc?: Huffman;
  ac?: Huffman;
}

interface Frame {
  width: number;
  height: number;
  progressive: boolean;
  comps: Component[];
  hmax: number;
  vmax: number;
  mcusX: number;
  mcusY: number;
}

/** jdhuff.c's derived table, with its checks (codes that overflow, DC values over 15). */
function buildHuffman(counts: Uint8Array, values: Uint8Array, isDc: boolean): Huffman {
  const maxcode = new Int32Array(18).fill(-1);
  const valptr = new Int32Array(17);
  const mincode = new Int32Array(17);
  let code = 0, k = 0, longest = 0;
  for (let l = 1; l <= 16; l++) if (counts[l - 1]) longest = l;
  for (let l = 1; l <= 16; l++) {
    valptr[l] = k;
    mincode[l] = code;
    code += counts[l - 1];
    k += counts[l - 1];
    // No code may be all ones.
    if (l <= longest && code >= 1 << l) throw new Error("bogus Huffman table definition");
    if (counts[l - 1]) maxcode[l] = code - 1;
    code <<= 1;
  }
  if (isDc && values.some((v) => v > 15)) throw new Error("bogus Huffman table definition");
  maxcode[17] = 0x7fffffff;
  return { maxcode, valptr, mincode, values };
}

/** Bit reader over entropy-coded data: byte stuffing removed, zeros past a marker. */
class Bits {
  buf = 0;
  n = 0;
  /** Position of a marker that stopped the data, or −1. */
  marker = -1;
  /** Whether bits past that marker were needed (libjpeg's "premature end of data segment"). */
  overrun = false;
  constructor(readonly b: Uint8Array, public p: number) {}

  bit(): number {
    if (this.n === 0) this.fill();
    this.n--;
    return (this.buf >> this.n) & 1;
  }

  bits(k: number): number {
    let v = 0;
    for (let i = 0; i < k; i++) v = (v << 1) | this.bit();
    return v;
  }

  /** Load the next data byte; a marker or the end of the file gives zeros (an overrun). */
  private fill(): void {
    const b = this.b;
    this.n = 8;
    this.buf = 0;
    if (this.marker < 0 && this.p < b.length) {
      const c = b[this.p];
      if (c !== 0xff) {
        this.p++;
        this.buf = c;
        return;
      }
      let q = this.p + 1;
      while (q < b.length && b[q] === 0xff) q++; // fill bytes
      if (q < b.length && b[q] === 0) {
        this.p = q + 1;
        this.buf = 0xff;
        return;
      }
      this.marker = q - 1;
    }
    if (this.marker < 0) this.marker = b.length;
    // Encoders pad the last byte with 1 bits, so any bit wanted past a marker is missing.
    this.overrun = true;
  }

  /** Drop the buffered bits and step over an RSTn marker (restart interval boundary). */
  restart(): void {
    this.n = 0;
    let q = this.marker >= 0 ? this.marker : this.p;
    while (
      q + 1 < this.b.length && !(this.b[q] === 0xff && this.b[q + 1] !== 0 &&
        this.b[q + 1] !== 0xff)
    ) q++;
    const m = this.b[q + 1];
    if (q + 1 >= this.b.length || m < 0xd0 || m > 0xd7) {
      throw new Error("premature end of data segment (missing restart marker)");
    }
    this.p = q + 2;
    this.marker = -1;
  }

  /** Where marker parsing resumes after the scan. */
  end(): number {
    let q = this.marker >= 0 ? this.marker : this.p;
    while (
      q + 1 < this.b.length && !(this.b[q] === 0xff && this.b[q + 1] !== 0 &&
        this.b[q + 1] !== 0xff && (this.b[q + 1] < 0xd0 || this.b[q + 1] > 0xd7))
    ) q++;
    return q;
  }

  decode(t: Huffman): number {
    let code = this.bit(), l = 1;
    while (code > t.maxcode[l]) {
      code = (code << 1) | this.bit();
      if (++l > 16) return 0; // libjpeg: "bad Huffman code", a warning; the value is 0
    }
    return t.values[t.valptr[l] + code - t.mincode[l]] ?? 0;
  }

  /** RECEIVE + EXTEND: s bits as a signed value. */
  receive(s: number): number {
    if (s === 0) return 0;
    const v = this.bits(s);
    return v < 1 << (s - 1) ? v - (1 << s) + 1 : v;
  }
}

interface Scan {
  comps: Component[];
  ss: number;
  se: number;
  ah: number;
  al: number;
}

/** Decode one scan's entropy-coded data into the components' coefficients. */
function decodeScan(b: Uint8Array, p: number, f: Frame, s: Scan, restart: number): number {
  const bits = new Bits(b, p);
  const { ss, se, ah, al } = s;
  let eobrun = 0;
  const block = (c: Component, row: number, col: number) => {
    const off = (row * c.pw + col) * 64;
    const z = c.coefs;
    if (!f.progressive) {
      const t = bits.decode(c.dc!);
      c.pred += bits.receive(t);
      z[off] = c.pred;
      for (let k = 1; k < 64; k++) {
        const rs = bits.decode(c.ac!);
        const r = rs >> 4, sz = rs & 15;
        if (sz === 0) {
          if (r !== 15) break;
          k += 15;
        } else {
          k += r;
          z[off + NATURAL_ORDER[k]] = bits.receive(sz);
        }
      }
    } else if (ss === 0) {
      if (ah === 0) {
        c.pred += bits.receive(bits.decode(c.dc!));
        z[off] = c.pred << al;
      } else if (bits.bit()) z[off] |= 1 << al;
    } else if (ah === 0) {
      if (eobrun > 0) {
        eobrun--;
        return;
      }
      for (let k = ss; k <= se; k++) {
        const rs = bits.decode(c.ac!);
        const r = rs >> 4, sz = rs & 15;
        if (sz) {
          k += r;
          z[off + NATURAL_ORDER[k]] = bits.receive(sz) * (1 << al);
        } else if (r === 15) k += 15;
        else {
          eobrun = (1 << r) - 1;
          if (r) eobrun += bits.bits(r);
          break;
        }
      }
    } else {
      refineAc(bits, z, off);
    }
  };
  // G.1.2.3, as libjpeg's decode_mcu_AC_refine.
  const p1 = 1 << al, m1 = -1 << al;
  const refineAc = (bits: Bits, z: Int16Array, off: number) => {
    let k = ss;
    const correct = (i: number) => {
      if (bits.bit() && (z[i] & p1) === 0) z[i] += z[i] >= 0 ? p1 : m1;
    };
    if (eobrun === 0) {
      for (; k <= se; k++) {
        const rs = bits.decode(s.comps[0].ac!);
        let r = rs >> 4, v = 0;
        if (rs & 15) v = bits.bit() ? p1 : m1;
        else if (r !== 15) {
          eobrun = 1 << r;
          if (r) eobrun += bits.bits(r);
          break;
        }
        for (; k <= se; k++) {
          const i = off + NATURAL_ORDER[k];
          if (z[i] !== 0) correct(i);
          else if (--r < 0) break;
        }
        if (v) z[off + NATURAL_ORDER[k]] = v;
      }
    }
    if (eobrun > 0) {
      for (; k <= se; k++) {
        const i = off + NATURAL_ORDER[k];
        if (z[i] !== 0) correct(i);
      }
      eobrun--;
    }
  };
  const single = s.comps.length === 1;
  const total = single ? s.comps[0].bw * s.comps[0].bh : f.mcusX * f.mcusY;
  for (const c of s.comps) c.pred = 0;
  for (let m = 0; m < total; m++) {
    if (restart && m > 0 && m % restart === 0) {
      bits.restart();
      eobrun = 0;
      for (const c of s.comps) c.pred = 0;
    }
    if (single) {
      const c = s.comps[0];
      block(c, Math.floor(m / c.bw), m % c.bw);
    } else {
      const my = Math.floor(m / f.mcusX), mx = m % f.mcusX;
      for (const c of s.comps) {
        for (let v = 0; v < c.v; v++) {
          for (let h = 0; h < c.h; h++) block(c, my * c.v + v, mx * c.h + h);
        }
      }
    }
    if (bits.overrun) throw new Error("premature end of data segment");
  }
  return bits.end();
}

function parseFrame(d: Uint8Array, progressive: boolean): Frame {
  if (d.length < 6) throw new Error("bogus frame header");
  if (d[0] !== 8) throw new Error(`unsupported JPEG data precision ${d[0]}`);
  const height = (d[1] << 8) | d[2], width = (d[3] << 8) | d[4], n = d[5];
  if (!width || !height || d.length < 6 + 3 * n) throw new Error("bogus frame header");
  const comps: Component[] = [];
  for (let i = 0; i < n; i++) {
    const q = 6 + 3 * i;
    const h = d[q + 1] >> 4, v = d[q + 1] & 15;
    if (h < 1 || h > 4 || v < 1 || v > 4) throw new Error("bogus sampling factors");
    comps.push({
      id: d[q],
      h,
      v,
      tq: d[q + 2],
      bw: 0,
      bh: 0,
      pw: 0,
      ph: 0,
      coefs: new Int16Array(0),
      pred: 0,
    });
  }
  const hmax = Math.max(...comps.map((c) => c.h)), vmax = Math.max(...comps.map((c) => c.v));
  const mcusX = Math.ceil(width / (8 * hmax)), mcusY = Math.ceil(height / (8 * vmax));
  for (const c of comps) {
    if (hmax % c.h || vmax % c.v) throw new Error("fractional sampling not implemented");
    c.bw = Math.ceil(Math.ceil((width * c.h) / hmax) / 8);
    c.bh = Math.ceil(Math.ceil((height * c.v) / vmax) / 8);
    c.pw = mcusX * c.h;
    c.ph = mcusY * c.v;
    c.coefs = new Int16Array(c.pw * c.ph * 64);
  }
  return { width, height, progressive, comps, hmax, vmax, mcusX, mcusY };
}

/**
 * Decode a 4-component JPEG to RGBA (alpha 255) as Pillow's `convert("RGB")` would give
 * it; the caller has checked the SOF says 4 components. Throws `Error` with the reason.
 */
export function decodeCmykJpeg(b: Uint8Array): RawImage {
  const quant: (Int16Array | undefined)[] = [];
  const dcTables: (Huffman | undefined)[] = [];
  const acTables: (Huffman | undefined)[] = [];
  let frame: Frame | undefined;
  let restart = 0;
  let adobe: number | undefined;
  let p = 2;
  for (;;) {
    while (p < b.length && b[p] !== 0xff) p++; // stray bytes: a warning in libjpeg
    while (p + 1 < b.length && b[p + 1] === 0xff) p++;
    if (p + 1 >= b.length) throw new Error("premature end of JPEG file");
    const m = b[p + 1];
    if (m === 0xd9) break;
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      p += 2;
      continue;
    }
    if (p + 4 > b.length) throw new Error("premature end of JPEG file");
    const len = (b[p + 2] << 8) | b[p + 3];
    const d = b.subarray(p + 4, p + 2 + len);
    if (len < 2 || d.length < len - 2) throw new Error("premature end of JPEG file");
    p += 2 + len;
    if (m === 0xc0 || m === 0xc1 || m === 0xc2) {
      if (frame) throw new Error("duplicate frame header");
      frame = parseFrame(d, m === 0xc2);
    } else if (m >= 0xc3 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      throw new Error(`unsupported JPEG process: SOF type 0x${m.toString(16)}`);
    } else if (m === 0xc4) {
      for (let q = 0; q + 17 <= d.length;) {
        const tc = d[q] >> 4, th = d[q] & 15;
        if (tc > 1 || th > 3) throw new Error(`bogus DHT index ${d[q]}`);
        const counts = d.subarray(q + 1, q + 17);
        const n = counts.reduce((a, x) => a + x, 0);
        if (q + 17 + n > d.length || n > 256) throw new Error("bogus Huffman table definition");
        const t = buildHuffman(counts, d.slice(q + 17, q + 17 + n), tc === 0);
        (tc ? acTables : dcTables)[th] = t;
        q += 17 + n;
      }
    } else if (m === 0xdb) {
      for (let q = 0; q < d.length;) {
        const wide = d[q] >> 4, tq = d[q] & 15;
        if (tq > 3) throw new Error(`bogus DQT index ${tq}`);
        const t = new Int16Array(64);
        if (q + 1 + 64 * (wide ? 2 : 1) > d.length) throw new Error("bogus DQT");
        for (let k = 0; k < 64; k++) {
          t[NATURAL_ORDER[k]] = wide ? (d[q + 1 + 2 * k] << 8) | d[q + 2 + 2 * k] : d[q + 1 + k];
        }
        quant[tq] = t;
        q += 1 + 64 * (wide ? 2 : 1);
      }
    } else if (m === 0xdd) {
      restart = d.length >= 2 ? (d[0] << 8) | d[1] : 0;
    } else if (m === 0xee) {
      // libjpeg's test: at least 12 bytes starting "Adobe"; the transform is the 12th.
      const isAdobe = d.length >= 12 && d[0] === 0x41 && d[1] === 0x64 && d[2] === 0x6f &&
        d[3] === 0x62 && d[4] === 0x65;
      if (isAdobe) adobe = d[11];
    } else if (m === 0xda) {
      if (!frame) throw new Error("no frame header before the scan");
      const n = d[0];
      if (!n || n > 4 || d.length < 4 + 2 * n) throw new Error("bogus SOS");
      const comps = Array.from({ length: n }, (_, i) => {
        const c = frame!.comps.find((x) => x.id === d[1 + 2 * i]);
        if (!c) throw new Error("bogus SOS component");
        c.quant ??= quant[c.tq];
        if (!c.quant) throw new Error(`quantization table 0x${c.tq.toString(16)} not defined`);
        c.dc = dcTables[d[2 + 2 * i] >> 4];
        c.ac = acTables[d[2 + 2 * i] & 15];
        return c;
      });
      const q = 1 + 2 * n;
      const scan = { comps, ss: d[q], se: d[q + 1], ah: d[q + 2] >> 4, al: d[q + 2] & 15 };
      checkScan(frame, scan);
      p = decodeScan(b, p, frame, scan, restart);
    }
  }
  if (!frame) throw new Error("no image");
  return toPixels(frame, adobe !== undefined && adobe !== 0);
}

/** libjpeg's checks of a scan's parameters (a sequential scan ignores Ss, Se, Ah, Al). */
function checkScan(f: Frame, s: Scan): void {
  const prog = f.progressive;
  const dcBand = s.ss === 0;
  if (
    prog && (
      (dcBand ? s.se !== 0 : s.ss > s.se || s.se > 63 || s.comps.length !== 1) ||
      (s.ah !== 0 && s.al !== s.ah - 1) || s.al > 13
    )
  ) throw new Error(`invalid progressive parameters Ss=${s.ss} Se=${s.se} Ah=${s.ah} Al=${s.al}`);
  for (const c of s.comps) {
    const needDc = !prog || (dcBand && s.ah === 0);
    const needAc = !prog || !dcBand;
    if ((needDc && !c.dc) || (needAc && !c.ac)) throw new Error("Huffman table not defined");
  }
}

function toPixels(f: Frame, ycck: boolean): RawImage {
  const { width, height } = f;
  const planes = f.comps.map((c) => {
    // A component no scan carried has no table latched: libjpeg's is all zero (grey 128).
    const q = c.quant ?? new Int16Array(64);
    const stride = c.pw * 8;
    const data = new Uint8Array(stride * c.ph * 8);
    for (let r = 0; r < c.bh; r++) {
      for (let k = 0; k < c.bw; k++) {
        idctBlock(c.coefs, (r * c.pw + k) * 64, q, data, stride, k * 8, r * 8);
      }
    }
    const plane: Plane = {
      data,
      stride,
      width: Math.ceil((width * c.h) / f.hmax),
      height: Math.ceil((height * c.v) / f.vmax),
    };
    return upsample(plane, f.hmax / c.h, f.vmax / c.v, width, height);
  });
  return { width, height, channels: 4, data: cmykToRgba(planes, width * height, ycck) };
}
