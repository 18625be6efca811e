package couchbasedev

// DropConnections closes every client connection; exported for tests only.
func (s *Server) DropConnections() { s.dropConnections() }
