// readClusterSpec through the Pulumi runtime config (as `pulumi up` delivers it: strings, objects as
// JSON, the private key as secret config). One runMocked per file; later cases swap the config with
// setAllConfig inside the same run.
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { ConfigError, PROJECT, pulumiConfigMapFromStackFile, readClusterSpec } from "../components/config";
import { ClusterSpec } from "../components/spec";
import { runMocked, valueOf } from "./harness";
import { TEST_PRIVATE_KEY, TEST_PUBLIC_KEY } from "./fixtures";

const DEV_MAP = pulumiConfigMapFromStackFile(path.join(__dirname, "..", "Pulumi.dev.yaml"));

/** The dev stack's config plus an SSH key pair, keyed without the project prefix (runMocked's form). */
function devConfig(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(DEV_MAP)) out[k.slice(PROJECT.length + 1)] = v;
  out.ssh = JSON.stringify({ publicKey: TEST_PUBLIC_KEY });
  out.sshPrivateKey = TEST_PRIVATE_KEY;
  return out;
}

/** Replaces the runtime config (full keys), then reads it; returns the spec or the ConfigError. */
function readWith(config: Record<string, string>, secret: string[] = []): ClusterSpec | ConfigError {
  const full: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) full[`${PROJECT}:${k}`] = v;
  pulumi.runtime.setAllConfig(full, secret.map((k) => `${PROJECT}:${k}`));
  try {
    return readClusterSpec();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
}

test("readClusterSpec reads the stack config, keeps the private key secret, and reports what pulumi.Config alone would miss", async () => {
  const { value } = await runMocked({ config: devConfig(), secretKeys: ["sshPrivateKey"] }, () => {
    const spec = readClusterSpec();
    const results = {
      typo: readWith({ ...devConfig(), kubernets: JSON.stringify({ version: "1.31" }) }, ["sshPrivateKey"]),
      pubAsPrivate: readWith({ ...devConfig(), sshPrivateKey: TEST_PUBLIC_KEY }, ["sshPrivateKey"]),
      badJson: readWith({ ...devConfig(), kubernetes: "{version: 1.30" }, ["sshPrivateKey"]),
      both: readWith({ ...devConfig(), sshPrivateKey: "not a key", mirrors: JSON.stringify({ profile: "cn" }) }, ["sshPrivateKey"]),
      noKey: (() => {
        const c = devConfig();
        delete c.sshPrivateKey;
        delete c.ssh;
        return readWith(c);
      })(),
    };
    return { spec, ...results };
  });

  // The dev stack with a key pair: the spec matches the file, the key is the secret we set.
  const spec = value.spec;
  expect(spec.nodes.map((n) => n.ip)).toEqual(["192.168.56.10", "192.168.56.20"]);
  expect(spec.kubernetes.version.raw).toBe("1.30.12");
  expect(spec.ssh.publicKey).toBe(TEST_PUBLIC_KEY);
  const key = spec.ssh.privateKey as pulumi.Output<string>;
  expect(await pulumi.isSecret(key)).toBe(true);
  expect(await valueOf(key)).toBe(TEST_PRIVATE_KEY);

  // Without a key pair the program generates one: no private key in the spec.
  expect(value.noKey).not.toBeInstanceOf(ConfigError);
  expect((value.noKey as ClusterSpec).ssh.privateKey).toBeUndefined();

  // A misspelled top-level key is found through the runtime's config map.
  expect(value.typo).toBeInstanceOf(ConfigError);
  expect((value.typo as ConfigError).problems).toEqual([expect.stringContaining("kubeadm-cluster:kubernets")]);

  // The .pub file given as the private key: reported, and the key text never appears.
  const pub = value.pubAsPrivate as ConfigError;
  expect(pub).toBeInstanceOf(ConfigError);
  expect(pub.problems).toEqual([expect.stringMatching(/^kubeadm-cluster:sshPrivateKey: this is a public key/)]);
  expect(pub.message).not.toContain("AAAAC3");

  // A structured value that is not valid JSON/YAML is reported as a type problem, not a crash.
  expect((value.badJson as ConfigError).problems).toEqual([expect.stringContaining("kubeadm-cluster:kubernetes = \"{version: 1.30\": must be an object")]);

  // Key problems and config problems come together, in one error.
  const both = value.both as ConfigError;
  expect(both.problems).toHaveLength(2);
  expect(both.message).toContain("kubeadm-cluster:mirrors.profile");
  expect(both.message).toContain("kubeadm-cluster:sshPrivateKey: not a PEM or OpenSSH private key");
  expect(both.message).not.toContain("not a key\"");
});
