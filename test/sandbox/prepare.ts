// `npm run sandbox:prepare`: builds the sandbox's cached Debian 12 root and the .debs the node scripts
// install (debootstrap from the Debian mirror, once). The sandbox tests never download anything: without
// this cache they skip with the reason (and fail under CI=true); .ci/run calls this before `npm test`.
import { ensureBaseCache, cacheDir, baseCacheReady } from "./cache";

const had = baseCacheReady();
const started = Date.now();
const cache = ensureBaseCache();
console.log(
  had
    ? `sandbox cache already present: ${cacheDir()}`
    : `sandbox cache built in ${Math.round((Date.now() - started) / 1000)} s: ${cache.rootTar} and ${cache.debsDir}`,
);
