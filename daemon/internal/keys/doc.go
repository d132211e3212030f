// Package keys owns the appliance's secret keys under <state_dir>/keys: the
// Ed25519 signing key that signs every capture, and the 32-byte sealing key
// that encrypts target credentials in the store. Both are made on first
// start, written 0600 in a 0700 directory, and refused if anyone but the
// owner can read them.
package keys
