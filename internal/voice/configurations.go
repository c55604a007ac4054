package voice

import (
	"context"
	"encoding/json"
	"errors"
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

// errEncode is the message of an input that cannot be encoded as JSON.
const errEncode = "could not encode the input"

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

// decodeInto returns a decode function storing a configuration in *dst,
// once its account is verified.
func (c *Client) decodeInto(dst **Configuration) func([]byte) error {
	return func(b []byte) error {
		cfg, err := decodeConfiguration(b)
		if err != nil {
			return err
		}
		*dst = cfg
		return c.verify(cfg)
	}
}

// secretsIn lists the secrets a request body carries: the webhook's
// basic-auth password, in the URL's userinfo.
func secretsIn(in ConfigurationInput) []string {
	u, err := url.Parse(in.CallNotification.URL)
	if err != nil || u.User == nil {
		return nil
	}
	secrets := []string{u.User.String()}
	if password, ok := u.User.Password(); ok {
		secrets = append(secrets, password)
	}
	return secrets
}

// Create creates a configuration (POST) and returns it as the API answered.
//
// Not idempotent. It is retried only after a 429 (never processed) or a
// failure before the request was sent. Any other failure after sending
// (timeout, reset, 5xx, unreadable success answer) returns an error with
// Ambiguous set: the configuration may exist, and the caller must look it
// up before creating again. The reference does not document how a taken
// unique name is refused (a 400 or a 409, ClassInvalid or ClassConflict),
// so callers should treat any refused create as "look the name up".
//
// A create answered for another account than the credentials claim
// returns the configuration it made with a ClassAccountMismatch error, so
// the caller can delete it at once: that one is provably its own.
func (c *Client) Create(ctx context.Context, in ConfigurationInput) (*Configuration, error) {
	body, err := encodeInput(in)
	if err != nil {
		return nil, &Error{Op: "create", Class: ClassInvalid, Message: errEncode, Err: err}
	}
	var out *Configuration
	if e := c.do(ctx, request{op: "create", method: http.MethodPost, route: RouteCollection, path: RouteCollection,
		body: body, secrets: secretsIn(in), decode: c.decodeInto(&out)}); e != nil {
		if ClassOf(e) == ClassAccountMismatch {
			return out, e
		}
		return nil, e
	}
	return out, nil
}

// Get reads a configuration by id. Idempotent. The reference addresses
// configurations by id only; find one by unique name with FindByUniqueName.
func (c *Client) Get(ctx context.Context, id string) (*Configuration, error) {
	if !addressable(id) {
		return nil, invalidArg("get", fmt.Sprintf("%q cannot be addressed by path", id))
	}
	var out *Configuration
	if e := c.do(ctx, request{op: "get", method: http.MethodGet, route: RouteInstance, path: instancePath(id),
		idempotent: true, retryMalformed: true, decode: c.decodeInto(&out)}); e != nil {
		return nil, e
	}
	if out.ID != id {
		return nil, &Error{Op: "get", StatusCode: http.StatusOK, Class: ClassMalformed,
			Message: fmt.Sprintf("asked for %s, answered %s", id, sanitize(out.ID, 64))}
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
		return nil, &Error{Op: "update", Class: ClassInvalid, Message: errEncode, Err: err}
	}
	var out *Configuration
	if e := c.do(ctx, request{op: "update", method: http.MethodPut, route: RouteInstance, path: instancePath(id),
		body: body, secrets: secretsIn(in), idempotent: true, decode: c.decodeInto(&out)}); e != nil {
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

// ListPage fetches one page. pageSize <= 0 lets the API choose; above 1000
// it is lowered to 1000. pageToken is "" for the first page, else a
// NextToken or PreviousToken from an earlier page. Idempotent.
//
// The reference does not say how large a page may be. When the API refuses
// a pageSize (400), the page is asked again without one, and from then on
// every List of the Factory lets the API choose: a guess about the limit
// costs one request, never a stalled lookup.
func (c *Client) ListPage(ctx context.Context, pageSize int, pageToken string) (*Page, error) {
	pageSize = min(pageSize, maxPageSize)
	if refused := c.f.refusedPageSize.Load(); refused > 0 && int64(pageSize) >= refused {
		pageSize = 0
	}
	page, err := c.listPage(ctx, pageSize, pageToken)
	if pageSize > 0 && ClassOf(err) == ClassInvalid {
		if page, err = c.listPage(ctx, 0, pageToken); err == nil {
			c.f.refusedPageSize.Store(int64(pageSize))
		}
	}
	return page, err
}

func (c *Client) listPage(ctx context.Context, pageSize int, pageToken string) (*Page, error) {
	q := url.Values{}
	if pageSize > 0 {
		q.Set("pageSize", strconv.Itoa(pageSize))
	}
	if pageToken != "" {
		q.Set("pageToken", pageToken)
	}
	var out *Page
	if e := c.do(ctx, request{op: "list", method: http.MethodGet, route: RouteCollection, path: RouteCollection,
		query: q, idempotent: true, retryMalformed: true, maxBody: maxPageBytes(pageSize),
		decode: func(b []byte) (err error) {
			if out, err = decodePage(b); err != nil {
				return err
			}
			for i := range out.Configurations {
				if err := c.verify(&out.Configurations[i]); err != nil {
					return err
				}
			}
			return nil
		}}); e != nil {
		return nil, collectionMissing(e)
	}
	return out, nil
}

// collectionMissing turns a 404 to a List into ClassForbidden: the
// collection exists for every account that may use the API, so its absence
// says this one may not (or that the API URL is wrong), never that some
// configuration is gone.
func collectionMissing(err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Class != ClassNotFound {
		return err
	}
	cp := *e
	cp.Class = ClassForbidden
	cp.Message = "the list of Client Configurations itself was not found (" + e.Message + ")"
	return &cp
}

// Cursor follows a walk through the pages of a List: Token is the page to
// read next ("" for the first). A walk that stops at a failed page can go
// on from Token later.
type Cursor struct {
	Token string
	seen  map[string]bool
}

// Advance moves past page. more is false after the last page; a
// next_token that repeats ends the walk with a ClassMalformed error
// instead of looping forever.
func (c *Cursor) Advance(page *Page) (more bool, err error) {
	if page.NextToken == "" {
		return false, nil
	}
	if c.seen[page.NextToken] {
		return false, &Error{Op: "list", Class: ClassMalformed, Message: "pagination loops: a next_token repeated"}
	}
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	c.seen[page.NextToken] = true
	c.Token = page.NextToken
	return true, nil
}

// List walks every page, pageSize configurations a page (<= 0: the
// Factory's Options.PageSize). On an error it yields (nil, err) once and
// stops, a repeating next_token included (see Cursor).
func (c *Client) List(ctx context.Context, pageSize int) iter.Seq2[*Configuration, error] {
	if pageSize <= 0 {
		pageSize = c.f.opts.PageSize
	}
	return func(yield func(*Configuration, error) bool) {
		var cursor Cursor
		for {
			page, err := c.ListPage(ctx, pageSize, cursor.Token)
			if err != nil {
				yield(nil, err)
				return
			}
			for i := range page.Configurations {
				if !yield(&page.Configurations[i], nil) {
					return
				}
			}
			more, err := cursor.Advance(page)
			if err != nil {
				yield(nil, err)
				return
			}
			if !more {
				return
			}
		}
	}
}

// FindByUniqueName returns the configuration with exactly this unique name,
// or a ClassNotFound error. The reference offers no lookup by name (the
// instance path takes ids), so it walks the list, Options.PageSize a page:
// ceil(N / PageSize) reads for an account of N configurations. Idempotent.
func (c *Client) FindByUniqueName(ctx context.Context, name string) (*Configuration, error) {
	if name == "" {
		return nil, invalidArg("find", "empty unique name")
	}
	for cfg, err := range c.List(ctx, 0) {
		if err != nil {
			return nil, relabel(err, "find")
		}
		if cfg.UniqueName == name {
			return cfg, nil
		}
	}
	return nil, &Error{Op: "find", Class: ClassNotFound, Message: fmt.Sprintf("no configuration with unique name %q", sanitize(name, 100))}
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
		return &Error{Op: "set-default", Class: ClassInvalid, Message: errEncode, Err: err}
	}
	if e := c.do(ctx, request{op: "set-default", method: http.MethodPost, route: RouteDefault, path: RouteDefault,
		body: body, idempotent: true}); e != nil {
		return e
	}
	return nil
}

// GetDefault returns the account's default configuration, or a
// ClassNotFound error when none is set. The reference does not say how an
// unset default reads, so a 404, a 200 with an empty body or with null,
// and a configuration without an id all mean "none". Idempotent.
func (c *Client) GetDefault(ctx context.Context) (*Configuration, error) {
	var out *Configuration
	none := false
	e := c.do(ctx, request{op: "get-default", method: http.MethodGet, route: RouteDefault, path: RouteDefault,
		idempotent: true, retryMalformed: true, decode: func(b []byte) error {
			if isNoDefault(b) {
				none = true
				return nil
			}
			return c.decodeInto(&out)(b)
		}})
	switch {
	case e != nil:
		return nil, e
	case none:
		return nil, &Error{Op: "get-default", StatusCode: http.StatusOK, Class: ClassNotFound, Message: "no default configuration is set"}
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
