package voice

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// Route templates, as passed to Options.Observer.
const (
	RouteCollection = "/v2/Configurations/Client"
	RouteInstance   = "/v2/Configurations/Client/{id}"
	RouteDefault    = "/v2/Configurations/Client/Default"
)

// addressable reports whether a name or id can be put in the instance path.
// "Default" would hit the default route, and "." or ".." may be normalised
// away by any proxy on the path, so those are looked up another way (reads)
// or refused (writes).
func addressable(idOrName string) bool {
	switch idOrName {
	case "", ".", "..", "Default":
		return false
	}
	return true
}

func instancePath(idOrName string) string {
	return RouteCollection + "/" + url.PathEscape(idOrName)
}

func invalidArg(op, msg string) *Error {
	return &Error{Op: op, Class: ClassInvalid, Message: msg}
}

// decodeInto returns a decode function storing a configuration in *dst.
func decodeInto(dst **Configuration) func([]byte) error {
	return func(b []byte) error {
		c, err := decodeConfiguration(b)
		*dst = c
		return err
	}
}

// Create creates a configuration (POST) and returns it as the API answered.
//
// Not idempotent. It is retried only after a 429 (never processed) or a
// failure before the request was sent. Any other failure after sending
// (timeout, reset, 5xx, unreadable success answer) returns an error with
// Ambiguous set: the configuration may exist, and the caller must look it
// up with FindByUniqueName before creating again. A taken unique name is
// ClassConflict here, but the reference does not document that status, so
// callers should treat any failed create as "look the name up".
func (c *Client) Create(ctx context.Context, in ConfigurationInput) (*Configuration, error) {
	body, err := encodeInput(in)
	if err != nil {
		return nil, &Error{Op: "create", Class: ClassInvalid, Message: "could not encode the input", Err: err}
	}
	var out *Configuration
	if e := c.do(ctx, request{op: "create", method: http.MethodPost, route: RouteCollection, path: RouteCollection,
		body: body, decode: decodeInto(&out)}); e != nil {
		return nil, e
	}
	return out, nil
}

// Get reads a configuration by id or unique name. Idempotent. A name the
// path cannot carry ("Default", "." or "..") is looked up by listing.
func (c *Client) Get(ctx context.Context, idOrUniqueName string) (*Configuration, error) {
	if idOrUniqueName == "" {
		return nil, invalidArg("get", "empty id")
	}
	if !addressable(idOrUniqueName) {
		return c.findInList(ctx, "get", idOrUniqueName)
	}
	var out *Configuration
	if e := c.do(ctx, request{op: "get", method: http.MethodGet, route: RouteInstance, path: instancePath(idOrUniqueName),
		idempotent: true, retryMalformed: true, decode: decodeInto(&out)}); e != nil {
		return nil, e
	}
	return out, nil
}

// Update replaces the whole configuration (PUT): every field is sent,
// configurationType "Client" included and a nil description as null,
// because the API nulls whatever a PUT leaves out. Idempotent.
func (c *Client) Update(ctx context.Context, id string, in ConfigurationInput) (*Configuration, error) {
	if !addressable(id) {
		return nil, invalidArg("update", fmt.Sprintf("%q cannot be addressed by path", id))
	}
	body, err := encodeInput(in)
	if err != nil {
		return nil, &Error{Op: "update", Class: ClassInvalid, Message: "could not encode the input", Err: err}
	}
	var out *Configuration
	if e := c.do(ctx, request{op: "update", method: http.MethodPut, route: RouteInstance, path: instancePath(id),
		body: body, idempotent: true, decode: decodeInto(&out)}); e != nil {
		return nil, e
	}
	return out, nil
}

// Delete deletes a configuration. Idempotent in effect: a 404 (also the
// answer to a retry after a lost first answer) is a ClassNotFound error the
// caller treats as done.
func (c *Client) Delete(ctx context.Context, id string) error {
	if !addressable(id) {
		// "Default" in particular: DELETE on it would unset the default.
		return invalidArg("delete", fmt.Sprintf("%q cannot be addressed by path", id))
	}
	if e := c.do(ctx, request{op: "delete", method: http.MethodDelete, route: RouteInstance, path: instancePath(id),
		idempotent: true}); e != nil {
		return e
	}
	return nil
}

// ListPage fetches one page. pageSize <= 0 lets the API choose (50); above
// 1000 it is lowered to 1000. pageToken is "" for the first page, else a
// NextToken or PreviousToken from an earlier page. Idempotent.
func (c *Client) ListPage(ctx context.Context, pageSize int, pageToken string) (*Page, error) {
	q := url.Values{}
	if pageSize > 0 {
		q.Set("pageSize", strconv.Itoa(min(pageSize, maxPageSize)))
	}
	if pageToken != "" {
		q.Set("pageToken", pageToken)
	}
	var out *Page
	if e := c.do(ctx, request{op: "list", method: http.MethodGet, route: RouteCollection, path: RouteCollection,
		query: q, idempotent: true, retryMalformed: true,
		decode: func(b []byte) (err error) {
			out, err = decodePage(b)
			return err
		}}); e != nil {
		return nil, e
	}
	return out, nil
}

// List walks every page. On an error it yields (nil, err) once and stops.
// A next_token that repeats ends the walk with a ClassMalformed error
// instead of looping forever.
func (c *Client) List(ctx context.Context, pageSize int) iter.Seq2[*Configuration, error] {
	return func(yield func(*Configuration, error) bool) {
		token := ""
		seen := map[string]bool{}
		for {
			page, err := c.ListPage(ctx, pageSize, token)
			if err != nil {
				yield(nil, err)
				return
			}
			for i := range page.Configurations {
				if !yield(&page.Configurations[i], nil) {
					return
				}
			}
			if page.NextToken == "" {
				return
			}
			if seen[page.NextToken] {
				yield(nil, &Error{Op: "list", Class: ClassMalformed, Message: "pagination loops: a next_token repeated"})
				return
			}
			seen[page.NextToken] = true
			token = page.NextToken
		}
	}
}

// FindByUniqueName returns the configuration with exactly this unique name,
// or a ClassNotFound error. It first asks GET by name (Twilio's public
// OpenAPI names the path parameter {IdOrUniqueName}); if that answers 404
// or 400 (the real API may accept only ids there), or answers a
// configuration of another name, it walks the list. Idempotent.
func (c *Client) FindByUniqueName(ctx context.Context, name string) (*Configuration, error) {
	if name == "" {
		return nil, invalidArg("find", "empty unique name")
	}
	if addressable(name) {
		cfg, err := c.Get(ctx, name)
		switch cls := ClassOf(err); {
		case err == nil && cfg.UniqueName == name:
			return cfg, nil
		case err == nil, cls == ClassNotFound, cls == ClassInvalid:
			// fall through to the list
		default:
			return nil, relabel(err, "find")
		}
	}
	return c.findInList(ctx, "find", name)
}

// findInList walks the list for an exact unique-name match.
func (c *Client) findInList(ctx context.Context, op, name string) (*Configuration, error) {
	for cfg, err := range c.List(ctx, maxPageSize) {
		if err != nil {
			return nil, relabel(err, op)
		}
		if cfg.UniqueName == name {
			return cfg, nil
		}
	}
	return nil, &Error{Op: op, Class: ClassNotFound, Message: fmt.Sprintf("no configuration with unique name %q", sanitize(name, 100))}
}

// relabel names the caller's operation in an error from an inner one.
func relabel(err error, op string) error {
	if e, ok := err.(*Error); ok {
		cp := *e
		cp.Op = op + " (" + e.Op + ")"
		return &cp
	}
	return err
}

// SetDefault makes the configuration the account default (POST
// .../Default {"configuration_id": id}). Idempotent in effect, so it is
// retried like a PUT.
func (c *Client) SetDefault(ctx context.Context, id string) error {
	if id == "" {
		return invalidArg("set-default", "empty id")
	}
	body, err := json.Marshal(map[string]string{"configuration_id": id})
	if err != nil {
		return &Error{Op: "set-default", Class: ClassInvalid, Message: "could not encode the input", Err: err}
	}
	if e := c.do(ctx, request{op: "set-default", method: http.MethodPost, route: RouteDefault, path: RouteDefault,
		body: body, idempotent: true}); e != nil {
		return e
	}
	return nil
}

// GetDefault returns the account's default configuration, or a
// ClassNotFound error when none is set. Idempotent.
func (c *Client) GetDefault(ctx context.Context) (*Configuration, error) {
	var out *Configuration
	if e := c.do(ctx, request{op: "get-default", method: http.MethodGet, route: RouteDefault, path: RouteDefault,
		idempotent: true, retryMalformed: true, decode: decodeInto(&out)}); e != nil {
		return nil, e
	}
	return out, nil
}

// UnsetDefault clears the account default (DELETE .../Default).
// Idempotent.
func (c *Client) UnsetDefault(ctx context.Context) error {
	if e := c.do(ctx, request{op: "unset-default", method: http.MethodDelete, route: RouteDefault, path: RouteDefault,
		idempotent: true}); e != nil {
		return e
	}
	return nil
}
