# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
# x509 credentials for QEMU's TLS migration (tls-creds-x509, dir=DIR), made
# with openssl: a throw-away CA, a server certificate for the destination's
# listen address (the IP in subjectAltName, which the source checks the
# server against; or a DNS name there, for a source that migrates to a
# unix: URI and names the server with tls-hostname) and a client certificate (the destination, verify-peer=on,
# checks it against the CA). RSA 2048, SHA-256, valid for a day. The file
# names are those QEMU loads from dir=: ca-cert.pem, server-cert.pem,
# server-key.pem, client-cert.pem, client-key.pem; the CA's key stays in
# DIR/ca (QEMU never reads it).
#
#   . scripts/lib/tls_certs.sh; tls_certs DIR IP|NAME    (0 when made)

tls_certs() { # dir ip
	local dir=$1 ip=$2 ca=$1/ca e san=IP:$2
	[[ $ip =~ ^[0-9.]+$|: ]] || san=DNS:$ip
	command -v openssl >/dev/null || { echo "tls_certs: openssl missing" >&2; return 1; }
	mkdir -p "$ca" || return 1
	chmod 700 "$dir" "$ca"
	# Extensions as QEMU's gnutls checks want them: the CA with basic
	# constraints CA and keyCertSign; the others not CA, digitalSignature
	# and keyEncipherment, the key purpose of their end.
	cat >"$ca/ext.cnf" <<-EOF
	[req]
	distinguished_name = dn
	prompt = no
	[dn]
	[ca]
	basicConstraints = critical, CA:TRUE
	keyUsage = critical, keyCertSign, cRLSign
	subjectKeyIdentifier = hash
	[server]
	basicConstraints = critical, CA:FALSE
	keyUsage = critical, digitalSignature, keyEncipherment
	extendedKeyUsage = serverAuth
	subjectAltName = $san
	subjectKeyIdentifier = hash
	authorityKeyIdentifier = keyid
	[client]
	basicConstraints = critical, CA:FALSE
	keyUsage = critical, digitalSignature, keyEncipherment
	extendedKeyUsage = clientAuth
	subjectKeyIdentifier = hash
	authorityKeyIdentifier = keyid
	EOF
	# (no set -e: it does not hold where the caller tests the result)
	local log=$ca/openssl.log cn
	: >"$log"
	(umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 1 \
		-subj "/O=migdp compare-qemu/CN=migdp compare-qemu CA" \
		-keyout "$ca/ca-key.pem" -out "$dir/ca-cert.pem" \
		-config "$ca/ext.cnf" -extensions ca) >>"$log" 2>&1 || { _tls_fail "$log"; return 1; }
	for e in server client; do
		cn="migdp compare-qemu source"
		[ $e = server ] && cn=$ip
		if ! { (umask 077 && openssl req -new -newkey rsa:2048 -nodes -sha256 \
			-subj "/O=migdp compare-qemu/CN=$cn" -keyout "$dir/$e-key.pem" -out "$ca/$e.csr" \
			-config "$ca/ext.cnf") &&
			openssl x509 -req -sha256 -days 1 -in "$ca/$e.csr" -CA "$dir/ca-cert.pem" \
			-CAkey "$ca/ca-key.pem" -CAserial "$ca/serial" -CAcreateserial \
			-extfile "$ca/ext.cnf" -extensions $e -out "$dir/$e-cert.pem" &&
			openssl verify -CAfile "$dir/ca-cert.pem" -purpose "ssl$e" "$dir/$e-cert.pem"
		} >>"$log" 2>&1; then
			_tls_fail "$log"
			return 1
		fi
	done
	chmod 644 "$dir/ca-cert.pem" "$dir/server-cert.pem" "$dir/client-cert.pem"
}
_tls_fail() { echo "tls_certs: openssl failed ($1):" >&2; tail -n 5 "$1" >&2; }
