package s3store

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
)

// Sentinel errors.
var (
	// ErrConfig: a required Config field is missing or a value is invalid;
	// the message names the field.
	ErrConfig = errors.New("s3store: invalid configuration")
	// ErrLocked: S3 Object Lock refused a deletion (COMPLIANCE retention
	// not yet expired, or a legal hold). Nothing was deleted.
	ErrLocked = errors.New("s3store: object locked")
	// ErrNoObjectLock: the bucket exists without Object Lock enabled.
	ErrNoObjectLock = errors.New("s3store: bucket has no Object Lock")
)

// MinPartSize is the smallest multipart part S3 accepts (but the last).
const MinPartSize = 5 << 20

// LockMode is an S3 Object Lock retention mode.
type LockMode string

// Lock modes.
const (
	// Compliance: nobody, root included, can delete the object or shorten
	// its retention before RetainUntil.
	Compliance LockMode = "COMPLIANCE"
	// Governance: only a principal allowed s3:BypassGovernanceRetention,
	// asking for the bypass, can delete it early (Store.Delete does).
	Governance LockMode = "GOVERNANCE"
)

// Lock is the Object Lock a recording's objects carry.
type Lock struct {
	Mode        LockMode
	RetainUntil time.Time
}

// DefaultLock is the lock of a recording when Config.Lock is nil: purpose
// legal-obligation in COMPLIANCE mode until its statutory minimum (the
// purpose's default retention from its creation); every other purpose in
// GOVERNANCE mode until its default retention (see the package doc for why).
func DefaultLock(m recorder.Meta) Lock {
	rules, err := m.Purpose.Rules()
	created := m.Created
	if created.IsZero() {
		created = time.Now()
	}
	if err != nil {
		return Lock{Mode: Governance, RetainUntil: created.AddDate(0, 0, 30).UTC()}
	}
	mode := Governance
	if m.Purpose == policy.LegalObligation {
		mode = Compliance
	}
	return Lock{Mode: mode, RetainUntil: rules.DefaultRetention.AddTo(created).UTC()}
}

// Config configures a Store. Bucket, Region and SpoolDir are required;
// the zero value of every other field is its default.
type Config struct {
	// Endpoint is the S3 endpoint URL ("http://127.0.0.1:7070"); empty
	// means AWS's own for Region.
	Endpoint string
	// Region, e.g. "us-east-1".
	Region string
	// Bucket holds the recordings. It must have Object Lock enabled (see
	// CreateBucket).
	Bucket string
	// Prefix is prepended to every key ("site-a/"); may be empty.
	Prefix string
	// AccessKey and SecretKey: static credentials. Empty: taken from
	// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
	AccessKey, SecretKey string
	// SpoolDir is the local folder where recordings are written while the
	// call lasts (mode 0700). One per node; never shared.
	SpoolDir string
	// PartSize of the multipart upload; zero means MinPartSize (5 MiB).
	PartSize int64
	// VirtualHosted: address the bucket as a host name (AWS). The default,
	// path style, is what local servers (versitygw) need.
	VirtualHosted bool
	// CreateBucket: Init creates the bucket with Object Lock enabled if it
	// does not exist.
	CreateBucket bool
	// Lock returns the Object Lock of a recording; nil means DefaultLock.
	Lock func(recorder.Meta) Lock
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ParseURL returns the Config of an S3 URL:
//
//	s3://BUCKET[/PREFIX]?endpoint=http://127.0.0.1:7070&region=us-east-1&spool=/var/spool/consentrec
//
// Query parameters: endpoint, region (default us-east-1), spool (required:
// the local spool folder), part_size (bytes), create_bucket (true/false),
// virtual_hosted (true/false). Credentials never go in the URL (it ends up
// in logs): they come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or
// from Config fields set after parsing. The returned error never repeats
// the URL.
func ParseURL(s string) (Config, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Config{}, fmt.Errorf("%w: not a URL", ErrConfig)
	}
	if u.Scheme != "s3" {
		return Config{}, fmt.Errorf("%w: scheme %q, want s3", ErrConfig, u.Scheme)
	}
	if u.User != nil {
		return Config{}, fmt.Errorf("%w: credentials in the URL: use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", ErrConfig)
	}
	c := Config{Bucket: u.Host, Region: "us-east-1"}
	if p := strings.Trim(u.Path, "/"); p != "" {
		c.Prefix = p + "/"
	}
	q := u.Query()
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "endpoint":
			e, err := url.Parse(v)
			if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" || e.User != nil {
				return Config{}, fmt.Errorf("%w: endpoint must be an http(s) URL without credentials", ErrConfig)
			}
			c.Endpoint = v
		case "region":
			c.Region = v
		case "spool":
			c.SpoolDir = v
		case "part_size":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return Config{}, fmt.Errorf("%w: part_size %q", ErrConfig, v)
			}
			c.PartSize = n
		case "create_bucket", "virtual_hosted":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Config{}, fmt.Errorf("%w: %s %q", ErrConfig, k, v)
			}
			if k == "create_bucket" {
				c.CreateBucket = b
			} else {
				c.VirtualHosted = b
			}
		default:
			return Config{}, fmt.Errorf("%w: unknown parameter %q", ErrConfig, k)
		}
	}
	if err := c.check(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// check names the first missing or invalid field.
func (c *Config) check() error {
	switch {
	case c.Bucket == "":
		return fmt.Errorf("%w: Bucket is required", ErrConfig)
	case c.Region == "":
		return fmt.Errorf("%w: Region is required", ErrConfig)
	case c.SpoolDir == "":
		return fmt.Errorf("%w: SpoolDir is required", ErrConfig)
	case c.PartSize != 0 && c.PartSize < MinPartSize:
		return fmt.Errorf("%w: PartSize %d below S3's minimum %d", ErrConfig, c.PartSize, MinPartSize)
	case strings.HasPrefix(c.Prefix, "/"):
		return fmt.Errorf("%w: Prefix starts with '/'", ErrConfig)
	}
	return nil
}

func (c *Config) credentials() (string, string, error) {
	ak, sk := c.AccessKey, c.SecretKey
	if ak == "" && sk == "" {
		ak, sk = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	if ak == "" || sk == "" {
		return "", "", fmt.Errorf("%w: AccessKey and SecretKey (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) are required", ErrConfig)
	}
	return ak, sk, nil
}
