#!/usr/bin/env bash
# Prints the discovery hash of the cluster CA (hex only; the component adds "sha256:"): SHA-256 of
# the CA's SubjectPublicKeyInfo. `openssl pkey` works for RSA and ECDSA CAs alike, where the docs'
# `openssl rsa` fails on ECDSA (FACTS §2.5).
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"

CA=/etc/kubernetes/pki/ca.crt
[ -f "${CA}" ] || { echo "FAILED [ca-hash]: ${CA} not found (has kubeadm init run?)" >&2; exit 1; }
openssl x509 -pubkey -noout -in "${CA}" | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1
