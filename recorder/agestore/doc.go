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
// age encrypts in 64 KiB chunks, and a chunk reaches storage only when full
// (or at the end), so a kill -9 loses, on top of what the recorder had not
// written yet (one Ogg page, recorder.FlushInterval, 1 s), the incomplete
// chunk: at most 64 KiB, about 11 s of a dual-channel call at 24 kbit/s
// per leg, 20 s of a mono one. TestCrashRecoveryEncrypted measures it: a
// recorder killed 27.4 s into a call loses 6.4 s; killed 20.0 s in, 9.0 s.
//
// [Config.Journal] removes that extra loss: each Write is also appended to
// a journal (a second object in the inner store, id + [JournalSuffix]),
// sealed with AES-256-GCM under a random per-recording key that is itself
// age-encrypted to the same recipients (or to the per-recording key). A
// kill -9 then loses only what it loses without encryption (measured: 0.41
// s and 1.01 s). The journal is deleted at finalization. It is off by
// default because of its cost (below).
//
// The writers implement recorder.Checkpointer when the inner store's do
// (recorder.FileStore, recordertest.MemStore): a pause's reason and actor,
// checkpointed in the inner store's metadata (in the clear, like the
// finalized gap index), survive a crash (TestCrashDuringPauseEncrypted).
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
// packet of a dual-channel call. Over the file store, encryption adds
// nothing measurable (its 64 KiB writes save the system calls of the file
// store's per-page writes, which pays for ChaCha20-Poly1305); over a
// discarding store (the recorder alone) it adds about 20 ns (+20%). The
// journal adds about 90 ns per packet over the file store (+42%: one more
// AEAD pass, and the file store hashes the journal too). Starting a
// recording costs one or two X25519 operations (about 0.5 ms).
//
// # Metadata
//
// Meta.Size and Meta.SHA256 describe the stored, encrypted bytes: the
// audit log's finalized event can be checked against the file with
// sha256sum, without any key, and the digest reveals nothing about the
// audio.
package agestore
