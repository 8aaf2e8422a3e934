package api

import "net/http"

// BareHandler is the server's mux with no middleware at all: the baseline
// of BenchmarkStatePlayer.
func BareHandler(s *Server) http.Handler { return s.mux }

// OpenAPIDocument is the embedded /openapi.json.
func OpenAPIDocument() []byte { return openAPIDoc }
