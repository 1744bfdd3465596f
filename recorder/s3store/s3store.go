package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/consentrec/consentrec/recorder"
)

// Store is a recorder.Store on S3 with Object Lock. Safe for concurrent use.
// Create it with New; every method calls Init first.
type Store struct {
	cfg Config

	initMu sync.Mutex
	ready  bool
	client *s3.Client

	mu sync.Mutex // serialises spool metadata updates and creations

	bg     context.Context // background uploads; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	parts sync.Pool // *[]byte part buffers, shared by the writers' uploads

	partHook func(id string, part int32) // tests: after each background part upload
}

var (
	_ recorder.Store        = (*Store)(nil)
	_ recorder.Checkpointer = (*writer)(nil)
	_ LegalHolder           = (*Store)(nil)
)

// New returns a Store for cfg, setting defaults; it does not connect (Init
// does, lazily).
func New(cfg Config) *Store {
	if cfg.PartSize == 0 {
		cfg.PartSize = MinPartSize
	}
	if cfg.Lock == nil {
		cfg.Lock = DefaultLock
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	bg, cancel := context.WithCancel(context.Background())
	return &Store{cfg: cfg, bg: bg, cancel: cancel}
}

// Init checks the configuration (naming any missing field), creates the
// spool folder, connects, creates the bucket if Config.CreateBucket says so
// and checks that the bucket has Object Lock enabled. It is idempotent and
// safe to call concurrently; a failed Init is retried by the next call.
func (s *Store) Init(ctx context.Context) error {
	s.initMu.Lock()
	defer s.initMu.Unlock()
	if s.ready {
		return nil
	}
	if err := s.cfg.check(); err != nil {
		return err
	}
	ak, sk, err := s.cfg.credentials()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.cfg.SpoolDir, 0o700); err != nil {
		return fmt.Errorf("s3store init: spool: %w", err)
	}
	awsCfg := aws.Config{
		Region:      s.cfg.Region,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, ""),
		// Checksums are set explicitly where needed (Object Lock PUTs).
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if s.cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(s.cfg.Endpoint)
		}
		o.UsePathStyle = !s.cfg.VirtualHosted
	})
	if s.cfg.CreateBucket {
		_, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.cfg.Bucket})
		if isNotExists(err) {
			_, err = client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.cfg.Bucket, ObjectLockEnabledForBucket: aws.Bool(true)})
			var owned *types.BucketAlreadyOwnedByYou
			if errors.As(err, &owned) {
				err = nil
			}
		}
		if err != nil {
			return fmt.Errorf("s3store init: bucket %s: %w", s.cfg.Bucket, err)
		}
	}
	lc, err := client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: &s.cfg.Bucket})
	if err != nil {
		if isNotExists(err) {
			return fmt.Errorf("s3store init: bucket %s: %w", s.cfg.Bucket, ErrNoObjectLock)
		}
		return fmt.Errorf("s3store init: bucket %s: %w", s.cfg.Bucket, err)
	}
	if lc.ObjectLockConfiguration == nil || lc.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled {
		return fmt.Errorf("s3store init: bucket %s: %w", s.cfg.Bucket, ErrNoObjectLock)
	}
	s.client = client
	s.ready = true
	return nil
}

// Close stops the background uploads (writers not finalized stay in the
// spool for recovery) and waits for them.
func (s *Store) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}

// Client returns the S3 client (after Init), for tools and tests.
func (s *Store) Client() *s3.Client { return s.client }

// Keys.
func (s *Store) objKey(id string) string     { return s.cfg.Prefix + "recordings/" + id + ".opus" }
func (s *Store) metaKey(id string) string    { return s.cfg.Prefix + "meta/" + id + ".json" }
func (s *Store) stagingKey(id string) string { return s.cfg.Prefix + "staging/" + id + ".opus" }

// ObjectKey returns the key of a finalized recording's audio object.
func (s *Store) ObjectKey(id string) string { return s.objKey(id) }

// MetaKey returns the key of a finalized recording's metadata object.
func (s *Store) MetaKey(id string) string { return s.metaKey(id) }

// Spool files.
func (s *Store) spoolData(id string) string { return filepath.Join(s.cfg.SpoolDir, id+".data") }
func (s *Store) spoolMeta(id string) string { return filepath.Join(s.cfg.SpoolDir, id+".json") }

// spoolState is a recording in progress on this node.
type spoolState struct {
	Meta     recorder.Meta `json:"meta"`
	UploadID string        `json:"upload_id,omitempty"` // multipart upload of the staging object
}

func (s *Store) readSpool(id string) (spoolState, error) {
	b, err := os.ReadFile(s.spoolMeta(id))
	if err != nil {
		return spoolState{}, err
	}
	var st spoolState
	if err := json.Unmarshal(b, &st); err != nil {
		return spoolState{}, fmt.Errorf("spool metadata of %s: %w", id, err)
	}
	if st.Meta.ID != id {
		return spoolState{}, fmt.Errorf("spool metadata of %s names %q: %w", id, st.Meta.ID, recorder.ErrIntegrity)
	}
	return st, nil
}

// writeSpool replaces ID.json atomically (temporary file, fsync, rename).
func (s *Store) writeSpool(st spoolState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.cfg.SpoolDir, "."+st.Meta.ID+".json.*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.spoolMeta(st.Meta.ID))
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// isNotExists reports whether err is S3's "no such key/bucket".
func isNotExists(err error) bool {
	if err == nil {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchBucket", "NoSuchVersion", "ObjectLockConfigurationNotFoundError":
			return true
		}
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}

// isDenied reports whether err is S3 refusing an operation (Object Lock).
func isDenied(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "AccessDenied" || strings.Contains(ae.ErrorCode(), "Lock")) {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusForbidden
}

// putObjectInput builds every PUT of a recording's objects: Content-MD5 and
// x-amz-checksum-sha256 (S3 refuses Object Lock PUTs without one), the
// Object Lock retention and the metadata.
func (s *Store) putObjectInput(key string, body []byte, m recorder.Meta, lock Lock) *s3.PutObjectInput {
	md := md5.Sum(body)
	sum := sha256.Sum256(body)
	in := &s3.PutObjectInput{
		Bucket:         &s.cfg.Bucket,
		Key:            &key,
		Body:           bytes.NewReader(body),
		ContentLength:  aws.Int64(int64(len(body))),
		ContentMD5:     aws.String(base64.StdEncoding.EncodeToString(md[:])),
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		Metadata:       objectMetadata(m),
	}
	if s.lockable(lock) {
		in.ObjectLockMode, in.ObjectLockRetainUntilDate = types.ObjectLockMode(lock.Mode), aws.Time(lock.RetainUntil)
	}
	return in
}

// lockable reports whether lock still has a future to protect: a recording
// finalized after its retention ended (recovered late) is due for deletion
// and S3 refuses a retain-until date in the past, so it is put unlocked.
func (s *Store) lockable(lock Lock) bool {
	return lock.Mode != "" && lock.RetainUntil.After(s.cfg.Now())
}

// objectMetadata is what the audio object carries (x-amz-meta-*): enough
// to identify and check it without the metadata object.
func objectMetadata(m recorder.Meta) map[string]string {
	md := map[string]string{
		"consentrec-id":      m.ID,
		"consentrec-call-id": m.CallID,
		"consentrec-purpose": string(m.Purpose),
		"consentrec-created": m.Created.UTC().Format(time.RFC3339Nano),
	}
	if m.SHA256 != "" {
		md["consentrec-sha256"] = m.SHA256
		md["consentrec-size"] = strconv.FormatInt(m.Size, 10)
		md["consentrec-finalized"] = m.Finalized.UTC().Format(time.RFC3339Nano)
	}
	return md
}

// Create implements recorder.Store. It checks with one HEAD request that
// no node finalized a recording with that id; everything else is local.
func (s *Store) Create(ctx context.Context, m recorder.Meta) (recorder.Writer, error) {
	if err := recorder.ValidateID(m.ID); err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create %s: %w", m.ID, err)
	}
	if err := s.Init(ctx); err != nil {
		return nil, fmt.Errorf("create %s: %w", m.ID, err)
	}
	_, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.metaKey(m.ID))})
	switch {
	case err == nil:
		return nil, fmt.Errorf("create %s: %w", m.ID, recorder.ErrExist)
	case !isNotExists(err):
		return nil, fmt.Errorf("create %s: %w", m.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Lstat(s.spoolMeta(m.ID)); err == nil {
		return nil, fmt.Errorf("create %s: %w", m.ID, recorder.ErrExist)
	}
	f, err := os.OpenFile(s.spoolData(m.ID), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create %s: %w", m.ID, recorder.ErrExist)
		}
		return nil, fmt.Errorf("create %s: %w", m.ID, err)
	}
	m.State = recorder.StateRecording
	if m.Created.IsZero() {
		m.Created = s.cfg.Now().UTC()
	}
	m.Finalized, m.SHA256, m.Size, m.Duration, m.Gaps, m.Recovered = time.Time{}, "", 0, 0, nil, false
	if err := s.writeSpool(spoolState{Meta: m}); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create %s: %w", m.ID, err)
	}
	return s.newWriter(f, m, sha256.New(), 0), nil
}

// Resume implements recorder.Store: only this node's spool can be resumed.
// Parts uploaded before the crash are dropped (the multipart upload is
// aborted) and uploaded again from the spool, which holds every byte.
func (s *Store) Resume(ctx context.Context, id string, size int64) (recorder.Writer, error) {
	if err := recorder.ValidateID(id); err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	if err := s.Init(ctx); err != nil {
		return nil, fmt.Errorf("resume %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.readSpool(id)
	if errors.Is(err, fs.ErrNotExist) {
		if m, rerr := s.remoteMeta(ctx, id); rerr == nil && m.State == recorder.StateFinalized {
			return nil, fmt.Errorf("resume %s: %w", id, recorder.ErrFinalized)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", id, err)
	}
	if st.Meta.State == recorder.StateFinalized {
		return nil, fmt.Errorf("resume %s: %w", id, recorder.ErrFinalized)
	}
	f, err := os.OpenFile(s.spoolData(id), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", id, err)
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, size))
	if err == nil && n != size {
		err = fmt.Errorf("size %d beyond the %d bytes written", size, n)
	}
	if err == nil {
		err = f.Truncate(size)
	}
	if err == nil {
		_, err = f.Seek(size, io.SeekStart)
	}
	if err == nil && st.UploadID != "" {
		s.abortUpload(ctx, id, st.UploadID)
		st.UploadID = ""
		err = s.writeSpool(st)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("resume %s: %w", id, err)
	}
	w := s.newWriter(f, st.Meta, h, size)
	w.kick()
	return w, nil
}

func (s *Store) abortUpload(ctx context.Context, id, uploadID string) {
	_, _ = s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: &s.cfg.Bucket, Key: aws.String(s.stagingKey(id)), UploadId: &uploadID})
}

// OpenPartial implements recorder.Store, for this node's recordings in
// progress (their bytes are in its spool).
func (s *Store) OpenPartial(ctx context.Context, id string) (io.ReadCloser, error) {
	if err := recorder.ValidateID(id); err != nil {
		return nil, fmt.Errorf("open partial: %w", err)
	}
	m, err := s.Stat(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("open partial: %w", err)
	}
	if m.State == recorder.StateFinalized {
		return nil, fmt.Errorf("open partial %s: %w", id, recorder.ErrFinalized)
	}
	f, err := os.Open(s.spoolData(id))
	if err != nil {
		return nil, fmt.Errorf("open partial %s: %w", id, err)
	}
	return f, nil
}

func (s *Store) remoteMeta(ctx context.Context, id string) (recorder.Meta, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.metaKey(id))})
	if err != nil {
		if isNotExists(err) {
			return recorder.Meta{}, fmt.Errorf("%s: %w", id, fs.ErrNotExist)
		}
		return recorder.Meta{}, err
	}
	defer out.Body.Close()
	var m recorder.Meta
	if err := json.NewDecoder(io.LimitReader(out.Body, 16<<20)).Decode(&m); err != nil {
		return recorder.Meta{}, fmt.Errorf("metadata of %s: %w", id, err)
	}
	if m.ID != id {
		return recorder.Meta{}, fmt.Errorf("metadata of %s names %q: %w", id, m.ID, recorder.ErrIntegrity)
	}
	return m, nil
}

// Stat implements recorder.Store: this node's spool for its recordings in
// progress, the bucket for finalized ones.
func (s *Store) Stat(ctx context.Context, id string) (recorder.Meta, error) {
	if err := recorder.ValidateID(id); err != nil {
		return recorder.Meta{}, fmt.Errorf("stat: %w", err)
	}
	if err := s.Init(ctx); err != nil {
		return recorder.Meta{}, fmt.Errorf("stat %s: %w", id, err)
	}
	st, err := s.readSpool(id)
	if err == nil {
		return st.Meta, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return recorder.Meta{}, fmt.Errorf("stat %s: %w", id, err)
	}
	m, err := s.remoteMeta(ctx, id)
	if err != nil {
		return recorder.Meta{}, fmt.Errorf("stat: %w", err)
	}
	return m, nil
}

// Open implements recorder.Store: it downloads the object into a temporary
// file of the spool, hashing it, and returns that file only if its SHA-256
// is the one recorded at finalization.
func (s *Store) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	if err := recorder.ValidateID(id); err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	m, err := s.Stat(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	if m.State != recorder.StateFinalized {
		return nil, fmt.Errorf("open %s: %w", id, recorder.ErrNotFinalized)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.objKey(id))})
	if err != nil {
		if isNotExists(err) {
			err = fs.ErrNotExist
		}
		return nil, fmt.Errorf("open %s: %w", id, err)
	}
	defer out.Body.Close()
	tmp, err := os.CreateTemp(s.cfg.SpoolDir, ".open-*")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", id, err)
	}
	os.Remove(tmp.Name()) // unlinked: gone when closed, whatever happens
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), out.Body)
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		tmp.Close()
		return nil, fmt.Errorf("open %s: %w", id, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.SHA256 || n != m.Size {
		tmp.Close()
		return nil, fmt.Errorf("open %s: sha-256 %s (%d bytes), recorded %s (%d bytes): %w", id, got, n, m.SHA256, m.Size, recorder.ErrIntegrity)
	}
	return tmp, nil
}

// List implements recorder.Store: every finalized recording in the bucket
// (under Prefix) and this node's recordings in progress. Recordings in
// progress on other nodes are theirs until finalized.
func (s *Store) List(ctx context.Context) ([]recorder.Meta, error) {
	if err := s.Init(ctx); err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	byID := map[string]recorder.Meta{}
	ents, err := os.ReadDir(s.cfg.SpoolDir)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || recorder.ValidateID(id) != nil {
			continue
		}
		st, err := s.readSpool(id)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		byID[id] = st.Meta
	}
	prefix := s.cfg.Prefix + "meta/"
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.cfg.Bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		for _, o := range page.Contents {
			id, ok := strings.CutSuffix(strings.TrimPrefix(aws.ToString(o.Key), prefix), ".json")
			if !ok || recorder.ValidateID(id) != nil {
				continue
			}
			m, err := s.remoteMeta(ctx, id)
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted meanwhile
			}
			if err != nil {
				return nil, fmt.Errorf("list: %w", err)
			}
			if old, ok := byID[id]; !ok || old.State != recorder.StateFinalized {
				byID[id] = m
			}
		}
	}
	out := make([]recorder.Meta, 0, len(byID))
	for _, m := range byID {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b recorder.Meta) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Delete implements recorder.Store: the spool files and every version of
// the recording's objects. GOVERNANCE retention is bypassed (the node's
// credentials need s3:BypassGovernanceRetention: the retention package
// deletes only after marking the deletion in its catalog, and audits it);
// COMPLIANCE retention and legal holds are not, and a refused deletion
// returns an error wrapping ErrLocked with the metadata left intact.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := recorder.ValidateID(id); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := s.Init(ctx); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	found := false
	s.mu.Lock()
	if st, err := s.readSpool(id); err == nil && st.UploadID != "" {
		s.abortUpload(ctx, id, st.UploadID)
	}
	for _, p := range []string{s.spoolData(id), s.spoolMeta(id)} {
		err := os.Remove(p)
		if err == nil {
			found = true
		} else if !errors.Is(err, fs.ErrNotExist) {
			s.mu.Unlock()
			return fmt.Errorf("delete %s: %w", id, err)
		}
	}
	s.mu.Unlock()
	// The audio first, the metadata last: a refusal or a crash in between
	// leaves metadata that a new Delete removes.
	for _, key := range []string{s.objKey(id), s.stagingKey(id), s.metaKey(id)} {
		n, err := s.deleteVersions(ctx, key)
		if n > 0 {
			found = true
		}
		if err != nil {
			return fmt.Errorf("delete %s: %w", id, err)
		}
	}
	if !found {
		return fmt.Errorf("delete %s: %w", id, fs.ErrNotExist)
	}
	return nil
}

// deleteVersions deletes every version and delete marker of key.
func (s *Store) deleteVersions(ctx context.Context, key string) (int, error) {
	n := 0
	var keyMarker, versionMarker *string
	for {
		out, err := s.client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{
			Bucket: &s.cfg.Bucket, Prefix: &key, KeyMarker: keyMarker, VersionIdMarker: versionMarker})
		if err != nil {
			return n, err
		}
		var vids []*string
		for _, v := range out.Versions {
			if aws.ToString(v.Key) == key {
				vids = append(vids, v.VersionId)
			}
		}
		for _, d := range out.DeleteMarkers {
			if aws.ToString(d.Key) == key {
				vids = append(vids, d.VersionId)
			}
		}
		for _, vid := range vids {
			_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: &key,
				VersionId: vid, BypassGovernanceRetention: aws.Bool(true)})
			if err != nil && !isNotExists(err) {
				if isDenied(err) {
					return n, fmt.Errorf("%s: %w (%v)", key, ErrLocked, err)
				}
				return n, err
			}
			n++
		}
		if !aws.ToBool(out.IsTruncated) {
			return n, nil
		}
		keyMarker, versionMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
}

// LegalHolder is an optional interface of a store that can mirror a legal
// hold on the stored object itself, so that the storage refuses to delete
// it whatever the catalog says. retention.Holds should call SetLegalHold(id,
// true) once a hold is in the catalog (before auditing it), and
// SetLegalHold(id, false) once the last case is released; an error leaves
// the catalog's hold in force (fail safe). Safe for concurrent use.
type LegalHolder interface {
	SetLegalHold(ctx context.Context, id string, on bool) error
	LegalHold(ctx context.Context, id string) (bool, error)
}

// SetLegalHold implements LegalHolder: S3 legal hold ON or OFF on the
// current versions of the recording's audio and metadata objects.
func (s *Store) SetLegalHold(ctx context.Context, id string, on bool) error {
	if err := recorder.ValidateID(id); err != nil {
		return fmt.Errorf("legal hold: %w", err)
	}
	if err := s.Init(ctx); err != nil {
		return fmt.Errorf("legal hold %s: %w", id, err)
	}
	status := types.ObjectLockLegalHoldStatusOff
	if on {
		status = types.ObjectLockLegalHoldStatusOn
	}
	for _, key := range []string{s.objKey(id), s.metaKey(id)} {
		// The SDK adds the checksum S3 requires on this request itself.
		_, err := s.client.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: &s.cfg.Bucket, Key: aws.String(key),
			LegalHold: &types.ObjectLockLegalHold{Status: status}})
		if err != nil {
			if isNotExists(err) {
				err = fs.ErrNotExist
			}
			return fmt.Errorf("legal hold %s: %w", id, err)
		}
	}
	return nil
}

// LegalHold implements LegalHolder: whether the audio object is under S3
// legal hold.
func (s *Store) LegalHold(ctx context.Context, id string) (bool, error) {
	if err := recorder.ValidateID(id); err != nil {
		return false, fmt.Errorf("legal hold: %w", err)
	}
	if err := s.Init(ctx); err != nil {
		return false, fmt.Errorf("legal hold %s: %w", id, err)
	}
	out, err := s.client.GetObjectLegalHold(ctx, &s3.GetObjectLegalHoldInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.objKey(id))})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchObjectLockConfiguration" {
		return false, nil // never held (versitygw says so)
	}
	if err != nil {
		if isNotExists(err) {
			err = fs.ErrNotExist
		}
		return false, fmt.Errorf("legal hold %s: %w", id, err)
	}
	return out.LegalHold != nil && out.LegalHold.Status == types.ObjectLockLegalHoldStatusOn, nil
}

// writer appends to the spool file; a background goroutine uploads each
// full part. Write never touches the network.
type writer struct {
	s      *Store
	f      *os.File
	meta   recorder.Meta
	h      hash.Hash
	n      atomic.Int64 // bytes in the spool file
	closed bool

	kickc chan struct{} // a full part may be ready
	stop  chan struct{} // closed by Finalize and Abort
	done  chan struct{} // closed when the uploader returned

	// Owned by the uploader until done, then by Finalize.
	uploadID string
	parts    []types.CompletedPart
	upErr    error
}

func (s *Store) newWriter(f *os.File, m recorder.Meta, h hash.Hash, n int64) *writer {
	w := &writer{s: s, f: f, meta: m, h: h,
		kickc: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	w.n.Store(n)
	s.wg.Add(1)
	go w.uploader()
	return w
}

func (w *writer) kick() {
	select {
	case w.kickc <- struct{}{}:
	default:
	}
}

func (w *writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("write %s: %w", w.meta.ID, recorder.ErrClosed)
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	total := w.n.Add(int64(n))
	if total/w.s.cfg.PartSize != (total-int64(n))/w.s.cfg.PartSize {
		w.kick() // a part boundary was crossed
	}
	if err != nil {
		return n, fmt.Errorf("write %s: %w", w.meta.ID, err)
	}
	return n, nil
}

func (w *writer) Sync() error {
	if w.closed {
		return fmt.Errorf("sync %s: %w", w.meta.ID, recorder.ErrClosed)
	}
	return w.f.Sync()
}

// uploader uploads full parts as they become ready, until stopped. A
// failed upload is remembered; Finalize retries what is missing.
func (w *writer) uploader() {
	defer w.s.wg.Done()
	defer close(w.done)
	for {
		select {
		case <-w.stop:
			return
		case <-w.s.bg.Done():
			return
		case <-w.kickc:
		}
		for w.upErr == nil && int64(len(w.parts)+1)*w.s.cfg.PartSize <= w.n.Load() {
			select {
			case <-w.stop:
				return
			default:
			}
			if err := w.uploadPart(w.s.bg, int64(len(w.parts))*w.s.cfg.PartSize, w.s.cfg.PartSize); err != nil {
				w.upErr = err
			} else if h := w.s.partHook; h != nil {
				h(w.meta.ID, int32(len(w.parts)))
			}
		}
	}
}

// uploadPart uploads the spool bytes [off, off+size) as the next part,
// starting the multipart upload if needed.
func (w *writer) uploadPart(ctx context.Context, off, size int64) error {
	s, id := w.s, w.meta.ID
	if w.uploadID == "" {
		out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket: &s.cfg.Bucket, Key: aws.String(s.stagingKey(id)), Metadata: objectMetadata(w.meta)})
		if err != nil {
			return fmt.Errorf("start upload: %w", err)
		}
		w.uploadID = aws.ToString(out.UploadId)
		s.mu.Lock()
		st, err := s.readSpool(id)
		if err == nil {
			st.UploadID = w.uploadID
			err = s.writeSpool(st)
		}
		s.mu.Unlock()
		if err != nil {
			return fmt.Errorf("start upload: %w", err)
		}
	}
	bp, _ := s.parts.Get().(*[]byte)
	if bp == nil || int64(cap(*bp)) < size {
		b := make([]byte, s.cfg.PartSize)
		bp = &b
	}
	defer s.parts.Put(bp)
	buf := (*bp)[:size]
	if _, err := w.f.ReadAt(buf, off); err != nil {
		return fmt.Errorf("read spool: %w", err)
	}
	md := md5.Sum(buf)
	num := int32(len(w.parts) + 1)
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: &s.cfg.Bucket, Key: aws.String(s.stagingKey(id)), UploadId: &w.uploadID, PartNumber: &num,
		Body: bytes.NewReader(buf), ContentLength: aws.Int64(size),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(md[:]))})
	if err != nil {
		return fmt.Errorf("upload part %d: %w", num, err)
	}
	w.parts = append(w.parts, types.CompletedPart{ETag: out.ETag, PartNumber: &num})
	return nil
}

// Checkpoint implements recorder.Checkpointer: the gaps known so far go to
// the spool metadata (local, fsynced), never to the network.
func (w *writer) Checkpoint(ctx context.Context, f recorder.Final) error {
	if w.closed {
		return fmt.Errorf("checkpoint %s: %w", w.meta.ID, recorder.ErrClosed)
	}
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.readSpool(w.meta.ID)
	if err == nil {
		st.Meta.Duration, st.Meta.Gaps, st.Meta.GapsDropped, st.Meta.Legs = f.Duration, f.Gaps, f.GapsDropped, f.Legs
		err = s.writeSpool(st)
	}
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", w.meta.ID, err)
	}
	return nil
}

// Finalize implements recorder.Writer: it waits for the uploads, puts the
// object with its SHA-256, metadata and Object Lock, then the metadata
// object, then removes the spool. On failure the spool stays (state
// "recording") for recorder.Recover to finish later.
func (w *writer) Finalize(ctx context.Context, fin recorder.Final) (recorder.Meta, error) {
	if w.closed {
		return recorder.Meta{}, fmt.Errorf("finalize %s: %w", w.meta.ID, recorder.ErrClosed)
	}
	w.closed = true
	close(w.stop)
	<-w.done
	s, id := w.s, w.meta.ID
	defer w.f.Close()
	if err := w.f.Sync(); err != nil {
		return recorder.Meta{}, fmt.Errorf("finalize %s: %w", id, err)
	}
	m := w.meta
	m.State = recorder.StateFinalized
	m.Finalized = s.cfg.Now().UTC()
	m.Size = w.n.Load()
	m.SHA256 = hex.EncodeToString(w.h.Sum(nil))
	m.Duration, m.Gaps, m.GapsDropped, m.Legs, m.Recovered = fin.Duration, fin.Gaps, fin.GapsDropped, fin.Legs, fin.Recovered
	lock := s.cfg.Lock(m)
	if err := w.putAudio(ctx, m, lock); err != nil {
		return recorder.Meta{}, fmt.Errorf("finalize %s: %w", id, err)
	}
	b, err := json.Marshal(m)
	if err == nil {
		_, err = s.client.PutObject(ctx, s.putObjectInput(s.metaKey(id), b, m, lock))
	}
	if err != nil {
		return recorder.Meta{}, fmt.Errorf("finalize %s: metadata: %w", id, err)
	}
	s.mu.Lock()
	os.Remove(s.spoolMeta(id)) // first: a crash after leaves a stray data file, not a recording to recover
	os.Remove(s.spoolData(id))
	s.mu.Unlock()
	return m, nil
}

// putAudio puts the finalized audio object. A recording that fits in one
// part goes in one PUT. A longer one: the remaining parts are uploaded,
// the staging upload completed and copied to the final key with the
// metadata and the lock (a server-side copy), and the staging object
// deleted.
func (w *writer) putAudio(ctx context.Context, m recorder.Meta, lock Lock) error {
	s, id := w.s, w.meta.ID
	P := s.cfg.PartSize
	if m.Size <= P {
		if w.uploadID != "" {
			s.abortUpload(ctx, id, w.uploadID)
		}
		body := make([]byte, m.Size)
		if _, err := w.f.ReadAt(body, 0); err != nil && !(errors.Is(err, io.EOF) && m.Size == 0) {
			return fmt.Errorf("read spool: %w", err)
		}
		_, err := s.client.PutObject(ctx, s.putObjectInput(s.objKey(id), body, m, lock))
		return err
	}
	w.upErr = nil
	for off := int64(len(w.parts)) * P; off < m.Size; off = int64(len(w.parts)) * P {
		if err := w.uploadPart(ctx, off, min(P, m.Size-off)); err != nil {
			return err
		}
	}
	_, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.cfg.Bucket, Key: aws.String(s.stagingKey(id)), UploadId: &w.uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: w.parts}})
	if err != nil {
		return fmt.Errorf("complete upload: %w", err)
	}
	in := &s3.CopyObjectInput{
		Bucket: &s.cfg.Bucket, Key: aws.String(s.objKey(id)),
		CopySource:        aws.String(s.cfg.Bucket + "/" + s.stagingKey(id)),
		MetadataDirective: types.MetadataDirectiveReplace,
		Metadata:          objectMetadata(m),
	}
	if s.lockable(lock) {
		in.ObjectLockMode, in.ObjectLockRetainUntilDate = types.ObjectLockMode(lock.Mode), aws.Time(lock.RetainUntil)
	}
	_, err = s.client.CopyObject(ctx, in)
	if err != nil {
		return fmt.Errorf("copy to final key: %w", err)
	}
	if _, err := s.deleteVersions(ctx, s.stagingKey(id)); err != nil {
		return fmt.Errorf("delete staging object: %w", err)
	}
	return nil
}

// Abort implements recorder.Writer.
func (w *writer) Abort(ctx context.Context) error {
	if w.closed {
		return fmt.Errorf("abort %s: %w", w.meta.ID, recorder.ErrClosed)
	}
	w.closed = true
	close(w.stop)
	<-w.done
	w.f.Close()
	err := w.s.Delete(ctx, w.meta.ID)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("abort: %w", err)
	}
	return nil
}
