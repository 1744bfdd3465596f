package audit

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"unicode/utf8"
)

// The log file: a header, then one record per entry:
//
//	u32 body length | u32 CRC-32C(body) | body
//	body = leaf (LeafSize) | flags u8 |
//	       [unless pruned: salt 32 | u32 n | payload n |
//	        [if subject opening: subject salt 32 | u32 n | subject n]]
//
// The CRC tells a damaged record from a complete one (a damaged record is
// an error, never trimmed, unless the file ends inside it); integrity comes from
// the leaf hashes, the chain, the tree and the signed checkpoint.
const (
	fileMagic   = "consentrec-audit-log/v1\n"
	maxHeader   = 1024
	recHeadSize = 8
	maxRecord   = LeafSize + 1 + SaltSize + 4 + MaxEventSize + SaltSize + 4 + maxField
)

const (
	flagBatchStart byte = 1 << iota // first record written by a group commit (informative)
	flagPruned                      // the opening was deleted (retention)
	flagSubject                     // a subject opening follows the payload
	flagsKnown     = flagBatchStart | flagPruned | flagSubject
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// fileHeader returns the header of a log named origin.
func fileHeader(origin string) []byte {
	return []byte(fileMagic + "origin " + origin + "\n\n")
}

// readHeader reads the header and returns the origin and header length.
func readHeader(r *bufio.Reader) (string, int64, error) {
	var b []byte
	for len(b) < maxHeader {
		c, err := r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", 0, fmt.Errorf("header: %w", err)
		}
		b = append(b, c)
		if len(b) >= 2 && b[len(b)-1] == '\n' && b[len(b)-2] == '\n' {
			s := string(b)
			origin, ok := strings.CutPrefix(s, fileMagic+"origin ")
			origin, ok2 := strings.CutSuffix(origin, "\n\n")
			if !ok || !ok2 || !validOrigin(origin) {
				return "", 0, fmt.Errorf("header: %w", ErrMalformed)
			}
			return origin, int64(len(b)), nil
		}
	}
	return "", 0, fmt.Errorf("header: %w", ErrMalformed)
}

// validOrigin: a note key name (no spaces, no '+'), printable.
func validOrigin(s string) bool {
	if s == "" || len(s) > 200 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == '+' || r == 0x7f {
			return false
		}
	}
	return true
}

// record is one decoded log record.
type record struct {
	leaf    Leaf
	leafRaw []byte // canonical leaf bytes as stored
	flags   byte
	open    *Opening // nil when pruned
	subj    []byte   // the subject opening's key, when read raw (recordReader.rawSubject)
}

// appendRecord appends the on-disk encoding of a record.
func appendRecord(b []byte, leafRaw []byte, o *Opening, batchStart bool) []byte {
	start := len(b)
	b = append(b, make([]byte, recHeadSize)...)
	b = append(b, leafRaw...)
	var flags byte
	if batchStart {
		flags |= flagBatchStart
	}
	if o == nil {
		flags |= flagPruned
	} else if o.Subject != "" {
		flags |= flagSubject
	}
	b = append(b, flags)
	if o != nil {
		b = append(b, o.Salt[:]...)
		b = appendString(b, string(o.Payload))
		if o.Subject != "" {
			b = append(b, o.SubjectSalt[:]...)
			b = appendString(b, o.Subject)
		}
	}
	body := b[start+recHeadSize:]
	binary.BigEndian.PutUint32(b[start:], uint32(len(body)))
	binary.BigEndian.PutUint32(b[start+4:], crc32.Checksum(body, castagnoli))
	return b
}

// errTorn marks a record cut short by the end of the file.
var errTorn = errors.New("record cut short by the end of the file")

// decodeBody decodes a record body whose CRC was checked.
func decodeBody(body []byte) (record, error) { return decodeBodyInto(body, nil, false) }

// decodeBodyInto decodes a record body, filling o (if not nil) rather
// than allocating an Opening. With rawSubject, the subject is left in
// rec.subj (aliasing body) and o.Subject stays empty: no allocation.
func decodeBodyInto(body []byte, o *Opening, rawSubject bool) (record, error) {
	var rec record
	if len(body) < LeafSize+1 {
		return rec, errors.New("record too short")
	}
	rec.leafRaw = body[:LeafSize]
	if err := rec.leaf.UnmarshalBinary(rec.leafRaw); err != nil {
		return rec, err
	}
	rec.flags = body[LeafSize]
	if rec.flags&^flagsKnown != 0 {
		return rec, errors.New("unknown record flags")
	}
	d := decoder{b: body[LeafSize+1:]}
	if rec.flags&flagPruned == 0 {
		if o == nil {
			o = &Opening{}
		} else {
			*o = Opening{}
		}
		copy(o.Salt[:], d.need(SaltSize))
		n := d.u32()
		if n > MaxEventSize {
			return rec, errors.New("payload too large")
		}
		o.Payload = d.need(int(n))
		if rec.flags&flagSubject != 0 {
			copy(o.SubjectSalt[:], d.need(SaltSize))
			n := d.u32()
			if n > maxField {
				d.err = ErrMalformed
			}
			subj := d.need(int(n))
			if d.err == nil && len(subj) == 0 {
				return rec, errors.New("empty subject opening")
			}
			if rawSubject {
				rec.subj = subj
			} else {
				o.Subject = string(subj)
			}
		}
		rec.open = o
	} else if rec.flags&flagSubject != 0 {
		return rec, errors.New("subject opening on a pruned record")
	}
	if d.err != nil || len(d.b) != 0 {
		return rec, fmt.Errorf("record body: %w", ErrMalformed)
	}
	return rec, nil
}

// recordReader reads records sequentially, tracking offsets.
type recordReader struct {
	r          *bufio.Reader
	off        int64 // offset of the next record
	buf        []byte
	head       [recHeadSize]byte
	open       Opening // reused by next
	discard    int     // bytes peeked by the previous next, to skip
	rawSubject bool    // leave subjects in record.subj (see decodeBodyInto)
}

// next reads one record. It returns io.EOF at a clean end, errTorn for a
// record cut short, and other errors for a complete but bad record. The
// returned record aliases an internal buffer valid until the next call.
func (rr *recordReader) next() (rec record, size int64, err error) {
	if rr.discard > 0 {
		rr.r.Discard(rr.discard)
		rr.discard = 0
	}
	n, err := io.ReadFull(rr.r, rr.head[:])
	if err == io.EOF {
		return rec, 0, io.EOF
	}
	if err == io.ErrUnexpectedEOF {
		return rec, int64(n), errTorn
	}
	if err != nil {
		return rec, 0, err
	}
	l := binary.BigEndian.Uint32(rr.head[:])
	if int(l) > maxRecord {
		return rec, recHeadSize, fmt.Errorf("record length %d too large", l)
	}
	var body []byte
	if int(l) <= rr.r.Size() {
		// Zero-copy: the body stays in the reader's buffer until the
		// next call.
		body, err = rr.r.Peek(int(l))
		if err != nil {
			return rec, int64(recHeadSize + len(body)), errTorn
		}
		rr.discard = int(l)
	} else {
		if cap(rr.buf) < int(l) {
			rr.buf = make([]byte, l)
		}
		body = rr.buf[:l]
		m, err := io.ReadFull(rr.r, body)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return rec, int64(recHeadSize + m), errTorn
		}
		if err != nil {
			return rec, 0, err
		}
	}
	size = recHeadSize + int64(l)
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(rr.head[4:]) {
		return rec, size, errors.New("record checksum mismatch")
	}
	rec, err = decodeBodyInto(body, &rr.open, rr.rawSubject)
	return rec, size, err
}
