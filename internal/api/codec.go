package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// decodeJSON reads the request body into dst strictly: Content-Type must
// be application/json (415), the body one JSON value (400 on syntax
// errors, unknown fields, wrong types or trailing data), no larger than
// the body limit (413). An empty body is a 400 unless optional, when it
// leaves dst as it is and returns nil.
func decodeJSON(r *http.Request, dst any, optional bool) error {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		if optional {
			return nil
		}
		return apiError(ErrInvalid, codeMalformedJSON, "request body is empty; send a JSON object", nil)
	}
	if ct := r.Header.Get("Content-Type"); !isJSON(ct) {
		return apiError(errUnsupportedMedia, "",
			fmt.Sprintf("Content-Type %q is not supported; send application/json", ct), nil)
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		// Exactly one value: anything after it but white space is an error.
		var extra json.RawMessage
		if err = dec.Decode(&extra); err == io.EOF {
			return nil
		} else if err == nil {
			return apiError(ErrInvalid, codeMalformedJSON, "request body has data after the JSON value", nil)
		}
	}
	return decodeError(err, optional)
}

// decodeError classifies an error of json.Decoder.
func decodeError(err error, optional bool) error {
	var (
		maxErr    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &maxErr):
		return tooLarge(maxErr.Limit)
	case errors.Is(err, io.EOF):
		if optional {
			return nil
		}
		return apiError(ErrInvalid, codeMalformedJSON, "request body is empty; send a JSON object", err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apiError(ErrInvalid, codeMalformedJSON, "request body ends inside a JSON value", err)
	case errors.As(err, &syntaxErr):
		return apiError(ErrInvalid, codeMalformedJSON,
			fmt.Sprintf("request body is not valid JSON (at byte %d)", syntaxErr.Offset), err)
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return apiError(ErrInvalid, codeMalformedJSON, "request body must be a JSON object", err)
		}
		return apiError(ErrInvalid, codeMalformedJSON,
			fmt.Sprintf("field %q must be of type %s", field, typeErr.Type), err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// The decoder's unknown-field error has no type of its own; its
		// text names only the field the client sent.
		return apiError(ErrInvalid, codeMalformedJSON, strings.TrimPrefix(err.Error(), "json: "), err)
	default: // reading the body failed: the client's connection
		return apiError(ErrInvalid, codeMalformedJSON, "request body could not be read", err)
	}
}

// isJSON reports whether a Content-Type is application/json (parameters
// such as charset allowed).
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// writeJSON answers with v as JSON. Encoding happens before anything is
// written, so an encoding failure is still a clean 500 problem.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // a client gone away is not our error
	return nil
}
