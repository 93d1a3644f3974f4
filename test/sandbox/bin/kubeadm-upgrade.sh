# shellcheck shell=bash
# sandbox stand-in: `kubeadm upgrade plan|apply|node`, included in the kubeadm stand-in (test/sandbox/
# standins.ts), which sets KVER (this kubeadm's version, "1.31.6"), KETCD (its etcd tag) and defines
# issue/not_after/LEAVES (certificates). What it keeps of the real one:
#  - EnforceVersionPolicies (cmd/kubeadm/app/phases/upgrade/policy.go; upgrade-ha-facts.md A2), same texts:
#    mandatory errors always fail, skippable ones fail without --force; the cluster version is what the
#    API server runs (versiongetter.go ClusterVersion = the server's /version), here the image tag of the
#    kube-apiserver static pod; the kubelet versions are the Nodes' (KubeletVersions);
#  - apply: no prompt with -y/--yes/--force (apply.go), else it reads an answer from stdin; the control
#    plane's static pod manifests get the new image tags (equal manifests are skipped, staticpods.go);
#    the upload-config phase writes kube-system/kubeadm-config; the kubelet-config phase writes
#    /var/lib/kubelet/config.yaml; the certificates are renewed (--certificate-renewal defaults to true);
#  - node: the kubelet-config phase writes /var/lib/kubelet/config.yaml from the cluster's version.
# Test hooks (files a test creates, removed when used): /sandbox-log/die-after-apply and
# /sandbox-log/die-after-upgrade-node make the command exit 1 after doing its work, like an SSH session or
# a timeout that ends right then.
API=/srv/api
semver() { # semver "v1.31.6" -> "31 6"
  local v="${1#v}"; v="${v%%-*}"; echo "$(echo "$v" | cut -d. -f2) $(echo "$v" | cut -d. -f3)"
}
apiserver_tag() { sed -n 's/^ *image: *//p' /etc/kubernetes/manifests/kube-apiserver.yaml 2>/dev/null | head -n1 | sed 's/.*://'; }
policy() { # policy TARGET FORCE: prints and fails like kubeadm's preflight on a version policy violation
  local target="$1" force="$2" cv tmin tpat cmin kmin kpat skew mandatory=() skippable=() old=() n v
  cv="$(apiserver_tag)"; [ -n "$cv" ] || { echo "[upgrade/version] FATAL: Unable to fetch cluster version: no kube-apiserver manifest" >&2; return 1; }
  read -r tmin tpat <<<"$(semver "$target")"; read -r cmin _ <<<"$(semver "$cv")"; read -r kmin kpat <<<"$(semver "v$KVER")"
  # MinimumControlPlaneVersion: the previous minor's .0 (constants.go).
  if [ "$tmin" -lt $((kmin - 1)) ] || { [ "$tmin" -eq $((kmin - 1)) ] && [ "$tpat" -eq 0 ]; }; then
    mandatory+=("Specified version to upgrade to \"$target\" is equal to or lower than the minimum supported version \"$cv\". Please specify a higher version to upgrade to"); fi
  if [ "$tmin" -gt $((cmin + 1)) ]; then mandatory+=("Specified version to upgrade to \"$target\" is too high; kubeadm can upgrade only 1 minor version at a time"); fi
  if [ "$tmin" -lt $((cmin - 1)) ]; then mandatory+=("Specified version to downgrade to \"$target\" is too low; kubeadm can downgrade only 1 minor version at a time"); fi
  if [ "$tmin" -gt "$kmin" ]; then
    mandatory+=("Specified version to upgrade to \"$target\" is at least one minor release higher than the kubeadm minor release ($tmin > $kmin). Such an upgrade is not supported")
  elif [ "$tmin" -eq "$kmin" ] && [ "$tpat" -gt "$kpat" ]; then
    skippable+=("Specified version to upgrade to \"$target\" is higher than the kubeadm version \"v$KVER\". Upgrade kubeadm first using the tool you used to install kubeadm"); fi
  if [ "$kmin" -gt "$tmin" ]; then skippable+=("Kubeadm version v$KVER can only be used to upgrade to Kubernetes version 1.$kmin"); fi
  # MaximumAllowedMinorVersionKubeletSkew: 3 from kubeadm 1.29 (PR #120825), 1 before.
  skew=1; [ "$kmin" -lt 29 ] || skew=3
  for n in "$API"/nodes/*/; do
    [ -f "$n/kubeletVersion" ] || continue; v="$(cat "$n/kubeletVersion")"
    if [ "$tmin" -gt $(( $(semver "$v" | cut -d' ' -f1) + skew )) ]; then old+=("$v"); fi
  done
  [ "${#old[@]}" -eq 0 ] || skippable+=("There are kubelets in this cluster that are too old that have these versions [${old[*]}]")
  echo "[upgrade/version] You have chosen to upgrade the cluster version to \"$target\""
  if [ "${#mandatory[@]}" -gt 0 ]; then
    printf 'the version argument is invalid due to these fatal errors:\n\n' >&2; printf -- '- %s\n' "${mandatory[@]}" >&2
    echo "Please fix the misalignments highlighted above and try upgrading again" >&2; return 1; fi
  if [ "${#skippable[@]}" -gt 0 ] && [ "$force" != true ]; then
    printf 'the version argument is invalid due to these errors:\n\n' >&2; printf -- '- %s\n' "${skippable[@]}" >&2
    echo "Can be bypassed if you pass the --force flag" >&2; return 1; fi
  return 0
}
kubeadm_upgrade() {
  local sub="${1:-}" target="" yes=false force=false a m tag changed=false
  shift || true
  for a in "$@"; do case "$a" in -y|--yes) yes=true ;; -f|--force) force=true ;; v[0-9]*) target="$a" ;; esac; done
  [ -f "$API/.sandbox-api" ] || { echo "sandbox stand-in: no API state" >&2; return 1; }
  case "$sub" in
    plan)
      [ -f /etc/kubernetes/admin.conf ] || { echo "couldn't create a Kubernetes client from file \"/etc/kubernetes/admin.conf\"" >&2; return 1; }
      [ -n "$target" ] || target="v$KVER"
      policy "$target" true || return 1
      echo "[upgrade] Fetching available versions to upgrade to"
      printf '%-25s %-15s %-15s %s\n' COMPONENT NODE CURRENT TARGET
      for m in kube-apiserver kube-controller-manager kube-scheduler; do
        printf '%-25s %-15s %-15s %s\n' "$m" "$(hostname)" "$(apiserver_tag)" "$target"; done
      printf '\nYou can now apply the upgrade by executing the following command:\n\n\tkubeadm upgrade apply %s\n' "$target" ;;
    apply)
      [ -n "$target" ] || { echo "error: missing version argument" >&2; return 1; }
      if ! $yes && ! $force; then
        printf '[upgrade] Are you sure you want to proceed? [y/N]: '; read -r a || a=""
        case "$a" in y|Y) ;; *) echo "won't proceed; the user didn't answer (Y|y) in order to continue" >&2; return 1 ;; esac
      fi
      policy "$target" "$force" || return 1
      for m in etcd kube-apiserver kube-controller-manager kube-scheduler; do
        f=/etc/kubernetes/manifests/$m.yaml
        [ -f "$f" ] || { echo "[upgrade/staticpods] missing $f" >&2; return 1; }
        tag="$target"; [ "$m" != etcd ] || tag="$KETCD"
        if grep -q "^ *image: .*:$tag\$" "$f"; then echo "[upgrade/staticpods] Current and new manifests of $m are equal, skipping upgrade"; continue; fi
        sed -i "s|^\( *image: .*\):[^:]*\$|\1:$tag|" "$f"; changed=true
        echo "[upgrade/staticpods] Component \"$m\" upgraded successfully!"
      done
      if $changed; then
        for e in $LEAVES; do n="${e%%:*}"; [ -n "$(not_after "$n")" ] || continue; issue "$n" "${e#*:}"; done
        echo "[upgrade/staticpods] Renewed the certificates of the upgraded components"
      fi
      sed -i "s/^kubernetesVersion: .*/kubernetesVersion: $target/" "$API/kubeadm-config/ClusterConfiguration"
      echo "[upload-config] Storing the configuration used in ConfigMap \"kubeadm-config\" in the \"kube-system\" Namespace"
      printf 'kind: KubeletConfiguration\n# kubelet-config for %s\n' "$target" > /var/lib/kubelet/config.yaml
      echo "[upgrade/successful] SUCCESS! Your cluster was upgraded to \"$target\". Enjoy!"
      if [ -f /sandbox-log/die-after-apply ]; then rm -f /sandbox-log/die-after-apply; echo "sandbox test hook: the command ends here" >&2; return 1; fi ;;
    node)
      [ -f /etc/kubernetes/kubelet.conf ] || { echo "couldn't create a Kubernetes client from file \"/etc/kubernetes/kubelet.conf\"" >&2; return 1; }
      a="$(sed -n 's/^kubernetesVersion: *//p' "$API/kubeadm-config/ClusterConfiguration")"
      echo "[upgrade] Reading configuration from the cluster..."
      echo "[upgrade] Skipping phase. Not a control plane node."
      printf 'kind: KubeletConfiguration\n# kubelet-config for %s\n' "$a" > /var/lib/kubelet/config.yaml
      echo "[upgrade] The configuration for this node was successfully updated!"
      echo "[upgrade] Now you should go ahead and upgrade the kubelet package using your package manager."
      if [ -f /sandbox-log/die-after-upgrade-node ]; then rm -f /sandbox-log/die-after-upgrade-node; echo "sandbox test hook: the command ends here" >&2; return 1; fi ;;
    *) echo "sandbox stand-in: unsupported: upgrade $sub" >&2; return 1 ;;
  esac
}
