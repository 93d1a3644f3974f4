// The version-change rule (components/upgrade-path.ts): which edits of kubernetes.version `pulumi up`
// performs on a running cluster, which it refuses (skip, downgrade) and with what message, and what
// follows the version for each step of the supported path.
import { checkUpgradePath, installedVersion, upgradePlan } from "../components/upgrade-path";
import { parseKubernetesVersion, ParsedVersion } from "../components/versions";

const v = (s: string): ParsedVersion => {
  const p = parseKubernetesVersion(s);
  if (!p) throw new Error(s);
  return p;
};
const what = (plan: ReturnType<typeof upgradePlan>) => Object.fromEntries(plan.changes.map((c) => [c.what, `${c.from} -> ${c.to}`]));

describe("checkUpgradePath", () => {
  test.each([
    ["1.30.12", "1.30.12", "none"],
    ["1.30.12", "1.30.13", "patch"],
    ["1.30.12", "1.30", "none"],
    ["1.30.12", "1.31.6", "minor"],
    ["1.30.12", "1.31", "minor"],
    ["1.28.9", "1.29.15", "minor"],
  ])("%s -> %s is allowed (%s)", (from, to, kind) => {
    expect(checkUpgradePath(from, v(to))).toEqual({ ok: true, kind });
  });

  test("a skipped minor is refused, naming what runs where and the path one minor at a time", () => {
    const r = checkUpgradePath("1.28.9", v("1.30.12"), "the control plane k8s-master");
    expect(r.ok).toBe(false);
    const m = r.ok ? "" : r.message;
    expect(m).toContain("kubernetes.version 1.30.12 skips 1.29");
    expect(m).toContain("the control plane k8s-master runs 1.28.9");
    expect(m).toContain("Set kubernetes.version to 1.29.x, run pulumi up");
    expect(m).toContain("1.29 -> 1.30");
  });

  test("two skipped minors name both", () => {
    const r = checkUpgradePath("1.28.9", v("1.31"));
    expect(r.ok ? "" : r.message).toContain("skips 1.29, 1.30");
  });

  test.each([
    ["1.31.2", "1.30.12"],
    ["1.31.2", "1.30"],
    ["1.30.13", "1.30.12"],
  ])("a downgrade %s -> %s is refused, naming the installed version", (from, to) => {
    const r = checkUpgradePath(from, v(to));
    expect(r.ok).toBe(false);
    expect(r.ok ? "" : r.message).toContain(`older than ${from}`);
    expect(r.ok ? "" : r.message).toContain("cannot downgrade");
  });

  test("installed versions are read from kubeadm (v1.30.12) and dpkg (1.30.12-1.1) alike", () => {
    expect(installedVersion("v1.30.12")?.raw).toBe("1.30.12");
    expect(installedVersion("1.30.12-1.1")?.raw).toBe("1.30.12");
    expect(installedVersion("1.30")).toBeUndefined();
  });
});

describe("upgradePlan: what follows the version on each supported step", () => {
  test("1.28 -> 1.29: a minor upgrade; the pause tag and the kubeadm API stay", () => {
    const p = upgradePlan("1.28.9", "1.29.15");
    expect(p.kind).toBe("minor");
    expect(what(p)).toEqual({});
    expect(p.phases.length).toBeGreaterThan(2);
    expect(p.phases[1]).toContain("kubeadm upgrade apply -y v1.29.15");
  });

  test("1.30 -> 1.31: the kubeadm config API switches to v1beta4, pause 3.9 -> 3.10, metrics-server follows", () => {
    const p = upgradePlan("1.30.12", "1.31.6");
    expect(what(p)).toEqual({
      "kubeadm config API (configs written for later joins)": "kubeadm.k8s.io/v1beta3 -> kubeadm.k8s.io/v1beta4",
      "containerd sandbox (pause) image tag": "3.9 -> 3.10",
      "metrics-server": "v0.7.2 -> v0.8.1",
    });
  });

  test("1.31 -> 1.32: cri-tools is installed explicitly from then on", () => {
    expect(what(upgradePlan("1.31.6", "1.32.3"))).toEqual({ "cri-tools": "pulled in by kubeadm -> installed explicitly" });
  });

  test("a patch: the same phases, nothing else changes", () => {
    const p = upgradePlan("1.30.12", "1.30.13");
    expect(p.kind).toBe("patch");
    expect(what(p)).toEqual({});
    expect(p.phases[1]).toContain("kubeadm upgrade apply -y v1.30.13");
  });

  test("no change: no phases", () => {
    expect(upgradePlan("1.30.12", "1.30.12").phases).toEqual([]);
  });

  test("skip and downgrade throw the refusal", () => {
    expect(() => upgradePlan("1.28.9", "1.30.12")).toThrow(/skips 1.29/);
    expect(() => upgradePlan("1.31.1", "1.30.12")).toThrow(/cannot downgrade/);
  });
});
