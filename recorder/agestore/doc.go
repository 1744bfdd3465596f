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
// at the end), so a plain age stream loses its incomplete chunk on a kill
// -9: up to 64 KiB, about 10.7 s of a dual-channel call at 24 kbit/s per
// leg (measured by TestCrashRecoveryEncrypted: killed 20.0 s into a call,
// the age file alone held 9.99 s). To keep the loss where it is without
// encryption, each Write is also appended to a journal (a second object in
// the inner store, id + [JournalSuffix]), sealed with AES-256-GCM under a
// random per-recording key that is itself age-encrypted to the same
// recipients (or to the per-recording key). A kill -9 then loses nothing
// the recorder had written: the bound stays the recorder's own, one Ogg
// page (recorder.FlushInterval, 1 s; measured: 0.41 s and 1.01 s lost).
// The journal is deleted at finalization.
//
// Recovering needs an identity, which the recording process does not have:
// run recorder.Recover on a Store opened with one (`consentrec keys recover
// --identity FILE`). Without an identity [Store.OpenPartial] and
// [Store.Resume] return an error wrapping [ErrNoIdentity], so recovery at
// the recording process's start-up reports encrypted orphans and leaves
// them for the operator.
//
// # Cost
//
// BenchmarkRecorderPerPacket measures the recorder's CPU time per RTP
// packet (dual-channel call) over a discarding store and over the file
// store. With the journal, encryption adds about 30 ns per packet over a
// discarding store (+30%) and 90 ns over the file store (+42%: the journal
// is hashed by the file store too). [Config.NoJournal] drops the journal:
// +20% over a discarding store, and no measurable cost over the file store
// (64 KiB writes save the file store's per-page system calls), at the price
// of the 64 KiB crash bound. Starting a recording costs one or two X25519
// operations (about 0.5 ms).
//
// # Metadata
//
// Meta.Size and Meta.SHA256 describe the stored, encrypted bytes: the
// audit log's finalized event can be checked against the file with
// sha256sum, without any key, and the digest reveals nothing about the
// audio.
package agestore
