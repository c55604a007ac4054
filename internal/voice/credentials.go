package voice

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Keys of a credentials Secret: the names of Twilio's own environment
// variables, so a .env file becomes a Secret as it is.
const (
	KeyAccountSID = "TWILIO_ACCOUNT_SID"
	KeyAuthToken  = "TWILIO_AUTH_TOKEN"
	KeyAPIKey     = "TWILIO_API_KEY"
	KeyAPISecret  = "TWILIO_API_SECRET"
	KeyRegion     = "TWILIO_REGION"
	KeyEdge       = "TWILIO_EDGE"
)

// ErrMissingCredentials is wrapped by every error about a missing
// credential; the message names the missing key, never a value.
var ErrMissingCredentials = errors.New("missing Twilio credentials")

// ErrInvalidCredentials is wrapped by every error about a credential value
// the client refuses to use (a malformed region, a colon in a user name);
// the message names the key, never the value.
var ErrInvalidCredentials = errors.New("invalid Twilio credentials")

// hostLabel is what TWILIO_REGION and TWILIO_EDGE may hold. They become part
// of a host name, so anything else could point the operator, and its
// credentials, at a host outside twilio.com.
var hostLabel = regexp.MustCompile(`^[a-z0-9]{1,63}$`)

// Credentials authenticate to one Twilio account. Printing them in any way
// (%v, %+v, %#v, %s, %q, JSON, slog) shows only a redacted summary.
type Credentials struct {
	// AccountSID identifies the account (AC...).
	AccountSID string
	// Username is the Basic-auth user: the account SID, or an API key SID
	// (SK...).
	Username string
	// Password is the auth token or the API key secret. Never printed.
	Password string
	// Region optionally selects a Twilio region ("ie1"); [a-z0-9]+ only.
	Region string
	// Edge optionally selects a Twilio edge location ("dublin"); [a-z0-9]+
	// only.
	Edge string
}

// Identity names the account the credentials claim and the credential
// itself: "AC.../SK.../<digest>", where the digest is of the secret, so two
// Secrets with different tokens for one account are two identities. Rate
// limiters and caches are kept per identity, so one namespace's revoked
// key, a wrong token, or a Secret claiming another's account never affects
// anybody else. It is a map key: the digest of a secret has no business in
// a log line.
func (c Credentials) Identity() string {
	sum := sha256.Sum256([]byte(c.Password))
	return c.AccountSID + "/" + c.Username + "/" + hex.EncodeToString(sum[:8])
}

// CredentialsFromSecretData reads credentials from a Secret's data:
// TWILIO_ACCOUNT_SID plus either TWILIO_API_KEY and TWILIO_API_SECRET or
// TWILIO_AUTH_TOKEN, and optionally TWILIO_REGION and TWILIO_EDGE. An API
// key wins over the auth token when both are present, because it is the
// narrower credential.
//
// Values are trimmed of surrounding whitespace and of one pair of
// surrounding quotes: `kubectl create secret --from-env-file` keeps both
// from a .env file, and no Twilio SID, token or region contains them.
//
// A missing key yields an error wrapping ErrMissingCredentials, a malformed
// value one wrapping ErrInvalidCredentials; both name the key only.
func CredentialsFromSecretData(data map[string][]byte) (Credentials, error) {
	get := func(key string) string { return cleanValue(string(data[key])) }
	c := Credentials{AccountSID: get(KeyAccountSID), Region: get(KeyRegion), Edge: get(KeyEdge)}
	if c.AccountSID == "" {
		return Credentials{}, missing(KeyAccountSID)
	}
	key, secret, token := get(KeyAPIKey), get(KeyAPISecret), get(KeyAuthToken)
	switch {
	case key != "" && secret == "":
		return Credentials{}, missing(KeyAPISecret)
	case key != "":
		c.Username, c.Password = key, secret
	case secret != "":
		return Credentials{}, missing(KeyAPIKey)
	case token != "":
		c.Username, c.Password = c.AccountSID, token
	default:
		return Credentials{}, missing(KeyAuthToken + " (or " + KeyAPIKey + " and " + KeyAPISecret + ")")
	}
	if err := c.Validate(); err != nil {
		return Credentials{}, err
	}
	return c, nil
}

func missing(key string) error {
	return fmt.Errorf("%w: key %s is missing or empty", ErrMissingCredentials, key)
}

func cleanValue(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = strings.TrimSpace(v[1 : len(v)-1])
	}
	return v
}

// Validate reports missing fields and values the client refuses to send;
// errors name the field, never its value.
func (c Credentials) Validate() error {
	switch {
	case c.AccountSID == "":
		return missing(KeyAccountSID)
	case c.Username == "":
		return missing("username (" + KeyAccountSID + " or " + KeyAPIKey + ")")
	case c.Password == "":
		return missing("password (" + KeyAuthToken + " or " + KeyAPISecret + ")")
	}
	if !printableToken(c.AccountSID) {
		return fmt.Errorf("%w: %s contains whitespace or control characters", ErrInvalidCredentials, KeyAccountSID)
	}
	// A colon would split the Basic-auth user in two on the server side.
	if !printableToken(c.Username) || strings.Contains(c.Username, ":") {
		return fmt.Errorf("%w: the API key or account SID used as user name contains whitespace, control characters or ':'", ErrInvalidCredentials)
	}
	if c.Region != "" && !hostLabel.MatchString(c.Region) {
		return fmt.Errorf("%w: %s must be lowercase letters and digits only", ErrInvalidCredentials, KeyRegion)
	}
	if c.Edge != "" && !hostLabel.MatchString(c.Edge) {
		return fmt.Errorf("%w: %s must be lowercase letters and digits only", ErrInvalidCredentials, KeyEdge)
	}
	return nil
}

func printableToken(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) < 0
}

// looksLikeSID reports whether s can be printed as an identifier. It guards
// against a Secret whose values were swapped: a token in the account SID
// slot must not be printed either. Twilio SIDs are two letters and hex.
func looksLikeSID(s, prefix string) bool {
	if !strings.HasPrefix(s, prefix) || len(s) > 34 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

func (c Credentials) accountView() string {
	switch {
	case c.AccountSID == "":
		return "(no account SID)"
	case looksLikeSID(c.AccountSID, "AC"):
		return c.AccountSID
	}
	return "(unrecognised account SID)"
}

func (c Credentials) userView() string {
	switch {
	case c.Username == "" || c.Username == c.AccountSID:
		return "auth token"
	case looksLikeSID(c.Username, "SK"):
		// The key SID is not secret, but a prefix is enough to tell keys
		// apart and keeps log lines short.
		return "api key " + c.Username[:min(len(c.Username), 8)] + "…"
	}
	return "api key (unrecognised SID)"
}

// String returns a redacted summary such as
// "AC00000000000000000000000000000001 (api key SK12ab34…)": the account SID,
// which is an identifier, and which kind of secret is used.
// It never contains the password.
func (c Credentials) String() string {
	var b strings.Builder
	b.WriteString(c.accountView())
	b.WriteString(" (")
	b.WriteString(c.userView())
	if c.Password == "" {
		b.WriteString(", no secret")
	}
	b.WriteString(")")
	if c.Region != "" || c.Edge != "" {
		fmt.Fprintf(&b, " region=%q edge=%q", redactLabel(c.Region), redactLabel(c.Edge))
	}
	return b.String()
}

func redactLabel(s string) string {
	if s == "" || hostLabel.MatchString(s) {
		return s
	}
	return "(invalid)"
}

// GoString is used by %#v; it shows the structure with the password
// redacted.
func (c Credentials) GoString() string {
	pw := ""
	if c.Password != "" {
		pw = "REDACTED"
	}
	return fmt.Sprintf("voice.Credentials{AccountSID:%q, Username:%q, Password:%q, Region:%q, Edge:%q}",
		c.accountView(), c.userView(), pw, redactLabel(c.Region), redactLabel(c.Edge))
}

// Format makes every fmt verb print the redacted form, including the ones
// (%x, %d, ...) that would otherwise print the fields raw.
func (c Credentials) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, c.GoString())
	case verb == 'q':
		_, _ = io.WriteString(f, strconv.Quote(c.String()))
	default:
		_, _ = io.WriteString(f, c.String())
	}
}

// MarshalJSON writes the redacted summary, so credentials that end up in a
// JSON log or a debug dump stay safe.
func (c Credentials) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// LogValue makes log/slog print the redacted summary.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }
