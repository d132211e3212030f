// Package passwd hashes and verifies the passwords of Vigil's local users.
//
// New hashes are argon2id in the PHC string format
// ($argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>). Verify also accepts bcrypt
// hashes ($2a$, $2b$, $2y$) so that users imported from another system can log
// in; NeedsRehash tells the caller to replace such a hash, and any argon2id
// hash made with other parameters, after the next successful login.
//
// Generate makes random passwords for first-start accounts and resets.
package passwd
