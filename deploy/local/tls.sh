#!/usr/bin/env bash
# A throwaway certificate authority for the local stack, and the certificates it signs:
# one server certificate for 127.0.0.1 and localhost (Kafka, ClickHouse, Vault and the
# worker's metrics listener present it) and one client certificate (mutual TLS to Kafka
# and ClickHouse). Written once under .stack/tls; 'make clean-stack' or deleting the
# folder makes a new CA. Local use only: the keys are unencrypted and never leave
# the machine. Usage: tls.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir="$STACK_DIR/tls"
days=825 # the longest validity TLS clients accept for a server certificate

# sign NAME SUBJECT EXTENSIONS: a P-256 key and a certificate signed by the CA.
sign() {
  local name=$1 subject=$2 ext=$3
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subject" \
    -keyout "$dir/$name-key.pem" -out "$dir/$name.csr" 2>/dev/null
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" \
    -CAcreateserial -days "$days" -sha256 -extfile <(printf '%s\n' "$ext") \
    -out "$dir/$name.pem" 2>/dev/null
  rm -f "$dir/$name.csr"
}

if [[ -s "$dir/ca.pem" && -s "$dir/server.pem" && -s "$dir/client.pem" ]] &&
  openssl x509 -checkend 86400 -noout -in "$dir/server.pem" >/dev/null; then
  exit 0
fi
rm -rf "$dir"
mkdir -p "$dir"
chmod 700 "$dir"
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" -sha256 \
  -subj "/O=orderflow local stack/CN=orderflow local CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" 2>/dev/null
sign server "/O=orderflow local stack/CN=localhost" \
  "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost"
sign client "/O=orderflow local stack/CN=orderflow" \
  "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
# Kafka's PEM key store wants the PKCS#8 key and the certificate chain in one file.
{ openssl pkcs8 -topk8 -nocrypt -in "$dir/server-key.pem"; cat "$dir/server.pem" "$dir/ca.pem"; } >"$dir/kafka-server.pem"
chmod 600 "$dir"/*-key.pem "$dir/kafka-server.pem"
log "new local CA and certificates in $dir"
