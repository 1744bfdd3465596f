package agestore

// OpenDecodes reports that Open returns the decrypted recording, not the
// stored bytes whose SHA-256 the metadata (and a retention catalog) holds.
// The digest of the stored bytes is checked by the inner store before Open
// returns, and age authenticates every decrypted chunk. It implements
// retention.DecodingStore, so the access gate and subject exports do not
// compare the decrypted stream with the encrypted file's digest.
func (s *Store) OpenDecodes() bool { return true }
