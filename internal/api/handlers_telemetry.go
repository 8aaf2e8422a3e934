package api

import (
	"errors"
	"net/http"
	"time"
)

// Telemetry is the telemetry stream as the API port serves it: the same
// WebSocket endpoint as the telemetry port's /telemetry (so a browser
// behind one ingress reaches it) and the tickets browsers use to
// authenticate, since they cannot set headers on a WebSocket. Safe for
// concurrent use.
type Telemetry interface {
	// ServeHTTP upgrades the request and streams; the stream
	// authenticates the connection itself (token subprotocol or ticket).
	http.Handler
	// IssueTicket returns a short-lived, single-use ticket for p.
	// Errors: ErrUnavailable when no more tickets can be issued now.
	IssueTicket(p Principal) (ticket string, expiresIn time.Duration, err error)
}

// ticketResponse is the body of POST /telemetry/ticket.
type ticketResponse struct {
	Ticket    string `json:"ticket"`
	ExpiresIn int    `json:"expires_in"` // seconds
	URL       string `json:"url"`        // where to connect, relative to this server
}

func (s *Server) telemetryStream(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Telemetry == nil {
		return &Error{Kind: ErrNotFound, Code: "telemetry_disabled", Detail: "the telemetry stream is disabled"}
	}
	s.opts.Telemetry.ServeHTTP(w, r)
	return nil
}

func (s *Server) telemetryTicket(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Telemetry == nil {
		return &Error{Kind: ErrNotFound, Code: "telemetry_disabled", Detail: "the telemetry stream is disabled"}
	}
	p, ok := PrincipalFromContext(r.Context())
	if !ok {
		p = anonymous()
	}
	ticket, ttl, err := s.opts.Telemetry.IssueTicket(p)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			return err
		}
		return &Error{Kind: ErrUnavailable, Code: "tickets_exhausted", Detail: "no telemetry ticket can be issued now; retry shortly", Err: err}
	}
	return writeJSON(w, http.StatusCreated, ticketResponse{Ticket: ticket, ExpiresIn: int(ttl / time.Second), URL: "/telemetry?ticket=" + ticket})
}
