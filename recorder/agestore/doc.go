// Package agestore encrypts recordings at rest: it wraps any
// recorder.Store so that every byte the recorder writes is encrypted with
// age (filippo.io/age, https://age-encryption.org/v1) to X25519 recipients
// while the call is recorded.
//
// # Who holds what
//
// The recording process is configured with public keys only
// ([Config.Recipients], "age1..."). It can write recordings but not read
// them, not even its own. Playback, export, recovery and the CLI are given
// an identity ([Config.Identities], "AGE-SECRET-KEY-1..."). Stored files
// are plain age files: `age -d -i KEY file` decrypts them with the Debian
// age tool.
//
// # Crypto-shredding
//
// With [Config.Keys] set, each recording gets its own X25519 key pair. The
// file is encrypted to that per-recording public key; the per-recording
// private key is itself encrypted to the recipients and kept in the
// [KeyStore], apart from the files (another directory, disk or KMS).
// Deleting that small key makes every copy of the recording unreadable,
// backups included. [Store.Delete] (used by the retention sweeper and by
// erasure) deletes the key first, then the file. To read such a file with
// the age tool, decrypt its key first:
//
//	age -d -i operator.key keys/recordings/ID.age > rec.key
//	age -d -i rec.key recordings/ID.opus > ID.ogg
//
// # Integrity
//
// The inner store's SHA-256 (of the encrypted bytes) is checked before
// anything is decrypted: [Store.Open] returns an error wrapping
// recorder.ErrIntegrity on mismatch, and never the data. age's own
// authentication (every 64 KiB chunk is authenticated, the last one is
// marked) then catches any change or truncation the digest missed (a
// digest rewritten along with the file). Both are appended to the audit log
// as audit.KindIntegrityFailure when [Config.Audit] is set.
//
// # Crash recovery
//
// age encrypts in 64 KiB chunks and a chunk is written only when full (or
// at the end), so a plain age stream would lose up to 64 KiB on a kill -9:
// about 80 s of a 6.5 kbit/s... in practice 10 to 60 s of Opus audio. To
// keep the loss where it is without encryption, each Write is also appended
// to a journal (a second object in the inner store, id + [JournalSuffix]),
// sealed with ChaCha20-Poly1305 under a random per-recording key that is
// itself age-encrypted to the same recipients. A kill -9 therefore loses
// nothing that the recorder had written: the bound stays the recorder's own
// (one Ogg page, recorder.FlushInterval). The journal is deleted at
// finalization. Recovering needs an identity (the recording process has
// none): run recorder.Recover on a Store opened with an identity (the CLI's
// `consentrec recover` with --identity). [Store.OpenPartial] and
// [Store.Resume] without an identity return an error wrapping
// [ErrNoIdentity], so a recorder started with public keys only leaves
// orphans for the operator instead of failing.
package agestore
