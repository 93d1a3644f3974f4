// Local apt repositories for the sandbox, signed with a throwaway GPG key made per test file:
//  - a Kubernetes repository with the flat layout of pkgs.k8s.io (<base>v1.30/deb/ with InRelease,
//    Release.key, Packages), holding stand-in kubelet/kubeadm/kubectl/cri-tools/kubernetes-cni
//    packages with real version strings, so real apt checks the signature, resolves the exact version
//    and holds it;
//  - a Debian repository with the .debs pre-downloaded into the cache (containerd & co), standing in
//    for the Debian mirror, so the sandbox's network namespace needs no network.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { BaseCache } from "./cache";
import * as S from "./standins";

/** One minor's repository content. The middle version is the one the fixtures pin. */
export interface MinorRepo {
  readonly minor: string;
  readonly versions: readonly string[];
  readonly criTools: string;
  readonly cni: string;
  /** kubeadm's `Depends: cri-tools (>= X)` when it is not the repository's own cri-tools minor. */
  readonly criToolsDep?: string;
}

/** Older and newer patches around the pinned one, so an unpinned install would visibly pick another. */
export const K8S_REPOS: readonly MinorRepo[] = [
  { minor: "1.30", versions: ["1.30.11", "1.30.12", "1.30.13"], criTools: "1.30.1", cni: "1.4.0" },
  { minor: "1.28", versions: ["1.28.8", "1.28.9", "1.28.10"], criTools: "1.28.0", cni: "1.2.0" },
  // The upgrade target (sandbox-upgrade): 1.31.6 pinned, 1.31.5 below it. pkgs.k8s.io v1.31 ships
  // cri-tools 1.31.1 and kubernetes-cni 1.5.1; kubeadm 1.30-1.31 depends on cri-tools >= 1.30.0 [FACTS §1.1].
  { minor: "1.31", versions: ["1.31.5", "1.31.6"], criTools: "1.31.1", cni: "1.5.1", criToolsDep: "1.30.0" },
];
/** pkgs.k8s.io build revision suffix [FACTS §1.1]. */
export const REVISION = "-1.1";

export interface Repos {
  /** Host folder that holds v1.30/deb/, v1.28/deb/ (served as aptBase inside the sandbox). */
  readonly k8sDir: string;
  /** Host folder of the local Debian repository. */
  readonly debianDir: string;
  /** Binary public key of the throwaway signing key (for the Debian repo's signed-by). */
  readonly keyring: string;
  readonly gnupgHome: string;
}

function must(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd: opts.cwd, env: opts.env ?? process.env, input: opts.input, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`sandbox repos: ${cmd} ${args.join(" ")} failed: ${r.error?.message ?? ""}${r.stderr}`);
  return r.stdout;
}

interface DebFile {
  readonly path: string;
  readonly content: string;
  readonly mode: number;
}

function buildDeb(outDir: string, work: string, control: Record<string, string>, files: readonly DebFile[], conffiles: readonly string[] = []): void {
  const stage = path.join(work, `${control.Package}_${control.Version}`);
  fs.mkdirSync(path.join(stage, "DEBIAN"), { recursive: true });
  const ctl = Object.entries({ ...control, Architecture: "amd64", Maintainer: "kubeadm sandbox <sandbox@invalid>", Description: `sandbox stand-in for ${control.Package}` })
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n");
  fs.writeFileSync(path.join(stage, "DEBIAN", "control"), `${ctl}\n`);
  if (conffiles.length) fs.writeFileSync(path.join(stage, "DEBIAN", "conffiles"), conffiles.map((c) => `${c}\n`).join(""));
  for (const f of files) {
    const p = path.join(stage, f.path);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, f.content, { mode: f.mode });
    fs.chmodSync(p, f.mode);
  }
  must("dpkg-deb", ["--root-owner-group", "-Zgzip", "--build", stage, path.join(outDir, `${control.Package}_${control.Version}_amd64.deb`)]);
  fs.rmSync(stage, { recursive: true, force: true });
}

function minorPackages(repo: MinorRepo, outDir: string, work: string): void {
  const cniDeb = `${repo.cni}${REVISION}`;
  // kubernetes-cni.spec (kubernetes/release krel templates): /opt/cni/bin plugins, and /etc/cni/net.d
  // kept by an empty .kubernetes-cni-keep (the deb build drops empty directories).
  buildDeb(outDir, work, { Package: "kubernetes-cni", Version: cniDeb }, [
    ...["bridge", "host-local", "loopback", "portmap"].map((b) => ({ path: `opt/cni/bin/${b}`, content: S.CNI_PLUGIN, mode: 0o755 })),
    { path: "etc/cni/net.d/.kubernetes-cni-keep", content: "", mode: 0o644 },
  ]);
  buildDeb(outDir, work, { Package: "cri-tools", Version: `${repo.criTools}${REVISION}` }, [{ path: "usr/bin/crictl", content: S.crictlStandIn(repo.criTools), mode: 0o755 }]);
  for (const v of repo.versions) {
    const ver = `${v}${REVISION}`;
    // Files and dependencies as the real debs have them (kubernetes/release krel templates).
    buildDeb(
      outDir,
      work,
      { Package: "kubelet", Version: ver, Depends: "kubernetes-cni (>= 1.2.0), mount, util-linux", Recommends: "iptables (>= 1.8.4)" },
      [
        { path: "usr/bin/kubelet", content: S.kubeletStandIn(v), mode: 0o755 },
        { path: "usr/lib/systemd/system/kubelet.service", content: S.KUBELET_SERVICE, mode: 0o600 },
        { path: "etc/default/kubelet", content: "KUBELET_EXTRA_ARGS=\n", mode: 0o644 },
        { path: "var/lib/kubelet/.kubelet-keep", content: "", mode: 0o644 },
        { path: "etc/kubernetes/manifests/.kubelet-keep", content: "", mode: 0o644 },
      ],
      ["/etc/default/kubelet"],
    );
    buildDeb(outDir, work, { Package: "kubeadm", Version: ver, Depends: `cri-tools (>= ${repo.criToolsDep ?? `${repo.criTools.split(".").slice(0, 2).join(".")}.0`})` }, [
      { path: "usr/bin/kubeadm", content: S.kubeadmStandIn(v), mode: 0o755 },
      { path: "usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", content: S.KUBEADM_DROPIN, mode: 0o644 },
    ]);
    buildDeb(outDir, work, { Package: "kubectl", Version: ver }, [{ path: "usr/bin/kubectl", content: S.kubectlStandIn(v), mode: 0o755 }]);
  }
}

function signRepo(dir: string, env: NodeJS.ProcessEnv, packagesIndex?: string): void {
  const packages = packagesIndex ?? must("apt-ftparchive", ["packages", "."], { cwd: dir });
  fs.writeFileSync(path.join(dir, "Packages"), packages);
  must("gzip", ["-kf9n", "Packages"], { cwd: dir });
  const release = must("apt-ftparchive", ["-o", "APT::FTPArchive::Release::Origin=kubeadm-sandbox", "release", "."], { cwd: dir });
  fs.writeFileSync(path.join(dir, "Release"), release);
  for (const f of ["InRelease", "Release.gpg"]) fs.rmSync(path.join(dir, f), { force: true });
  must("gpg", ["--batch", "--yes", "--clearsign", "-o", "InRelease", "Release"], { cwd: dir, env });
  must("gpg", ["--batch", "--yes", "-abs", "-o", "Release.gpg", "Release"], { cwd: dir, env });
}

/** Builds both repositories under `work` with a fresh key; removes nothing outside `work`. */
export function buildRepos(work: string, base: BaseCache): Repos {
  // A short path: gpg-agent's socket path must stay under ~100 characters.
  const gnupgHome = fs.mkdtempSync("/tmp/ksg-");
  fs.chmodSync(gnupgHome, 0o700);
  const env = { ...process.env, GNUPGHOME: gnupgHome };
  must("gpg", ["--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", "kubeadm sandbox throwaway <sandbox@invalid>", "ed25519", "sign", "1d"], { env });
  const armored = must("gpg", ["--batch", "--armor", "--export"], { env });
  const keyring = path.join(work, "sandbox-archive-keyring.gpg");
  fs.writeFileSync(keyring, spawnSync("gpg", ["--batch", "--export"], { env }).stdout);

  const k8sDir = path.join(work, "k8s");
  const stage = path.join(work, "stage");
  fs.mkdirSync(stage, { recursive: true });
  for (const r of K8S_REPOS) {
    const dir = path.join(k8sDir, `v${r.minor}`, "deb");
    fs.mkdirSync(dir, { recursive: true });
    minorPackages(r, dir, stage);
    fs.writeFileSync(path.join(dir, "Release.key"), armored);
    signRepo(dir, env);
  }
  fs.rmSync(stage, { recursive: true, force: true });

  const debianDir = path.join(work, "debian");
  fs.mkdirSync(debianDir, { recursive: true });
  for (const f of fs.readdirSync(base.debsDir)) if (f.endsWith(".deb")) fs.copyFileSync(path.join(base.debsDir, f), path.join(debianDir, f));
  signRepo(debianDir, env, fs.readFileSync(path.join(base.debsDir, "Packages"), "utf8"));
  return { k8sDir, debianDir, keyring, gnupgHome };
}

/** Stops the gpg-agent of the throwaway home and removes it. */
export function destroyRepos(r: Repos): void {
  spawnSync("gpgconf", ["--kill", "all"], { env: { ...process.env, GNUPGHOME: r.gnupgHome }, stdio: "ignore" });
  fs.rmSync(r.gnupgHome, { recursive: true, force: true });
}

/**
 * A copy of the Kubernetes repository whose Release.key is some other key than the one that signed
 * it: what a user gets from a wrong or tampered mirror. apt must refuse it.
 */
export function withForeignKey(r: Repos, work: string): Repos {
  const other = fs.mkdtempSync("/tmp/ksg-");
  fs.chmodSync(other, 0o700);
  const env = { ...process.env, GNUPGHOME: other };
  try {
    must("gpg", ["--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", "someone else <other@invalid>", "ed25519", "sign", "1d"], { env });
    const armored = must("gpg", ["--batch", "--armor", "--export"], { env });
    const k8sDir = path.join(work, "k8s-foreign-key");
    fs.cpSync(r.k8sDir, k8sDir, { recursive: true });
    for (const m of K8S_REPOS) fs.writeFileSync(path.join(k8sDir, `v${m.minor}`, "deb", "Release.key"), armored);
    return { ...r, k8sDir };
  } finally {
    spawnSync("gpgconf", ["--kill", "all"], { env, stdio: "ignore" });
    fs.rmSync(other, { recursive: true, force: true });
  }
}
