// The real program on the aliyun stack under mocks: public IP in certSANs and kubeconfig, china mirrors.
import * as pulumi from "@pulumi/pulumi";
import { runProgram } from "./program-helpers";
import { RecordedResource, valueOf, byName } from "./harness";

let resources: RecordedResource[];
let outputs: Record<string, unknown>;

beforeAll(async () => {
  ({ resources, outputs } = await runProgram("aliyun"));
});

test("SSH goes to the public IP, Kubernetes uses the private IP", async () => {
  const nodes = await valueOf(pulumi.output(outputs.nodes as pulumi.Input<Record<string, unknown>[]>));
  expect(nodes[0]).toEqual(expect.objectContaining({ name: "k8s-master", ip: "172.16.1.10", sshHost: "198.51.100.7", sshUser: "root" }));
  expect(await valueOf(outputs.apiEndpoint as pulumi.Output<string>)).toBe("https://198.51.100.7:6443");
});

test("the public IP reaches the API server certSANs (init stdin) and the exported kubeconfig", async () => {
  const init = byName(resources, "kubeadm-k8s-master-init");
  expect(init.secretInputs).toContain("stdin");
  expect(String(init.inputs.stdin)).toContain("198.51.100.7");
  expect(String(init.inputs.stdin)).toContain("advertiseAddress: 172.16.1.10");
  const kc = await valueOf(outputs.kubeconfig as pulumi.Output<string>);
  expect(kc).toContain("server: https://198.51.100.7:6443");
});

test("china profile reaches the nodes: Aliyun apt mirror, Aliyun image repository, DaoCloud registry mirrors", () => {
  const prep = String(byName(resources, "kubeadm-k8s-worker-prep").inputs.create);
  expect(prep).toContain("https://mirrors.aliyun.com/kubernetes-new/core/stable/");
  expect(prep).toContain("registry.aliyuncs.com/google_containers/pause:3.9");
  expect(prep).toContain("docker.m.daocloud.io");
});
