// Aliyun with aliyun.zone and aliyun.imageId set: no data-source lookups, the given values are used;
// without a public IP, SSH goes to the private IP and there is no publicAddress.
import * as pulumi from "@pulumi/pulumi";
import { runMocked, byName, byType, valueOf } from "./harness";
import { aliyunSpec, TEST_PRIVATE_KEY, TEST_PUBLIC_KEY } from "./fixtures";
import { provisionMachines } from "../components/machines";

test("explicit zone and image skip the lookups; bandwidth 0 means private-only SSH", async () => {
  const base = aliyunSpec();
  const spec = aliyunSpec({ ssh: { ...base.ssh, user: "ubuntu" }, aliyun: { ...base.aliyun!, zone: "cn-hangzhou-h", imageId: "m-custom123", internetMaxBandwidthOut: 0 } });
  const run = await runMocked(
    {
      config: {},
      state: (args) => (args.type === "alicloud:ecs/instance:Instance" ? { ...(args.inputs as Record<string, unknown>), publicIp: "", privateIp: (args.inputs as Record<string, unknown>).privateIp } : undefined),
    },
    () => provisionMachines(spec, { privateKey: pulumi.secret(TEST_PRIVATE_KEY), publicKey: TEST_PUBLIC_KEY }, {}),
  );
  expect(run.invokes).toEqual([]);
  expect(byType(run.resources, "alicloud:vpc/switch:Switch")[0].inputs.zoneId).toBe("cn-hangzhou-h");
  const cp = byName(run.resources, "kubeadm-k8s-master-ecs");
  expect(cp.inputs.imageId).toBe("m-custom123");
  expect(cp.inputs.internetMaxBandwidthOut).toBe(0);
  // A non-root user is created by cloud-init with the key.
  expect(Buffer.from(cp.inputs.userData as string, "base64").toString("utf8")).toContain('name: "ubuntu"');
  const [h] = run.value;
  expect(await valueOf(h.connection.host)).toBe("172.16.1.10");
  expect(h.connection.user).toBe("ubuntu");
  expect(h.publicAddress).toBeUndefined();
});
