// Package s3store is a recorder.Store on S3 with Object Lock (through
// github.com/aws/aws-sdk-go-v2/service/s3), for recorder nodes that keep
// their recordings in one bucket. The core never imports it: the embedded
// recorder.FileStore stays the default. It also satisfies retention.Store
// (Open verifies, Delete of an unknown id wraps fs.ErrNotExist).
//
//	s := s3store.New(s3store.Config{Endpoint: "http://127.0.0.1:7070", Region: "us-east-1",
//		Bucket: "recordings", SpoolDir: "/var/spool/consentrec", AccessKey: ak, SecretKey: sk})
//	// or: cfg, err := s3store.ParseURL("s3://recordings/site-a?endpoint=...&spool=/var/spool/consentrec")
//	defer s.Close()
//
// New sets defaults and never connects; Init(ctx), called by every method,
// checks the configuration (naming any missing field), connects, creates
// the bucket with Object Lock if CreateBucket says so, and refuses a bucket
// without Object Lock (ErrNoObjectLock). It is idempotent.
//
// # The media path never waits on the network
//
// A Writer appends to a spool file on the node's disk (Config.SpoolDir);
// Write is a write(2) and a hash update, like recorder.FileStore's. Each
// time a full part (Config.PartSize, at least 5 MiB) is in the spool, a
// background goroutine reads it back and uploads it as the next part of a
// multipart upload to a staging key. Checkpoint writes the spool's
// metadata only. Create makes one HEAD request (no other node finalized
// that id); Finalize uploads what remains and puts the finalized objects;
// neither is on the per-packet path. BenchmarkS3StoreWrite compares Write
// with FileStore's.
//
// At Finalize, a recording of one part or less is put in one PUT. A longer
// one: the last part is uploaded, the upload completed, and the staging
// object copied server-side to its final key with the metadata and the lock
// (a multipart upload's metadata is fixed when it starts, before the
// SHA-256 is known), then the staging object is deleted.
//
// # What a crash loses
//
// The spool keeps every byte of a recording in progress until Finalize
// succeeds. A process crash loses nothing Write accepted: on its next start
// the node lists the recording in progress (List, from its spool) and
// recorder.Recover resumes and finalizes it, uploading again from the spool
// (the first life's multipart upload is aborted). A power loss loses what
// the kernel had not written (Writer.Sync bounds it, as for FileStore).
// Losing the node's disk loses its recordings in progress: parts already
// uploaded cannot be read back from an unfinished multipart upload, so up
// to the whole of each call in progress is lost (and at most PartSize plus
// the part in flight would be lost if such a salvage were added; it is not).
// A failed Finalize leaves the spool in state "recording" for Recover.
//
// # Objects
//
//	PREFIX/recordings/ID.opus  the audio, x-amz-meta-consentrec-{id,call-id,purpose,created,sha256,size,finalized}
//	PREFIX/meta/ID.json        its recorder.Meta (gaps, leg statistics), same lock
//	PREFIX/staging/ID.opus     the multipart upload while recorded (no lock; deleted at Finalize)
//
// Every PUT carries Content-MD5 and x-amz-checksum-sha256 (S3 refuses an
// Object Lock PUT without one) and its own Object Lock retention: never
// the bucket default, which some servers count from when the default was
// set. Open downloads the audio into an unlinked temporary file of the
// spool, hashing it, and returns it only if size and SHA-256 match the
// metadata (recorder.ErrIntegrity otherwise). An overwrite by another
// client is thus detected, and the locked original stays in the bucket's
// version history.
//
// # WORM that still honours erasure: the decision
//
// Recordings kept under a legal obligation (purpose legal-obligation) are
// locked in COMPLIANCE mode until their statutory minimum (DefaultLock:
// creation plus the purpose's default retention, five years): nobody, root
// included, can delete or shorten them before, which is the point of WORM
// for MiFID II-style records, and they are not erasable under GDPR Art.
// 17(3)(b) anyway. Store.Delete of such a recording before then fails with
// ErrLocked and changes nothing; the retention sweeper deletes it at its
// deadline, which is not earlier than the lock.
//
// Every other purpose is locked in GOVERNANCE mode until its default
// retention, and Store.Delete deletes with the governance bypass. We chose
// this over per-recording encryption with crypto-shredding (recorder/agestore
// over this store, the object staying locked in COMPLIANCE mode) because:
// an objection or an Art. 17 erasure must remove the recording, and with
// GOVERNANCE it is removed, every version, at once; agestore's per-recording
// keys live in a KeyStore on one node's disk, which other nodes (and that
// node's replacement) cannot read, so crypto-shredding would first need a
// key store shared by every node, itself replicated and backed up; and the
// object would stay, encrypted, for up to the lock period. GOVERNANCE still
// gives WORM against everyone but the recorder nodes' credentials (grant
// s3:BypassGovernanceRetention to them only), and every deletion through
// this store comes from the retention package, which marks it in the
// catalog first and audits it. Operators who want COMPLIANCE for
// everything can set Config.Lock and wrap this store in agestore (its Delete
// destroys the key first); the object then goes at the sweep after its lock
// expires.
//
// # Legal hold
//
// A legal hold maps to S3 legal hold through the optional LegalHolder
// interface: SetLegalHold(ctx, id, true) puts the hold on the current
// versions of the audio and metadata objects, so the storage itself refuses
// their deletion (Delete returns ErrLocked) whatever the catalog says;
// SetLegalHold(ctx, id, false) lifts it. retention.Holds does not call it
// yet: the wiring should call it after Catalog.SetHold succeeds and after
// the last case of a recording is released (an error leaves the catalog's
// hold in force: fail safe).
//
// # Several nodes
//
// Nodes share the bucket and each has its own spool. Recording ids are
// random (recorder's "rec-TIME-RANDOM"), so two nodes never pick the same;
// Create also refuses an id some node finalized (ErrExist). Stat, Open and
// List see every finalized recording and this node's recordings in progress;
// another node's recordings in progress become visible when finalized. Any
// node may delete any finalized recording: the catalog
// (retention/pgcatalog) makes sure only one does. Each node keeps its own
// audit log until the audit log scales out (see retention/pgcatalog).
package s3store
