package siprec

// RTPDatagrams returns how many datagrams the server's shared Opus reader
// has read, for tests that wait for media to reach the server instead of
// sleeping.
func (s *Server) RTPDatagrams() int64 {
	if err := s.init(); err != nil {
		return 0
	}
	return s.rtp.Stats().Datagrams
}
