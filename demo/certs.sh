#!/usr/bin/env bash
# Creates a local demo CA and a localhost server certificate signed by it.
# Idempotent: existing files are kept (a missing or expiring server cert is
# re-issued from the existing CA).
#
#   bash demo/certs.sh [OUT_DIR]      (default: demo/certs next to this script)
#
# Produces:
#   ca.pem, ca-key.pem                 demo CA (10 years)
#   localhost.pem, localhost-key.pem   server cert (SAN DNS:localhost,
#                                      IP:127.0.0.1, IP:::1; 825 days;
#                                      EKU serverAuth; key in PKCS#8 PEM)
# For demos and tests only: never trust this CA outside them.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-$SCRIPT_DIR/certs}"
OPENSSL="${OPENSSL:-openssl}"
command -v "$OPENSSL" >/dev/null 2>&1 || OPENSSL=/usr/bin/openssl

mkdir -p "$OUT"
umask 077

CA="$OUT/ca.pem"
CA_KEY="$OUT/ca-key.pem"
CRT="$OUT/localhost.pem"
KEY="$OUT/localhost-key.pem"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if [[ ! -s "$CA" || ! -s "$CA_KEY" ]]; then
  "$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/ca-key.pem" 2>/dev/null
  cat > "$tmp/ca.cnf" <<'CNF'
[req]
distinguished_name = dn
x509_extensions = v3_ca
prompt = no
[dn]
CN = oidc-bff demo CA (not for production)
O = oidc-bff demo
[v3_ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
CNF
  "$OPENSSL" req -new -x509 -sha256 -days 3650 -key "$tmp/ca-key.pem" \
    -config "$tmp/ca.cnf" -out "$tmp/ca.pem"
  mv "$tmp/ca-key.pem" "$CA_KEY"
  mv "$tmp/ca.pem" "$CA"
  rm -f "$CRT" "$KEY"   # a new CA invalidates any old server certificate
  echo "created demo CA: $CA"
fi

need_server=0
if [[ ! -s "$CRT" || ! -s "$KEY" ]]; then
  need_server=1
elif ! "$OPENSSL" verify -CAfile "$CA" "$CRT" >/dev/null 2>&1; then
  need_server=1
elif ! "$OPENSSL" x509 -in "$CRT" -noout -checkend 86400 >/dev/null 2>&1; then
  need_server=1
fi

if [[ $need_server == 1 ]]; then
  # RSA 2048 for the widest client compatibility; PKCS#8 PEM ("BEGIN PRIVATE KEY").
  "$OPENSSL" genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/key.pem" 2>/dev/null
  cat > "$tmp/srv.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = localhost
O = oidc-bff demo
[v3_srv]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
CNF
  "$OPENSSL" req -new -sha256 -key "$tmp/key.pem" -config "$tmp/srv.cnf" -out "$tmp/srv.csr"
  serial="0x$("$OPENSSL" rand -hex 16)"
  "$OPENSSL" x509 -req -sha256 -days 825 -in "$tmp/srv.csr" \
    -CA "$CA" -CAkey "$CA_KEY" -set_serial "$serial" \
    -extfile "$tmp/srv.cnf" -extensions v3_srv -out "$tmp/crt.pem" 2>/dev/null
  mv "$tmp/key.pem" "$KEY"
  mv "$tmp/crt.pem" "$CRT"
  echo "created server certificate: $CRT"
fi

# Public parts readable; keys private to the owner.
chmod 644 "$CA" "$CRT"
chmod 600 "$CA_KEY" "$KEY"
