// Minimal ISO 9660 image writer with Joliet names, for cloud-init NoCloud seeds (volume "cidata").
//
// Why: the seed must be built on the user's host with nothing but Node (Windows and macOS have no
// genisoimage). Why Joliet: plain ISO 9660 names are d-characters (A-Z 0-9 _), so "user-data" cannot be
// written; Linux's isofs reads Joliet names (UCS-2) by default and strips a trailing ";1", which gives
// cloud-init the exact names user-data, meta-data and network-config. The primary (8.3) tree points to the
// same file extents, so readers without Joliet still see the data.
//
// Layout (2048-byte sectors): 0-15 system area, 16 primary volume descriptor, 17 Joliet supplementary
// descriptor, 18 terminator, 19-22 path tables (L/M for each tree), 23 primary root dir, 24 Joliet root
// dir, 25.. file data. Flat: one root directory, no subdirectories. ECMA-119 / Joliet spec field offsets.
"use strict";

const SECTOR = 2048;

function both16(n) {
  const b = Buffer.alloc(4);
  b.writeUInt16LE(n, 0);
  b.writeUInt16BE(n, 2);
  return b;
}

function both32(n) {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(n, 0);
  b.writeUInt32BE(n, 4);
  return b;
}

/** a/d-character field, space padded (primary descriptor). */
function asciiField(s, len) {
  const b = Buffer.alloc(len, 0x20);
  b.write(s.slice(0, len), 0, "ascii");
  return b;
}

/** UCS-2 big-endian bytes of a string (Joliet). */
function ucs2be(s) {
  const b = Buffer.alloc(s.length * 2);
  for (let i = 0; i < s.length; i++) b.writeUInt16BE(s.charCodeAt(i), i * 2);
  return b;
}

/** UCS-2 field padded with UCS-2 spaces; an odd trailing byte stays 0x00 (Joliet descriptor text fields). */
function ucs2Field(s, len) {
  const b = Buffer.alloc(len, 0);
  for (let i = 0; i + 1 < len; i += 2) b.writeUInt16BE(0x0020, i);
  const enc = ucs2be(s);
  enc.copy(b, 0, 0, Math.min(enc.length, len - (len % 2)));
  return b;
}

/** 7-byte directory record date (UTC). */
function dirDate(d) {
  return Buffer.from([d.getUTCFullYear() - 1900, d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), 0]);
}

/** 17-byte descriptor date "YYYYMMDDHHMMSScc" + GMT offset (UTC). */
function volDate(d) {
  const p = (n, w) => String(n).padStart(w, "0");
  const s = `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1, 2)}${p(d.getUTCDate(), 2)}${p(d.getUTCHours(), 2)}${p(d.getUTCMinutes(), 2)}${p(d.getUTCSeconds(), 2)}00`;
  return Buffer.concat([Buffer.from(s, "ascii"), Buffer.from([0])]);
}

function dirRecord(id, extent, size, isDir, date) {
  const len = 33 + id.length + (id.length % 2 === 0 ? 1 : 0);
  const r = Buffer.alloc(len, 0);
  r[0] = len;
  r[1] = 0;
  both32(extent).copy(r, 2);
  both32(size).copy(r, 10);
  dirDate(date).copy(r, 18);
  r[25] = isDir ? 2 : 0;
  both16(1).copy(r, 28);
  r[32] = id.length;
  id.copy(r, 33);
  return r;
}

/** An 8.3 d-character name for the primary tree, unique among `taken`. */
function primaryName(name, taken) {
  const clean = (s) => s.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
  const dot = name.lastIndexOf(".");
  const base = clean(dot > 0 ? name.slice(0, dot) : name).slice(0, 8) || "FILE";
  const ext = dot > 0 ? clean(name.slice(dot + 1)).slice(0, 3) : "";
  let candidate = `${base}.${ext};1`;
  for (let i = 1; taken.has(candidate); i++) {
    const suffix = String(i);
    candidate = `${base.slice(0, 8 - suffix.length)}${suffix}.${ext};1`;
  }
  taken.add(candidate);
  return candidate;
}

function pathTable(rootExtent, littleEndian) {
  const t = Buffer.alloc(10, 0);
  t[0] = 1; // length of directory identifier (root = one 0x00 byte)
  t[1] = 0;
  if (littleEndian) {
    t.writeUInt32LE(rootExtent, 2);
    t.writeUInt16LE(1, 6);
  } else {
    t.writeUInt32BE(rootExtent, 2);
    t.writeUInt16BE(1, 6);
  }
  t[8] = 0;
  return t;
}

function directory(selfExtent, records, date) {
  const dot = dirRecord(Buffer.from([0]), selfExtent, SECTOR, true, date);
  const dotdot = dirRecord(Buffer.from([1]), selfExtent, SECTOR, true, date);
  const body = Buffer.concat([dot, dotdot, ...records]);
  // Records may not cross a sector boundary; one sector holds a seed's handful of files.
  if (body.length > SECTOR) throw new Error(`iso9660: too many files for a one-sector directory (${body.length} bytes)`);
  const out = Buffer.alloc(SECTOR, 0);
  body.copy(out);
  return out;
}

function volumeDescriptor(type, o) {
  const d = Buffer.alloc(SECTOR, 0);
  const text = type === 1 ? asciiField : ucs2Field;
  d[0] = type;
  d.write("CD001", 1, "ascii");
  d[6] = 1;
  text(o.systemId, 32).copy(d, 8);
  text(o.volumeId, 32).copy(d, 40);
  both32(o.totalSectors).copy(d, 80);
  if (type === 2) d.write("%/E", 88, "ascii"); // Joliet UCS-2 level 3 escape sequence
  both16(1).copy(d, 120); // volume set size
  both16(1).copy(d, 124); // volume sequence number
  both16(SECTOR).copy(d, 128);
  both32(10).copy(d, 132); // path table size
  d.writeUInt32LE(o.lPathTable, 140);
  d.writeUInt32BE(o.mPathTable, 148);
  dirRecord(Buffer.from([0]), o.rootExtent, SECTOR, true, o.date).copy(d, 156);
  text("", 128).copy(d, 190); // volume set id
  text("", 128).copy(d, 318); // publisher
  text("", 128).copy(d, 446); // data preparer
  text("KUBEADM-CLUSTER SEED WRITER", 128).copy(d, 574); // application
  text("", 37).copy(d, 702);
  text("", 37).copy(d, 739);
  text("", 37).copy(d, 776);
  volDate(o.date).copy(d, 813); // creation
  volDate(o.date).copy(d, 830); // modification
  Buffer.from("0000000000000000\0", "ascii").copy(d, 847); // expiration: not specified
  Buffer.from("0000000000000000\0", "ascii").copy(d, 864); // effective: not specified
  d[881] = 1; // file structure version
  return d;
}

/**
 * Builds the image. files: { name: string | Buffer } (flat names, at most 64 characters, no "/").
 * volumeId: e.g. "cidata". date: fixed for reproducible images (defaults to now).
 */
function buildIso(files, volumeId, date) {
  const when = date instanceof Date ? date : new Date();
  const names = Object.keys(files).sort();
  if (names.length === 0) throw new Error("iso9660: no files");
  for (const n of names) {
    if (!n || n.length > 64 || /[\/\\\0;*:?"<>|]/.test(n)) throw new Error(`iso9660: unsupported file name ${JSON.stringify(n)}`);
  }
  if (!/^[A-Za-z0-9_]{1,16}$/.test(volumeId)) throw new Error(`iso9660: unsupported volume id ${JSON.stringify(volumeId)}`);
  const data = names.map((n) => (Buffer.isBuffer(files[n]) ? files[n] : Buffer.from(String(files[n]), "utf8")));

  const L1 = 19, M1 = 20, LJ = 21, MJ = 22, ROOT1 = 23, ROOTJ = 24;
  let next = 25;
  const extents = data.map((b) => {
    const e = next;
    next += Math.max(1, Math.ceil(b.length / SECTOR));
    return e;
  });
  const totalSectors = next;

  const taken = new Set();
  const primary = names
    .map((n, i) => ({ id: Buffer.from(primaryName(n, taken), "ascii"), i }))
    .sort((a, b) => Buffer.compare(a.id, b.id))
    .map(({ id, i }) => dirRecord(id, extents[i], data[i].length, false, when));
  const joliet = names
    .map((n, i) => ({ id: ucs2be(n), i }))
    .sort((a, b) => Buffer.compare(a.id, b.id))
    .map(({ id, i }) => dirRecord(id, extents[i], data[i].length, false, when));

  const img = Buffer.alloc(totalSectors * SECTOR, 0);
  const put = (sector, buf) => buf.copy(img, sector * SECTOR);
  const common = { systemId: "LINUX", volumeId, totalSectors, date: when };
  put(16, volumeDescriptor(1, { ...common, volumeId: volumeId, lPathTable: L1, mPathTable: M1, rootExtent: ROOT1 }));
  put(17, volumeDescriptor(2, { ...common, lPathTable: LJ, mPathTable: MJ, rootExtent: ROOTJ }));
  const term = Buffer.alloc(SECTOR, 0);
  term[0] = 255;
  term.write("CD001", 1, "ascii");
  term[6] = 1;
  put(18, term);
  put(L1, pathTable(ROOT1, true));
  put(M1, pathTable(ROOT1, false));
  put(LJ, pathTable(ROOTJ, true));
  put(MJ, pathTable(ROOTJ, false));
  put(ROOT1, directory(ROOT1, primary, when));
  put(ROOTJ, directory(ROOTJ, joliet, when));
  data.forEach((b, i) => put(extents[i], b));
  return img;
}

module.exports = { buildIso, primaryName, SECTOR };
