package voice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Configuration is a Client Configuration as the API returns it. Decoding
// is lenient: fields the client does not know are ignored.
type Configuration struct {
	// ID is the remote id, voice_clientconfiguration_....
	ID string
	// AccountSID is the account that owns the configuration.
	AccountSID string
	// UniqueName is unique within the account.
	UniqueName string
	// Description is nil when the API answered null or nothing.
	Description *string
	// CallNotification is the configured webhook.
	CallNotification CallNotification
}

// CallNotification is the webhook Twilio calls to notify a Voice SDK client
// of an incoming call.
type CallNotification struct {
	// URL is the webhook URL.
	URL string
	// Method is "GET" or "POST".
	Method string
}

// ConfigurationInput is the full desired state, sent on create and on the
// full-replace PUT of Update.
type ConfigurationInput struct {
	// UniqueName is required and may not contain whitespace.
	UniqueName string
	// Description is sent as JSON null when nil, which clears it remotely.
	Description *string
	// CallNotification is the webhook; URL is required.
	CallNotification CallNotification
}

// Page is one page of a listing.
type Page struct {
	// Configurations are the page's items, in the API's order.
	Configurations []Configuration
	// NextToken fetches the next page; "" on the last page.
	NextToken string
	// PreviousToken fetches the previous page; "" on the first page.
	PreviousToken string
}

// wireInput is the request body of create and update. Description has no
// omitempty on purpose: the PUT replaces the whole object, so nil must be
// sent as null rather than left out.
type wireInput struct {
	UniqueName    string          `json:"unique_name"`
	Description   *string         `json:"description"`
	Configuration wireInputConfig `json:"configuration"`
}

type wireInputConfig struct {
	ConfigurationType string           `json:"configurationType"`
	CallNotification  wireNotification `json:"callnotification"`
}

type wireNotification struct {
	URL    string `json:"url"`
	Method string `json:"method"`
}

func encodeInput(in ConfigurationInput) ([]byte, error) {
	return json.Marshal(wireInput{
		UniqueName:  in.UniqueName,
		Description: in.Description,
		Configuration: wireInputConfig{
			ConfigurationType: "Client",
			CallNotification:  wireNotification{URL: in.CallNotification.URL, Method: in.CallNotification.Method},
		},
	})
}

// wireConfiguration is a configuration as the API answers it: the fields
// the reference documents. Anything else the API sends (dates, links) is
// ignored, and nothing here relies on it.
type wireConfiguration struct {
	ID            string  `json:"id"`
	AccountSID    string  `json:"account_sid"`
	UniqueName    string  `json:"unique_name"`
	Description   *string `json:"description"`
	Configuration *struct {
		CallNotification *wireNotification `json:"callnotification"`
	} `json:"configuration"`
}

// Decoding failures, wrapped into ClassMalformed errors.
var (
	errEmptyBody = errors.New("empty body")
	errNoID      = errors.New("configuration without an id")
	errNoContent = errors.New("list answer without a content array")
	errNoAccount = errors.New("configuration without an account_sid")
)

func (w *wireConfiguration) toConfiguration() (Configuration, error) {
	if w.ID == "" {
		return Configuration{}, errNoID
	}
	if w.AccountSID == "" {
		// The reference shows it in every answer, and it is what proves
		// which account a configuration lives in.
		return Configuration{}, errNoAccount
	}
	c := Configuration{
		ID:          w.ID,
		AccountSID:  w.AccountSID,
		UniqueName:  w.UniqueName,
		Description: w.Description,
	}
	if w.Configuration != nil && w.Configuration.CallNotification != nil {
		c.CallNotification = CallNotification{URL: w.Configuration.CallNotification.URL, Method: w.Configuration.CallNotification.Method}
	}
	return c, nil
}

// unmarshalStrict decodes exactly one JSON value, refusing trailing data
// (a sign of a mangled answer) and an empty body.
func unmarshalStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errEmptyBody
	}
	return json.Unmarshal(body, v)
}

// decodeConfiguration decodes a single-configuration answer.
func decodeConfiguration(body []byte) (*Configuration, error) {
	var w wireConfiguration
	if err := unmarshalStrict(body, &w); err != nil {
		return nil, err
	}
	c, err := w.toConfiguration()
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// isNoDefault reports whether an answer to GET .../Default says that no
// default is set: an empty body, JSON null, or an object without an id.
func isNoDefault(body []byte) bool {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return true
	}
	var w struct {
		ID *string `json:"id"`
	}
	return json.Unmarshal(trimmed, &w) == nil && (w.ID == nil || *w.ID == "")
}

// wirePage is a list answer. Content is a pointer so a missing array (an
// answer of another shape) is told apart from an empty page.
type wirePage struct {
	Content *[]wireConfiguration `json:"content"`
	Meta    *struct {
		NextToken     *string `json:"next_token"`
		PreviousToken *string `json:"previous_token"`
	} `json:"meta"`
}

// decodePage decodes a list answer.
func decodePage(body []byte) (*Page, error) {
	var w wirePage
	if err := unmarshalStrict(body, &w); err != nil {
		return nil, err
	}
	if w.Content == nil {
		return nil, errNoContent
	}
	p := &Page{Configurations: make([]Configuration, 0, len(*w.Content))}
	for i := range *w.Content {
		c, err := (*w.Content)[i].toConfiguration()
		if err != nil {
			return nil, fmt.Errorf("content[%d]: %w", i, err)
		}
		p.Configurations = append(p.Configurations, c)
	}
	if w.Meta != nil {
		if w.Meta.NextToken != nil {
			p.NextToken = *w.Meta.NextToken
		}
		if w.Meta.PreviousToken != nil {
			p.PreviousToken = *w.Meta.PreviousToken
		}
	}
	return p, nil
}

// wireError is Twilio's error body. Fields are decoded loosely: a code sent
// as a string, or a message of the wrong type, must not hide the status.
type wireError struct {
	Code     any `json:"code"`
	Message  any `json:"message"`
	MoreInfo any `json:"more_info"`
}

// decodeErrorBody fills e's Code, Message and MoreInfo from a Twilio error
// body, leaving them empty when the body is something else. Messages are
// scrubbed of credentials: an API may quote the request, webhook password
// and all, and the message goes on to conditions, Events and logs.
func decodeErrorBody(e *Error, body []byte, secrets []string) {
	var w wireError
	if json.Unmarshal(body, &w) != nil {
		return
	}
	switch v := w.Code.(type) {
	case float64:
		if v == float64(int32(v)) {
			e.Code = int(v)
		}
	case string:
		var n int32
		if _, err := fmt.Sscanf(v, "%d", &n); err == nil && fmt.Sprint(n) == v {
			e.Code = int(n)
		}
	}
	if s, ok := w.Message.(string); ok {
		e.Message = sanitize(scrub(s, secrets), maxMessage)
	}
	if s, ok := w.MoreInfo.(string); ok {
		e.MoreInfo = sanitize(scrub(s, secrets), maxMessage)
	}
}
