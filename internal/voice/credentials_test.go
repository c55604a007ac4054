package voice_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/twilio-operator/voice-operator/internal/voice"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// TestCredentialsFromSecretData covers the Secret keys, trimming, and what
// is refused.
func TestCredentialsFromSecretData(t *testing.T) {
	cases := map[string]struct {
		reason  string
		data    map[string]string
		want    voice.Credentials
		wantErr error
		errKey  string // the key the error must name
	}{
		"auth token": {reason: "account SID and auth token",
			data: map[string]string{"TWILIO_ACCOUNT_SID": acctA, "TWILIO_AUTH_TOKEN": tokenA},
			want: voice.Credentials{AccountSID: acctA, Username: acctA, Password: tokenA}},
		"api key": {reason: "an API key authenticates as the key",
			data: map[string]string{"TWILIO_ACCOUNT_SID": acctA, "TWILIO_API_KEY": keyA, "TWILIO_API_SECRET": secretA},
			want: voice.Credentials{AccountSID: acctA, Username: keyA, Password: secretA}},
		"both": {reason: "the API key, the narrower credential, wins",
			data: map[string]string{"TWILIO_ACCOUNT_SID": acctA, "TWILIO_AUTH_TOKEN": tokenA, "TWILIO_API_KEY": keyA, "TWILIO_API_SECRET": secretA},
			want: voice.Credentials{AccountSID: acctA, Username: keyA, Password: secretA}},
		"env file leftovers": {reason: "whitespace, newlines and quotes from a .env file are trimmed",
			data: map[string]string{"TWILIO_ACCOUNT_SID": " " + acctA + "\r\n", "TWILIO_AUTH_TOKEN": `"` + tokenA + `"` + "\n", "TWILIO_REGION": "'ie1'", "TWILIO_EDGE": "dublin\n"},
			want: voice.Credentials{AccountSID: acctA, Username: acctA, Password: tokenA, Region: "ie1", Edge: "dublin"}},
		"no account": {reason: "the account SID is required",
			data: map[string]string{"TWILIO_AUTH_TOKEN": tokenA}, wantErr: voice.ErrMissingCredentials, errKey: "TWILIO_ACCOUNT_SID"},
		"blank account": {reason: "whitespace only is missing",
			data: map[string]string{"TWILIO_ACCOUNT_SID": " \n", "TWILIO_AUTH_TOKEN": tokenA}, wantErr: voice.ErrMissingCredentials, errKey: "TWILIO_ACCOUNT_SID"},
		"no secret at all": {reason: "a token or an API key is required",
			data: map[string]string{"TWILIO_ACCOUNT_SID": acctA}, wantErr: voice.ErrMissingCredentials, errKey: "TWILIO_AUTH_TOKEN"},
		"key without secret": {reason: "an API key needs its secret",
			data: map[string]string{"TWILIO_ACCOUNT_SID": acctA, "TWILIO_API_KEY": keyA, "TWILIO_AUTH_TOKEN": tokenA}, wantErr: voice.ErrMissingCredentials, errKey: "TWILIO_API_SECRET"},
		"secret without key": {reason: "an API secret needs its key",
			data: map[string]string{"TWILIO_ACCOUNT_SID": acctA, "TWILIO_API_SECRET": secretA}, wantErr: voice.ErrMissingCredentials, errKey: "TWILIO_API_KEY"},
		"hostile region": {reason: "a region is one DNS label of [a-z0-9]",
			data: map[string]string{"TWILIO_ACCOUNT_SID": acctA, "TWILIO_AUTH_TOKEN": tokenA, "TWILIO_REGION": "evil.com#"}, wantErr: voice.ErrInvalidCredentials, errKey: "TWILIO_REGION"},
		"upper-case edge": {reason: "only lower case, as Twilio writes them",
			data: map[string]string{"TWILIO_ACCOUNT_SID": acctA, "TWILIO_AUTH_TOKEN": tokenA, "TWILIO_EDGE": "Dublin"}, wantErr: voice.ErrInvalidCredentials, errKey: "TWILIO_EDGE"},
		"colon in key": {reason: "a colon would split the Basic-auth user",
			data: map[string]string{"TWILIO_ACCOUNT_SID": acctA, "TWILIO_API_KEY": "SK:x", "TWILIO_API_SECRET": secretA}, wantErr: voice.ErrInvalidCredentials},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			data := map[string][]byte{}
			for k, v := range tc.data {
				data[k] = []byte(v)
			}
			got, err := voice.CredentialsFromSecretData(data)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("%s: %v", tc.reason, err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.errKey) {
				t.Errorf("%s: error %v, want %v naming %s", tc.reason, err, tc.wantErr, tc.errKey)
			}
			for _, v := range tc.data {
				if v = strings.TrimSpace(v); len(v) > 3 && strings.Contains(err.Error(), v) && !strings.HasPrefix(v, "AC") {
					t.Errorf("%s: error %q shows a value", tc.reason, err)
				}
			}
		})
	}
}

// TestRegionalHosts checks the host built from region and edge, and that
// hostile values never build a host.
func TestRegionalHosts(t *testing.T) {
	cases := map[string]struct {
		reason       string
		region, edge string
		want         string // "" means For fails
	}{
		"default":     {"no region, no edge", "", "", "https://voice.twilio.com"},
		"region":      {"region only", "ie1", "", "https://voice.ie1.twilio.com"},
		"edge":        {"edge only: region us1, as the SDKs do", "", "dublin", "https://voice.dublin.us1.twilio.com"},
		"both":        {"edge and region", "au1", "sydney", "https://voice.sydney.au1.twilio.com"},
		"dot":         {"a dot would add labels", "ie1.evil.com", "", ""},
		"slash":       {"a slash would end the host", "", "evil.com/x", ""},
		"at":          {"an @ would make the rest a user name", "x@evil.com", "", ""},
		"hash":        {"a # would end the URL", "ie1#", "", ""},
		"colon":       {"a port", "", "dublin:443", ""},
		"space":       {"whitespace", "ie1 ", "", ""},
		"newline":     {"header injection", "", "dublin\n", ""},
		"dash":        {"not in Twilio's names", "ie-1", "", ""},
		"upper":       {"upper case", "IE1", "", ""},
		"unicode":     {"look-alike letters", "іe1", "", ""},
		"percent":     {"escapes", "%2e", "", ""},
		"long":        {"longer than a DNS label", strings.Repeat("a", 64), "", ""},
		"long edge":   {"longer than a DNS label", "", strings.Repeat("b", 64), ""},
		"max label":   {"63 is fine", strings.Repeat("a", 63), "", "https://voice." + strings.Repeat("a", 63) + ".twilio.com"},
		"empty label": {"both empty is the default host", "", "", "https://voice.twilio.com"},
	}
	f := voice.NewFactory(voice.Options{})
	for name, tc := range cases {
		creds := credsA
		creds.Region, creds.Edge = tc.region, tc.edge
		c, err := f.For(creds)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%s: %s: built %s", name, tc.reason, c.BaseURL())
		case tc.want == "" && !errors.Is(err, voice.ErrInvalidCredentials):
			t.Errorf("%s: %s: error %v, want ErrInvalidCredentials", name, tc.reason, err)
		case tc.want != "" && err != nil:
			t.Errorf("%s: %s: %v", name, tc.reason, err)
		case tc.want != "" && c.BaseURL() != tc.want:
			t.Errorf("%s: %s: %s, want %s", name, tc.reason, c.BaseURL(), tc.want)
		}
	}
}

// secrets are the strings no output may contain: the passwords and their
// Basic-auth encodings.
func secrets() []string {
	out := []string{tokenA, secretA, "5ec4e7", "never-print-me"}
	for _, c := range []voice.Credentials{credsA, credsAKey} {
		out = append(out, base64.StdEncoding.EncodeToString([]byte(c.Username+":"+c.Password)))
	}
	return out
}

func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, sec := range secrets() {
		if strings.Contains(s, sec) {
			t.Errorf("%s shows a secret: %q", what, s)
		}
	}
}

// TestNoSecretPrinted prints credentials, clients and errors every way a
// log line or a condition might, and looks for the secrets.
func TestNoSecretPrinted(t *testing.T) {
	type holder struct {
		Creds voice.Credentials
		Ptr   *voice.Credentials
	}
	swapped := voice.Credentials{AccountSID: tokenA, Username: secretA, Password: tokenA}
	for _, c := range []voice.Credentials{credsA, credsAKey, swapped} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v"} {
			assertNoSecret(t, verb+" of Credentials", fmt.Sprintf(verb, c))
			assertNoSecret(t, verb+" of *Credentials", fmt.Sprintf(verb, &c))
			assertNoSecret(t, verb+" of a struct holding Credentials", fmt.Sprintf(verb, holder{c, &c}))
		}
		b, _ := json.Marshal(c)
		assertNoSecret(t, "JSON of Credentials", string(b))
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("Resolved credentials", "creds", c)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("Resolved credentials", "creds", c)
		assertNoSecret(t, "slog of Credentials", buf.String())
	}
	if s := credsAKey.String(); !strings.Contains(s, acctA) || !strings.Contains(s, "api key SK000000…") {
		t.Errorf("String() = %q, want the account and the key's prefix", s)
	}
	if s := swapped.String(); strings.Contains(s, "never") {
		t.Errorf("a swapped Secret prints its token: %q", s)
	}

	e := newEnv(t)
	for _, c := range []*voice.Client{e.a, e.client(credsAKey)} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			assertNoSecret(t, verb+" of Client", fmt.Sprintf(verb, c))
			assertNoSecret(t, verb+" of *Client in a struct", fmt.Sprintf(verb, struct{ C *voice.Client }{c}))
		}
	}

	// Errors of every kind: refused credentials, network failure, garbled
	// answer, the caller giving up, a Secret lacking keys.
	var errs []error
	wrong := voice.Credentials{AccountSID: acctA, Username: acctA, Password: tokenA + "-wrong"}
	_, err := e.client(wrong).Get(ctx(t), "x")
	errs = append(errs, err)
	e.sim.SetFaults(voicesim.Faults{LostCreate: 1})
	_, err = e.client(credsAKey).Create(ctx(t), input("x"))
	errs = append(errs, err)
	e.sim.SetFaults(voicesim.Faults{Malformed: 1})
	_, err = e.a.Create(ctx(t), input("y"))
	errs = append(errs, err)
	_, err = voice.CredentialsFromSecretData(map[string][]byte{"TWILIO_AUTH_TOKEN": []byte(tokenA)})
	errs = append(errs, err)
	_, err = voice.CredentialsFromSecretData(map[string][]byte{"TWILIO_ACCOUNT_SID": []byte(acctA), "TWILIO_AUTH_TOKEN": []byte(tokenA), "TWILIO_REGION": []byte(tokenA)})
	errs = append(errs, err)
	_, err = voice.NewFactory(voice.Options{BaseURL: "https://" + acctA + ":" + tokenA + "@voice.example"}).For(credsA)
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("case %d produced no error", i)
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			assertNoSecret(t, fmt.Sprintf("%s of error %d", verb, i), fmt.Sprintf(verb, err))
		}
	}
}
