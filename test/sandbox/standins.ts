// The smallest honest stand-ins for what cannot exist in a chroot without systemd, a kubelet or a
// cluster. Each one records its arguments under /sandbox-log/ (outside /etc and /var, so it never
// disturbs the idempotency checksums) and does only what a test depends on; everything else about the
// run (bash, apt, dpkg, gpg, sed, sysctl, containerd's config parser) is the real Debian program.
//
// A cluster's nodes may share a fake "API server state" (/srv/api, one host folder bind-mounted into
// every node of that cluster, marked by /srv/api/.sandbox-api; see sandbox.ts makeApiState): kubeadm
// init/join register the node there, the systemctl stand-in publishes the kubelet version on a kubelet
// restart, and the kubectl stand-in reads and changes it. Without it they behave as before.
import * as fs from "fs";
import * as path from "path";

/** Where stand-ins record calls, inside the sandbox root. */
export const LOG_DIR = "/sandbox-log";

const RECORD = `mkdir -p ${LOG_DIR}; printf '%s\\n' "$*" >> "${LOG_DIR}/$(basename "$0").log"`;

/** The shared API state inside a node (a bind mount; absent in sandboxes that have none). */
export const API_DIR = "/srv/api";

/** Bash stand-in texts kept as files (test/sandbox/bin/), with @VERSION@ / @RECORD@ filled in. */
function binText(name: string, vars: Record<string, string> = {}): string {
  let t = fs.readFileSync(path.join(__dirname, "bin", name), "utf8");
  for (const [k, v] of Object.entries({ RECORD, ...vars })) t = t.split(`@${k}@`).join(v);
  return t;
}

/** Registers this node (its hostname) in the shared API state with the installed kubelet's version, Ready. */
const API_REGISTER = `api_register() {
  [ -f ${API_DIR}/.sandbox-api ] || return 0
  n="$(hostname)"; mkdir -p "${API_DIR}/nodes/$n/annotations"
  kubelet --version | awk '{print $2}' > "${API_DIR}/nodes/$n/kubeletVersion"; echo True > "${API_DIR}/nodes/$n/ready"
}`;

/**
 * systemctl (test/sandbox/bin/systemctl.sh): there is no systemd as PID 1 in a chroot. Records every call
 * (the tests check that containerd is restarted on the first run and not on the second) and answers
 * queries as if the unit were healthy, starting nothing; a kubelet restart publishes its version in the
 * shared API state. keepalived and haproxy are real: enable/disable make the [Install] symlink,
 * start/restart/reload/stop run the real daemons in the node's namespaces, is-active/is-enabled tell
 * the truth (vip.sh, reset.sh and undo-prep.sh decide by them).
 */
export const SYSTEMCTL = binText("systemctl.sh");

/**
 * policy-rc.d: the usual chroot guard (invoke-rc.d asks it before a package's maintainer script starts a
 * service). Without systemd, invoke-rc.d would run the packages' /etc/init.d scripts (haproxy's and
 * keepalived's postinst call it) and start daemons behind the systemctl stand-in's back; on a real node
 * the package's start goes through systemd (deb-systemd-invoke), and vip.sh restarts the units anyway.
 * Exit 101 = "action forbidden" (Debian policy, invoke-rc.d(8)).
 */
export const POLICY_RC_D = `#!/bin/sh
# sandbox stand-in: no init system here; services are started through the systemctl stand-in.
${RECORD}
exit 101
`;

/**
 * hostnamectl talks to systemd-hostnamed over D-Bus, absent here. The stand-in does what hostnamed
 * does for set-hostname: writes /etc/hostname and sets the kernel hostname (inside the sandbox's own
 * UTS namespace, so the test host's name never changes).
 */
export const HOSTNAMECTL = `#!/bin/sh
# sandbox stand-in for hostnamectl (no systemd-hostnamed here).
${RECORD}
case "$1" in
  set-hostname) printf '%s\\n' "$2" > /etc/hostname.tmp && mv /etc/hostname.tmp /etc/hostname; hostname "$2" ;;
  hostname|--static|status|"") cat /etc/hostname ;;
esac
exit 0
`;

/** Facts the kubeadm stand-in prints for each minor [FACTS §1.4]. */
const KUBEADM_IMAGES: Readonly<Record<string, { pause: string; etcd: string; coredns: string }>> = {
  "1.28": { pause: "3.9", etcd: "3.5.12-0", coredns: "v1.10.1" },
  "1.30": { pause: "3.9", etcd: "3.5.12-0", coredns: "v1.11.1" },
  "1.31": { pause: "3.10", etcd: "3.5.15-0", coredns: "v1.11.3" },
};

/**
 * kubeadm of one version: prints its version, lists/"pulls" images (recording the flags and keeping a
 * copy of any --config file). `init` and `join` leave the files the real ones leave (kubeconfigs, static
 * pod manifests, a real self-signed CA made with openssl, kubelet config, etcd dir) and, like the real
 * `init`, print the bootstrap token, so a test can see whether the script masks it. `reset` deletes
 * what the real `kubeadm reset` documents it deletes (and, like the real one, not the CNI config).
 * `token list/create/delete` keep the tokens in a state file and print `token list`'s table format (the
 * kubectl stand-in's `create -f -` and `patch secret` of a bootstrap token change the same file).
 */
export function kubeadmStandIn(version: string): string {
  const minor = version.split(".").slice(0, 2).join(".");
  const img = KUBEADM_IMAGES[minor];
  if (!img) throw new Error(`no stand-in image facts for ${minor}`);
  return `#!/bin/bash
# sandbox stand-in for kubeadm v${version}
${RECORD}
# With a shared API state, every node's calls also go to one cluster-wide list, in order.
if [ -f ${API_DIR}/.sandbox-api ]; then printf '%s %s\n' "$(hostname)" "$*" >> ${API_DIR}/kubeadm-calls.log; fi
KVER=${version}
KETCD=${img.etcd}
${API_REGISTER}
${binText("kubeadm-upgrade.sh")}
${binText("kubeadm-ha.sh")}
repo=registry.k8s.io
prev=""
cfgpath=""
upload=false
for a in "$@"; do
  case "$prev" in
    --image-repository) repo="$a" ;;
    --config) cfgpath="$a"; cp "$a" "${LOG_DIR}/kubeadm-$1-config.yaml" 2>/dev/null || true ;;
  esac
  case "$a" in --image-repository=*) repo="\${a#*=}" ;; --config=*) cfgpath="\${a#*=}"; cp "\${a#*=}" "${LOG_DIR}/kubeadm-$1-config.yaml" 2>/dev/null || true ;; --upload-certs) upload=true ;; esac
  prev="$a"
done
API=${API_DIR}
pki=/etc/kubernetes/pki
# Certificates as kubeadm makes them: three CAs (10 years), leaf certificates (1 year) in pki/ and the
# client certificates embedded in the kubeconfigs (client-certificate-data). EC keys keep it fast.
LEAVES="admin.conf:ca apiserver:ca apiserver-etcd-client:etcd-ca apiserver-kubelet-client:ca controller-manager.conf:ca etcd-healthcheck-client:etcd-ca etcd-peer:etcd-ca etcd-server:etcd-ca front-proxy-client:front-proxy-ca scheduler.conf:ca super-admin.conf:ca"
ca_files() { case "$1" in ca) echo "$pki/ca" ;; etcd-ca) echo "$pki/etcd/ca" ;; front-proxy-ca) echo "$pki/front-proxy-ca" ;; esac; }
leaf_file() { case "$1" in *.conf) echo "/etc/kubernetes/$1" ;; etcd-*) echo "$pki/etcd/\${1#etcd-}.crt" ;; *) echo "$pki/$1.crt" ;; esac; }
issue() { # issue NAME CA: a new 1-year certificate for NAME signed by CA (into its file or kubeconfig)
  c="$(ca_files "$2")"; f="$(leaf_file "$1")"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /tmp/leaf.key -subj "/CN=$1" -out /tmp/leaf.csr 2>/dev/null || exit 1
  openssl x509 -req -in /tmp/leaf.csr -CA "$c.crt" -CAkey "$c.key" -CAcreateserial -days 365 -out /tmp/leaf.crt 2>/dev/null || exit 1
  case "$1" in
    *.conf) sed -i '/client-certificate-data:/d' "$f"; echo "    client-certificate-data: $(base64 -w0 /tmp/leaf.crt)" >> "$f" ;;
    *) mkdir -p "$(dirname "$f")"; cp /tmp/leaf.crt "$f"; cp /tmp/leaf.key "\${f%.crt}.key" ;;
  esac
  rm -f /tmp/leaf.key /tmp/leaf.csr /tmp/leaf.crt
}
not_after() { # not_after NAME: the certificate's expiry as seconds since the epoch (empty = missing)
  f="$(leaf_file "$1")"; [ -f "$f" ] || return 0
  case "$1" in *.conf) sed -n 's/^ *client-certificate-data: *//p' "$f" | base64 -d > /tmp/na.crt 2>/dev/null ;; *) cp "$f" /tmp/na.crt ;; esac
  d="$(openssl x509 -noout -enddate -in /tmp/na.crt 2>/dev/null | cut -d= -f2)"; rm -f /tmp/na.crt
  [ -n "$d" ] && date -u -d "$d" +%s
}
residual() { # apimachinery duration.ShortHumanDuration, as check-expiration prints it
  s=$(( $1 - $(date -u +%s) ))
  if [ $s -lt -1 ]; then echo "<invalid>"; elif [ $s -lt 0 ]; then echo 0s; elif [ $s -lt 60 ]; then echo "\${s}s"
  elif [ $s -lt 3600 ]; then echo "$((s / 60))m"; elif [ $s -lt 86400 ]; then echo "$((s / 3600))h"
  elif [ $s -lt $((365 * 86400)) ]; then echo "$((s / 86400))d"; else echo "$((s / 86400 / 365))y"; fi
}
check_expiration() {
  printf '%-26s %-24s %-15s %-23s %s\n' CERTIFICATE EXPIRES "RESIDUAL TIME" "CERTIFICATE AUTHORITY" "EXTERNALLY MANAGED"
  for e in $LEAVES; do
    n="\${e%%:*}"; t="$(not_after "$n")"
    if [ -z "$t" ]; then echo "!MISSING! $n"; continue; fi
    printf '%-26s %-24s %-15s %-23s %s\n' "$n" "$(date -u -d "@$t" '+%b %d, %Y %H:%M UTC')" "$(residual "$t")" "\${e#*:}" no
  done
  echo
  printf '%-23s %-24s %-15s %s\n' "CERTIFICATE AUTHORITY" EXPIRES "RESIDUAL TIME" "EXTERNALLY MANAGED"
  for a in ca etcd-ca front-proxy-ca; do
    t="$(date -u -d "$(openssl x509 -noout -enddate -in "$(ca_files "$a").crt" | cut -d= -f2)" +%s)"
    printf '%-23s %-24s %-15s %s\n' "$a" "$(date -u -d "@$t" '+%b %d, %Y %H:%M UTC')" "$(residual "$t")" no
  done
}
images() {
  for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do echo "$repo/$c:v${version}"; done
  echo "$repo/coredns/coredns:${img.coredns}"
  echo "$repo/pause:${img.pause}"
  echo "$repo/etcd:${img.etcd}"
}
case "$1" in
  version)
    if [ "\${2:-}" = "-o" ] && [ "\${3:-}" = "short" ]; then echo "v${version}"; else echo 'kubeadm version: &version.Info{GitVersion:"v${version}"}'; fi ;;
  config)
    case "\${2:-} \${3:-}" in
      "images list") images ;;
      "images pull") images | sed 's/^/[config\\/images] Pulled /' ;;
    esac ;;
  init)
    if [ "\${2:-} \${3:-}" = "phase upload-certs" ]; then
      $upload || { echo "sandbox stand-in: init phase upload-certs without --upload-certs does nothing" >&2; exit 0; }
      ha_upload_certs "$cfgpath" || exit 1
      exit 0
    fi
    cfg=${LOG_DIR}/kubeadm-init-config.yaml
    tok="$(grep -oE '[a-z0-9]{6}\.[a-z0-9]{16}' "$cfg" | head -n1)"
    adv="$(sed -n 's/^ *advertiseAddress: *//p' "$cfg" | tr -d '"' | head -n1)"
    echo "[init] Using Kubernetes version: v${version}"
    mkdir -p /etc/kubernetes/manifests $pki/etcd /var/lib/kubelet /var/lib/etcd/member
    openssl req -x509 -newkey rsa:2048 -nodes -keyout $pki/ca.key -out $pki/ca.crt -subj /CN=kubernetes -days 3650 2>/dev/null || exit 1
    for c in etcd/ca:etcd-ca front-proxy-ca:front-proxy-ca; do
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/\${c%%:*}.key" -out "$pki/\${c%%:*}.crt" -subj "/CN=\${c#*:}" -days 3650 2>/dev/null || exit 1
    done
    for f in admin super-admin kubelet controller-manager scheduler; do
      printf 'apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://%s:6443\n  name: kubernetes\n# sandbox stand-in %s.conf\nusers:\n- name: %s\n  user:\n' "$adv" "$f" "$f" > /etc/kubernetes/$f.conf
    done
    for e in $LEAVES; do issue "\${e%%:*}" "\${e#*:}"; done
    r="$(sed -n 's/^ *imageRepository: *//p' "$cfg" | tr -d '"' | head -n1)"; r="\${r:-registry.k8s.io}"
    for m in etcd kube-apiserver kube-controller-manager kube-scheduler; do
      t="v${version}"; [ "$m" != etcd ] || t="${img.etcd}"
      printf '# sandbox stand-in static pod %s\nspec:\n  containers:\n  - name: %s\n    image: %s/%s:%s\n' "$m" "$m" "$r" "$m" "$t" > /etc/kubernetes/manifests/$m.yaml
    done
    if [ -f ${API_DIR}/.sandbox-api ]; then
      mkdir -p ${API_DIR}/kubeadm-config
      cpe="$(sed -n 's/^controlPlaneEndpoint: *//p' "$cfg" | tr -d '"' | head -n1)"
      printf 'apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nkubernetesVersion: v${version}\n' > ${API_DIR}/kubeadm-config/ClusterConfiguration
      [ -z "$cpe" ] || echo "controlPlaneEndpoint: $cpe" >> ${API_DIR}/kubeadm-config/ClusterConfiguration
      echo "imageRepository: $r" >> ${API_DIR}/kubeadm-config/ClusterConfiguration
      api_register
      ha_label_cp
      ha_member_add "$adv"
      if $upload; then ha_upload_certs "$cfg" || exit 1; fi
    fi
    echo 'kind: KubeletConfiguration' > /var/lib/kubelet/config.yaml
    echo 'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock"' > /var/lib/kubelet/kubeadm-flags.env
    echo "$tok 23h" >> ${LOG_DIR}/tokens
    echo "[bootstrap-token] Using token: $tok"
    echo "kubeadm join $adv:6443 --token $tok --discovery-token-ca-cert-hash sha256:0000" ;;
  join)
    if grep -q '^controlPlane:' "${LOG_DIR}/kubeadm-join-config.yaml" 2>/dev/null; then
      ha_join_control_plane "${LOG_DIR}/kubeadm-join-config.yaml" || exit 1
      exit 0
    fi
    mkdir -p /etc/kubernetes/pki /var/lib/kubelet
    echo "# sandbox stand-in" > /etc/kubernetes/pki/ca.crt
    echo "# sandbox stand-in kubelet.conf" > /etc/kubernetes/kubelet.conf
    echo 'kind: KubeletConfiguration' > /var/lib/kubelet/config.yaml
    echo 'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock"' > /var/lib/kubelet/kubeadm-flags.env
    api_register
    echo "This node has joined the cluster" ;;
  upgrade) shift; kubeadm_upgrade "$@" || exit 1 ;;
  token)
    # Tokens live in a state file ("token ttl" per line) so list/create/delete behave like a cluster's.
    db=${LOG_DIR}/tokens
    touch "$db"
    case "\${2:-}" in
      list)
        printf '%-24s  %-10s  %-22s  %-24s  %s\\n' TOKEN TTL EXPIRES USAGES DESCRIPTION
        # EXPIRES as the real one prints it (RFC 3339, "<never>"), from the TTL kept in hours.
        while read -r t ttl; do
          case "$ttl" in
            "<invalid>") exp="$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)" ;;
            "<forever>") exp="<never>" ;;
            *h) exp="$(date -u -d "+\${ttl%h} hours" +%Y-%m-%dT%H:%M:%SZ)" ;;
            *) echo "sandbox stand-in kubeadm: TTL $ttl is not in hours" >&2; exit 1 ;;
          esac
          printf '%-24s  %-10s  %-22s  %-24s  %s\\n' "$t" "$ttl" "$exp" authentication,signing "sandbox stand-in"
        done < "$db" ;;
      create)
        t="\${3:-}"; ttl=24h; prev=""
        # Like the real one: a token whose id exists (even expired, until deleted) cannot be created again.
        if [ -n "$t" ] && grep -q "^\${t%%.*}\\." "$db"; then echo "error: a token with id \"\${t%%.*}\" already exists" >&2; exit 1; fi
        for a in "$@"; do [ "$prev" = --ttl ] && ttl="$a"; prev="$a"; done
        [ "$ttl" = 0 ] && ttl="<forever>"
        echo "$t $ttl" >> "$db"; echo "$t" ;;
      delete)
        grep -v "^\${3:-}\\." "$db" > "$db.new" || true; mv "$db.new" "$db"; echo "bootstrap token '\${3:-}' deleted" ;;
    esac ;;
  certs)
    case "\${2:-} \${3:-}" in
      "renew all")
        [ -f $pki/ca.key ] || { echo "error: no $pki/ca.key" >&2; exit 1; }
        for e in $LEAVES; do
          n="\${e%%:*}"; [ -n "$(not_after "$n")" ] || continue
          issue "$n" "\${e#*:}"
          case "$n" in *.conf) echo "certificate embedded in the kubeconfig file for $n renewed" ;; *) echo "certificate for $n renewed" ;; esac
        done
        echo
        echo "Done renewing certificates. You must restart the kube-apiserver, kube-controller-manager, kube-scheduler and etcd, so that they can use the new certificates." ;;
      "check-expiration "*) check_expiration ;;
      *) echo "sandbox stand-in: unsupported: certs \${2:-}" >&2; exit 1 ;;
    esac ;;
  reset)
    echo "[reset] sandbox stand-in: deleting what kubeadm reset deletes"
    ha_reset
    # cleanupnode.go CleanDir: the contents of manifests/, pki/ and /var/lib/kubelet, dotfiles included
    # (the kubelet package's .kubelet-keep files too); the directories themselves stay.
    find /etc/kubernetes/manifests /etc/kubernetes/pki -mindepth 1 -delete 2>/dev/null || true
    rm -rf /var/lib/etcd ${LOG_DIR}/tokens
    find /var/lib/kubelet -mindepth 1 -delete 2>/dev/null || true
    rm -f /etc/kubernetes/admin.conf /etc/kubernetes/super-admin.conf /etc/kubernetes/kubelet.conf /etc/kubernetes/bootstrap-kubelet.conf /etc/kubernetes/controller-manager.conf /etc/kubernetes/scheduler.conf
    echo "The reset process does not clean CNI configuration. To do so, you must remove /etc/cni/net.d" ;;
esac
exit 0
`;
}

export function kubeletStandIn(version: string): string {
  return `#!/bin/sh
# sandbox stand-in for kubelet v${version} (never started: no systemd)
${RECORD}
case "$1" in --version) echo "Kubernetes v${version}" ;; esac
exit 0
`;
}

/**
 * kubectl (test/sandbox/bin/kubectl.sh): without the shared API state, "the API answers" exactly when the
 * kubeconfig it is given exists (after the kubeadm stand-in's init). With it: get node(s)/pods/cm
 * kubeadm-config with the jsonpath expressions the node scripts use (any other expression is an error),
 * get --raw /readyz, cordon, uncordon, annotate node, drain (refusing DaemonSet pods without
 * --ignore-daemonsets and bare pods without --force, with the real messages). Every call is recorded.
 */
export function kubectlStandIn(version: string): string {
  return binText("kubectl.sh", { VERSION: version });
}

export function crictlStandIn(version: string): string {
  return `#!/bin/sh
# sandbox stand-in for crictl ${version} (no containerd daemon runs here). In an HA sandbox cluster
# (shared API state at /srv/api) a control plane with a stacked etcd member has an "etcd" container, and
# \`crictl exec <it> etcdctl ... member list|remove <id>\` works on the members kubeadm's stand-in keeps in
# /srv/api/etcd/members/<node> (simple format: "<id>, started, <name>, <peer URL>, <client URL>, false").
${RECORD}
M=/srv/api/etcd/members
member_id() { printf '%s' "$1" | md5sum | cut -c1-16; }
case "$1" in
  --version|-v) echo "crictl version v${version}" ;;
  ps)
    case "$*" in *etcd*) [ -f /srv/api/.sandbox-api ] && [ -f /etc/kubernetes/manifests/etcd.yaml ] && echo sandbox-etcd ;; esac ;;
  exec)
    [ "$2" = sandbox-etcd ] && [ "$3" = etcdctl ] || { echo "sandbox crictl: only etcdctl in the etcd container" >&2; exit 1; }
    shift 3
    words=""
    for a in "$@"; do case "$a" in --*) ;; *) words="$words $a" ;; esac; done
    # shellcheck disable=SC2086
    set -- $words
    case "$1 $2" in
      "member list")
        for f in "$M"/*; do
          [ -f "$f" ] || continue
          n=$(basename "$f"); u=$(cat "$f")
          echo "$(member_id "$n"), started, $n, $u, \${u%:2380}:2379, false"
        done ;;
      "member remove")
        for f in "$M"/*; do
          [ -f "$f" ] || continue
          if [ "$(member_id "$(basename "$f")")" = "$3" ]; then rm -f "$f"; echo "Member $3 removed from cluster"; exit 0; fi
        done
        echo "Error: etcdserver: member not found" >&2; exit 1 ;;
      *) echo "sandbox etcdctl: unsupported: $*" >&2; exit 1 ;;
    esac ;;
esac
exit 0
`;
}

export const CNI_PLUGIN = `#!/bin/sh
# sandbox stand-in for a CNI plugin binary: present so the package is complete; never executed here.
echo "sandbox stand-in CNI plugin" >&2
exit 1
`;

/** The kubelet systemd unit shipped by the kubelet package (content abridged; never run here). */
export const KUBELET_SERVICE = `[Unit]
Description=kubelet: The Kubernetes Node Agent (sandbox stand-in package)
[Service]
ExecStart=/usr/bin/kubelet
Restart=always
[Install]
WantedBy=multi-user.target
`;

/** The kubeadm drop-in, with the two environment files the deb reads [FACTS §1.1]. */
export const KUBEADM_DROPIN = `[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`;
