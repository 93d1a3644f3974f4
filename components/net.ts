// IPv4 address and CIDR helpers for config validation. Pure, no dependencies; addresses are handled
// as unsigned 32-bit numbers so containment and overlap are plain integer comparisons.

/** Parses dotted-quad IPv4 ("192.168.56.10"). Rejects leading zeros ("010"): some tools read them as octal. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

export interface Cidr {
  /** Network address as uint32 (host bits zero). */
  readonly network: number;
  readonly prefix: number;
  /** Number of addresses (2^(32-prefix)). */
  readonly size: number;
  /** Canonical text, e.g. "10.244.0.0/16". */
  readonly text: string;
}

export type CidrParse = { readonly ok: true; readonly cidr: Cidr } | { readonly ok: false; readonly reason: string };

/**
 * Parses "a.b.c.d/n". Host bits must be zero ("10.244.0.1/16" is refused, with the network it probably
 * meant): a misplaced bit is usually a typo, and kubeadm/flannel/Aliyun disagree about how to treat it.
 */
export function parseCidr(text: string): CidrParse {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  if (!m) return { ok: false, reason: 'not a CIDR; write it as address/prefix, e.g. "10.244.0.0/16"' };
  const addr = parseIpv4(m[1]);
  const prefix = Number(m[2]);
  if (addr === undefined) return { ok: false, reason: `"${m[1]}" is not an IPv4 address` };
  if (prefix > 32 || (m[2].length > 1 && m[2].startsWith("0"))) return { ok: false, reason: "prefix length must be 0 to 32" };
  const size = 2 ** (32 - prefix);
  const network = addr - (addr % size);
  if (network !== addr) return { ok: false, reason: `host bits are set; did you mean "${formatIpv4(network)}/${prefix}"?` };
  return { ok: true, cidr: { network, prefix, size, text: `${formatIpv4(network)}/${prefix}` } };
}

/** The last address of the block (the broadcast address for prefixes below /31). */
export function lastAddress(c: Cidr): number {
  return c.network + c.size - 1;
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return ip >= c.network && ip <= lastAddress(c);
}

/** True when `inner` lies entirely inside `outer`. */
export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  return inner.network >= outer.network && lastAddress(inner) <= lastAddress(outer);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.network <= lastAddress(b) && b.network <= lastAddress(a);
}

/** Convenience for constants known to be valid. */
export function mustParseCidr(text: string): Cidr {
  const r = parseCidr(text);
  if (!r.ok) throw new Error(`internal: bad CIDR constant ${text}: ${r.reason}`);
  return r.cidr;
}

/**
 * IPv4 ranges no administrator's traffic comes from (IANA special-purpose registry, RFC 6890): a
 * security group opened only to them opens SSH to nobody, and every dial times out after the
 * machines were already paid for. Documentation (RFC 5737) is the classic copy-paste from examples.
 */
export const UNROUTABLE_SOURCES: readonly { readonly cidr: Cidr; readonly what: string }[] = [
  ["192.0.2.0/24", "the documentation range TEST-NET-1 (RFC 5737)"],
  ["198.51.100.0/24", "the documentation range TEST-NET-2 (RFC 5737)"],
  ["203.0.113.0/24", "the documentation range TEST-NET-3 (RFC 5737)"],
  ["0.0.0.0/8", "'this network' (RFC 791), not a source address"],
  ["127.0.0.0/8", "loopback (RFC 1122)"],
  ["169.254.0.0/16", "link-local (RFC 3927)"],
  ["224.0.0.0/4", "multicast (RFC 5771)"],
  ["240.0.0.0/4", "reserved (RFC 1112)"],
].map(([c, what]) => ({ cidr: mustParseCidr(c), what }));

/** The special range `c` lies in (only whole-range containment counts: a /8 around one is routable). */
export function unroutableSource(c: Cidr): string | undefined {
  return UNROUTABLE_SOURCES.find((u) => c.prefix > 0 && cidrContainsCidr(u.cidr, c))?.what;
}
