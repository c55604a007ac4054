package voicesim

import (
	"fmt"
	"net/url"
	"strings"
)

// Options choose how the simulator answers. The zero value answers exactly
// as Twilio's reference for the resource documents (summarised in
// docs/remote-api.md) and no more: no date fields, no extra fields, ids only
// in the instance path, and for what the reference leaves open the plainest
// choice (a duplicate unique name is a 400, pages hold at most 50).
//
// Every behaviour beyond the reference is a named field here, so a test that
// relies on one says so, and every suite also runs on the zero value, the
// shape an API built from the reference alone would have.
type Options struct {
	// Dates adds date_created and date_updated (ISO 8601) to every
	// configuration. Not in the reference.
	Dates bool
	// SelfURL adds a "url" field, the configuration's own address. Not in
	// the reference; clients must ignore fields they do not know.
	SelfURL bool
	// NameInPath lets GET, PUT and DELETE address a configuration by its
	// unique name as well as by id, as Twilio's public OpenAPI description
	// ({IdOrUniqueName}) suggests. The reference shows ids only: without
	// this, a unique name in the path is a 404.
	NameInPath bool
	// DuplicateStatus is the status of a create or rename onto a unique
	// name another configuration has: 400 (the default, code 20001) or 409
	// (code 20409). The reference does not say.
	DuplicateStatus int
	// MaxPageSize is the largest pageSize a List accepts; above it the
	// answer is a 400, unless ClampPageSize. Default 50.
	MaxPageSize int
	// ClampPageSize lowers a pageSize above MaxPageSize to it instead of
	// refusing the request.
	ClampPageSize bool
	// DeleteDefault is what deleting the account's default configuration
	// does. The reference does not say.
	DeleteDefault DeleteDefaultBehaviour
	// NoDefault is how GET .../Default answers when no default is set. The
	// reference does not say.
	NoDefault NoDefaultAnswer
	// NormalizeURLs stores webhook URLs normalised (scheme and host in lower
	// case, the default port dropped, an empty path as "/"), as many APIs
	// do, so what a client reads back can differ in form from what it sent.
	NormalizeURLs bool
	// EchoURLInErrors quotes the webhook URL of the request, credentials
	// and all, in the message of an error about a create or PUT (an invalid
	// URL, a taken unique name), as careless APIs do; for tests that prove a
	// client scrubs such messages.
	EchoURLInErrors bool
}

// DeleteDefaultBehaviour is what deleting the default configuration does.
type DeleteDefaultBehaviour int

const (
	// DeleteDefaultClears deletes it and leaves the account without a
	// default.
	DeleteDefaultClears DeleteDefaultBehaviour = iota
	// DeleteDefaultRefused refuses the delete with a 400 until the default
	// is unset or moved.
	DeleteDefaultRefused
)

// NoDefaultAnswer is how reading the default answers when none is set.
type NoDefaultAnswer int

const (
	// NoDefaultNotFound answers 404.
	NoDefaultNotFound NoDefaultAnswer = iota
	// NoDefaultEmpty answers 200 with an empty body.
	NoDefaultEmpty
	// NoDefaultNull answers 200 with the JSON null.
	NoDefaultNull
)

// Shapes of the simulator the suites run against, by name (VOICE_SIM_SHAPE,
// the -shape flag of hack/voicesim).
const (
	// ShapeReference is Options{}: the reference's exact shape.
	ShapeReference = "reference"
	// ShapeExtended turns on every extra, and the other choice for each
	// question the reference leaves open.
	ShapeExtended = "extended"
)

// Extended returns the richest shape: every field and lookup beyond the
// reference, and for each open question the answer the zero value does not
// give (409 for a duplicate, a refused delete of the default, 200 null for
// no default, pages clamped at 1000). Suites that run against both shapes
// therefore cover both answers to every open question.
func Extended() Options {
	return Options{
		Dates:           true,
		SelfURL:         true,
		NameInPath:      true,
		DuplicateStatus: 409,
		MaxPageSize:     1000,
		ClampPageSize:   true,
		DeleteDefault:   DeleteDefaultRefused,
		NoDefault:       NoDefaultNull,
		NormalizeURLs:   true,
		EchoURLInErrors: true,
	}
}

// Shape returns the Options a shape name stands for.
func Shape(name string) (Options, error) {
	switch name {
	case ShapeReference, "":
		return Options{}, nil
	case ShapeExtended:
		return Extended(), nil
	}
	return Options{}, fmt.Errorf("unknown simulator shape %q: want %s or %s", name, ShapeReference, ShapeExtended)
}

// withDefaults fills the zero fields that have a default.
func (o Options) withDefaults() Options {
	if o.DuplicateStatus != 409 {
		o.DuplicateStatus = 400
	}
	if o.MaxPageSize <= 0 {
		o.MaxPageSize = defaultPageSize
	}
	return o
}

// normalizeURL is what NormalizeURLs stores: scheme and host in lower case,
// the scheme's default port dropped, an empty path as "/". It leaves
// anything it cannot parse as it is. The controllers compare URLs the same
// way; this is written apart on purpose, as the simulator shares no code
// with what it tests.
func normalizeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == schemeHTTPS && port == "443") || (u.Scheme == schemeHTTP && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	if u.Path == "" && u.RawPath == "" {
		u.Path = "/"
	}
	return u.String()
}
