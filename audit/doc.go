// Package audit keeps a hash-chained, tamper-evident log of every step of a
// call's and a recording's life: policy decisions, notices played, consent and
// objections, recording control, accesses, deletions and legal holds.
//
// Other packages only see [Appender]: Append returns once the event is on
// disk. Hosts open the log of a data directory with [OpenDir] and close it
// with [FileLog.Close]; auditors use [VerifyDir], receipts and the
// `consentrec audit` commands.
//
// # What is stored, and what is hashed
//
// Each entry is a [Leaf]: its index, the hash of the previous leaf (a hash
// chain that starts at [Genesis] of the log's origin), the event's time and
// kind, and a commitment SHA-256(label || salt || event) to the event's
// canonical encoding ([EncodeEvent]: versioned, domain-separated,
// fixed-width lengths, every field and every Attr in order; never JSON).
// The leaves are the records of an RFC 6962 Merkle tree
// (golang.org/x/mod/sumdb/tlog): leaf hash SHA-256(0x00 || leaf), node hash
// SHA-256(0x01 || left || right).
//
// That is the v1 leaf ([LeafV1], "consentrec/audit-leaf/v1"), the file
// log's. A v2 leaf ([LeafV2], "consentrec/audit-leaf/v2") holds only the
// time, the kind and the commitment: logs whose engine hashes an entry
// before it assigns its index (the Tessera backend, audit/tesseralog)
// write it. Its index is its position in the tree, which every inclusion
// proof binds it to; there is no chain, the tree alone orders the entries
// (the same order a chain would state); times are the writers' claims,
// not ordered along the tree. A v2 [Receipt] carries the index beside the leaf
// ("consentrec audit receipt v2"); [CheckReceipt] verifies both versions
// and proves the leaf at the index the receipt states. [Leaf.Version]
// tells them apart; a log holds leaves of one version only.
//
// The event itself, with the 32-byte random salt, is the entry's [Opening],
// stored beside the leaf. The data subject never appears in clear: the
// event holds a salted commitment to its keyed hash ([github.com/consentrec/consentrec/policy.SubjectKey]),
// whose opening (salt and key) is stored apart. So:
//   - a proof for one entry reveals nothing of the others: their leaf
//     hashes cover 256-bit salts and cannot be brute-forced back to
//     "agent 17 opened call 42";
//   - [FileLog.Shred] crypto-shreds a data subject: deleting the subject
//     openings makes the commitments unlinkable, and no leaf changes;
//   - [FileLog.Prune] implements the log's own retention (the CNIL
//     recommends 6 to 12 months for access logs): it deletes the openings
//     of old entries and keeps their leaves, so the chain, the tree, the
//     old checkpoints and the receipts of the remaining entries all verify.
//
// Both are events first: a [KindAuditPruned] entry (cutoff, kinds, the
// range of entries covered, actor, count) or [KindAuditShredded] entries
// (the entries shredded, actor; never the subject) are appended and signed
// into a checkpoint before anything is deleted. A payload may be absent
// only where a signed prune event covers it, a subject link only where a
// signed shred event lists the entry: the verifier refuses any other
// stripped entry ([ProblemStripped]) with its index, so that evidence
// cannot be erased without the key. Prune and shred events are never
// pruned. (Logs pruned or shredded before this rule have events that cover
// less: a shred event without an "entries" list covers nothing.)
//
// # Checkpoints, proofs and witnesses
//
// The log signs checkpoints in the C2SP tlog-checkpoint format (a signed
// note, golang.org/x/mod/sumdb/note, Ed25519 behind a [crypto.Signer] so a
// KMS or HSM fits): origin, size, root. One is signed
// [Options.CheckpointInterval] after the first unsigned append (1 s by
// default), on [FileLog.Checkpoint] and on Close. Opening a log shorter than
// its last signed checkpoint ([ErrRollback]) or whose tree differs from it
// ([ErrCorrupt], [ProblemInconsistent]) is an error; nothing is ever repaired
// past a signed size.
//
// A [Receipt] is self-contained: the entry, its inclusion proof and the
// signed checkpoint; [CheckReceipt] verifies it offline with the public key.
// [Log.ProveConsistency] shows that a later checkpoint extends an earlier one.
// A [Witness] countersigns checkpoints after checking such a proof, with a
// timestamped C2SP cosignature/v1 signature ([NewCosigner],
// [CosignatureVerifierKey]; plain Ed25519 note signatures of older
// witnesses are still read). A verifier lists the witnesses it trusts and a
// quorum ([VerifyOptions].Witnesses and Quorum, `consentrec audit verify
// --witness KEY... --quorum N`): fewer cosignatures is an error
// ([ErrQuorum]), never a silent count. [WitnessSet] is how a log calls its
// witnesses (the file log, and audit/tesseralog), [CheckWitnesses] how any
// verifier counts their cosignatures on a checkpoint.
//
// # Rollback: the anchor, and what only a witness closes
//
// A log's own directory cannot prove it was not rolled back: whoever can
// write it can delete the last entries and restore an older checkpoint
// beside them, a self-consistent older history. So the latest
// checkpoint's size and root are also kept in an [Anchor] outside that
// directory; [Open] and [Verify] fail with [ErrRollback] when the log is
// behind it. [OpenDir] and [VerifyDir] use [DirAnchor] by default, the file
// keys/audit-anchor of the data directory, beside the signing key.
//
// What the default protects against: anyone who controls the audit folder
// alone (an administrator of the log's storage, a restore of an older
// backup of that folder, someone erasing their own access entries). What
// it does not: whoever holds the whole data directory, the anchor and the
// signing key with it, can truncate the log, rewrite entries, sign a new,
// self-consistent history and move the anchor. Only a checkpoint kept by
// another party (a [Witness] cosigning every checkpoint, an auditor's
// receipt, a copy sent off-site) exposes that, through consistency proofs
// ([VerifyOptions].Known, `consentrec audit verify --checkpoint RECEIPT`)
// and required cosignatures ([VerifyOptions].Witnesses and Quorum,
// `consentrec audit verify --witness KEY`). Give the log at least one
// witness run by another party.
//
// # Durability
//
// The file log ([Open], [DirFS]) is a directory: "log" (a header, then one
// length-prefixed, CRC-32C-framed record per entry), "checkpoint" (replaced
// atomically: temp file, sync, rename, directory sync) and "checkpoint.pub"
// (the verifier key). Concurrent appends are group-committed: the appends
// that arrive while one batch syncs share the next write and fsync; each
// returns after its own sync. After a failed write or sync the log stops
// ([ErrClosed]) and must be reopened.
//
// What a crash can lose: only appends that had not returned. An Append
// returns after the fsync of its batch, so an acknowledged entry survives
// any crash. An append interrupted by the crash may or may not be in the
// log (as after a cancelled ctx). On the next Open, exactly two things are
// trimmed, both reported by [FileLog.Trimmed] and [Report].TornBytes: the
// last record when the end of the file cuts it short (a write the crash
// interrupted), and a tail of zero bytes (the file grew, the data never
// reached the disk). Nothing else is ever trimmed: a complete record that
// fails its checksum or its checks, wherever it is (a bit flip in the
// unsigned tail included, and the length of the last record altered to run
// past the end), is corruption, a [*VerifyError] naming the entry's index
// and byte offset, and Open refuses the log. A torn record below the signed
// checkpoint is [ErrRollback]. (A file system that could persist the pages
// of one write out of order and leave zeros inside an interrupted batch
// would make Open refuse the log, naming the entry: refused, never taken
// for a tear.) The file layer is an interface ([FS], [File]) so crash tests inject faults
// (audittest.FaultFS). The log file is locked (flock) against a second
// writer. Memory: about 72 bytes per entry for tree hashes and offsets.
//
// # Verification
//
// [VerifyFS] and [VerifyDir] check a log in one streaming pass in O(log n)
// memory: framing and checksums, index order (gaps, duplicates,
// reordering), the chain, every commitment and subject commitment, the tree
// root against the signed checkpoint and its signature, and optional witness
// cosignatures. They report the first bad entry as a [*VerifyError] with its
// [Problem]. The CLI is `consentrec audit verify|show|prove|check`.
package audit
