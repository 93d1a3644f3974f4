// The `existing` block (provider existing only): how far `pulumi destroy` undoes node preparation on
// machines the program did not create. VMs and ECS instances are deleted instead, so the block is an
// error with any other provider.
import { ExistingSpec } from "../spec";
import { Block } from "./reader";

export function readExisting(b: Block): ExistingSpec {
  const spec: ExistingSpec = {
    removeKubePackages: b.bool("removeKubePackages", true),
    restoreSwap: b.bool("restoreSwap", false),
  };
  b.finish();
  return spec;
}
