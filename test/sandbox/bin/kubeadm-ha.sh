# shellcheck shell=bash
# sandbox stand-in: the highly available control plane's parts of kubeadm, included in the kubeadm
# stand-in (test/sandbox/standins.ts), which defines API, KVER, issue/LEAVES, api_register and LOG_DIR.
# What it keeps of the real one (cmd/kubeadm/app/phases/copycerts/copycerts.go, upgrade-ha-facts.md B1):
#  - `init --upload-certs` and `init phase upload-certs --upload-certs --config F` store the "kubeadm-certs"
#    Secret: the CA certificates and keys, encrypted with the config's certificateKey (a random one when
#    it is empty), owned by a bootstrap token "Proxy for managing TTL for the kubeadm-certs secret" whose TTL
#    is DefaultCertTokenDuration = 2 h; each upload makes a new token, so the two hours start again. Both
#    print the key ("[upload-certs] Using certificate key:"). Here: $API/kubeadm-certs/{keyHash,expires,pki.tar}.
#  - `join` with a controlPlane section downloads them (control-plane-prepare/download-certs) with the
#    JoinConfiguration's certificateKey, with kubeadm's texts when the Secret is gone ("This Secret might
#    have expired") or the key does not decrypt it ("cipher: message authentication failed");
#  - preflight refuses a control-plane join to a cluster without a controlPlaneEndpoint;
#  - control-plane-join/etcd adds the member as a learner and promotes it; etcd admits one learner at a
#    time ("etcdserver: too many learner members in cluster", etcd's default --max-learners 1): here
#    $API/etcd/learners/<node> while it joins (a test may leave one there), then $API/etcd/members/<node>;
#  - the node gets the control-plane label (mark-control-plane phase: node-role.kubernetes.io/control-plane);
#  - `reset` on a stacked-etcd control plane removes its etcd member (reset phase remove-etcd-member).
# "Now" is the test's clock: real time plus the seconds in $API/clock-offset (a test ages an upload by
# writing 10800 there).
ha_now() { echo $(( $(date -u +%s) + $(cat "$API/clock-offset" 2>/dev/null || echo 0) )); }
ha_key() { sed -n 's/^ *certificateKey: *//p' "$1" | tr -d "\"'" | head -n1; }
ha_hash() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
ha_label_cp() { [ -f "$API/.sandbox-api" ] || return 0; mkdir -p "$API/nodes/$(hostname)/labels"; : > "$API/nodes/$(hostname)/labels/node-role.kubernetes.io%control-plane"; }
ha_member_add() { [ -f "$API/.sandbox-api" ] || return 0; mkdir -p "$API/etcd/members"; echo "https://$1:2380" > "$API/etcd/members/$(hostname)"; }

ha_upload_certs() { # ha_upload_certs CONFIG
  local key
  [ -f "$API/.sandbox-api" ] || { echo "sandbox stand-in: no API state" >&2; return 1; }
  [ -f /etc/kubernetes/admin.conf ] || { echo "couldn't create a Kubernetes client from file \"/etc/kubernetes/admin.conf\"" >&2; return 1; }
  key="$(ha_key "$1")"
  [ -n "$key" ] || key="$(openssl rand -hex 32)"
  echo "[upload-certs] Storing the certificates in Secret \"kubeadm-certs\" in the \"kube-system\" Namespace"
  rm -rf "$API/kubeadm-certs"; mkdir -p "$API/kubeadm-certs"
  ( cd /etc/kubernetes/pki && tar -cf "$API/kubeadm-certs/pki.tar" ca.crt ca.key front-proxy-ca.crt front-proxy-ca.key etcd/ca.crt etcd/ca.key ) || return 1
  ha_hash "$key" > "$API/kubeadm-certs/keyHash"
  echo $(( $(ha_now) + 7200 )) > "$API/kubeadm-certs/expires"
  echo "[upload-certs] Using certificate key:"
  echo "$key"
}

ha_download_certs() { # ha_download_certs JOIN-CONFIG
  local key phase="error execution phase control-plane-prepare/download-certs: error downloading certs:"
  key="$(ha_key "$1")"
  echo "[download-certs] Downloading the certificates in Secret \"kubeadm-certs\" in the \"kube-system\" Namespace"
  if [ -f "$API/kubeadm-certs/expires" ] && [ "$(cat "$API/kubeadm-certs/expires")" -le "$(ha_now)" ]; then
    rm -rf "$API/kubeadm-certs" # the token cleaner deleted the token, the garbage collector its Secret
  fi
  if [ ! -f "$API/kubeadm-certs/keyHash" ]; then
    echo "$phase error downloading the secret: Secret \"kubeadm-certs\" was not found in the \"kube-system\" Namespace. This Secret might have expired. Please, run \`kubeadm init phase upload-certs --upload-certs\` on a control plane to generate a new one" >&2
    return 1
  fi
  if [ "$(ha_hash "$key")" != "$(cat "$API/kubeadm-certs/keyHash")" ]; then
    echo "$phase error decoding secret data with provided key: cipher: message authentication failed" >&2
    return 1
  fi
  mkdir -p /etc/kubernetes/pki
  tar -xf "$API/kubeadm-certs/pki.tar" -C /etc/kubernetes/pki
}

ha_join_control_plane() { # ha_join_control_plane JOIN-CONFIG
  local cfg="$1" adv endpoint n l m t r
  n="$(hostname)"
  adv="$(sed -n '/^controlPlane:/,$ s/^ *advertiseAddress: *//p' "$cfg" | tr -d '"' | head -n1)"
  endpoint="$(sed -n 's/^ *apiServerEndpoint: *//p' "$cfg" | tr -d '"' | head -n1)"
  [ -f "$API/.sandbox-api" ] || { echo "sandbox stand-in: no API state" >&2; return 1; }
  echo "[preflight] Running pre-flight checks before initializing the new control plane instance"
  if ! grep -q '^controlPlaneEndpoint: *[^ ]' "$API/kubeadm-config/ClusterConfiguration" 2>/dev/null; then
    echo "error execution phase preflight: One or more conditions for hosting a new control plane instance is not satisfied. unable to add a new control plane instance to a cluster that doesn't have a stable controlPlaneEndpoint address" >&2
    return 1
  fi
  ha_download_certs "$cfg" || return 1
  # kubelet-start (cmd/kubeadm/app/cmd/phases/join/kubelet.go): a Ready Node of this name already there.
  if [ "$(cat "$API/nodes/$n/ready" 2>/dev/null)" = True ]; then
    echo "error execution phase kubelet-start: a Node with name \"$n\" and status \"Ready\" already exists in the cluster. You must delete the existing Node or change the name of this new joining Node" >&2
    return 1
  fi
  mkdir -p /etc/kubernetes/manifests /var/lib/kubelet
  for e in $LEAVES; do case "${e%%:*}" in *.conf) ;; *) issue "${e%%:*}" "${e#*:}" ;; esac; done
  for f in admin controller-manager scheduler kubelet; do
    printf 'apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://%s\n  name: kubernetes\n# sandbox stand-in %s.conf\nusers:\n- name: %s\n  user:\n' "$endpoint" "$f" "$f" > /etc/kubernetes/$f.conf
  done
  for e in admin.conf:ca controller-manager.conf:ca scheduler.conf:ca; do issue "${e%%:*}" "${e#*:}"; done
  r="$(sed -n 's/^imageRepository: *//p' "$API/kubeadm-config/ClusterConfiguration" | tr -d '"' | head -n1)"; r="${r:-registry.k8s.io}"
  for m in etcd kube-apiserver kube-controller-manager kube-scheduler; do
    t="v$KVER"; [ "$m" != etcd ] || t="$KETCD"
    printf '# sandbox stand-in static pod %s\nspec:\n  containers:\n  - name: %s\n    image: %s/%s:%s\n' "$m" "$m" "$r" "$m" "$t" > /etc/kubernetes/manifests/$m.yaml
  done
  echo "[control-plane-join] Adding this node as an etcd learner"
  mkdir -p "$API/etcd/learners" "$API/etcd/members"
  for l in "$API"/etcd/learners/*; do
    [ -f "$l" ] || continue
    [ "$(basename "$l")" = "$n" ] && continue
    echo "error execution phase control-plane-join/etcd: error creating local etcd static pod manifest file: etcdserver: too many learner members in cluster" >&2
    return 1
  done
  echo "https://$adv:2380" > "$API/etcd/learners/$n"
  mkdir -p /var/lib/etcd/member
  mv "$API/etcd/learners/$n" "$API/etcd/members/$n"
  echo "[etcd] Promoted this node's etcd member from learner to voting member"
  echo 'kind: KubeletConfiguration' > /var/lib/kubelet/config.yaml
  echo 'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock"' > /var/lib/kubelet/kubeadm-flags.env
  api_register
  ha_label_cp
  echo "[mark-control-plane] Marking the node $n as control-plane by adding the labels: [node-role.kubernetes.io/control-plane node.kubernetes.io/exclude-from-external-load-balancers]"
  echo "This node has joined the cluster and a new control plane instance was created"
}

ha_reset() { # the reset phase remove-etcd-member, on a node with a stacked etcd member
  [ -f "$API/.sandbox-api" ] || return 0
  # Like the real one, it needs the node's registration from the cluster (FetchInitConfigurationFromCluster
  # -> getNodeRegistration): once the Node object is deleted it cannot remove the member.
  if [ -f /etc/kubernetes/manifests/etcd.yaml ] && [ -f "$API/etcd/members/$(hostname)" ]; then
    if [ -d "$API/nodes/$(hostname)" ]; then
      rm -f "$API/etcd/members/$(hostname)"
      echo "[reset] Removed this node's member from the etcd cluster"
    else
      echo "[reset] WARNING: unable to get the node registration (Node $(hostname) not found): the etcd member is not removed" >&2
    fi
  fi
  rm -f "$API/etcd/learners/$(hostname)"
}
