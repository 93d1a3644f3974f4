// IPv4/CIDR helpers: the config checks (node IP inside the machine network, overlapping ranges) are
// only as good as these.
import { cidrContains, cidrContainsCidr, cidrsOverlap, formatIpv4, lastAddress, mustParseCidr, parseCidr, parseIpv4 } from "../components/net";

describe("parseIpv4 / formatIpv4", () => {
  test("round-trips addresses, including the extremes", () => {
    for (const a of ["0.0.0.0", "192.168.56.10", "10.244.0.1", "255.255.255.255"]) {
      const n = parseIpv4(a);
      expect(n).toBeDefined();
      expect(formatIpv4(n as number)).toBe(a);
    }
    // 192.168.56.10 = 192*2^24 + 168*2^16 + 56*2^8 + 10
    expect(parseIpv4("192.168.56.10")).toBe(3232249866);
  });

  test.each(["256.1.1.1", "1.2.3", "1.2.3.4.5", "a.b.c.d", "01.2.3.4", "1.2.3.-4", " 1.2.3.4", "", "1..2.3"])("rejects %p", (s) => {
    expect(parseIpv4(s)).toBeUndefined();
  });
});

describe("parseCidr", () => {
  test("canonical blocks parse with network, size and text", () => {
    const r = parseCidr("10.244.0.0/16");
    expect(r.ok && r.cidr).toEqual({ network: parseIpv4("10.244.0.0"), prefix: 16, size: 65536, text: "10.244.0.0/16" });
    const all = parseCidr("0.0.0.0/0");
    expect(all.ok && all.cidr.size).toBe(2 ** 32);
    const one = parseCidr("203.0.113.7/32");
    expect(one.ok && one.cidr.size).toBe(1);
  });

  test("host bits set is refused with the intended network as the fix", () => {
    const r = parseCidr("10.244.0.1/16");
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toContain('"10.244.0.0/16"');
  });

  test.each(["10.0.0.0", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0/8", "10.0.0.0/08", "x/8", "10.0.0.0/"])("rejects %p", (s) => {
    expect(parseCidr(s).ok).toBe(false);
  });
});

describe("containment and overlap", () => {
  const c24 = mustParseCidr("192.168.56.0/24");

  test("lastAddress is the broadcast address", () => {
    expect(formatIpv4(lastAddress(c24))).toBe("192.168.56.255");
  });

  test("cidrContains includes both ends and nothing outside", () => {
    expect(cidrContains(c24, parseIpv4("192.168.56.0") as number)).toBe(true);
    expect(cidrContains(c24, parseIpv4("192.168.56.255") as number)).toBe(true);
    expect(cidrContains(c24, parseIpv4("192.168.55.255") as number)).toBe(false);
    expect(cidrContains(c24, parseIpv4("192.168.57.0") as number)).toBe(false);
  });

  test("cidrContainsCidr: a /24 inside the VirtualBox /21, not the other way round", () => {
    const range = mustParseCidr("192.168.56.0/21");
    expect(cidrContainsCidr(range, c24)).toBe(true);
    expect(cidrContainsCidr(range, mustParseCidr("192.168.63.0/24"))).toBe(true);
    expect(cidrContainsCidr(range, mustParseCidr("192.168.64.0/24"))).toBe(false);
    expect(cidrContainsCidr(c24, range)).toBe(false);
  });

  test("cidrsOverlap is symmetric and catches partial and nested overlap", () => {
    const pod = mustParseCidr("10.244.0.0/16");
    const svc = mustParseCidr("10.96.0.0/12"); // 10.96.0.0 - 10.111.255.255
    expect(cidrsOverlap(pod, svc)).toBe(false);
    const wide = mustParseCidr("10.0.0.0/8");
    expect(cidrsOverlap(wide, pod)).toBe(true);
    expect(cidrsOverlap(pod, wide)).toBe(true);
    // adjacent blocks touch but do not overlap
    expect(cidrsOverlap(mustParseCidr("10.0.0.0/24"), mustParseCidr("10.0.1.0/24"))).toBe(false);
    expect(cidrsOverlap(mustParseCidr("10.111.0.0/16"), svc)).toBe(true);
  });
});
